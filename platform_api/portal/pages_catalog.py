"""The catalog page: search and filters (team, domain, classification, readiness, channel) over the
catalog service, and the dependency graph of what was found (an SVG drawn on the server).

Routes of :data:`router`, included by :func:`platform_api.portal.install`. The search is
:func:`platform_api.services.catalog.search`, the API's own (same roles: teams, auditors, admins);
the graph adds the direct dependencies of what was found and the sandboxes the viewer may see.

With 10,000 capabilities the page must cost what the API route costs (bench/portal_catalog.py): only the
rows shown (the API's page) and, when few enough to draw, the graph's nodes are looked for: the page
says "more than" rather than counting every match; the filter choices (a pass over every capability) are kept for :data:`FACETS_TTL` seconds per
cache, and recomputed at once when the number of capabilities changes (the store's size, not a walk); each
table row is rendered once per capability version (:mod:`platform_api.portal.rows`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from itertools import islice
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from platform_api.authz import team_of_capability
from platform_api.cache import CAPABILITY, ReadCache
from platform_api.portal import graph as g
from platform_api.portal.web import PortalRoute, Viewer, cache_of, page, portal_of, signed_in
from platform_api.services import catalog, sandboxes

__all__ = ["router"]

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)
SignedIn = Annotated[Viewer, Depends(signed_in)]
Text = Annotated[str | None, Query(max_length=253)]
ROWS = 50  # rows shown, the API route's default page; the API pages through the rest
FACETS_TTL = 5.0  # seconds a filter choice may lag behind a capability's update (not its creation)


def _facets(objs: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """The values each filter may take, in one pass over the catalog (10,000 summaries would cost more)."""
    found: dict[str, set[str]] = {"team": set(), "domain": set(), "classification": set(), "channels": set()}
    for obj in objs:
        spec = obj.get("spec") or {}
        found["team"].add(str(team_of_capability(obj) or ""))
        found["domain"].add(str(spec.get("domain") or ""))
        found["classification"].add(str(spec.get("dataClassification") or ""))
        for exposure in (obj.get("status") or {}).get("exposedOn") or ():
            if isinstance(exposure, dict):
                found["channels"].add(str(exposure.get("channel") or ""))
    return {k: sorted(v - {""}) for k, v in found.items()}


def _cached_facets(request: Request, cache: ReadCache) -> dict[str, list[str]]:
    """The filter choices, recomputed when older than FACETS_TTL or when the capabilities were counted differently."""
    extras = request.app.state.finplane.extras
    count = cache.count(CAPABILITY)  # the store's size: walking its 10,000 keys cost as much as the rest of the page
    kept = extras.get("portal_facets")
    now = time.monotonic()
    if kept is not None and kept[0] is cache and kept[1] == count and now - kept[2] < FACETS_TTL:
        return dict(kept[3])
    facets = _facets(cache.ordered(CAPABILITY))
    extras["portal_facets"] = (cache, count, now, facets)
    return facets


@router.get("/catalog")
async def catalog_page(request: Request, seen: SignedIn, q: Text = None, team: Text = None, domain: Text = None,
                       classification: Text = None, ready: Annotated[str | None, Query(max_length=5)] = None,
                       channel: Text = None) -> Response:
    identity, cache = seen.identity, cache_of(request)
    assert identity is not None
    readiness = {"true": True, "false": False}.get(ready or "")
    # in (namespace, name) order already (the cache's key-ordered store)
    matches = catalog.search(identity=identity, cache=cache, team=team or None, domain=domain or None,
                             classification=classification or None, ready=readiness, channel=channel or None,
                             q=q or None)
    found = list(islice(matches, max(ROWS, g.MAX_NODES) + 1))  # what is shown or drawn; the rest not looked at
    total, more = len(found), len(found) > max(ROWS, g.MAX_NODES)
    drawing = None
    if not more and total <= g.MAX_NODES:
        shown = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in found}
        deps = []
        for obj in found:  # the direct dependencies of what was found, so a not-Ready callee shows
            for dep in (obj.get("spec") or {}).get("dependencies") or []:
                if isinstance(dep, dict) and dep.get("name"):
                    ref = (dep.get("namespace") or obj["metadata"].get("namespace"), dep["name"])
                    other = cache.get(CAPABILITY, str(ref[1]), str(ref[0]))
                    if other is not None and ref not in shown:
                        shown.add(ref)
                        deps.append(other)
        drawing = g.build(found + deps, sandboxes.list_visible(identity=identity, cache=cache))
    filters = {"q": q or "", "team": team or "", "domain": domain or "", "classification": classification or "",
               "ready": ready or "", "channel": channel or ""}
    rows = portal_of(request).rows  # each row rendered once per capability version (rows.py)
    return page(request, "catalog.html", seen, row_html=[rows.row(o) for o in found[:ROWS]], total=total,
                more=more, rows=ROWS, filters=filters, graph=drawing, max_nodes=g.MAX_NODES,
                options=_cached_facets(request, cache))
