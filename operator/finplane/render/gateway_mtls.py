"""Render a Channel's mutual TLS on the Gateway API: Envoy Gateway's ClientTrafficPolicy and cert-manager objects.

Pure: (channel name, spec, settings, Teams) -> a verdict and complete manifests, no I/O. Called by the channel
reconciler once per pass, before any route (a refused mTLS setup withdraws every route of the channel: fail
closed), and by `render.channel.render_channel` for `finplane render` and the golden files.

For `authentication.mode: mtls` with backend kind `gateway`, in the Gateway's namespace:

- `ClientTrafficPolicy` (gateway.envoyproxy.io/v1alpha1) `finplane-mtls.<gateway>.<listener>`, attached to the
  listener `backend.gatewayRef.sectionName` only (never to the whole Gateway, whose other listeners other
  channels use), with `tls.clientValidation.caCertificateRefs` naming `caSecretRef`. Its name is per listener:
  a second channel asking for mTLS on the same listener meets the first one's object (a name conflict),
  never a silent takeover of its CA.
- `Certificate` (cert-manager.io/v1) `<channel>.server`, when `mtls.serverIssuerRef` is set: the listener's server
  certificate for the channel's hostnames, into `tls.secretName`.
- with `mtls.partnerCa: SelfSigned`: `Issuer` `<channel>.partner-ca-root` (selfSigned), `Certificate`
  `<channel>.partner-ca` (isCA, issued by it into `caSecretRef`) and `Issuer` `<channel>.partner-ca` of kind CA
  over it, which signs the partners' client certificates (a `Certificate` with `usages: [client auth]` per
  partner). Self-signed on purpose: Envoy Gateway trusts the Secret's `ca.crt`, which for a CA chained to the
  institution's root would be that root, and the listener would admit every certificate the root ever signed.

`mtls_problem` is the guard rail: the listener must be named (an HTTPRoute without `sectionName` attaches to every
listener of the Gateway, including ones that ask for no client certificate), the CA must be in the Gateway's
namespace (no channel points Envoy Gateway at another namespace's Secret), and a Gateway outside the platform's
gateway namespace must belong to the team of every capability the channel routes to (a channel never changes the
TLS of another team's Gateway).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from finplane.models.channel import AuthMode, BackendKind, ChannelSpec, GatewayRef, IssuerRef, PartnerCa
from finplane.names import CHANNEL_LABEL
from finplane.render.labels import MANAGED_BY
from finplane.render.team_checks import team_of_namespace
from finplane.settings import Settings

__all__ = ["CERT_MANAGER", "MTLS_REASONS", "demands_mtls", "mtls_policy_name", "mtls_problem", "render_mtls"]

Obj = dict[str, Any]
ENVOY_GATEWAY = "gateway.envoyproxy.io/v1alpha1"
CERT_MANAGER = "cert-manager.io/v1"
#: The reasons a channel's routes carry when its mTLS cannot be put in place.
MTLS_REASONS = ("MtlsListenerRequired", "MtlsCaForeign", "GatewayNotOwned")


def demands_mtls(spec: ChannelSpec) -> bool:
    """Whether Envoy Gateway must check client certificates for this channel (mode mtls on the Gateway API)."""
    return spec.backend.kind == BackendKind.GATEWAY and spec.authentication.mode == AuthMode.MTLS \
        and spec.authentication.mtls is not None


def _gateway(spec: ChannelSpec, settings: Settings) -> GatewayRef:
    from finplane.render.channel import gateway_ref  # render.channel imports this module

    return gateway_ref(spec, settings)


def mtls_policy_name(gw: GatewayRef) -> str:
    return f"finplane-mtls.{gw.name}.{gw.section_name or 'all'}"[:253]


def mtls_problem(*, spec: ChannelSpec, settings: Settings, teams: Iterable[Obj]) -> tuple[str, str] | None:
    """(reason, message) of why the channel's mTLS cannot be rendered, or None (also None without mTLS)."""
    if not demands_mtls(spec):
        return None
    mtls = spec.authentication.mtls
    assert mtls is not None
    gw = _gateway(spec, settings)
    if not gw.section_name:
        return ("MtlsListenerRequired",
                "authentication.mode is mtls but backend.gatewayRef.sectionName is not set: the routes would attach "
                "to every listener of Gateway " f"{gw.namespace}/{gw.name}, including ones that ask for no client "
                "certificate; name the listener that checks them")
    ca = mtls.ca_secret_ref
    if ca.namespace != gw.namespace:
        return ("MtlsCaForeign",
                f"authentication.mtls.caSecretRef is in namespace {ca.namespace}, not in the Gateway's namespace "
                f"{gw.namespace}: a channel may not point the gateway at another namespace's CA")
    platform_ns = settings.channel_default_gateway.partition("/")[0]
    if gw.namespace != platform_ns:
        teams = list(teams)
        owner = team_of_namespace(gw.namespace, teams)
        routed = {r.capability.namespace for r in spec.routes}
        foreign = sorted(ns for ns in routed if owner is None or team_of_namespace(ns, teams) != owner)
        if foreign:
            held = f"team {owner}" if owner else "no team"
            return ("GatewayNotOwned",
                    f"Gateway {gw.namespace}/{gw.name} is held by {held}, not by the team of namespace(s) "
                    f"{', '.join(foreign)} this channel routes to: a channel may only set client-certificate "
                    "checks on its own team's Gateway or the platform's")
    return None


def _labels(channel: str) -> dict[str, str]:
    return {**MANAGED_BY, "app.kubernetes.io/component": "channel-mtls", "app.kubernetes.io/part-of": "finplane",
            CHANNEL_LABEL: channel[:63].rstrip("-.")}


def _issuer(ref: IssuerRef) -> Obj:
    return {"group": "cert-manager.io", "kind": str(ref.kind), "name": ref.name}


def render_mtls(*, channel: str, spec: ChannelSpec, settings: Settings) -> list[Obj]:
    """The channel's cert-manager objects and ClientTrafficPolicy, in apply order (certificates first)."""
    if not demands_mtls(spec):
        return []
    mtls = spec.authentication.mtls
    assert mtls is not None
    gw = _gateway(spec, settings)

    def meta(name: str) -> Obj:
        return {"name": name[:253], "namespace": gw.namespace, "labels": _labels(channel)}

    out: list[Obj] = []
    if mtls.server_issuer_ref is not None and spec.tls is not None:
        out.append({"apiVersion": CERT_MANAGER, "kind": "Certificate", "metadata": meta(f"{channel}.server"),
                    "spec": {"secretName": spec.tls.secret_name, "dnsNames": list(spec.hostnames),
                             "issuerRef": _issuer(mtls.server_issuer_ref), "usages": ["server auth"],
                             "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}}})
    if mtls.partner_ca == PartnerCa.SELF_SIGNED:
        root = f"{channel}.partner-ca-root"
        out.append({"apiVersion": CERT_MANAGER, "kind": "Issuer", "metadata": meta(root), "spec": {"selfSigned": {}}})
        out.append({"apiVersion": CERT_MANAGER, "kind": "Certificate", "metadata": meta(f"{channel}.partner-ca"),
                    "spec": {"secretName": mtls.ca_secret_ref.name, "isCA": True,
                             "commonName": f"{channel} partner CA"[:64], "duration": "8760h",
                             "renewBefore": "720h",
                             "issuerRef": {"group": "cert-manager.io", "kind": "Issuer", "name": root[:253]},
                             "usages": ["cert sign", "crl sign"],
                             "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}}})
        out.append({"apiVersion": CERT_MANAGER, "kind": "Issuer", "metadata": meta(f"{channel}.partner-ca"),
                    "spec": {"ca": {"secretName": mtls.ca_secret_ref.name}}})
    target: Obj = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gw.name}
    if gw.section_name:
        target["sectionName"] = gw.section_name
    out.append({"apiVersion": ENVOY_GATEWAY, "kind": "ClientTrafficPolicy", "metadata": meta(mtls_policy_name(gw)),
                "spec": {"targetRefs": [target], "tls": {"clientValidation": {"caCertificateRefs": [
                    {"group": "", "kind": "Secret", "name": mtls.ca_secret_ref.name}]}}}})
    return out
