"""The aiohttp application of the embedded API server: wiring, routes, error handling, test-only endpoints.

Built by `main.py` (and by in-process tests through `build_app`). `build_app` is the one place that
assembles the server: it wires the controllers into the plain-state `Core`, creates the namespaces
every cluster starts with, builds the front door (`guard.py`: authentication and the authorizer chosen by
`Security`) and the admission chain (`admission_chain.py`, wired into `Core.admission`), creates the
bootstrap RBAC roles in RBAC mode, and attaches the simulator, the counters and the fault switch. Every
request but the test-only `/_finplane/` ones is authenticated first; its warnings become `Warning`
headers. Discovery,
/version, health, OpenAPI, /metrics and the `/_finplane/` endpoints are answered here; every other
`/api` and `/apis` path goes to `http.handle_resource`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from finplane_emulator import (
    admission_context,
    admission_serviceaccount,
    bootstrap,
    discovery,
    openapi,
    rbac_bootstrap,
    rbac_reviews,
)
from finplane_emulator.admission_chain import PLUGINS, Admission
from finplane_emulator.authn import Authenticator, load_token_file
from finplane_emulator.controllers import Controllers
from finplane_emulator.core import Core
from finplane_emulator.errors import ApiError, status_body
from finplane_emulator.faults import Faults
from finplane_emulator.guard import MODES, Guard
from finplane_emulator.http import handle_resource, json_response
from finplane_emulator.observe import Stats
from finplane_emulator.rbac import Authorizer
from finplane_emulator.simulator import DeploymentSimulator
from finplane_emulator.tokens import Signer
from finplane_emulator.writes import create

__all__ = ["DEFAULT_NAMESPACES", "GUARD_KEY", "Security", "build_app"]

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

CORE_KEY = web.AppKey("core", Core)
STATS_KEY = web.AppKey("stats", Stats)
FAULTS_KEY = web.AppKey("faults", Faults)
SIM_KEY = web.AppKey("simulator", DeploymentSimulator)
GUARD_KEY = web.AppKey("guard", Guard)


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return json_response(exc.body, status=exc.code)


@dataclass(frozen=True)
class Security:
    """Authentication, authorization and admission options (kube-apiserver's flags of the same names)."""

    authorization_mode: str = "AlwaysAllow"  # or "RBAC"
    token_auth_file: Path | None = None
    anonymous_auth: bool = True
    admission_plugins: tuple[str, ...] = ()
    admin_token: str | None = None


def _guard(core: Core, security: Security) -> Guard:
    if security.authorization_mode not in MODES:
        raise ValueError(f"--authorization-mode must be one of {', '.join(MODES)}")
    unknown = set(security.admission_plugins) - set(PLUGINS)
    if unknown:
        raise ValueError(f"unknown admission plugins {sorted(unknown)}; known: {', '.join(PLUGINS)}")
    static = load_token_file(security.token_auth_file) if security.token_auth_file else None
    signer = Signer()
    authenticator = Authenticator(core, static=static, anonymous=security.anonymous_auth,
                                  admin_token=security.admin_token, signer=signer)
    authorizer = Authorizer(core) if security.authorization_mode == "RBAC" else None
    rbac_reviews.register(core)
    core.admission = Admission(core=core, signer=signer, plugins=frozenset(security.admission_plugins),
                               authorizer=authorizer)
    if authorizer is not None:
        rbac_bootstrap.bootstrap(core)
        rbac_bootstrap.start_aggregation(core)
    if "ServiceAccount" in security.admission_plugins:
        admission_serviceaccount.start_default_service_accounts(core)
    return Guard(authenticator=authenticator, authorizer=authorizer)


def build_app(core: Core, *, faults: bool = False, simulate: bool = True,
              security: Security | None = None) -> web.Application:
    """The server around `core` (already loaded from a snapshot, if any): controllers wired, namespaces made."""
    if isinstance(core.hooks, Controllers):
        raise ValueError("this Core is already served by an application")
    core.hooks = Controllers(core)
    _bootstrap(core)
    guard = _guard(core, security or Security())
    app = web.Application(middlewares=[_errors], client_max_size=64 * 1024 * 1024)
    stats = Stats()
    stats.gauges["objects"] = lambda: sum(r.count for r in core.store.resources.values())
    stats.gauges["watchers"] = lambda: sum(len(r.watchers) for r in core.store.resources.values())
    stats.gauges["resource_version"] = lambda: core.store.rv
    app[CORE_KEY] = core
    app[STATS_KEY] = stats
    app[FAULTS_KEY] = Faults(enabled=faults)
    app[GUARD_KEY] = guard
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
    path = request.path.rstrip("/") or "/"
    if path.startswith("/_finplane/"):
        return await _route(request, path)
    guard = request.app[GUARD_KEY]
    ctx = None
    try:
        ctx = admission_context.enter(guard.authenticate(request.headers))
        response = await _route(request, path)
    except ApiError as exc:
        response = json_response(exc.body, status=exc.code)
    finally:
        if ctx is not None:
            ctx.active = False  # work the request scheduled runs as the server from now on
    if ctx is not None and ctx.warnings and not response.prepared:
        for text in dict.fromkeys(ctx.warnings):
            response.headers.add("Warning", '299 - "' + text.replace('"', "'") + '"')
    return response


def _is_resource_path(parts: list[str]) -> bool:
    head = parts[0]
    return head in ("api", "apis") and not (len(parts) <= 3 and not (head == "api" and len(parts) == 3))


async def _route(request: web.Request, path: str) -> web.StreamResponse:
    app = request.app
    core, stats = app[CORE_KEY], app[STATS_KEY]
    parts = path.strip("/").split("/")
    head = parts[0]
    user = admission_context.current_user()
    if user is not None and not _is_resource_path(parts):
        app[GUARD_KEY].check_path(user, request.method, request.path)
    if head in ("api", "apis") and len(parts) <= 3 and not (head == "api" and len(parts) == 3):
        return _discovery(request, core, parts)
    if head in ("api", "apis"):
        return await handle_resource(request, core=core, stats=stats, faults=app[FAULTS_KEY], guard=app[GUARD_KEY])
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
