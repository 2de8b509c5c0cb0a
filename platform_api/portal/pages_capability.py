"""The capability pages: conditions with reasons and times, recent events and drift (:mod:`.events`),
dependencies both ways, channels and canary weights, compliance results and waivers, the children the
operator renders for it (:mod:`.rendered`), the CR as stored; create, edit (ETag precondition) and delete.
The page refreshes its conditions every 2 s from ``GET .../live``, which sends the heading's Ready badge, the
replica counts and the events along (htmx out-of-band swaps), so the heading never disagrees with the table.

Routes of :data:`router`, included by :func:`platform_api.portal.install`. Reads and writes are the
capability service's own (:mod:`platform_api.services.capabilities`): a team acts on its own team's
capabilities only, other teams' answer 404, auditors read, partners are refused. The write controls are
drawn only for those the service lets write, and the service refuses a forged form all the same.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from finplane.models.compliance_policy import RiskRating, RuleId
from platform_api.audit import note
from platform_api.auth.identity import Identity, Role
from platform_api.authz import may_see_team, require_role
from platform_api.cache import CHANNEL, POLICY, ReadCache
from platform_api.portal import events
from platform_api.portal.rendered import rendered_children
from platform_api.portal.web import (
    PortalRoute,
    Viewer,
    cache_of,
    checked_form,
    page,
    redirect,
    signed_in,
    writer_of,
)
from platform_api.problems import Problem
from platform_api.schemas import NAME_PATTERN
from platform_api.services import capabilities as svc
from platform_api.services import catalog, compliance
from platform_api.services.common import etag

__all__ = ["may_write", "router"]

router = APIRouter(prefix="/portal/capabilities", route_class=PortalRoute, include_in_schema=False)
SignedIn = Annotated[Viewer, Depends(signed_in)]
Label = Annotated[str, Path(pattern=NAME_PATTERN, max_length=63)]
Obj = dict[str, Any]
_FIELD_ERRORS = (409, 412, 422)
_NAME = re.compile(NAME_PATTERN)
EXAMPLE = """owner:
  contact: team@bank.example
domain: payments
description: What it does.
image: registry.finplane.local/TEAM/NAME:1.0.0
version: 1.0.0
replicas: 2
port: 8080
dataClassification: internal
"""


def may_write(identity: Identity | None, team: str) -> bool:
    """What the capability service lets write (its own check decides; this only chooses what to draw)."""
    if identity is None:
        return False
    return identity.role is Role.ADMIN or (identity.role is Role.TEAM and identity.team == team)


def _parse_spec(text: str) -> Obj:
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Problem(422, "The spec is not valid YAML.", slug="validation", reason="InvalidYaml",
                      errors=[{"field": "spec", "message": str(exc).splitlines()[0]}]) from None
    if not isinstance(spec, dict):
        raise Problem(422, "The spec must be a YAML mapping.", slug="validation", reason="ValidationFailed",
                      errors=[{"field": "spec", "message": "must be a mapping of fields"}])
    return spec


def _live(cache: ReadCache, obj: Obj, team: str) -> dict[str, Any]:
    """What the page and its refresh share: the Ready badge, the conditions and the recent events."""
    name = obj.get("metadata", {}).get("name")
    return {"cap": svc.public(obj), "conditions": (obj.get("status") or {}).get("conditions") or [],
            "events": events.rows(cache, obj), "events_kept": events.PER_OBJECT,
            "live_url": f"/portal/capabilities/{team}/{name}/live"}


def _context(request: Request, obj: Obj, identity: Identity, team: str) -> dict[str, Any]:
    cache = cache_of(request)
    meta = obj.get("metadata", {})
    ns, name = meta.get("namespace"), meta.get("name")
    routes = []
    for ch in cache.list(CHANNEL):
        for r in (ch.get("spec") or {}).get("routes") or []:
            if not isinstance(r, dict):
                continue
            target = r.get("capability") or {}
            canary = r.get("canary") or {}
            ctarget = canary.get("capability") or {}
            if (target.get("namespace"), target.get("name")) == (ns, name) or \
                    (ctarget.get("namespace"), ctarget.get("name")) == (ns, name):
                routes.append({"channel": ch["metadata"]["name"], "route": r.get("name"),
                               "path": r.get("pathPrefix") or r.get("path"), "canary": ctarget.get("name"),
                               "weight": canary.get("weight"),
                               "role": "canary" if ctarget.get("name") == name else "primary"})
    results = [r for r in compliance.results(identity=identity, cache=cache)
               if r["namespace"] == ns and any(x.get("name") == name for x in r["resources"])]
    waivers = []
    for pol in cache.list(POLICY):
        for w in (pol.get("spec") or {}).get("waivers") or []:
            objs = (w.get("resources") or w.get("objects") or []) if isinstance(w, dict) else []
            if any(isinstance(o, dict) and o.get("name") in (name, None, "*") and o.get("namespace") in (ns, None)
                   for o in objs):
                waivers.append({"policy": pol["metadata"]["name"], **w})
    shown = {k: v for k, v in obj.items() if k != "metadata"}
    shown["metadata"] = {k: v for k, v in meta.items() if k in ("name", "namespace", "labels", "annotations",
                                                                 "generation", "resourceVersion")}
    children, render_problem = rendered_children(cache, obj)
    return {**_live(cache, obj, team), "children_yaml": children, "render_problem": render_problem, "team": team,
            "detail": catalog.detail(identity=identity, cache=cache, namespace=str(ns), name=str(name)),
            "routes": routes, "results": results, "waivers": waivers, "etag": etag(obj),
            "manifest": yaml.safe_dump(shown, sort_keys=False), "can_write": may_write(identity, team),
            "policies": sorted(p["metadata"]["name"] for p in cache.list(POLICY)),
            "rules": [r.value for r in RuleId], "risks": [r.value for r in RiskRating]}


@router.get("/{team}/new")
async def new_form(request: Request, seen: SignedIn, team: Label) -> Response:
    assert seen.identity is not None
    require_role(seen.identity, Role.TEAM, Role.ADMIN)
    if not may_see_team(seen.identity, team):
        raise Problem(404, f"Team {team!r} was not found.", slug="not-found", reason="NotFound")
    return page(request, "capability_form.html", seen, team=team, name="", spec_text=EXAMPLE, mode="new",
                problem=None, etag="")


@router.post("/{team}/new")
async def create(request: Request, seen: SignedIn, team: Label) -> Response:
    form = await checked_form(request, seen)
    state, identity = request.app.state.finplane, seen.identity
    assert identity is not None
    name = form.get("name", "").strip()
    note(request, action="create", kind="BusinessCapability", team=team, name=name)
    try:
        require_role(identity, Role.TEAM, Role.ADMIN)  # before parsing: a forged form learns nothing more
        if not _NAME.match(name) or len(name) > 63:
            raise Problem(422, "The name is not a DNS label.", slug="validation", reason="ValidationFailed",
                          errors=[{"field": "name", "message": "lower-case letters, digits and '-', at most 63"}])
        await svc.create(identity=identity, cache=cache_of(request), writer=writer_of(request), settings=state.settings,
                         team=team, name=name, spec=_parse_spec(form.get("spec", "")))
    except Problem as exc:
        if exc.status not in _FIELD_ERRORS:
            raise
        return page(request, "capability_form.html", seen, status=exc.status, team=team, name=name,
                    spec_text=form.get("spec", ""), mode="new", problem=exc, etag="")
    return redirect(request, f"/portal/capabilities/{team}/{name}")


@router.get("/{team}/{name}")
async def show(request: Request, seen: SignedIn, team: Label, name: Label) -> Response:
    state, identity = request.app.state.finplane, seen.identity
    assert identity is not None
    obj = svc.get(identity=identity, cache=cache_of(request), settings=state.settings, team=team, name=name)
    return page(request, "capability.html", seen, **_context(request, obj, identity, team))


@router.get("/{team}/{name}/live")
async def live(request: Request, seen: SignedIn, team: Label, name: Label) -> Response:
    """The refreshed part of the page: the conditions, and out of band the heading's badge, replicas and events."""
    state, identity = request.app.state.finplane, seen.identity
    assert identity is not None
    cache = cache_of(request)
    obj = svc.get(identity=identity, cache=cache, settings=state.settings, team=team, name=name)
    return page(request, "capability_live.html", seen, oob=True, **_live(cache, obj, team))


@router.get("/{team}/{name}/edit")
async def edit_form(request: Request, seen: SignedIn, team: Label, name: Label) -> Response:
    state, identity = request.app.state.finplane, seen.identity
    assert identity is not None
    require_role(identity, Role.TEAM, Role.ADMIN)
    obj = svc.get(identity=identity, cache=cache_of(request), settings=state.settings, team=team, name=name)
    return page(request, "capability_form.html", seen, team=team, name=name, mode="edit", problem=None,
                spec_text=yaml.safe_dump(obj.get("spec") or {}, sort_keys=False), etag=etag(obj))


@router.post("/{team}/{name}/edit")
async def update(request: Request, seen: SignedIn, team: Label, name: Label) -> Response:
    form = await checked_form(request, seen)
    state, identity = request.app.state.finplane, seen.identity
    assert identity is not None
    note(request, action="update", kind="BusinessCapability", team=team, name=name)
    try:
        require_role(identity, Role.TEAM, Role.ADMIN)
        await svc.update(identity=identity, cache=cache_of(request), writer=writer_of(request), settings=state.settings,
                         team=team, name=name, spec=_parse_spec(form.get("spec", "")),
                         if_match=form.get("etag") or None)
    except Problem as exc:
        if exc.status not in _FIELD_ERRORS:
            raise
        return page(request, "capability_form.html", seen, status=exc.status, team=team, name=name, mode="edit",
                    spec_text=form.get("spec", ""), problem=exc, etag=form.get("etag", ""))
    return redirect(request, f"/portal/capabilities/{team}/{name}")


@router.post("/{team}/{name}/delete")
async def delete(request: Request, seen: SignedIn, team: Label, name: Label) -> Response:
    form = await checked_form(request, seen)
    state, identity = request.app.state.finplane, seen.identity
    assert identity is not None
    note(request, action="delete", kind="BusinessCapability", team=team, name=name)
    await svc.delete(identity=identity, cache=cache_of(request), writer=writer_of(request), settings=state.settings,
                     team=team, name=name, if_match=form.get("etag") or None)
    return redirect(request, f"/portal/teams/{team}")
