"""Builds the FastAPI application: routers, problem handlers, auth, metrics, audit, lifespan.

``create_app`` is called by :mod:`platform_api.main` (real cluster: the gateway and informers
are built at startup from KUBECONFIG or the in-cluster config) and by tests (which pass an
in-memory cache and writer, the doubles at this seam).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from finplane.kube import errors as kerr
from platform_api import middleware, portal
from platform_api.audit import AuditLog
from platform_api.auth.failures import AuthFailures
from platform_api.auth.tokens import TokenVerifier
from platform_api.cache import ReadCache
from platform_api.metrics import ApiMetrics, MetricsMiddleware
from platform_api.middleware.audit_writes import AuditWrites
from platform_api.problems import Problem, install_handlers, problem_response
from platform_api.ratelimit import RateLimiter
from platform_api.routers import capabilities, catalog, channels, compliance, evidence, sandboxes, teams
from platform_api.routers.common import API_PREFIX
from platform_api.routers.register import router as register_router
from platform_api.settings import ApiSettings, get_settings
from platform_api.state import AppState, Writer

__all__ = ["API_PREFIX", "create_app"]



def _kube_problem(exc: kerr.KubeError) -> Problem:
    """Map the gateway's errors to problems; the cluster's own messages stay out of 5xx answers."""
    if isinstance(exc, kerr.NotFound):
        return Problem(404, "The object was not found.", slug="not-found", reason="NotFound")
    if isinstance(exc, kerr.AlreadyExists):
        return Problem(409, "An object with this name already exists.", slug="already-exists",
                       reason="AlreadyExists")
    if isinstance(exc, kerr.Conflict):
        return Problem(409, "The object changed meanwhile; read it again and retry.", slug="conflict",
                       reason="Conflict")
    if isinstance(exc, kerr.Invalid):
        errors = [{"field": str(c.get("field", "")), "message": str(c.get("message", ""))} for c in exc.causes]
        return Problem(422, exc.message or "The cluster refused the object.", slug="validation",
                       reason="Invalid", errors=errors or [{"field": "", "message": exc.message}])
    if isinstance(exc, kerr.Forbidden):
        return Problem(502, "The platform API is not allowed to make this change in the cluster.",
                       slug="upstream-forbidden", reason="UpstreamForbidden")
    return Problem(503, "The cluster API is unavailable; retry shortly.", slug="upstream-unavailable",
                   reason="UpstreamUnavailable", headers={"Retry-After": "5"})


def create_app(settings: ApiSettings | None = None, *, cache: ReadCache | None = None,
               writer: Writer | None = None) -> FastAPI:
    """The application. Without ``cache``/``writer`` it connects to the cluster at startup."""
    cfg = settings or get_settings()
    metrics = ApiMetrics()
    state = AppState(settings=cfg, verifier=TokenVerifier(cfg),
                     limiter=RateLimiter(rate=cfg.rate_limit_per_second, burst=cfg.rate_limit_burst),
                     audit=AuditLog(cfg.audit_log, evidence_dir=cfg.evidence_dir), cache=cache, writer=writer,
                     failures=AuthFailures(limit=cfg.auth_failure_limit,
                                           window_seconds=cfg.auth_failure_window_seconds))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kube = informers = None
        if state.cache is None or state.writer is None:
            from finplane.kube.client import Kube
            from finplane.kube.evidence_key import configured_secret, shared_signer
            from platform_api.cache import InformerCache

            kube = await Kube.from_config()
            kube.user_agent = "finplane-platform-api"  # tells API-server statistics who wrote what
            informers = InformerCache(kube, watch_timeout=cfg.watch_timeout_seconds,
                                      waiver_namespace=cfg.waiver_namespace)
            informers.start()
            state.cache, state.writer = informers, kube
            if (key_secret := configured_secret()) is not None:  # sign with the operator's key, from its Secret
                state.audit.signer = await shared_signer(kube, namespace=key_secret[0], name=key_secret[1],
                                                         publish=False)
        try:
            yield
        finally:
            if informers is not None:
                await informers.stop()
            if kube is not None:
                await kube.close()

    app = FastAPI(title="Finplane platform API", version="1", lifespan=lifespan,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,
                  description="Self-service API of the Finplane developer platform. Errors are RFC 9457 "
                              "problem documents; lists are paginated with `limit` and an opaque `cursor`.")
    app.state.finplane = state
    install_handlers(app)

    @app.exception_handler(kerr.KubeError)
    async def _kube_error(request: Request, exc: kerr.KubeError) -> JSONResponse:
        return problem_response(_kube_problem(exc), instance=request.url.path)

    app.add_middleware(AuditWrites, audit=state.audit)  # innermost: records every change (pure ASGI)

    # Outside the audit middleware, inside metrics: refused methods, locked-out addresses, oversized bodies
    # and over-deep JSON are answered before routing, authentication or parsing, and still counted.
    middleware.install(app, settings=cfg, failures=state.failures, prefix=API_PREFIX)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    for router in (catalog.router, capabilities.router, channels.router, sandboxes.router, compliance.router,
                   evidence.router, teams.router, register_router):
        app.include_router(router)
    portal.install(app, api_settings=cfg, prefix=API_PREFIX)  # the web portal and the offline API docs

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Any:
        ready = state.cache is not None and state.cache.ready
        metrics.cache_ready.set(1 if ready else 0)
        if not ready:
            return problem_response(Problem(503, "The informer caches have not synced yet.", slug="not-ready",
                                            reason="CacheNotReady"))
        return {"status": "ready"}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        metrics.cache_ready.set(1 if state.cache is not None and state.cache.ready else 0)
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
