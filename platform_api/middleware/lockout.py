"""Addresses locked out for too many authentication failures get 429 before anything else is done.

Installed by :func:`platform_api.middleware.install` outside the body limit: a locked address's request
is answered with ``Retry-After`` before its body is read or its token verified. Failures are counted by
the ``current_identity`` dependency (:mod:`platform_api.deps`) in :class:`~platform_api.auth.failures.AuthFailures`.
Only the API's own routes are gated: health probes and ``/metrics`` stay reachable.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from platform_api.auth.failures import AuthFailures, client_key
from platform_api.middleware._asgi import answer
from platform_api.problems import Problem

__all__ = ["Lockout", "scope_client_key"]


def scope_client_key(scope: Scope) -> str:
    """The failure-counting key of the request's client address."""
    client = scope.get("client")
    return client_key(client[0] if client else None)


class Lockout:
    """429 for every API request from an address that is locked out (see :class:`AuthFailures`)."""

    def __init__(self, app: ASGIApp, *, failures: AuthFailures, prefix: str) -> None:
        self.app = app
        self.failures = failures
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(self.prefix):
            wait = self.failures.locked_for(scope_client_key(scope))
            if wait > 0:
                problem = Problem(429, f"Too many failed authentications from this address; retry in {wait} s.",
                                  slug="rate-limited", reason="TooManyAuthFailures",
                                  headers={"Retry-After": str(wait)})
                await answer(scope, receive, send, problem, close=True)
                return
        await self.app(scope, receive, send)
