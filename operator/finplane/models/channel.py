"""The Channel custom resource: one customer channel (mobile, web, open API...) and its routes.

Cluster-scoped. The channel renderer turns a `ChannelSpec` into Gateway API HTTPRoutes (the default)
with Envoy Gateway's SecurityPolicy and BackendTrafficPolicy next to them, or into ingress-nginx
Ingress objects (retired upstream in March 2026, kept as an option), per target namespace, plus
NetworkPolicy allowances from the gateway namespace; the reconciler writes a `ChannelStatus` with
one entry per route.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from finplane.models.common import (
    ClusterCapabilityRef,
    Condition,
    ConditionStatus,
    DnsLabel,
    DnsSubdomain,
    NamespacedSecretRef,
    SpecModel,
    StatusModel,
    cel,
    check_unique,
    list_map,
    list_set,
)

__all__ = [
    "Authentication",
    "AuthMode",
    "Backend",
    "BackendKind",
    "Canary",
    "CanaryGate",
    "CanaryGateStatus",
    "GateSlo",
    "ChannelSpec",
    "ChannelStatus",
    "ChannelType",
    "GatewayRef",
    "HeaderMatch",
    "IssuerKind",
    "IssuerRef",
    "JwtAuth",
    "PartnerCa",
    "MtlsAuth",
    "RateLimit",
    "Route",
    "RouteStatus",
    "Tls",
]

#: A host name, optionally with one leading wildcard label.
HOSTNAME = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
Hostname = Annotated[str, StringConstraints(pattern=HOSTNAME, max_length=253)]


class ChannelType(StrEnum):
    """The kind of customer channel."""

    MOBILE = "mobile"
    WEB = "web"
    OPEN_API = "open-api"
    BRANCH = "branch"
    CALL_CENTER = "call-center"
    IOT = "iot"


class BackendKind(StrEnum):
    """What the channel renders: Gateway API HTTPRoutes (default) or ingress-nginx Ingress objects (retired)."""

    INGRESS = "ingress"
    GATEWAY = "gateway"


class AuthMode(StrEnum):
    """Authentication the channel requires from its callers."""

    NONE = "none"
    JWT = "jwt"
    MTLS = "mtls"


class Tls(SpecModel):
    """TLS termination for the channel's host names."""

    secret_name: DnsSubdomain = Field(description="kubernetes.io/tls Secret with the certificate, "
                                                  "in each target namespace (Ingress) or the gateway's.")


class GatewayRef(SpecModel):
    """The Gateway API Gateway the HTTPRoutes attach to."""

    name: DnsSubdomain = Field(description="Name of the Gateway.")
    namespace: DnsLabel = Field(description="Namespace of the Gateway.")
    section_name: DnsSubdomain | None = Field(default=None, description="Listener of the Gateway to attach to.")


class Backend(SpecModel):
    """How routes are rendered."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("self.kind != 'ingress' || !has(self.gatewayRef)", "gatewayRef is only allowed when kind is gateway"),
    ))

    kind: BackendKind = Field(default=BackendKind.GATEWAY,
                              description="gateway (Gateway API with Envoy Gateway policies, the default) or "
                                          "ingress (ingress-nginx annotations; ingress-nginx was retired in March "
                                          "2026).")
    ingress_class_name: DnsSubdomain | None = Field(default=None, description="IngressClass for kind ingress.")
    gateway_ref: GatewayRef | None = Field(default=None,
                                           description="Parent Gateway for kind gateway; defaults to the platform's "
                                                       "Gateway (FINPLANE_CHANNEL_DEFAULT_GATEWAY).")

    @model_validator(mode="after")
    def _gateway_ref_matches_kind(self) -> Backend:
        if self.kind == BackendKind.INGRESS and self.gateway_ref is not None:
            raise ValueError("gatewayRef is only allowed when kind is gateway")
        return self


class JwtAuth(SpecModel):
    """JSON Web Token validation."""

    issuer: str = Field(description="Expected issuer (iss), an https URL.", pattern=r"^https://[^\s]+$",
                        max_length=2048)
    audiences: list[Annotated[str, StringConstraints(min_length=1, max_length=253)]] = Field(
        min_length=1, max_length=16, json_schema_extra=list_set(), description="Accepted audiences (aud).",
    )
    jwks_uri: str | None = Field(default=None, pattern=r"^https://[^\s]+$", max_length=2048,
                                 description="Where the gateway fetches the issuer's signing keys; defaults to "
                                             "<issuer>/.well-known/jwks.json.")


class IssuerKind(StrEnum):
    """The kind of a cert-manager issuer."""

    ISSUER = "Issuer"
    CLUSTER_ISSUER = "ClusterIssuer"


class IssuerRef(SpecModel):
    """A cert-manager issuer (an Issuer in the Gateway's namespace, or a ClusterIssuer)."""

    name: DnsSubdomain = Field(description="Name of the Issuer or ClusterIssuer.")
    kind: IssuerKind = Field(default=IssuerKind.CLUSTER_ISSUER, description="Issuer or ClusterIssuer (default).")


class PartnerCa(StrEnum):
    """Who keeps the CA that partners' client certificates are checked against."""

    PROVIDED = "Provided"
    SELF_SIGNED = "SelfSigned"


class MtlsAuth(SpecModel):
    """Mutual TLS: callers present a client certificate signed by this CA.

    With backend kind gateway, Envoy Gateway checks the certificate at the listener (a ClientTrafficPolicy
    rendered into the Gateway's namespace, attached to `backend.gatewayRef.sectionName`); the CA Secret must
    live in that namespace. cert-manager may issue the listener's server certificate (`serverIssuerRef`) and
    keep the CA that signs the partners' client certificates (`partnerCa: SelfSigned`).
    """

    ca_secret_ref: NamespacedSecretRef = Field(description="Secret holding the CA bundle under ca.crt; with backend "
                                                           "kind gateway, in the Gateway's namespace.")
    server_issuer_ref: IssuerRef | None = Field(
        default=None, description="cert-manager issuer of the listener's server certificate: a Certificate for the "
                                  "channel's hostnames into tls.secretName, in the Gateway's namespace (gateway only; "
                                  "needs tls).")
    partner_ca: PartnerCa = Field(
        default=PartnerCa.PROVIDED,
        description="Provided (default: caSecretRef is kept by the platform engineer) or SelfSigned: cert-manager keeps "
                    "a self-signed CA dedicated to this channel in caSecretRef, with an Issuer of kind CA over it that "
                    "signs the partners' client certificates (gateway only). Self-signed on purpose: the listener "
                    "trusts the Secret's ca.crt, which for a CA chained to a wider root would be that root.")


class Authentication(SpecModel):
    """Authentication required on every route of the channel."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("self.mode != 'jwt' || has(self.jwt)", "jwt is required when mode is jwt"),
        ("self.mode != 'mtls' || has(self.mtls)", "mtls is required when mode is mtls"),
    ))

    mode: AuthMode = Field(default=AuthMode.NONE, description="none, jwt or mtls.")
    jwt: JwtAuth | None = Field(default=None, description="JWT settings for mode jwt.")
    mtls: MtlsAuth | None = Field(default=None, description="mTLS settings for mode mtls.")

    @model_validator(mode="after")
    def _settings_for_mode(self) -> Authentication:
        if self.mode == AuthMode.JWT and self.jwt is None:
            raise ValueError("jwt is required when mode is jwt")
        if self.mode == AuthMode.MTLS and self.mtls is None:
            raise ValueError("mtls is required when mode is mtls")
        return self


class RateLimit(SpecModel):
    """Per-client rate limit of a route."""

    requests_per_second: int = Field(ge=1, le=100000, description="Sustained requests per second.")
    burst: int | None = Field(default=None, ge=1, le=1000000,
                              description="Extra requests allowed in a burst; defaults to requestsPerSecond.")


class HeaderMatch(SpecModel):
    """An HTTP header selecting a customer segment."""

    name: str = Field(description="Header name, e.g. X-Customer-Segment.", pattern=r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$",
                      max_length=256)
    value: str = Field(description="Exact header value.", min_length=1, max_length=4096)


class GateSlo(StrEnum):
    """Which objective of the canary capability's `spec.slo` judges a gated canary."""

    AVAILABILITY = "availability"
    LATENCY = "latency"


def _defaults_in_the_model_only(schema: dict[str, Any]) -> None:
    """No defaults in the CRD (the model applies them): a server-side apply removing `gate` would otherwise leave
    the stored defaults behind, a gate without `slo` that the schema refuses (as for spec.slo)."""
    for prop in (schema.get("properties") or {}).values():
        prop.pop("default", None)


def _gate_schema(schema: dict[str, Any]) -> None:
    schema.update(cel(("!has(self.stepPercent) || !has(self.maxWeight) || self.stepPercent <= self.maxWeight",
                       "stepPercent must not exceed maxWeight")))
    _defaults_in_the_model_only(schema)


class CanaryGate(SpecModel):
    """Step the canary's weight up while its SLO burn rate stays within budget; drop it to 0 when it does not.

    The current weight is the channel reconciler's to write (`status.routes[].canaryWeight`); the spec only says
    how to step. `paused: true` holds the weight where it is (a person's pause)."""

    model_config = ConfigDict(json_schema_extra=_gate_schema)

    slo: GateSlo = Field(description="The objective of the canary capability's spec.slo that judges it: "
                                     "availability or latency.")
    step_percent: int = Field(default=10, ge=1, le=100, description="Percent added per interval (default 10).")
    max_weight: int = Field(default=100, ge=1, le=100, description="Weight the steps stop at (default 100).")
    interval_seconds: int = Field(default=300, ge=30, le=86400,
                                  description="Seconds between two steps (30 to 86400, default 300).")
    max_burn_rate: str = Field(default="1", pattern=r"^[0-9]{1,3}(\.[0-9]{1,4})?$", max_length=8,
                               description="Highest burn rate over 5 minutes still within budget (error ratio / "
                                           "error budget; default \"1\", the sustainable pace).")
    paused: bool = Field(default=False, description="Hold the weight where it is (a person's pause).")

    @model_validator(mode="after")
    def _step_within_max(self) -> CanaryGate:
        if self.step_percent > self.max_weight:
            raise ValueError("stepPercent must not exceed maxWeight")
        return self


class Canary(SpecModel):
    """A second capability (e.g. the next version) that receives part of the route's traffic."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("has(self.weight) || has(self.headerMatch) || has(self.gate)",
         "a canary needs a weight, a headerMatch or a gate"),
        ("!has(self.weight) || !has(self.gate)",
         "weight and gate are exclusive: a gated canary's weight is set by its gate (status.routes[].canaryWeight)"),
    ))

    capability: ClusterCapabilityRef = Field(description="The canary capability.")
    weight: int | None = Field(default=None, ge=0, le=100,
                               description="Percent of the traffic sent to the canary (0 to 100).")
    header_match: HeaderMatch | None = Field(default=None,
                                             description="Requests with this header always go to the canary.")
    gate: CanaryGate | None = Field(default=None, description="Step the weight by the canary's SLO burn rate "
                                                              "instead of a fixed weight.")

    @model_validator(mode="after")
    def _weight_or_header(self) -> Canary:
        if self.weight is None and self.header_match is None and self.gate is None:
            raise ValueError("a canary needs a weight, a headerMatch or a gate")
        if self.weight is not None and self.gate is not None:
            raise ValueError("weight and gate are exclusive: a gated canary's weight is set by its gate "
                             "(status.routes[].canaryWeight)")
        return self


class Route(SpecModel):
    """One path of the channel, served by one capability."""

    name: DnsLabel = Field(description="Route name, unique in the channel.")
    capability: ClusterCapabilityRef = Field(description="The capability serving this route.")
    path_prefix: str = Field(default="/", pattern=r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$", max_length=1024,
                             description="URL path prefix routed to the capability.")
    rate_limit: RateLimit | None = Field(default=None, description="Per-client rate limit.")
    timeout_seconds: int = Field(default=30, ge=1, le=300, description="Upstream request timeout.")
    canary: Canary | None = Field(default=None, description="Optional canary for a customer segment.")


class ChannelSpec(SpecModel):
    """Desired state of a channel."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("!has(self.authentication) || !has(self.authentication.mtls) || "
         "!has(self.authentication.mtls.serverIssuerRef) || has(self.tls)",
         "authentication.mtls.serverIssuerRef needs tls: the certificate is issued into tls.secretName"),
        ("!has(self.authentication) || !has(self.authentication.mtls) || !has(self.backend) || "
         "self.backend.kind != 'ingress' || (!has(self.authentication.mtls.serverIssuerRef) && "
         "(!has(self.authentication.mtls.partnerCa) || self.authentication.mtls.partnerCa == 'Provided'))",
         "mtls.serverIssuerRef and partnerCa SelfSigned are only allowed when backend kind is gateway"),
    ))

    type: ChannelType = Field(description="mobile, web, open-api, branch, call-center or iot.")
    hostnames: list[Hostname] = Field(min_length=1, max_length=16, json_schema_extra=list_set(),
                                      description="Host names the channel serves.")
    tls: Tls | None = Field(default=None, description="TLS termination; omit for plain HTTP.")
    backend: Backend = Field(default_factory=Backend, description="Ingress or Gateway API rendering.")
    authentication: Authentication = Field(default_factory=Authentication,
                                           description="Authentication required from callers.")
    routes: list[Route] = Field(min_length=1, max_length=64, json_schema_extra=list_map(),
                                description="Routes, each to one capability.")
    gateway_namespace: DnsLabel | None = Field(
        default=None, description="Namespace of the ingress controller or gateway pods, allowed through "
                                  "the capabilities' NetworkPolicies; defaults to the platform setting.",
    )

    @model_validator(mode="after")
    def _mtls_certificates(self) -> ChannelSpec:
        mtls = self.authentication.mtls
        if mtls is None:
            return self
        if mtls.server_issuer_ref is not None and self.tls is None:
            raise ValueError("authentication.mtls.serverIssuerRef needs tls: the certificate is issued into "
                             "tls.secretName")
        if self.backend.kind == BackendKind.INGRESS and (mtls.server_issuer_ref is not None
                                                         or mtls.partner_ca != PartnerCa.PROVIDED):
            raise ValueError("mtls.serverIssuerRef and partnerCa SelfSigned are only allowed when backend kind is "
                             "gateway")
        return self

    @field_validator("hostnames")
    @classmethod
    def _unique_hostnames(cls, value: list[str]) -> list[str]:
        return check_unique(value, key=lambda h: h, what="hostname")

    @field_validator("routes")
    @classmethod
    def _unique_routes(cls, value: list[Route]) -> list[Route]:
        return check_unique(value, key=lambda r: r.name, what="route name")


class CanaryGateStatus(StatusModel):
    """Where a gated canary stands: written by the channel reconciler only."""

    state: str = Field(max_length=32, description="Stepping, AtMaxWeight, Paused, RolledBack, NoData, "
                                                  "MetricsUnavailable or GateInvalid.")
    message: str = Field(default="", max_length=1024, description="Human-readable details.")
    last_step_time: str | None = Field(default=None, max_length=64,
                                       description="When the weight was last judged (RFC 3339).")
    burn_rate: str | None = Field(default=None, max_length=32, description="The last burn rate read over 5 minutes.")
    canary_generation: int | None = Field(default=None, ge=0,
                                          description="The canary capability's generation the gate measures; a "
                                                      "new one starts again from 0.")


class RouteStatus(StatusModel):
    """Observed state of one route."""

    name: str = Field(description="Route name.", max_length=63)
    ready: ConditionStatus = Field(description="True when the route is rendered and its capability is Ready.")
    reason: str = Field(default="", max_length=1024,
                        description="CamelCase reason: RouteReady, CapabilityMissing, CapabilityNotReady, "
                                                   "ExposureRefused, CanaryWeightInvalid, CanaryGateInvalid, InvalidRoute, NameConflict, "
                                                   "MtlsListenerRequired, MtlsCaForeign or GatewayNotOwned.")
    message: str = Field(default="", max_length=4096, description="Human-readable details.")
    url: str | None = Field(default=None, max_length=2048, description="Public URL of the route.")
    canary_weight: int | None = Field(default=None, ge=0, le=100, description="Percent sent to the canary.")
    canary_gate: CanaryGateStatus | None = Field(default=None, description="A gated canary's state.")


class ChannelStatus(StatusModel):
    """Observed state of a channel."""

    observed_generation: int | None = Field(default=None, ge=0,
                                            description="The metadata.generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, max_length=16,
                                        json_schema_extra=list_map("type"),
                                        description="Ready and Compliant.")
    routes: list[RouteStatus] = Field(default_factory=list, max_length=64, json_schema_extra=list_map(),
                                      description="One entry per route.")
    urls: list[Annotated[str, StringConstraints(max_length=2048)]] = Field(
        default_factory=list, max_length=1024, description="Public URLs of the routes.")
    ready_routes: str | None = Field(default=None, max_length=16, description="Ready routes out of all, e.g. 2/3.")
