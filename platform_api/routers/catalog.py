"""Routes of the catalog: search every capability's summary; one capability with its dependency graph.

Without a usage source a page is the summaries' remembered JSON joined (services/catalog.Summaries, one
per app), so a request neither summarises nor validates nor encodes a capability that has not changed;
with one, each entry also carries live usage and goes through the response model as before.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from platform_api.deps import Cache, CurrentIdentity, Settings, ready_cache
from platform_api.pagination import decode_cursor, obj_key, take_page
from platform_api.routers.common import API_PREFIX, ERRORS, Cursor, Limit, page_limit
from platform_api.schemas import NAME_PATTERN, CatalogDetail, CatalogEntry, Page
from platform_api.services import catalog, catalog_usage
from platform_api.state import AppState

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX + "/catalog", tags=["catalog"], responses=ERRORS)
Label = Annotated[str, Path(pattern=NAME_PATTERN, max_length=63)]


@router.get("", response_model=Page[CatalogEntry], response_model_exclude_unset=True,
            summary="Search the catalog of capabilities (with partner usage when a usage source is configured)")
async def search_catalog(
    identity: CurrentIdentity, request: Request, limit: Limit = None, cursor: Cursor = None,
    team: Annotated[str | None, Query(max_length=63)] = None,
    domain: Annotated[str | None, Query(max_length=63)] = None,
    classification: Annotated[str | None, Query(max_length=32)] = None,
    ready: bool | None = None,
    channel: Annotated[str | None, Query(max_length=253)] = None,
    q: Annotated[str | None, Query(max_length=256, description="Free text in name, team, domain, description.")] = None,
) -> object:
    state: AppState = request.app.state.finplane  # not a dependency: FastAPI's cost is per dependency
    cache, settings, summaries = ready_cache(state), state.settings, _summaries(state)
    found = catalog.search(identity=identity, cache=cache, team=team, domain=domain,
                           classification=classification, ready=ready, channel=channel, q=q,
                           after=decode_cursor(cursor) if cursor else None, summaries=summaries)
    page = take_page(found, key=obj_key,
                     limit=page_limit(limit, default=settings.default_page_size, maximum=settings.max_page_size))
    usage = await catalog_usage.load(settings=settings, cache=cache) if len(page) else None
    if usage is None:
        return Response(summaries.page_json(page, page.next_cursor), media_type="application/json")
    return {"items": [catalog.entry(o, usage) for o in page], "nextCursor": page.next_cursor}


def _summaries(state: AppState) -> catalog.Summaries:
    found = state.extras.get("catalog.summaries")
    if not isinstance(found, catalog.Summaries):
        found = state.extras["catalog.summaries"] = catalog.Summaries()
    return found


@router.get("/{namespace}/{name}", response_model=CatalogDetail, response_model_exclude_unset=True,
            summary="One capability with its dependency graph")
async def catalog_detail(identity: CurrentIdentity, cache: Cache, settings: Settings, namespace: Label,
                         name: Label) -> dict[str, object]:
    found = catalog.detail(identity=identity, cache=cache, namespace=namespace, name=name)  # 403/404 before any query
    usage = await catalog_usage.load(settings=settings, cache=cache)
    if usage is not None:
        found["partnerUsage"] = catalog_usage.summary(usage, namespace, name)
    return found
