"""The aiohttp application of the embedded API server: wiring, routes, error handling, test-only endpoints.

Built by `main.py` (and by in-process tests through `build_app`). `build_app` is the one place that
assembles the server: it wires the controllers into the plain-state `Core`, creates the namespaces
every cluster starts with, and attaches the simulator, the counters and the fault switch. Discovery,
/version, health, OpenAPI, /metrics and the `/_finplane/` endpoints are answered here; every other
`/api` and `/apis` path goes to `http.handle_resource`.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from finplane_emulator import bootstrap, discovery, openapi
from finplane_emulator.controllers import Controllers
from finplane_emulator.core import Core
from finplane_emulator.errors import ApiError, status_body
from finplane_emulator.faults import Faults
from finplane_emulator.http import handle_resource, json_response
from finplane_emulator.observe import Stats
from finplane_emulator.simulator import DeploymentSimulator
from finplane_emulator.writes import create

__all__ = ["DEFAULT_NAMESPACES", "build_app"]

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

CORE_KEY = web.AppKey("core", Core)
STATS_KEY = web.AppKey("stats", Stats)
FAULTS_KEY = web.AppKey("faults", Faults)
SIM_KEY = web.AppKey("simulator", DeploymentSimulator)


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return json_response(exc.body, status=exc.code)


def build_app(core: Core, *, faults: bool = False, simulate: bool = True) -> web.Application:
    """The server around `core` (already loaded from a snapshot, if any): controllers wired, namespaces made."""
    if isinstance(core.hooks, Controllers):
        raise ValueError("this Core is already served by an application")
    core.hooks = Controllers(core)
    _bootstrap(core)
    app = web.Application(middlewares=[_errors], client_max_size=64 * 1024 * 1024)
    stats = Stats()
    stats.gauges["objects"] = lambda: sum(r.count for r in core.store.resources.values())
    stats.gauges["watchers"] = lambda: sum(len(r.watchers) for r in core.store.resources.values())
    stats.gauges["resource_version"] = lambda: core.store.rv
    app[CORE_KEY] = core
    app[STATS_KEY] = stats
    app[FAULTS_KEY] = Faults(enabled=faults)
    if simulate:
        app[SIM_KEY] = DeploymentSimulator(core, stats)
    app.router.add_route("*", "/{tail:.*}", _dispatch)
    return app


def _bootstrap(core: Core) -> None:
    """The namespaces every cluster starts with (those loaded from a snapshot are kept as they are)."""
    assert core.namespaces_info is not None
    for name in DEFAULT_NAMESPACES:
        if core.namespace(name) is None:
            create(core, core.namespaces_info, None,
                   {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, manager="kube-apiserver")
    bootstrap.start(core)  # the default/kubernetes Service, PriorityClasses, etcd compaction


async def _dispatch(request: web.Request) -> web.StreamResponse:
    app = request.app
    core, stats = app[CORE_KEY], app[STATS_KEY]
    path = request.path.rstrip("/") or "/"
    parts = path.strip("/").split("/")
    head = parts[0]
    if head in ("api", "apis") and len(parts) <= 3 and not (head == "api" and len(parts) == 3):
        return _discovery(request, core, parts)
    if head in ("api", "apis"):
        return await handle_resource(request, core=core, stats=stats, faults=app[FAULTS_KEY])
    if head == "openapi":
        return openapi.serve(request, core, parts)
    if path == "/version":
        return json_response(discovery.version())
    if path in ("/healthz", "/livez", "/readyz"):
        return web.Response(text="ok")
    if path == "/metrics":
        return web.Response(body=generate_latest(stats.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
    if head == "_finplane":
        return await _test_endpoints(request, parts[1:])
    raise ApiError(404, "NotFound", "the server could not find the requested resource")


def _discovery(request: web.Request, core: Core, parts: list[str]) -> web.Response:
    if request.method != "GET":
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    registry = core.registry
    doc: dict[str, Any] | None
    if parts == ["api"]:
        doc = discovery.api_versions(request.host)
    elif parts == ["apis"]:
        doc = discovery.api_group_list(registry)
    elif parts[0] == "api":
        doc = discovery.resource_list(registry, "", parts[1])
    elif len(parts) == 2:
        doc = discovery.api_group(registry, parts[1])
    else:
        doc = discovery.resource_list(registry, parts[1], parts[2])
    if doc is None:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return json_response(doc)


async def _test_endpoints(request: web.Request, parts: list[str]) -> web.Response:
    app = request.app
    if parts == ["stats"]:
        if request.method == "DELETE":
            app[STATS_KEY].reset()
        return json_response(app[STATS_KEY].as_dict())
    if parts == ["faults"]:
        faults = app[FAULTS_KEY]
        if not faults.enabled:
            raise ApiError(404, "NotFound", "fault injection is off: start the server with --faults")
        if request.method == "POST":
            try:
                faults.configure(json.loads(await request.read() or b"{}"))
            except (ValueError, KeyError, TypeError) as exc:
                raise ApiError(400, "BadRequest", f"bad fault configuration: {exc}") from None
        return json_response(faults.describe())
    if len(parts) == 4 and parts[0] == "deployments" and request.method == "POST" and SIM_KEY in app:
        ns, name, action = parts[1:]
        if action not in ("fail", "recover"):
            raise ApiError(404, "NotFound", "use .../fail or .../recover")
        app[SIM_KEY].set_failing(ns, name, action == "fail")
        return json_response(status_body(code=200, reason="", message=f"deployment {ns}/{name}: {action}"))
    raise ApiError(404, "NotFound", "the server could not find the requested resource")
