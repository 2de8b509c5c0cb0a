"""The resource endpoints: parse `/api/v1/...` and `/apis/G/V/...` URLs and dispatch by verb.

Registered by `app.py` as the catch-all route. Turns a URL into (resource, namespace, name,
subresource), counts the request in `Stats`, authorises it (`guard.py`; the authorization and
authentication reviews and TokenRequest are answered by `rbac_reviews.py`), applies injected faults, and calls the read,
write, delete and watch modules; answers are JSON objects, lists, Tables (when kubectl asks
with `as=Table`) or `Status` errors.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import yaml
from aiohttp import web

from finplane_emulator import (
    admission_context,
    deletion,
    jsoncodec,
    negotiation,
    protobuf,
    rbac_reviews,
    reads,
    scale,
    writes,
)
from finplane_emulator.authn import User
from finplane_emulator.core import Core
from finplane_emulator.errors import ApiError, bad_request, method_not_allowed, status_body
from finplane_emulator.faults import Faults
from finplane_emulator.guard import Guard
from finplane_emulator.observe import Stats
from finplane_emulator.rbac import Attributes
from finplane_emulator.resources import ResourceInfo
from finplane_emulator.scale import SCALABLE
from finplane_emulator.watch import serve_watch

__all__ = ["Target", "handle_resource", "json_response", "parse_target"]

Obj = dict[str, Any]


@dataclass
class Target:
    info: ResourceInfo
    namespace: str | None
    name: str
    subresource: str
    legacy_watch: bool = False


def json_response(body: Any, *, status: int = 200) -> web.Response:
    return web.Response(body=jsoncodec.dumps(body), status=status, content_type="application/json")


def _not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", details={})


def parse_target(core: Core, path: str) -> Target:
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts[0] == "api" and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise _not_found_path()
    legacy_watch = rest[0] == "watch"
    if legacy_watch:
        rest = rest[1:]
    namespace = None
    registry = core.registry
    if len(rest) >= 3 and rest[0] == "namespaces":
        candidate = registry.get(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise _not_found_path()
    info = registry.get(group, version, rest[0])
    if info is None:
        raise _not_found_path()
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if sub and not (sub == "status" and info.status) and not (sub == "scale" and (group, info.plural) in SCALABLE) \
            and not (sub == "token" and group == "" and info.plural == "serviceaccounts"):
        raise _not_found_path()
    return Target(info=info, namespace=namespace, name=name, subresource=sub, legacy_watch=legacy_watch)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "")


def _verb(request: web.Request, target: Target) -> str:
    method = request.method
    if method == "GET":
        if target.legacy_watch or _truthy(request.query.get("watch", "false")):
            return "watch"
        return "get" if target.name else "list"
    if method == "PATCH":
        ctype = request.headers.get("Content-Type", "")
        return "apply" if ctype.startswith("application/apply-patch") else "patch"
    if method == "DELETE":
        return "delete" if target.name else "deletecollection"
    return {"POST": "create", "PUT": "update"}.get(method, method.lower())


def _manager(request: web.Request) -> str:
    manager = request.query.get("fieldManager", "")
    if manager:
        return manager
    # The real server names the manager after the user agent's product ("kubectl", "kopf"...).
    return request.headers.get("User-Agent", "unknown").split("/")[0][:128]


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return {}
    ctype = request.headers.get("Content-Type", "application/json")
    if "protobuf" in ctype:  # kubectl 1.32+ sends typed built-in objects this way
        try:
            return protobuf.decode(raw)
        except protobuf.ProtobufError as exc:
            if exc.unsupported:
                raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                               f"accepted media types include: application/json, application/yaml ({exc})") from None
            raise bad_request(f"the object provided is unrecognized: {exc}") from None
    try:
        if "yaml" in ctype:
            return yaml.safe_load(raw)
        return jsoncodec.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"the object provided is unrecognized: {exc}") from None


async def handle_resource(request: web.Request, *, core: Core, stats: Stats, faults: Faults,
                          guard: Guard | None = None) -> web.StreamResponse:
    target = parse_target(core, request.path)
    info = target.info
    verb = _verb(request, target)
    stats.record(verb=verb, group=info.group, resource=info.plural, subresource=target.subresource,
                 user_agent=request.headers.get("User-Agent", ""))
    user = admission_context.current_user()
    if guard is not None and user is not None:
        _authorize(core, guard, user, target, verb)
        if rbac_reviews.handles(info, target.subresource):
            if verb != "create":
                raise method_not_allowed()
            obj, code = rbac_reviews.serve(core, guard, user, info, target.namespace, target.name,
                                           target.subresource, await _body(request))
            return json_response(obj, status=code)
    if faults.enabled and faults.active:
        if faults.latency:
            await asyncio.sleep(faults.latency)
        picked = faults.pick(verb=verb, resource=info.plural, user_agent=request.headers.get("User-Agent", ""))
        if picked:
            code, reason = picked
            resp = json_response(status_body(code=code, reason=reason, message=_fault_message(
                code, reason, verb=verb, resource=info.plural, group=info.group, namespace=target.namespace)),
                status=code)
            if code == 429:
                resp.headers["Retry-After"] = "1"
            return resp
    q = request.query
    ns = target.namespace
    dry_run = "All" in q.getall("dryRun", [])
    if info.namespaced and ns is None and verb not in ("list", "watch", "deletecollection"):
        raise _not_found_path()
    if not info.namespaced and target.namespace:
        raise _not_found_path()
    if target.subresource == "scale":
        return await _scale(request, core, target, verb, dry_run=dry_run)
    render = _renderer(request, info, verb)
    if verb == "get":
        return json_response(render(reads.get(core, info, ns, target.name), single=True))
    if verb == "watch":
        field_selector = q.get("fieldSelector", "")
        if target.name:
            field_selector = ",".join(filter(None, [field_selector, f"metadata.name={target.name}"]))
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
        return await serve_watch(request, core, info, ns, resource_version=q.get("resourceVersion", ""),
                                 timeout=timeout, bookmarks=_truthy(q.get("allowWatchBookmarks", "false")),
                                 label_selector=q.get("labelSelector", ""), field_selector=field_selector,
                                 render=lambda obj: render(obj, single=True), faults=faults)
    if verb == "list":
        query = reads.ListQuery(label_selector=q.get("labelSelector", ""), field_selector=q.get("fieldSelector", ""),
                                limit=int(q.get("limit") or 0), continue_=q.get("continue", ""))
        result = reads.list_objects(core, info, ns, query)
        return json_response(render(result, single=False))
    if verb == "create":
        if target.name:
            raise method_not_allowed()
        obj = writes.create(core, info, ns, await _body(request), manager=_manager(request), dry_run=dry_run)
        return json_response(obj, status=201)
    if verb == "update":
        obj = writes.update(core, info, ns, target.name, await _body(request), subresource=target.subresource,
                            manager=_manager(request), dry_run=dry_run)
        return json_response(reads.with_version(info, obj))
    if verb in ("patch", "apply"):
        raw = await request.read()
        manager = q.get("fieldManager", "") if verb == "apply" else _manager(request)
        obj, created = writes.patch(core, info, ns, target.name, raw, request.headers.get("Content-Type", ""),
                                    subresource=target.subresource, manager=manager,
                                    force=_truthy(q.get("force", "false")), dry_run=dry_run)
        return json_response(reads.with_version(info, obj), status=201 if created else 200)
    if verb == "delete":
        options = await _body(request)
        for key in ("propagationPolicy", "gracePeriodSeconds"):
            if key in q:
                options[key] = q[key]
        obj, code = deletion.delete(core, info, ns, target.name, options, dry_run=dry_run)
        return json_response(reads.with_version(info, obj), status=code)
    if verb == "deletecollection":
        options = await _body(request)
        if "propagationPolicy" in q:
            options["propagationPolicy"] = q["propagationPolicy"]
        query = reads.ListQuery(label_selector=q.get("labelSelector", ""), field_selector=q.get("fieldSelector", ""))
        listed = reads.list_objects(core, info, ns, query)
        for item in listed["items"]:
            md = item["metadata"]
            if not dry_run:
                deletion.delete(core, info, md.get("namespace"), md["name"], dict(options))
        return json_response(listed)
    raise method_not_allowed()


def _authorize(core: Core, guard: Guard, user: User, target: Target, verb: str) -> None:
    """RBAC's view of the request: apply is `patch`, and also `create` when the object does not exist yet."""
    info = target.info
    attrs = Attributes(verb="patch" if verb == "apply" else verb, group=info.group, resource=info.plural,
                       subresource=target.subresource, namespace=target.namespace or "", name=target.name)
    guard.check(user, attrs)
    if verb == "apply" and not target.subresource and \
            core.store.get(info, target.namespace or "", target.name) is None:
        guard.check(user, Attributes(verb="create", group=info.group, resource=info.plural,
                                     namespace=target.namespace or "", name=target.name))


async def _scale(request: web.Request, core: Core, target: Target, verb: str, *, dry_run: bool) -> web.Response:
    info, ns, name = target.info, target.namespace, target.name
    if verb == "get":
        return json_response(scale.get_scale(core, info, ns, name))
    if verb == "update":
        return json_response(scale.update_scale(core, info, ns, name, await _body(request), manager=_manager(request),
                                                dry_run=dry_run))
    if verb == "patch":
        return json_response(scale.patch_scale(core, info, ns, name, await request.read(),
                                               request.headers.get("Content-Type", ""), manager=_manager(request),
                                               dry_run=dry_run))
    raise method_not_allowed()


def _renderer(request: web.Request, info: ResourceInfo, verb: str) -> Any:
    include = request.query.get("includeObject", "Metadata")
    return negotiation.renderer(request.headers.get("Accept", ""), info, include=include, verb=verb)


def _fault_message(code: int, reason: str, *, verb: str, resource: str, group: str, namespace: str | None) -> str:
    """An injected fault's message; a 403 is worded like the real API server's RBAC refusal."""
    if code != 403:
        return f"injected fault: {reason}"
    where = f' in the namespace "{namespace}"' if namespace else ""
    verb = "patch" if verb == "apply" else verb  # RBAC knows server-side apply as patch
    return (f'injected fault: {resource} is forbidden: User "system:serviceaccount:finplane-system:finplane" '
            f'cannot {verb} resource "{resource}" in API group "{group}"{where}')
