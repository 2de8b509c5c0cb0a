"""The HTTP methods the API answers; any other method gets 405 before routing.

Installed by :func:`platform_api.middleware.install` inside the metrics middleware, which labels
every method outside :data:`KNOWN_METHODS` as ``OTHER`` (:mod:`platform_api.metrics`), so that an
invented method (``FOO``, ``X-1``, ...) neither reaches a route nor adds a series to ``/metrics``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from platform_api.middleware._asgi import answer
from platform_api.problems import Problem

__all__ = ["KNOWN_METHODS", "MethodGuard", "method_label"]

KNOWN_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
_ALLOW = ", ".join(sorted(KNOWN_METHODS))


def method_label(method: str) -> str:
    """The metrics label of ``method``: itself when known, ``OTHER`` otherwise (a bounded set)."""
    return method if method in KNOWN_METHODS else "OTHER"


class MethodGuard:
    """Answers 405 (with ``Allow``) to any method outside :data:`KNOWN_METHODS`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") not in KNOWN_METHODS:
            problem = Problem(405, f"The API answers only the methods {_ALLOW}.", slug="method-not-allowed",
                              reason="MethodNotAllowed", headers={"Allow": _ALLOW})
            await answer(scope, receive, send, problem)
            return
        await self.app(scope, receive, send)
