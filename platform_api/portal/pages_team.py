"""The team pages: every Team the viewer may see, and one Team's namespaces, members, quota used and
total, and capabilities. Routes of :data:`router`, included by :func:`platform_api.portal.install`;
the data is :mod:`platform_api.services.teams`' own (a team sees itself, auditors and admins all)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from platform_api.portal.pages_capability import may_write
from platform_api.portal.web import PortalRoute, Viewer, cache_of, page, signed_in
from platform_api.schemas import NAME_PATTERN
from platform_api.services import teams

__all__ = ["router"]

router = APIRouter(prefix="/portal/teams", route_class=PortalRoute, include_in_schema=False)
SignedIn = Annotated[Viewer, Depends(signed_in)]


@router.get("")
async def team_list(request: Request, seen: SignedIn) -> Response:
    assert seen.identity is not None
    return page(request, "teams.html", seen, teams=teams.list_teams(identity=seen.identity, cache=cache_of(request)))


@router.get("/{team}")
async def team_page(request: Request, seen: SignedIn,
                    team: Annotated[str, Path(pattern=NAME_PATTERN, max_length=63)]) -> Response:
    assert seen.identity is not None
    detail = teams.detail(identity=seen.identity, cache=cache_of(request), team=team)
    total, used = detail["quota"].get("total") or {}, detail["quota"].get("used") or {}
    quota = [{"name": k, "used": used.get(k, 0), "total": v} for k, v in sorted(total.items())]
    quota += [{"name": k, "used": v, "total": None} for k, v in sorted(used.items()) if k not in total]
    return page(request, "team.html", seen, team=detail, quota=quota, can_write=may_write(seen.identity, team))
