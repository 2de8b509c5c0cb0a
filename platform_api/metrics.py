"""Prometheus metrics of the API: request counts and latency by route template and status.

Installed as the outermost middleware by :mod:`platform_api.app` (a pure ASGI one: no task or stream per
request, issue 19); served at ``/metrics``. Labels use the
route template (``/api/v1/teams/{team}/capabilities/{name}``), never the raw path, and the method
only when it is one the API answers (any other is ``OTHER``), so the number of series stays bounded
whatever callers send.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from platform_api.middleware.methods import method_label

__all__ = ["ApiMetrics", "MetricsMiddleware", "route_template"]


def route_template(request: Request | Scope) -> str:
    """The matched route's template (``<unmatched>`` when none matched), from a request or its scope."""
    scope = request.scope if isinstance(request, Request) else request
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


class ApiMetrics:
    """One registry per app (tests build many apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("finplane_api_requests_total", "Requests served, by route template and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("finplane_api_request_duration_seconds", "Request latency by route template.",
                                 ["method", "route", "status"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.cache_ready = Gauge("finplane_api_cache_ready", "1 when every informer has synced.",
                                 registry=self.registry)

    def observe(self, labels: tuple[str, str, str], seconds: float) -> None:
        """Count one request and its latency under ``(method, route template, status)``."""
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            labels = (method_label(scope["method"]), route_template(scope), str(status))
            self.metrics.observe(labels, time.perf_counter() - start)
