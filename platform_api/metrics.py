"""Prometheus metrics of the API: request counts and latency by route template and status.

Installed as middleware by :mod:`platform_api.app`; served at ``/metrics``. Labels use the
route template (``/api/v1/teams/{team}/capabilities/{name}``), never the raw path, and the method
only when it is one the API answers (any other is ``OTHER``), so the number of series stays bounded
whatever callers send.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.requests import Request
from starlette.responses import Response

from platform_api.middleware.methods import method_label

__all__ = ["ApiMetrics", "route_template"]


def route_template(request: Request) -> str:
    route = request.scope.get("route")
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

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            labels = (method_label(request.method), route_template(request), str(status))
            self.requests.labels(*labels).inc()
            self.latency.labels(*labels).observe(time.perf_counter() - start)
