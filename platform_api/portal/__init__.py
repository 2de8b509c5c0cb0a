"""The web portal: server-rendered pages over the platform API's own services, in the API's own process.

:func:`install` is called once by :func:`platform_api.app.create_app`. It adds the portal's routes under
``/portal/`` (catalog, capabilities, teams, sandboxes, compliance, sign-in), its static files (the portal's
stylesheet and script, and htmx, vendored with its version and licence in ``static/vendor/``), and the
API's documentation served offline (:mod:`platform_api.portal.apidocs`). Pages authenticate with a signed
session cookie carrying the caller's token, verified as every API call is; every write calls the service
the API route calls, so authorisation is the API's own. Every form carries a CSRF token and every page a
strict Content-Security-Policy (no inline script). None of these routes is in the OpenAPI document.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import jinja2
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from platform_api.portal import (
    apidocs,
    oidc,
    pages_capability,
    pages_catalog,
    pages_compliance,
    pages_sandbox,
    pages_signin,
    pages_team,
    pages_waiver,
)
from platform_api.portal.config import PortalSettings
from platform_api.portal.session import SessionCodec
from platform_api.portal.web import TEMPLATES, Portal
from platform_api.settings import ApiSettings

__all__ = ["PortalSettings", "install"]

STATIC = Path(__file__).parent / "static"


class _Static(StaticFiles):
    """Static files with ``nosniff`` and a day of caching (the vendored files' names carry their version)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Cache-Control", "public, max-age=86400")
        return response


def install(app: FastAPI, *, api_settings: ApiSettings, prefix: str, settings: PortalSettings | None = None) -> None:
    """Add the portal to ``app`` (its state must be ``app.state.finplane``)."""
    cfg = settings or PortalSettings()
    key = cfg.session_secret.get_secret_value().encode() if cfg.session_secret else secrets.token_bytes(32)
    secure = cfg.cookie_secure if cfg.cookie_secure is not None else not api_settings.dev_mode
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    app.state.finplane.extras["portal"] = Portal(settings=cfg, codec=SessionCodec(key, secure=secure), env=env)
    for module in (pages_signin, oidc, pages_catalog, pages_capability, pages_team, pages_sandbox, pages_compliance,
                   pages_waiver):
        app.include_router(module.router)
    app.mount("/portal/static", _Static(directory=STATIC), name="portal-static")
    apidocs.install(app, prefix=prefix)
