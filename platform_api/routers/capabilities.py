"""Routes of a team's capabilities: list, create, read, update (If-Match), delete, status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from platform_api.audit import note
from platform_api.deps import Cache, CurrentIdentity, Gateway, Settings
from platform_api.pagination import obj_key, paginate
from platform_api.routers.common import API_PREFIX, ERRORS, Cursor, IfMatch, Limit, page_limit, set_etag
from platform_api.schemas import NAME_PATTERN, CapabilityCreate, CapabilityPublic, CapabilityUpdate, Page
from platform_api.services import capabilities as svc
from platform_api.services.common import is_true

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX + "/teams/{team}/capabilities", tags=["capabilities"], responses=ERRORS)
Team = Annotated[str, Path(pattern=NAME_PATTERN, max_length=63)]
Name = Annotated[str, Path(pattern=NAME_PATTERN, max_length=63)]


@router.get("", response_model=Page[CapabilityPublic], summary="The team's capabilities")
async def list_capabilities(
    identity: CurrentIdentity, cache: Cache, settings: Settings, team: Team, limit: Limit = None,
    cursor: Cursor = None, domain: Annotated[str | None, Query(max_length=63)] = None,
    classification: Annotated[str | None, Query(max_length=32)] = None, ready: bool | None = None,
) -> dict[str, Any]:
    items = svc.list_team(identity=identity, cache=cache, settings=settings, team=team)
    items = [o for o in items
             if (domain is None or (o.get("spec") or {}).get("domain") == domain)
             and (classification is None or (o.get("spec") or {}).get("dataClassification") == classification)
             and (ready is None or bool(is_true(o, "Ready")) == ready)]
    page = paginate(items, key=obj_key, cursor=cursor,
                    limit=page_limit(limit, default=settings.default_page_size, maximum=settings.max_page_size))
    return {"items": [svc.public(o) for o in page], "nextCursor": page.next_cursor}


@router.post("", response_model=CapabilityPublic, status_code=201, summary="Create a capability")
async def create_capability(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                            writer: Gateway, settings: Settings, team: Team, body: CapabilityCreate) -> Any:
    note(request, action="create", kind="BusinessCapability", team=team, name=body.name)
    created = await svc.create(identity=identity, cache=cache, writer=writer, settings=settings, team=team,
                               name=body.name, spec=body.spec)
    set_etag(response, created)
    response.headers["Location"] = f"{request.url.path}/{body.name}"
    return svc.public(created)


@router.get("/{name}", response_model=CapabilityPublic, summary="One capability (spec and status)")
async def get_capability(response: Response, identity: CurrentIdentity, cache: Cache, settings: Settings,
                         team: Team, name: Name) -> Any:
    obj = svc.get(identity=identity, cache=cache, settings=settings, team=team, name=name)
    set_etag(response, obj)
    return svc.public(obj)


@router.get("/{name}/status", summary="The status the operator wrote")
async def get_capability_status(identity: CurrentIdentity, cache: Cache, settings: Settings, team: Team,
                                name: Name) -> dict[str, Any]:
    obj = svc.get(identity=identity, cache=cache, settings=settings, team=team, name=name)
    status: dict[str, Any] = obj.get("status") or {}
    return status


@router.put("/{name}", response_model=CapabilityPublic, summary="Replace a capability's spec",
            responses={409: ERRORS[400], 412: ERRORS[400]})
async def update_capability(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                            writer: Gateway, settings: Settings, team: Team, name: Name, body: CapabilityUpdate,
                            if_match: IfMatch = None) -> Any:
    note(request, action="update", kind="BusinessCapability", team=team, name=name)
    written = await svc.update(identity=identity, cache=cache, writer=writer, settings=settings, team=team,
                               name=name, spec=body.spec, if_match=if_match)
    set_etag(response, written)
    return svc.public(written)


@router.delete("/{name}", status_code=204, summary="Delete a capability", responses={412: ERRORS[400]})
async def delete_capability(request: Request, identity: CurrentIdentity, cache: Cache, writer: Gateway,
                            settings: Settings, team: Team, name: Name, if_match: IfMatch = None) -> Response:
    note(request, action="delete", kind="BusinessCapability", team=team, name=name)
    await svc.delete(identity=identity, cache=cache, writer=writer, settings=settings, team=team, name=name,
                     if_match=if_match)
    return Response(status_code=204)
