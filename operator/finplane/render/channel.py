"""Render one Channel route into its children: an HTTPRoute with its Envoy Gateway policies (the default) or
ingress-nginx Ingress(es) (retired upstream in March 2026, still an option), and a NetworkPolicy allowance.

Pure: (channel name, spec, route, capability ports, partners, settings) -> complete manifests, no I/O. Called
by the channel reconciler (one route at a time, so that a bad route never blocks the others) and by
`finplane render`. Every child lives in the routed capability's namespace (an Ingress or HTTPRoute
may only point at Services of its own namespace) and carries the channel and route labels, by
which the reconciler recovers the last good rendering of a route after a restart.

`exposures_for` answers the reverse question for the capability reconciler: which channel routes
send traffic to a capability (its `status.exposedOn`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from finplane.models.channel import AuthMode, BackendKind, ChannelSpec, GatewayRef, Route
from finplane.names import CHANNEL_LABEL, ROUTE_LABEL
from finplane.render.gateway import PartnerAccess, render_policies
from finplane.render.gateway_mtls import render_mtls
from finplane.render.labels import MANAGED_BY
from finplane.settings import Settings

__all__ = [
    "CHANNEL_LABEL",
    "DEFAULT_PORT",
    "ROUTE_LABEL",
    "channel_labels",
    "exposures_for",
    "gateway_namespace",
    "gateway_ref",
    "render_channel",
    "render_route",
    "route_urls",
]

Obj = dict[str, Any]
Key = tuple[str, str]
DEFAULT_PORT = 8080  # the BusinessCapability model's default port
NGINX = "nginx.ingress.kubernetes.io/"


def _label_value(value: str) -> str:
    """A label value (63 characters at most, alphanumeric at both ends)."""
    return value[:63].rstrip("-.")


def channel_labels(channel: str, route: str, capability: str) -> dict[str, str]:
    return {
        **MANAGED_BY,
        "app.kubernetes.io/component": "channel-route",
        "app.kubernetes.io/part-of": "finplane",
        CHANNEL_LABEL: _label_value(channel),
        ROUTE_LABEL: route,
        "finplane.io/capability": capability,
    }


def gateway_ref(spec: ChannelSpec, settings: Settings) -> GatewayRef:
    """The Gateway a channel of kind gateway attaches to: its own gatewayRef, else the platform's."""
    if spec.backend.gateway_ref is not None:
        return spec.backend.gateway_ref
    namespace, _, name = settings.channel_default_gateway.partition("/")
    return GatewayRef(name=name, namespace=namespace)


def gateway_namespace(spec: ChannelSpec, settings: Settings) -> str:
    """Where the ingress controller or gateway pods run (the peer the NetworkPolicies allow)."""
    if spec.gateway_namespace:
        return spec.gateway_namespace
    if spec.backend.kind == BackendKind.GATEWAY:
        return gateway_ref(spec, settings).namespace
    return settings.channel_gateway_namespace


def route_urls(spec: ChannelSpec, route: Route) -> list[str]:
    """The public URLs of a route: one per host name of the channel."""
    scheme = "https" if spec.tls else "http"
    return [f"{scheme}://{host}{route.path_prefix}" for host in spec.hostnames]


def _port(ports: Mapping[Key, int], namespace: str, name: str) -> int:
    return int(ports.get((namespace, name), DEFAULT_PORT))


def render_route(*, channel: str, spec: ChannelSpec, route: Route, ports: Mapping[Key, int],
                 settings: Settings, partners: Sequence[PartnerAccess] = (), canary_weight: int | None = None) -> list[Obj]:
    """Every child of one route, in apply order. The canary, if any, is in the route's namespace.

    `canary_weight` is a gated canary's current weight (the channel reconciler's, from the Channel's status);
    a gated canary rendered without it (`finplane render`) gets 0.

    With the Gateway API the policies come before the HTTPRoute: one the server refuses stops the
    apply, so the route never serves without its authentication and limits. `partners` are the
    active sandboxes with their keys (used on partner-facing channels only).
    """
    ns, cap = route.capability.namespace, route.capability.name
    labels = channel_labels(channel, route.name, cap)
    base = f"{channel}-{route.name}"[:253]
    if spec.backend.kind == BackendKind.GATEWAY:
        routes = [*render_policies(base=base, namespace=ns, labels=labels, spec=spec, route=route, partners=partners),
                  _http_route(base, ns, labels, spec, route, ports, settings, _weight(route, canary_weight))]
    else:
        routes = _ingresses(base, ns, labels, spec, route, ports, settings, _weight(route, canary_weight))
    return [*routes, _allowance(base, ns, labels, spec, route, ports, settings)]


def render_channel(*, channel: str, spec: ChannelSpec, ports: Mapping[Key, int], settings: Settings,
                   partners: Sequence[PartnerAccess] = ()) -> list[Obj]:
    """The channel's mTLS objects (render.gateway_mtls), then every route's children (the offline `finplane render`
    view, with no readiness checks)."""
    return [*render_mtls(channel=channel, spec=spec, settings=settings)] + [
            child for route in spec.routes
            for child in render_route(channel=channel, spec=spec, route=route, ports=ports, settings=settings,
                                      partners=partners)]


def _weight(route: Route, gated: int | None) -> int | None:
    """The canary's weight: its fixed `weight`, or for a gated canary the gate's current one (0 until judged)."""
    if route.canary is None:
        return None
    if route.canary.gate is not None:
        return gated or 0
    return route.canary.weight


# -- Ingress (ingress-nginx annotations) ---------------------------------------------------------
def _ingresses(base: str, ns: str, labels: dict[str, str], spec: ChannelSpec, route: Route,
               ports: Mapping[Key, int], settings: Settings, weight: int | None) -> list[Obj]:
    annotations = _nginx_annotations(spec, route, settings)
    out = [_ingress(base, ns, labels, annotations, spec, route, route.capability.name,
                    _port(ports, ns, route.capability.name))]
    canary = route.canary
    if canary is not None:
        # ingress-nginx serves a canary as a second Ingress with the same host and path.
        extra = {f"{NGINX}canary": "true"}
        if weight is not None:
            extra[f"{NGINX}canary-weight"] = str(weight)
            extra[f"{NGINX}canary-weight-total"] = "100"
        if canary.header_match is not None:
            extra[f"{NGINX}canary-by-header"] = canary.header_match.name
            extra[f"{NGINX}canary-by-header-value"] = canary.header_match.value
        c = canary.capability
        out.append(_ingress(f"{base}.canary"[:253], ns, {**labels, "finplane.io/capability": c.name},
                            {**annotations, **extra}, spec, route, c.name, _port(ports, c.namespace, c.name)))
    return out


def _nginx_annotations(spec: ChannelSpec, route: Route, settings: Settings) -> dict[str, str]:
    a = {f"{NGINX}proxy-read-timeout": str(route.timeout_seconds),
         f"{NGINX}proxy-send-timeout": str(route.timeout_seconds),
         "finplane.io/channel-type": str(spec.type)}
    if route.rate_limit is not None:
        rps = route.rate_limit.requests_per_second
        burst = route.rate_limit.burst or rps
        a[f"{NGINX}limit-rps"] = str(rps)
        # ingress-nginx expresses the burst as a multiple of the rate (rounded up, at least 1).
        a[f"{NGINX}limit-burst-multiplier"] = str(max(1, math.ceil(burst / rps)))
    auth = spec.authentication
    if auth.mode == AuthMode.JWT and auth.jwt is not None:
        # ingress-nginx has no built-in JWT check: it asks an external verifier (auth-url) per request.
        query = f"issuer={quote(auth.jwt.issuer, safe='')}&audience={quote(','.join(auth.jwt.audiences), safe='')}"
        a[f"{NGINX}auth-url"] = f"{settings.channel_jwt_verifier_url}?{query}"
        a[f"{NGINX}auth-response-headers"] = "X-Auth-Subject"
        a["finplane.io/jwt-issuer"] = auth.jwt.issuer
        a["finplane.io/jwt-audiences"] = ",".join(auth.jwt.audiences)
    elif auth.mode == AuthMode.MTLS and auth.mtls is not None:
        ref = auth.mtls.ca_secret_ref
        a[f"{NGINX}auth-tls-secret"] = f"{ref.namespace}/{ref.name}"
        a[f"{NGINX}auth-tls-verify-client"] = "on"
        a[f"{NGINX}auth-tls-verify-depth"] = "2"
        a[f"{NGINX}auth-tls-pass-certificate-to-upstream"] = "true"
    return a


def _ingress(name: str, ns: str, labels: dict[str, str], annotations: dict[str, str], spec: ChannelSpec,
             route: Route, service: str, port: int) -> Obj:
    def path() -> Obj:  # a fresh dict per host: no shared (aliased) sub-objects in the manifest
        return {"path": route.path_prefix, "pathType": "Prefix",
                "backend": {"service": {"name": service, "port": {"number": port}}}}
    ing_spec: Obj = {"rules": [{"host": host, "http": {"paths": [path()]}} for host in spec.hostnames]}
    if spec.backend.ingress_class_name:
        ing_spec = {"ingressClassName": spec.backend.ingress_class_name, **ing_spec}
    if spec.tls is not None:
        ing_spec["tls"] = [{"hosts": list(spec.hostnames), "secretName": spec.tls.secret_name}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels), "annotations": dict(annotations)},
            "spec": ing_spec}


# -- Gateway API HTTPRoute ---------------------------------------------------------------------
def _http_route(name: str, ns: str, labels: dict[str, str], spec: ChannelSpec, route: Route,
                ports: Mapping[Key, int], settings: Settings, weight: int | None) -> Obj:
    gw = gateway_ref(spec, settings)
    parent: Obj = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gw.name, "namespace": gw.namespace}
    if gw.section_name:
        parent["sectionName"] = gw.section_name
    primary = {"name": route.capability.name, "port": _port(ports, ns, route.capability.name)}

    def path_match() -> Obj:  # fresh dicts per rule: no shared (aliased) sub-objects in the manifest
        return {"path": {"type": "PathPrefix", "value": route.path_prefix}}

    def timeouts() -> Obj:
        return {"request": f"{route.timeout_seconds}s"}

    rules: list[Obj] = []
    canary = route.canary
    if canary is None:
        rules.append({"matches": [path_match()], "backendRefs": [primary], "timeouts": timeouts()})
    else:
        c = {"name": canary.capability.name, "port": _port(ports, canary.capability.namespace, canary.capability.name)}
        if canary.header_match is not None:  # the customer segment always reaches the canary
            header = {"type": "Exact", "name": canary.header_match.name, "value": canary.header_match.value}
            rules.append({"matches": [{**path_match(), "headers": [header]}], "backendRefs": [{**c, "weight": 1}],
                          "timeouts": timeouts()})
        weight = weight or 0
        rules.append({"matches": [path_match()],
                      "backendRefs": [{**primary, "weight": 100 - weight}, {**c, "weight": weight}],
                      "timeouts": timeouts()})
    # Authentication and limits are not annotations here: the SecurityPolicy and BackendTrafficPolicy
    # rendered before this route (render.gateway) enforce them.
    annotations = {"finplane.io/channel-type": str(spec.type),
                   "finplane.io/authentication": str(spec.authentication.mode)}
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels), "annotations": annotations},
            "spec": {"parentRefs": [parent], "hostnames": list(spec.hostnames), "rules": rules}}


# -- NetworkPolicy allowance -------------------------------------------------------------------
def _allowance(base: str, ns: str, labels: dict[str, str], spec: ChannelSpec, route: Route,
               ports: Mapping[Key, int], settings: Settings) -> Obj:
    """Let the gateway's pods reach the routed capabilities' pods on their port; nothing else opens."""
    caps = [route.capability.name] + ([route.canary.capability.name] if route.canary else [])
    port_numbers = sorted({_port(ports, ns, c) for c in caps})
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"{base}.from-gateway"[:253], "namespace": ns, "labels": dict(labels)},
            "spec": {
                "podSelector": {"matchExpressions": [
                    {"key": "finplane.io/capability", "operator": "In", "values": sorted(set(caps))}]},
                "policyTypes": ["Ingress"],
                "ingress": [{
                    "from": [{"namespaceSelector": {"matchLabels": {
                        "kubernetes.io/metadata.name": gateway_namespace(spec, settings)}}}],
                    "ports": [{"protocol": "TCP", "port": p} for p in port_numbers],
                }],
            }}


# -- the capability's side: status.exposedOn ---------------------------------------------------
def exposures_for(stores: Mapping[str, Mapping[Key, Obj]], namespace: str, name: str) -> list[Obj]:
    """The channel routes that send traffic to capability `namespace/name` and are not refused.

    Pure over the operator's stores; raw bodies are read leniently (a channel whose spec does not
    parse exposes nothing new). Called by the capability reconciler for `status.exposedOn`.
    """
    from finplane.render.channel_checks import exposure_refused  # checks import this module

    target = (namespace, name)
    capability = stores.get("BusinessCapability", {}).get(target)
    out: list[Obj] = []
    for (_, channel), body in sorted(stores.get("Channel", {}).items()):
        if (body.get("metadata") or {}).get("deletionTimestamp"):
            continue
        spec = body.get("spec") or {}
        for raw in spec.get("routes") or []:
            refs = [(raw.get("capability") or {}, False), ((raw.get("canary") or {}).get("capability") or {}, True)]
            for ref, is_canary in refs:
                if (ref.get("namespace"), ref.get("name")) != target:
                    continue
                if capability is not None and exposure_refused(str(spec.get("type", "")), capability):
                    continue
                scheme = "https" if spec.get("tls") else "http"
                hosts = spec.get("hostnames") or []
                url = f"{scheme}://{hosts[0]}{raw.get('pathPrefix', '/')}" if hosts else None
                entry: Obj = {"channel": channel, "route": raw.get("name", ""), "canary": is_canary}
                if url:
                    entry["url"] = url
                out.append(entry)
    return out
