"""The API's own documentation, offline: Swagger UI at ``/api/v1/docs`` and ReDoc at ``/api/v1/redoc``.

Called by :func:`platform_api.portal.install`. The scripts and styles come from the ``fastapi-offline``
package (pinned in requirements.lock), served by the API itself under ``/portal/apidocs/``: no CDN, so the
pages work on an air-gapped network. The pages carry a Content-Security-Policy without inline scripts
(Swagger UI is started by ``/portal/static/swagger-init.js``); both libraries set inline styles, so
``style-src`` allows them here, and ReDoc's search runs in a ``blob:`` worker.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

from platform_api.portal.web import security_headers

__all__ = ["DOCS_CSP", "install"]

DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self' data:; worker-src blob:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")

_SWAGGER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Swagger UI</title>
<link rel="stylesheet" href="/portal/apidocs/swagger-ui.css"><link rel="icon" href="/portal/apidocs/favicon.png">
</head><body><div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="/portal/apidocs/swagger-ui-bundle.js"></script><script src="/portal/static/swagger-init.js"></script>
</body></html>"""

_REDOC = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · ReDoc</title>
<link rel="icon" href="/portal/apidocs/favicon.png"></head>
<body><redoc spec-url="{openapi}" hide-loading="true"></redoc><script src="/portal/apidocs/redoc.standalone.js"></script></body></html>"""


def assets() -> Path:
    """The folder of Swagger UI's and ReDoc's files inside the installed ``fastapi_offline`` package."""
    return Path(str(resources.files("fastapi_offline") / "static"))


def install(app: FastAPI, *, prefix: str) -> None:
    openapi, title = app.openapi_url or f"{prefix}/openapi.json", app.title
    app.mount("/portal/apidocs", StaticFiles(directory=assets()), name="portal-apidocs")

    @app.get(f"{prefix}/docs", include_in_schema=False)
    async def swagger(request: Request) -> Response:
        return security_headers(HTMLResponse(_SWAGGER.format(title=title, openapi=openapi)), csp=DOCS_CSP)

    @app.get(f"{prefix}/redoc", include_in_schema=False)
    async def redoc(request: Request) -> Response:
        return security_headers(HTMLResponse(_REDOC.format(title=title, openapi=openapi)), csp=DOCS_CSP)
