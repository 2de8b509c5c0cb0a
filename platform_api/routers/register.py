"""Route of the DORA register of information: auditors and admins read it as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from platform_api.deps import Cache
from platform_api.routers.common import API_PREFIX, ERRORS
from platform_api.routers.compliance import AUDITORS
from platform_api.services import register as svc

__all__ = ["Arrangement", "RegisterPublic", "router"]


class Arrangement(BaseModel):
    """One ICT third-party arrangement: a partner sandbox, its contract dates and what it can reach."""

    arrangementId: str = Field(description="The TenantSandbox's name.")
    partner: str
    organisation: str
    contact: str
    contractStart: str = Field(description="Creation of the sandbox (RFC 3339, UTC).")
    contractEnd: str = Field(description="Its expiry (RFC 3339, UTC).")
    status: Literal["active", "ended", "pending", "rejected"] = Field(description="On the as-of date.")
    functions: list[str] = Field(description="Business domains of the capabilities it may call.")
    capabilities: list[str] = Field(description="namespace/name of the capabilities it may call.")
    channelRoutes: list[str] = Field(description="channel/route of the open-api routes leading there.")
    dataClassifications: list[str]
    registries: list[str]
    roles: list[str]


class RegisterPublic(BaseModel):
    """The register of information as of a date."""

    asOf: str
    arrangements: list[Arrangement]

router = APIRouter(prefix=API_PREFIX + "/register", tags=["compliance"], responses=ERRORS)
_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}},
                                               "description": "The register as JSON, or as CSV with a header line."}}


@router.get("", response_model=RegisterPublic, responses=_CSV, dependencies=AUDITORS,
            summary="DORA register of information: ICT third-party arrangements (partner sandboxes) as of a date")
async def get_register(cache: Cache,
                       as_of: Annotated[str, Query(alias="asOf", min_length=10, max_length=64,
                                                   description="YYYY-MM-DD (its end, UTC) or an ISO 8601 time.")],
                       format: Annotated[Literal["json", "csv"], Query()] = "json") -> Any:
    reg = svc.register(cache=cache, as_of=as_of)
    if format == "csv":
        return PlainTextResponse(svc.register_csv(reg), media_type="text/csv",
                                 headers={"Content-Disposition": 'attachment; filename="dora-register.csv"'})
    return JSONResponse(reg)
