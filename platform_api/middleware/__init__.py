"""The API's guard rails that run before routing: methods, lockout, body size, JSON depth.

:func:`install` is called once by :func:`platform_api.app.create_app`. The order, outermost first
(after the metrics middleware, so every refusal is still counted): unknown methods get 405, locked-out
addresses 429, oversized bodies 413, over-deep JSON 400; only then do the audit middleware, routing,
authentication and body parsing run.
"""

from __future__ import annotations

from fastapi import FastAPI

from platform_api.auth.failures import AuthFailures
from platform_api.middleware.body_limit import BodyLimit
from platform_api.middleware.json_depth import JsonDepthGuard
from platform_api.middleware.lockout import Lockout, scope_client_key
from platform_api.middleware.methods import KNOWN_METHODS, MethodGuard, method_label
from platform_api.settings import ApiSettings

__all__ = ["KNOWN_METHODS", "install", "method_label", "scope_client_key"]


def install(app: FastAPI, *, settings: ApiSettings, failures: AuthFailures, prefix: str) -> None:
    """Add the guards to ``app``; call it before the metrics middleware is added (that one goes outside)."""
    # add_middleware puts each new middleware outside the previous ones: add the innermost first.
    app.add_middleware(JsonDepthGuard, max_depth=settings.max_json_depth)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(Lockout, failures=failures, prefix=prefix)
    app.add_middleware(MethodGuard)
