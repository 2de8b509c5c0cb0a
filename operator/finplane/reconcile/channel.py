"""Reconcile one Channel: per route, check -> render -> apply; prune leftovers; per-route status.

Called by the Channel queue's workers (`register` wires it into the runtime; `handlers.registrations`
imports this module). Routes are atomic: each route's children are applied on their own, and a
route that turns bad keeps its last good rendering (remembered in memory, rebuilt from the live
children after a restart) while the other routes go on. The exception is exposure: a route whose
last good rendering now reaches a capability classified `restricted` is withdrawn.

Cross-object wiring, so nothing polls: a capability appearing, disappearing or changing readiness,
port or classification re-enqueues the channels routing to it; a channel changing re-enqueues the
capabilities it routes to (their `status.exposedOn`, from `render.channel.exposures_for`).
"""

from __future__ import annotations

import logging
from typing import Any

from finplane.kube.errors import NotFound
from finplane.kube.events import post_event
from finplane.metrics import DRIFT, WRITES
from finplane.reconcile.channel_state import (
    LastGood,
    ParsedChannel,
    backends_of,
    parse_channel,
    recover_last_good,
)
from finplane.reconcile.child_cache import child_cache
from finplane.reconcile.children import OWNER_LABEL, child_id, stamp, sync_children
from finplane.reconcile.runtime import Key, Runtime
from finplane.reconcile.status_write import write_status
from finplane.render.channel import render_route, route_urls
from finplane.render.channel_checks import check_route, exposure_refused, is_ready
from finplane.status.conditions import Cond

__all__ = ["KIND", "reconcile_channel", "register"]

log = logging.getLogger("finplane.channel")
KIND = "Channel"
CAPABILITY = "BusinessCapability"
Obj = dict[str, Any]
CHILD_KINDS = (("networking.k8s.io/v1", "Ingress"), ("gateway.networking.k8s.io/v1", "HTTPRoute"),
               ("networking.k8s.io/v1", "NetworkPolicy"))
#: Last good rendering of each route, by channel uid then route name (rebuilt from live children on start).
_LAST_GOOD: dict[str, dict[str, LastGood]] = {}


def _refs(body: Obj | None) -> set[Key]:
    out: set[Key] = set()
    for r in ((body or {}).get("spec") or {}).get("routes") or []:
        for ref in ((r or {}).get("capability") or {}, ((r or {}).get("canary") or {}).get("capability") or {}):
            if ref.get("namespace") and ref.get("name"):
                out.add((ref["namespace"], ref["name"]))
    return out


def register(rt: Runtime) -> None:
    """Give Channel its queue and wire the reactions between channels and capabilities."""
    rt.register(KIND, reconcile_channel)

    def channel_changed(event: str, new: Obj, old: Obj | None) -> None:
        if event == "DELETED":
            _LAST_GOOD.pop(new["metadata"].get("uid", ""), None)
        for cap in _refs(new) | _refs(old):
            rt.enqueue(CAPABILITY, cap)

    def capability_changed(event: str, new: Obj, old: Obj | None) -> None:
        spec, old_spec = new.get("spec") or {}, (old or {}).get("spec") or {}
        relevant = event in ("ADDED", "DELETED", "LISTED") or old is None or is_ready(new) != is_ready(old) or \
            spec.get("port") != old_spec.get("port") or \
            spec.get("dataClassification") != old_spec.get("dataClassification")
        if not relevant:
            return
        key = (new["metadata"].get("namespace", ""), new["metadata"]["name"])
        for channel_key, channel in rt.stores.get(KIND, {}).items():
            if key in _refs(channel):
                rt.enqueue(KIND, channel_key)

    rt.on_change(KIND, channel_changed)
    rt.on_change(CAPABILITY, capability_changed)


async def _live_children(rt: Runtime, uid: str) -> list[Obj]:
    out: list[Obj] = []
    for api_version, kind in CHILD_KINDS:
        try:
            items = await rt.kube.list(api_version, kind, None, label_selector=f"{OWNER_LABEL}={uid}")
        except NotFound:  # the Gateway API CRDs are not installed: there can be no HTTPRoutes
            continue
        for obj in items:
            obj.setdefault("apiVersion", api_version)
            obj.setdefault("kind", kind)
            out.append(obj)
    return out


async def reconcile_channel(rt: Runtime, key: Key) -> None:
    body = rt.get(KIND, key)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return  # garbage collection removes the children through their owner references
    name, uid = key[1], body["metadata"]["uid"]
    parsed = parse_channel(body.get("spec") or {})
    if parsed.spec is None:
        log.warning("Refused Channel %s: %s", name, parsed.fatal)
        await write_status(rt.kube, body, conditions=[Cond("Ready", "False", "InvalidSpec", parsed.fatal or "")],
                           fields={})
        return
    live = await _live_children(rt, uid)
    last_good = _LAST_GOOD.setdefault(uid, {})
    if not last_good:
        last_good.update(recover_last_good(live, scheme="https" if parsed.spec.tls else "http"))
    seen_before = bool((body.get("status") or {}).get("observedGeneration"))
    capabilities = rt.stores.get(CAPABILITY, {})
    ports = {k: int((b.get("spec") or {}).get("port") or 8080) for k, b in capabilities.items()}

    statuses: dict[str, Obj] = {}
    served: dict[str, list[str]] = {}
    wanted: set[str] = set()
    for route in parsed.spec.routes:
        verdict = check_route(channel_type=str(parsed.spec.type), route=route, capabilities=capabilities)
        st: Obj = {"name": route.name, "ready": "True" if verdict.ready else "False", "reason": verdict.reason,
                   "message": verdict.message, "url": route_urls(parsed.spec, route)[0]}
        if route.canary is not None and route.canary.weight is not None:
            st["canaryWeight"] = route.canary.weight
        statuses[route.name] = st
        if verdict.renderable:
            desired = [stamp(c, body) for c in render_route(channel=name, spec=parsed.spec, route=route,
                                                             ports=ports, settings=rt.settings)]
            problem = await _sync(rt, body, name, desired, seen_before)
            if problem is None:
                last_good[route.name] = LastGood(desired, backends_of(route), tuple(route_urls(parsed.spec, route)))
                wanted.update(child_id(c) for c in desired)
                served[route.name] = route_urls(parsed.spec, route)
                continue
            st.update(ready="False", reason=problem[0], message=problem[1])
        if await _keep_last_good(rt, body, name, route.name, parsed, last_good, capabilities, seen_before):
            wanted.update(child_id(c) for c in last_good[route.name].children)
            served[route.name] = list(last_good[route.name].urls)
            st["message"] += "; the last good rendering of this route stays in place"
    for route_name, (reason, message) in parsed.invalid.items():
        statuses[route_name] = {"name": route_name, "ready": "False", "reason": reason, "message": message}
        if await _keep_last_good(rt, body, name, route_name, parsed, last_good, capabilities, seen_before):
            wanted.update(child_id(c) for c in last_good[route_name].children)
            served[route_name] = list(last_good[route_name].urls)
            statuses[route_name]["message"] += "; the last good rendering of this route stays in place"

    for obj in live:  # routes removed from the spec, objects no longer rendered
        if child_id(obj) not in wanted:
            meta = obj["metadata"]
            try:
                await rt.kube.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            except NotFound:
                pass
            child_cache(rt).forget(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            WRITES.labels(KIND, "prune").inc()
            log.info("Deleted %s for Channel %s (no longer rendered)", child_id(obj), name)
    for gone in set(last_good) - set(parsed.order):
        last_good.pop(gone)
    await write_status(rt.kube, body, **_status(parsed, statuses, served))


async def _keep_last_good(rt: Runtime, body: Obj, name: str, route: str, parsed: ParsedChannel,
                          last_good: dict[str, LastGood], capabilities: dict[Key, Obj], seen_before: bool) -> bool:
    """Re-apply the route's last good rendering unless it reaches a capability now refused on this channel."""
    good = last_good.get(route)
    if good is None or parsed.spec is None:
        return False
    if any(k in capabilities and exposure_refused(str(parsed.spec.type), capabilities[k]) for k in good.backends):
        last_good.pop(route)
        return False
    return await _sync(rt, body, name, good.children, seen_before) is None


async def _sync(rt: Runtime, body: Obj, name: str, desired: list[Obj], seen_before: bool) -> tuple[str, str] | None:
    """Apply one route's children; None when they are in place, else (reason, message) of what stopped it."""
    result = await sync_children(rt.kube, desired, owner_uid=body["metadata"]["uid"], seen_before=seen_before,
                                 cache=child_cache(rt))
    if result.conflicts:
        log.warning("Channel %s: %s already exists and is not managed by it", name, ", ".join(result.conflicts))
        return "NameConflict", "a child object of this route already exists and is not managed by this channel"
    for child, fields in result.drifted:
        DRIFT.labels(KIND, child.split("/")[0]).inc()
        await post_event(rt.kube, body, type_="Warning", reason="Drift",
                         message=f"Reverted manual change to {child}: {', '.join(fields[:10])}")
    for cid in result.applied:
        WRITES.labels(KIND, "apply").inc()
        log.info("Applied %s for Channel %s", cid, name)
    if result.refused is not None:
        log.warning("Channel %s: the API server refused %s: %s", name, result.refused.child, result.refused.message)
        return result.refused.reason, f"the API server refused {result.refused.child}: {result.refused.message}"
    return None


def _status(parsed: ParsedChannel, statuses: dict[str, Obj], served: dict[str, list[str]]) -> dict[str, Any]:
    routes = [statuses[n] for n in parsed.order if n in statuses]
    bad = [r for r in routes if r["ready"] != "True"]
    if bad:
        reasons = sorted({r["reason"] for r in bad})
        ready = Cond("Ready", "False", reasons[0] if len(reasons) == 1 else "RoutesNotReady",
                     "; ".join(f"route {r['name']}: {r['reason']}: {r['message']}" for r in bad))
    else:
        ready = Cond("Ready", "True", "AllRoutesReady", f"{len(routes)} route(s) ready")
    urls = sorted({u for n in parsed.order for u in served.get(n, [])})
    ready_n = sum(1 for r in routes if r["ready"] == "True")
    return {"conditions": [ready],
            "fields": {"routes": routes, "urls": urls, "readyRoutes": f"{ready_n}/{len(routes)}"}}
