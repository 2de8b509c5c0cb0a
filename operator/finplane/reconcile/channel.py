"""Reconcile one Channel: per route, check -> render -> apply; prune leftovers; per-route status.

One `KindReconciler`, added by `handlers.registrations`. Routes are atomic: each route's children
are applied on their own, and a route that turns bad keeps its last good rendering (remembered on
the reconciler, rebuilt from the live children after a restart) while the other routes go on. The
exception is exposure: a route whose last good rendering now reaches a capability classified
`restricted` is withdrawn.

Woken, so nothing polls, by a capability it routes to appearing, disappearing or changing readiness,
port or classification, and by a partner sandbox allowed to call one of them turning active, rotating
its key, expiring or going away (`watches`; `reconcile.channel_partners`), and, for channels demanding mTLS,
by a Team's held namespaces changing (they decide GatewayNotOwned): the route's partner-keys
Secret then holds exactly the active sandboxes' current keys after one pass. The capabilities a channel routes to declare the reverse watch
themselves (their `status.exposedOn`, reconcile.capability).

A channel with `authentication.mode: mtls` on the Gateway API gets its ClientTrafficPolicy and cert-manager
objects (`render.gateway_mtls`) applied before any route; when they are refused (no listener named, a CA of
another namespace, a Gateway of another team, another channel's policy on the listener) every route is
withdrawn with that reason rather than served without the client-certificate check.

A route whose canary has a `gate` is judged first (`reconcile.channel_canary`): its weight comes from the
Channel's own status and the gate's verdict, and the pass asks to run again when the next interval is due.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from finplane.external.metrics_source import MetricsSource, PrometheusSource
from finplane.kube.errors import NotFound
from finplane.metrics import WRITES
from finplane.models.channel import CanaryGateStatus, ChannelStatus, RouteStatus
from finplane.models.common import ConditionStatus
from finplane.models.tenant_sandbox_promotion import is_production_channel
from finplane.names import BUSINESS_CAPABILITY, CHANNEL, TEAM, TENANT_SANDBOX
from finplane.reconcile.channel_canary import judge_canary
from finplane.reconcile.channel_partners import active_partners, promoted_partners, sandbox_wakes
from finplane.reconcile.channel_state import (
    LastGood,
    ParsedChannel,
    backends_of,
    parse_channel,
    recover_last_good,
    with_current_keys,
)
from finplane.reconcile.children import OWNER_LABEL, child_id, stamp
from finplane.reconcile.runtime import Key, Runtime
from finplane.reconcile.shape import KindReconciler, Outcome, Pass, Refuse, Watch
from finplane.render.channel import render_route, route_urls
from finplane.render.channel_checks import check_route, exposure_refused, is_ready
from finplane.render.gateway import ENVOY_GATEWAY, PartnerAccess, partner_facing
from finplane.render.gateway_mtls import CERT_MANAGER, demands_mtls, mtls_problem, render_mtls
from finplane.status.conditions import Cond
from finplane.status.vocabulary import ConditionType, Reason

__all__ = ["KIND", "ChannelReconciler"]

log = logging.getLogger("finplane.channel")
KIND = CHANNEL
CAPABILITY = BUSINESS_CAPABILITY
Obj = dict[str, Any]
CHILD_KINDS = (("networking.k8s.io/v1", "Ingress"), ("gateway.networking.k8s.io/v1", "HTTPRoute"),
               ("networking.k8s.io/v1", "NetworkPolicy"), ("v1", "Secret"), (ENVOY_GATEWAY, "SecurityPolicy"),
               (ENVOY_GATEWAY, "BackendTrafficPolicy"), (ENVOY_GATEWAY, "ClientTrafficPolicy"),
               (CERT_MANAGER, "Certificate"), (CERT_MANAGER, "Issuer"))


def _refs(body: Obj | None) -> set[Key]:
    out: set[Key] = set()
    for r in ((body or {}).get("spec") or {}).get("routes") or []:
        for ref in ((r or {}).get("capability") or {}, ((r or {}).get("canary") or {}).get("capability") or {}):
            if ref.get("namespace") and ref.get("name"):
                out.add((ref["namespace"], ref["name"]))
    return out


async def _live_children(rt: Runtime, uid: str) -> list[Obj]:
    """The channel's live children, found by owner label; its partner-keys Secrets by name instead.

    The operator may not list Secrets outside its own namespace (least privilege, docs/security.md): a route's
    keys Secret is the one its SecurityPolicy's `apiKeyAuth` names, read by name and counted only when it
    carries this channel's owner label (a team's own Secret of the same name is never touched)."""
    out: list[Obj] = []
    for api_version, kind in CHILD_KINDS:
        if kind == "Secret":
            continue
        try:
            items = await rt.kube.list(api_version, kind, None, label_selector=f"{OWNER_LABEL}={uid}")
        except NotFound:  # the Gateway API / Envoy Gateway CRDs are not installed: there can be none of these
            continue
        for obj in items:
            obj.setdefault("apiVersion", api_version)
            obj.setdefault("kind", kind)
            out.append(obj)
    for policy in [o for o in out if o["kind"] == "SecurityPolicy"]:
        ns = policy["metadata"].get("namespace") or ""
        for ref in ((policy.get("spec") or {}).get("apiKeyAuth") or {}).get("credentialRefs") or []:
            if ref.get("kind", "Secret") != "Secret" or not ref.get("name"):
                continue
            secret = await rt.kube.get_or_none("v1", "Secret", ref["name"], ns)
            if secret is not None and ((secret["metadata"].get("labels") or {}).get(OWNER_LABEL)) == uid:
                secret.setdefault("apiVersion", "v1")
                secret.setdefault("kind", "Secret")
                out.append(secret)
    return out


class ChannelReconciler(KindReconciler[ParsedChannel]):
    kind = KIND
    spec_model = ChannelStatus  # unused: parse() is lenient, per route (reconcile.channel_state)

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt)
        #: Last good rendering of each route, by channel uid then route name (rebuilt from live children on start).
        self.last_good: dict[str, dict[str, LastGood]] = {}
        #: Where gated canaries' burn rates come from (FINPLANE_PROMETHEUS_URL; tests put a fake here), and the clock.
        self.metrics: MetricsSource | None = PrometheusSource(rt.settings.prometheus_url) \
            if rt.settings.prometheus_url else None
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def watches(self) -> list[Watch]:
        return [Watch(KIND, self._channel_changed), Watch(CAPABILITY, self._capability_changed),
                Watch(TENANT_SANDBOX, self._sandbox_changed), Watch(TEAM, self._team_changed)]

    def _team_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        """The namespaces a Team holds decide GatewayNotOwned: wake the channels demanding mTLS when they change."""
        held = ((new.get("status") or {}).get("namespaces"), (new.get("metadata") or {}).get("deletionTimestamp"))
        was = (((old or {}).get("status") or {}).get("namespaces"), ((old or {}).get("metadata") or {}).get(
            "deletionTimestamp"))
        if old is not None and event not in ("ADDED", "DELETED") and held == was:
            return []
        return [key for key, body in self.rt.stores.get(KIND, {}).items()
                if (((body.get("spec") or {}).get("authentication") or {}).get("mode")) == "mtls"]

    def _sandbox_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        return sandbox_wakes(new, None if event == "DELETED" else old, self.rt.stores.get(KIND, {}), _refs)

    def _channel_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        if event == "DELETED":
            self.last_good.pop(new["metadata"].get("uid", ""), None)
        return []

    def _capability_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        spec, old_spec = new.get("spec") or {}, (old or {}).get("spec") or {}
        relevant = event in ("ADDED", "DELETED", "LISTED") or old is None or is_ready(new) != is_ready(old) or \
            spec.get("port") != old_spec.get("port") or \
            spec.get("dataClassification") != old_spec.get("dataClassification")
        if not relevant:
            return []
        key = (new["metadata"].get("namespace", ""), new["metadata"]["name"])
        return [ck for ck, channel in self.rt.stores.get(KIND, {}).items() if key in _refs(channel)]

    def parse(self, body: Obj) -> ParsedChannel:
        parsed = parse_channel(body.get("spec") or {})
        if parsed.spec is None:
            raise Refuse(Reason.INVALID_SPEC, parsed.fatal or "")
        return parsed

    async def reconcile(self, p: Pass[ParsedChannel]) -> Outcome:
        rt, body, parsed, name = self.rt, p.body, p.spec, p.name
        assert parsed.spec is not None
        uid = p.uid
        live = await _live_children(rt, uid)
        last_good = self.last_good.setdefault(uid, {})
        if not last_good:
            last_good.update(recover_last_good(live, scheme="https" if parsed.spec.tls else "http"))
        capabilities = rt.stores.get(CAPABILITY, {})
        ports = {k: int((b.get("spec") or {}).get("port") or 8080) for k, b in capabilities.items()}

        partners: list[PartnerAccess] = []
        if partner_facing(parsed.spec):
            # Production channels admit promoted partners' production keys only (reconcile.channel_partners).
            pick = promoted_partners if is_production_channel(body) else active_partners
            partners = await pick(rt.kube, rt.stores.get(TENANT_SANDBOX, {}), wanted=_refs(body),
                                  settings=rt.settings)
        statuses: dict[str, Obj] = {}
        served: dict[str, list[str]] = {}
        wanted: set[str] = set()
        # mTLS first (render.gateway_mtls): routes never serve before the listener checks client certificates,
        # and a channel whose mTLS cannot be put in place serves no route at all (no last good rendering either).
        mtls_refused = mtls_problem(spec=parsed.spec, settings=rt.settings, teams=rt.stores.get(TEAM, {}).values())
        if mtls_refused is None and demands_mtls(parsed.spec):
            mtls_children = [stamp(c, body) for c in render_mtls(channel=name, spec=parsed.spec, settings=rt.settings)]
            mtls_refused = await _sync(p, name, mtls_children)
            if mtls_refused is None:
                wanted.update(child_id(c) for c in mtls_children)
        previous = {r.get("name"): r for r in ((body.get("status") or {}).get("routes") or []) if isinstance(r, dict)}
        requeue: list[float] = []
        for route in parsed.spec.routes:
            verdict = check_route(channel_type=str(parsed.spec.type), route=route, capabilities=capabilities)
            if mtls_refused is not None:
                last_good.pop(route.name, None)  # serving it without the client-certificate check is no fallback
                statuses[route.name] = {"name": route.name, "ready": "False", "reason": mtls_refused[0],
                                        "message": mtls_refused[1], "url": route_urls(parsed.spec, route)[0]}
                continue
            st: Obj = {"name": route.name, "ready": "True" if verdict.ready else "False", "reason": verdict.reason,
                       "message": verdict.message, "url": route_urls(parsed.spec, route)[0]}
            if route.canary is not None and route.canary.weight is not None:
                st["canaryWeight"] = route.canary.weight
            statuses[route.name] = st
            gated_weight: int | None = None
            gate = route.canary.gate if route.canary is not None else None
            if gate is not None and route.canary is not None and verdict.renderable:
                ref = route.canary.capability
                judged = await judge_canary(channel=body, route=route, gate=gate, previous=previous.get(route.name) or {},
                                            canary=capabilities.get((ref.namespace, ref.name)), source=self.metrics,
                                            now=self.clock(), recorder=rt.recorder)
                gated_weight = judged.weight
                st.update(canaryWeight=judged.weight, canaryGate=judged.status)
                if judged.requeue_after is not None:
                    requeue.append(judged.requeue_after)
                if judged.invalid is not None:
                    st.update(ready="False", reason="CanaryGateInvalid", message=judged.invalid)
            if verdict.renderable:
                desired = [stamp(c, body) for c in render_route(channel=name, spec=parsed.spec, route=route,
                                                                 ports=ports, settings=rt.settings,
                                                                 partners=partners, canary_weight=gated_weight)]
                problem = await _sync(p, name, desired)
                if problem is None:
                    last_good[route.name] = LastGood(desired, backends_of(route), tuple(route_urls(parsed.spec, route)))
                    wanted.update(child_id(c) for c in desired)
                    served[route.name] = route_urls(parsed.spec, route)
                    continue
                st.update(ready="False", reason=problem[0], message=problem[1])
            if await _keep_last_good(p, name, route.name, parsed, last_good, capabilities, partners):
                wanted.update(child_id(c) for c in last_good[route.name].children)
                served[route.name] = list(last_good[route.name].urls)
                st["message"] += "; the last good rendering of this route stays in place"
        for route_name, (reason, message) in parsed.invalid.items():
            statuses[route_name] = {"name": route_name, "ready": "False", "reason": reason, "message": message}
            if mtls_refused is None and await _keep_last_good(p, name, route_name, parsed, last_good, capabilities, partners):
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
                rt.child_cache.forget(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
                WRITES.labels(KIND, "prune").inc()
                log.info("Deleted %s for Channel %s (no longer rendered)", child_id(obj), name)
        for gone in set(last_good) - set(parsed.order):
            last_good.pop(gone)
        return _status(parsed, statuses, served, min(requeue) if requeue else None)


async def _keep_last_good(p: Pass[ParsedChannel], name: str, route: str, parsed: ParsedChannel,
                          last_good: dict[str, LastGood], capabilities: dict[Key, Obj],
                          partners: list[PartnerAccess]) -> bool:
    """Re-apply the route's last good rendering unless it reaches a capability now refused on this channel.

    Its partner keys are today's, never the remembered ones: a rotated or torn-down key stays out.
    """
    good = last_good.get(route)
    if good is None or parsed.spec is None:
        return False
    if any(k in capabilities and exposure_refused(str(parsed.spec.type), capabilities[k]) for k in good.backends):
        last_good.pop(route)
        return False
    good.children = with_current_keys(good.children, partners, good.backends, p.body)
    return await _sync(p, name, good.children) is None


async def _sync(p: Pass[ParsedChannel], name: str, desired: list[Obj]) -> tuple[str, str] | None:
    """Apply one route's children; None when they are in place, else (reason, message) of what stopped it."""
    result = await p.apply(desired, refuse=False, stamped=True)
    if result.conflicts:
        log.warning("Channel %s: %s already exists and is not managed by it", name, ", ".join(result.conflicts))
        return Reason.NAME_CONFLICT, "a child object of this route already exists and is not managed by this channel"
    if result.refused is not None:
        log.warning("Channel %s: the API server refused %s: %s", name, result.refused.child, result.refused.message)
        return result.refused.reason, f"the API server refused {result.refused.child}: {result.refused.message}"
    return None


def _status(parsed: ParsedChannel, statuses: dict[str, Obj], served: dict[str, list[str]],
            requeue_after: float | None) -> Outcome:
    routes = [statuses[n] for n in parsed.order if n in statuses]
    bad = [r for r in routes if r["ready"] != "True"]
    if bad:
        reasons = sorted({r["reason"] for r in bad})
        ready = Cond(ConditionType.READY, "False", reasons[0] if len(reasons) == 1 else Reason.ROUTES_NOT_READY,
                     "; ".join(f"route {r['name']}: {r['reason']}: {r['message']}" for r in bad))
    else:
        ready = Cond(ConditionType.READY, "True", Reason.ALL_ROUTES_READY, f"{len(routes)} route(s) ready")
    urls = sorted({u for n in parsed.order for u in served.get(n, [])})
    ready_n = sum(1 for r in routes if r["ready"] == "True")
    return Outcome([ready], status=ChannelStatus(
        routes=[RouteStatus(name=r["name"], ready=ConditionStatus(r["ready"]), reason=r["reason"], message=r["message"],
                            url=r.get("url"), canary_weight=r.get("canaryWeight"),
                            canary_gate=CanaryGateStatus.model_validate(r["canaryGate"]) if r.get("canaryGate") else None)
                for r in routes],
        urls=urls, ready_routes=f"{ready_n}/{len(routes)}"), requeue_after=requeue_after)
