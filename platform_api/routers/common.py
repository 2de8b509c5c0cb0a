"""Query parameters and response helpers shared by the routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Query, Response

from platform_api.problems import ProblemBody

__all__ = ["API_PREFIX", "Cursor", "ERRORS", "IfMatch", "Limit", "page_limit", "set_etag"]

#: Routers carry the full prefix so that route templates (metrics, audit) read as callers see them.
API_PREFIX = "/api/v1"

Limit = Annotated[int | None, Query(ge=1, le=5000, description="Page size (capped by the server).")]
Cursor = Annotated[str | None, Query(max_length=2048, description="Opaque cursor from `nextCursor`.")]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=256,
                                       description="The ETag you read; a stale one gets 412.")]

_PROBLEM = {"model": ProblemBody, "content": {"application/problem+json": {}}}
#: Documented error answers of every authenticated route (the OpenAPI document lists them).
ERRORS: dict[int | str, dict[str, Any]] = {code: _PROBLEM for code in (400, 401, 403, 404, 422, 429, 503)}


def page_limit(limit: int | None, *, default: int, maximum: int) -> int:
    return min(limit or default, maximum)


def set_etag(response: Response, obj: dict[str, Any]) -> None:
    response.headers["ETag"] = f'"{obj.get("metadata", {}).get("resourceVersion", "")}"'
