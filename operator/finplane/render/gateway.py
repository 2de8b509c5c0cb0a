"""Render the Envoy Gateway policies that enforce a Channel route's authentication, partner keys and limits.

Pure: (route, channel spec, partners) -> complete manifests, no I/O. Called by `render.channel` for
routes of backend kind `gateway`; the objects sit next to the route's HTTPRoute, in its namespace, and
target it by name (Envoy Gateway's policy attachment):

- `SecurityPolicy` (gateway.envoyproxy.io/v1alpha1): `jwt` for `authentication.mode: jwt`; on a
  partner-facing (`open-api`) channel also `apiKeyAuth`, whose `credentialRefs` name the Secret below.
- `Secret <channel>-<route>.partner-keys`: one entry per partner sandbox allowed to call the route's
  capability, client id = sandbox name, value = that sandbox's API key. Only the operator writes it;
  the key material never appears in a CR, status, event or log (the SecurityPolicy holds the
  reference). With no partner it is empty, and Envoy Gateway admits nobody.
- `BackendTrafficPolicy`: the route's own `rateLimit` (local, per gateway replica) and, per partner, its
  calls per second (local) and per day (global: Envoy Gateway's rate limit service) selected by the
  client-id header the key check forwards.

The caller orders the output before the HTTPRoute: a refused policy stops the apply, so a route never
goes live without the checks it needs (fail closed).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from finplane.models.channel import AuthMode, ChannelSpec, ChannelType, Route

__all__ = ["API_KEY_HEADER", "ENVOY_GATEWAY", "PARTNER_HEADER", "PartnerAccess", "keys_secret_name",
           "partner_facing", "render_policies"]

Obj = dict[str, Any]
Key = tuple[str, str]
ENVOY_GATEWAY = "gateway.envoyproxy.io/v1alpha1"
#: The request header a partner sends its key in, and the one the gateway forwards the client id in.
API_KEY_HEADER = "x-api-key"
PARTNER_HEADER = "x-finplane-partner"


@dataclass(frozen=True, slots=True)
class PartnerAccess:
    """One partner sandbox's access to open-api routes: its client id, key, reach and quotas.

    `key` is None in offline renderings (`finplane render`): the Secret is then rendered without data.
    """

    client_id: str
    capabilities: frozenset[Key]
    requests_per_second: int
    requests_per_day: int
    key: str | None = None

    def __repr__(self) -> str:  # never the key, wherever a PartnerAccess is printed
        return f"PartnerAccess({self.client_id!r}, {sorted(self.capabilities)!r})"


def partner_facing(spec: ChannelSpec) -> bool:
    """Whether partners call this channel with their sandbox's API key (the open API)."""
    return spec.type == ChannelType.OPEN_API


def keys_secret_name(base: str) -> str:
    return f"{base}.partner-keys"[:253]


def _target(base: str) -> list[Obj]:
    return [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": base}]


def _reaches(partner: PartnerAccess, route: Route) -> bool:
    caps = {(route.capability.namespace, route.capability.name)}
    if route.canary is not None:
        caps.add((route.canary.capability.namespace, route.canary.capability.name))
    return caps <= partner.capabilities  # a canary it may not call is no way in either


def partners_of(route: Route, partners: Sequence[PartnerAccess]) -> list[PartnerAccess]:
    """The partners whose sandboxes may call every capability the route sends traffic to, by client id."""
    return sorted((p for p in partners if _reaches(p, route)), key=lambda p: p.client_id)


def render_policies(*, base: str, namespace: str, labels: dict[str, str], spec: ChannelSpec, route: Route,
                    partners: Sequence[PartnerAccess]) -> list[Obj]:
    """The route's partner-key Secret, SecurityPolicy and BackendTrafficPolicy (each only when needed)."""
    def meta(name: str) -> Obj:
        return {"name": name, "namespace": namespace, "labels": dict(labels)}

    out: list[Obj] = []
    security: Obj = {"targetRefs": _target(base)}
    allowed = partners_of(route, partners) if partner_facing(spec) else []
    if partner_facing(spec):
        secret: Obj = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": meta(keys_secret_name(base))}
        data = {p.client_id: base64.b64encode(p.key.encode()).decode() for p in allowed if p.key is not None}
        if data:
            secret["data"] = data
        out.append(secret)
        security["apiKeyAuth"] = {
            "credentialRefs": [{"group": "", "kind": "Secret", "name": keys_secret_name(base)}],
            "extractFrom": [{"headers": [API_KEY_HEADER],
                             "forwarding": {"clientIdentityHeader": PARTNER_HEADER, "suppressCredentials": True}}],
        }
    auth = spec.authentication
    if auth.mode == AuthMode.JWT and auth.jwt is not None:
        jwks = auth.jwt.jwks_uri or f"{auth.jwt.issuer.rstrip('/')}/.well-known/jwks.json"
        security["jwt"] = {"providers": [{"name": "channel", "issuer": auth.jwt.issuer,
                                          "audiences": list(auth.jwt.audiences), "remoteJWKS": {"uri": jwks}}]}
    if len(security) > 1:
        out.append({"apiVersion": ENVOY_GATEWAY, "kind": "SecurityPolicy", "metadata": meta(base), "spec": security})
    rate_limit = _rate_limit(route, allowed)
    if rate_limit:
        out.append({"apiVersion": ENVOY_GATEWAY, "kind": "BackendTrafficPolicy", "metadata": meta(base),
                    "spec": {"targetRefs": _target(base), "rateLimit": rate_limit}})
    return out


def _selector(partner: PartnerAccess) -> list[Obj]:
    return [{"headers": [{"name": PARTNER_HEADER, "type": "Exact", "value": partner.client_id}]}]


def _rate_limit(route: Route, partners: list[PartnerAccess]) -> Obj:
    local: list[Obj] = []
    if route.rate_limit is not None:
        local.append({"limit": {"requests": route.rate_limit.requests_per_second, "unit": "Second"}})
    local += [{"clientSelectors": _selector(p), "limit": {"requests": p.requests_per_second, "unit": "Second"}}
              for p in partners]
    daily = [{"clientSelectors": _selector(p), "limit": {"requests": p.requests_per_day, "unit": "Day"}}
             for p in partners]
    out: Obj = {}
    if local:
        out["local"] = {"rules": local}
    if daily:
        out["global"] = {"rules": daily}
    return out
