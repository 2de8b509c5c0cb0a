"""Routes of Teams: `GET /teams` (the Teams the caller may see) and `GET /teams/{team}` (namespaces, members,
quota used and total, capabilities, readiness). Read only: Teams are written by platform engineers with kubectl."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from platform_api.deps import Cache, CurrentIdentity
from platform_api.routers.common import API_PREFIX, ERRORS
from platform_api.schemas import NAME_PATTERN
from platform_api.services import teams as svc

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX + "/teams", tags=["teams"], responses=ERRORS)
Team = Annotated[str, Path(pattern=NAME_PATTERN, max_length=63)]


class TeamSummary(BaseModel):
    name: str
    displayName: str | None = None
    contact: dict[str, Any] = Field(default_factory=dict)
    namespaces: list[str] = Field(description="Namespaces the team owns (created or adopted).")
    ready: bool | None = None
    yourRole: str | None = Field(default=None, description="owner or member when the caller belongs to the team.")
    capabilityCount: int = Field(default=0, description="Capabilities admitted by the team's quota.")


class TeamList(BaseModel):
    items: list[TeamSummary]


class TeamDetail(TeamSummary):
    owners: list[dict[str, Any]] = Field(default_factory=list)
    members: list[dict[str, Any]] = Field(default_factory=list)
    namespaceStates: list[dict[str, Any]] = Field(default_factory=list)
    quota: dict[str, Any] = Field(default_factory=dict, description="total (spec.quota) and used (status.usage).")
    allowedRegistries: list[str] | None = None
    allowedClassifications: list[str] | None = None
    capabilities: list[dict[str, Any]] = Field(default_factory=list,
                                               description="name, namespace, ready and Ready reason of each.")
    conditions: list[dict[str, Any]] = Field(default_factory=list)


@router.get("", response_model=TeamList, summary="The Teams the caller may see")
async def list_teams(identity: CurrentIdentity, cache: Cache) -> dict[str, Any]:
    return {"items": svc.list_teams(identity=identity, cache=cache)}


@router.get("/{team}", response_model=TeamDetail, summary="One Team: namespaces, members, quota, capabilities")
async def get_team(identity: CurrentIdentity, cache: Cache, team: Team) -> dict[str, Any]:
    return svc.detail(identity=identity, cache=cache, team=team)
