"""RFC 9457 problem details: one error shape for every response of the API.

Called by the routers and services (raise :class:`Problem`) and installed on the app by
:func:`install_handlers` (:mod:`platform_api.app`), which also turns FastAPI's validation
errors, HTTP errors and any unexpected exception into ``application/problem+json``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["PROBLEM_BASE", "FieldError", "Problem", "ProblemBody", "install_handlers", "problem_response"]

PROBLEM_BASE = "https://finplane.io/problems/"
MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("finplane.api")

_TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict", 412: "Precondition Failed",
    413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
    428: "Precondition Required", 429: "Too Many Requests", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
}


class FieldError(BaseModel):
    """One invalid field: a JSON pointer-ish dotted location and what is wrong with it."""

    field: str
    message: str


class ProblemBody(BaseModel):
    """The documented shape of every error response (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="Field errors (422 only).")
    reason: str | None = Field(default=None, description="A CamelCase word scripts can match.")
    currentVersion: str | None = Field(default=None, description="The current ETag (412 only).")


class Problem(Exception):
    """Raise anywhere below a route to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, slug: str | None = None, reason: str | None = None,
                 errors: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or _TITLES.get(status, "error").lower().replace(" ", "-")
        self.reason = reason
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


def problem_response(problem: Problem, *, instance: str | None = None) -> JSONResponse:
    """Render a :class:`Problem` as ``application/problem+json``."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem.slug,
        "title": _TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
    }
    if instance:
        body["instance"] = instance
    if problem.reason:
        body["reason"] = problem.reason
    if problem.errors is not None:
        body["errors"] = problem.errors
    body.update(problem.extra)
    return JSONResponse(body, status_code=problem.status, headers=problem.headers, media_type=MEDIA_TYPE)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def install_handlers(app: FastAPI) -> None:
    """Make every error, expected or not, a problem document; never leak internals in a 500."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _loc(e.get("loc", ())), "message": str(e.get("msg", "invalid"))} for e in exc.errors()]
        return problem_response(Problem(422, "The request is not valid; see errors.", slug="validation",
                                        reason="ValidationFailed", errors=errors), instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
        return problem_response(Problem(exc.status_code, detail, headers=dict(exc.headers or {})),
                                instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Log the traceback for operators; answer with nothing about the internals.
        log.exception("Unexpected error on %s %s", request.method, request.url.path)
        return problem_response(Problem(500, "An unexpected error occurred; it has been logged.",
                                        slug="internal"), instance=request.url.path)
