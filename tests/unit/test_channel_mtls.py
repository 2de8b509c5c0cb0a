"""Partner mTLS on the Gateway API, through the real channel reconciler over the fake gateway.

Covers: an mtls channel on a named listener of the platform's Gateway gets its ClientTrafficPolicy (on that
listener, naming the CA) and cert-manager objects before its routes serve; attacks, each written as the
channel that tries it: routes to team risk's capability on a Gateway held by team core (GatewayNotOwned),
a CA Secret in another namespace (MtlsCaForeign), no listener named so the route would also attach to
listeners without a client check (MtlsListenerRequired; a route served before is withdrawn, not kept as
its last good rendering), and a second channel taking over a listener another channel's CA guards
(NameConflict). The model and the CRD both refuse a server certificate without tls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import celpy
import pytest
from pydantic import ValidationError

from finplane.crdgen import build_crd
from finplane.models.channel import ChannelSpec
from finplane.models.registry import kind_info
from finplane.reconcile.channel import ChannelReconciler
from finplane.settings import Settings
from tests.support import builders
from tests.support.fake_kube import FakeKube
from tests.unit.test_channel_canary_gate import READY, QuietRuntime

Obj = dict[str, Any]
PLATFORM_GW = "envoy-gateway-system"
POLICY = "finplane-mtls.finplane.partners-mtls"


def mtls(*, ca_namespace: str = PLATFORM_GW, section: str | None = "partners-mtls", gateway_ns: str = PLATFORM_GW,
         gateway: str = "finplane") -> Obj:
    ref: Obj = {"name": gateway, "namespace": gateway_ns}
    if section is not None:
        ref["sectionName"] = section
    return {"tls": {"secretName": "partners-tls"}, "backend": {"kind": "gateway", "gatewayRef": ref},
            "authentication": {"mode": "mtls", "mtls": {"caSecretRef": {"namespace": ca_namespace, "name": "partner-ca"},
                                                        "serverIssuerRef": {"name": "bank-public"},
                                                        "partnerCa": "SelfSigned"}}}


class Stack:
    """The real reconcilers; capability risk/kyc Ready; teams risk (namespace risk) and core (namespace core)."""

    def __init__(self, tmp_path: Path) -> None:
        self.kube = FakeKube()
        self.rt = QuietRuntime(self.kube, Settings(evidence_dir=str(tmp_path), team_ownership="migrate"))
        self.rt.stores.setdefault("BusinessCapability", {})[("risk", "kyc")] = builders.capability(
            "kyc", "risk", uid="kyc-uid", status=READY)
        teams = self.rt.stores.setdefault("Team", {})
        for team in ("risk", "core"):
            teams[("", team)] = builders.team(team, status={"namespaces": [{"name": team, "state": "Created"}]})
        reconciler = self.rt.controllers["Channel"].reconciler
        assert isinstance(reconciler, ChannelReconciler)

    def channel(self, name: str, **spec: Any) -> Obj:
        body = builders.channel(name, [builders.route("kyc", "risk", "kyc", "/v1/kyc")], type_="open-api",
                                hostnames=[f"{name}.api.bank.example"], uid=f"{name}-uid", **spec)
        self.rt.stores.setdefault("Channel", {})[("", name)] = body
        return body

    async def run(self, name: str) -> Obj:
        await self.rt.controllers["Channel"].reconcile_once(("", name))
        body = self.rt.stores["Channel"][("", name)]
        sent = [s for s in self.kube.statuses("Channel")]
        body["status"] = {**(body.get("status") or {}), **sent[-1]}
        return {r["name"]: r for r in body["status"]["routes"]}["kyc"]


async def test_an_mtls_channel_gets_its_listener_policy_and_certificates_before_its_route_serves(tmp_path: Path) -> None:
    s = Stack(tmp_path)
    s.channel("partners-mtls", **mtls())
    route = await s.run("partners-mtls")
    assert (route["ready"], route["reason"]) == ("True", "RouteReady")
    policy = s.kube.find("ClientTrafficPolicy", POLICY, PLATFORM_GW)
    assert policy is not None
    assert policy["spec"]["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                             "name": "finplane", "sectionName": "partners-mtls"}]
    assert policy["spec"]["tls"]["clientValidation"]["caCertificateRefs"] == [
        {"group": "", "kind": "Secret", "name": "partner-ca"}]
    server = s.kube.find("Certificate", "partners-mtls.server", PLATFORM_GW)
    assert server is not None and server["spec"]["secretName"] == "partners-tls"
    assert server["spec"]["dnsNames"] == ["partners-mtls.api.bank.example"]
    assert s.kube.find("Issuer", "partners-mtls.partner-ca", PLATFORM_GW) is not None
    http_route = s.kube.find("HTTPRoute", "partners-mtls-kyc", "risk")
    assert http_route is not None and http_route["spec"]["parentRefs"][0]["sectionName"] == "partners-mtls"
    kinds = [c.kind for c in s.kube.writes() if c.kind in ("ClientTrafficPolicy", "HTTPRoute")]
    assert kinds.index("ClientTrafficPolicy") < kinds.index("HTTPRoute")  # never serving before the check


async def test_a_channel_cannot_set_client_checks_on_another_teams_gateway(tmp_path: Path) -> None:
    s = Stack(tmp_path)
    s.channel("partners-mtls", **mtls(gateway_ns="core", ca_namespace="core", gateway="core-gw"))
    route = await s.run("partners-mtls")
    assert (route["ready"], route["reason"]) == ("False", "GatewayNotOwned")
    assert "team core" in route["message"]
    assert s.kube.of_kind("ClientTrafficPolicy") == [] and s.kube.of_kind("HTTPRoute") == []


async def test_a_channel_on_its_own_teams_gateway_may_set_client_checks(tmp_path: Path) -> None:
    s = Stack(tmp_path)
    s.channel("partners-mtls", **mtls(gateway_ns="risk", ca_namespace="risk", gateway="risk-gw"))
    assert (await s.run("partners-mtls"))["reason"] == "RouteReady"
    assert s.kube.find("ClientTrafficPolicy", "finplane-mtls.risk-gw.partners-mtls", "risk") is not None


async def test_a_channel_cannot_point_the_gateway_at_another_namespaces_ca(tmp_path: Path) -> None:
    s = Stack(tmp_path)
    s.channel("partners-mtls", **mtls(ca_namespace="core"))
    route = await s.run("partners-mtls")
    assert (route["ready"], route["reason"]) == ("False", "MtlsCaForeign")
    assert s.kube.of_kind("ClientTrafficPolicy") == [] and s.kube.of_kind("HTTPRoute") == []


async def test_a_route_that_would_attach_to_every_listener_is_refused_and_withdrawn(tmp_path: Path) -> None:
    s = Stack(tmp_path)
    body = s.channel("partners-mtls", **mtls())
    assert (await s.run("partners-mtls"))["reason"] == "RouteReady"
    assert s.kube.find("HTTPRoute", "partners-mtls-kyc", "risk") is not None
    del body["spec"]["backend"]["gatewayRef"]["sectionName"]  # now every listener, plain ones included
    body["metadata"]["generation"] = 2
    route = await s.run("partners-mtls")
    assert (route["ready"], route["reason"]) == ("False", "MtlsListenerRequired")
    assert "last good" not in route["message"]
    assert s.kube.find("HTTPRoute", "partners-mtls-kyc", "risk") is None  # withdrawn, not kept serving
    assert s.kube.find("ClientTrafficPolicy", POLICY, PLATFORM_GW) is None


async def test_a_second_channel_cannot_take_over_a_listener_another_channels_ca_guards(tmp_path: Path) -> None:
    s = Stack(tmp_path)
    s.channel("partners-mtls", **mtls())
    assert (await s.run("partners-mtls"))["reason"] == "RouteReady"
    intruder = mtls()
    intruder["authentication"]["mtls"]["caSecretRef"]["name"] = "intruder-ca"
    intruder["authentication"]["mtls"].pop("partnerCa")
    intruder.pop("tls")
    intruder["authentication"]["mtls"].pop("serverIssuerRef")
    s.channel("intruder", **intruder)
    route = await s.run("intruder")
    assert (route["ready"], route["reason"]) == ("False", "NameConflict")
    policy = s.kube.find("ClientTrafficPolicy", POLICY, PLATFORM_GW)
    assert policy is not None
    assert policy["spec"]["tls"]["clientValidation"]["caCertificateRefs"][0]["name"] == "partner-ca"
    assert s.kube.find("HTTPRoute", "intruder-kyc", "risk") is None


def _spec_rules() -> list[Obj]:
    crd = build_crd(kind_info("Channel"))
    return list(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
                ["x-kubernetes-validations"])


def _cel_failures(value: Obj) -> list[str]:
    env = celpy.Environment()
    return [r["message"] for r in _spec_rules()
            if not env.program(env.compile(r["rule"])).evaluate({"self": celpy.json_to_cel(value)})]


def test_a_server_certificate_without_tls_is_refused_by_the_crd_and_the_model() -> None:
    spec = {"type": "open-api", "hostnames": ["x.bank.example"],
            "routes": [{"name": "kyc", "capability": {"namespace": "risk", "name": "kyc"}}], **mtls()}
    assert _cel_failures(spec) == []
    ChannelSpec.model_validate(spec)
    spec.pop("tls")
    assert any("needs tls" in m for m in _cel_failures(spec))
    with pytest.raises(ValidationError, match="needs tls"):
        ChannelSpec.model_validate(spec)


def test_cert_manager_objects_are_refused_on_the_retired_ingress_backend() -> None:
    spec = {"type": "open-api", "hostnames": ["x.bank.example"],
            "routes": [{"name": "kyc", "capability": {"namespace": "risk", "name": "kyc"}}], **mtls()}
    spec["backend"] = {"kind": "ingress"}
    assert any("only allowed when backend kind is gateway" in m for m in _cel_failures(spec))
    with pytest.raises(ValidationError, match="only allowed when backend kind is gateway"):
        ChannelSpec.model_validate(spec)


async def test_a_team_taking_hold_of_the_gateways_namespace_wakes_the_mtls_channel(tmp_path: Path) -> None:
    s = Stack(tmp_path)
    s.channel("partners-mtls", **mtls(gateway_ns="risk", ca_namespace="risk", gateway="risk-gw"))
    s.channel("plain", tls={"secretName": "x"})
    reconciler = s.rt.controllers["Channel"].reconciler
    assert isinstance(reconciler, ChannelReconciler)
    before = builders.team("risk", status={"namespaces": []})
    after = builders.team("risk", status={"namespaces": [{"name": "risk", "state": "Created"}]})
    assert list(reconciler._team_changed("MODIFIED", after, before)) == [("", "partners-mtls")]
    assert list(reconciler._team_changed("MODIFIED", after, after)) == []  # nothing it depends on changed
