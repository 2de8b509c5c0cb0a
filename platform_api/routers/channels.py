"""Routes of channels: read for every authenticated caller (partners: only what they may call), write for admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from platform_api.audit import note
from platform_api.deps import Cache, CurrentIdentity, Gateway, Settings
from platform_api.pagination import obj_key, paginate
from platform_api.routers.common import API_PREFIX, ERRORS, Cursor, IfMatch, Limit, page_limit, set_etag
from platform_api.schemas import ChannelCreate, ChannelPublic, ChannelUpdate, Page
from platform_api.services import channels as svc

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX + "/channels", tags=["channels"], responses=ERRORS)
Name = Annotated[str, Path(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)]


@router.get("", response_model=Page[ChannelPublic],
            summary="Every channel (a partner: the routes to capabilities its sandboxes may call)")
async def list_channels(identity: CurrentIdentity, cache: Cache, settings: Settings, limit: Limit = None,
                        cursor: Cursor = None, type: Annotated[str | None, Query(max_length=32)] = None) -> Any:
    items = [o for o in svc.visible(identity=identity, cache=cache) if type is None or (o.get("spec") or {}).get("type") == type]
    page = paginate(items, key=obj_key, cursor=cursor,
                    limit=page_limit(limit, default=settings.default_page_size, maximum=settings.max_page_size))
    return {"items": [svc.public(o) for o in page], "nextCursor": page.next_cursor}


@router.post("", response_model=ChannelPublic, status_code=201, summary="Create a channel (admin)")
async def create_channel(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                         writer: Gateway, body: ChannelCreate) -> Any:
    note(request, action="create", kind="Channel", name=body.name)
    created = await svc.create(identity=identity, cache=cache, writer=writer, name=body.name, spec=body.spec)
    set_etag(response, created)
    response.headers["Location"] = f"{request.url.path}/{body.name}"
    return svc.public(created)


@router.get("/{name}", response_model=ChannelPublic, summary="One channel")
async def get_channel(response: Response, identity: CurrentIdentity, cache: Cache, name: Name) -> Any:
    obj = svc.get(cache=cache, name=name, identity=identity)
    set_etag(response, obj)
    return svc.public(obj)


@router.put("/{name}", response_model=ChannelPublic, summary="Replace a channel's spec (admin)",
            responses={412: ERRORS[400]})
async def update_channel(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                         writer: Gateway, name: Name, body: ChannelUpdate, if_match: IfMatch = None) -> Any:
    note(request, action="update", kind="Channel", name=name)
    written = await svc.update(identity=identity, cache=cache, writer=writer, name=name, spec=body.spec,
                               if_match=if_match)
    set_etag(response, written)
    return svc.public(written)


@router.delete("/{name}", status_code=204, summary="Delete a channel (admin)", responses={412: ERRORS[400]})
async def delete_channel(request: Request, identity: CurrentIdentity, cache: Cache, writer: Gateway, name: Name,
                         if_match: IfMatch = None) -> Response:
    note(request, action="delete", kind="Channel", name=name)
    await svc.delete(identity=identity, cache=cache, writer=writer, name=name, if_match=if_match)
    return Response(status_code=204)
