"""End-to-end: Channels route capabilities through Ingresses or HTTPRoutes, per route and atomically.

Covers, with the real operator against the embedded API server (or a real cluster): a channel routing
two capabilities gets valid Ingresses and NetworkPolicy allowances in both namespaces and lists its
public URLs, and the capabilities list the channel in `status.exposedOn`; a route to a missing
capability is not Ready with reason CapabilityMissing while the other route is served, and turns
Ready by itself when the capability appears; a 10 % canary on the Gateway API shows as 90/10
backendRef weights (valid against the Gateway API schema) and in the route's status; a restricted
capability on a public channel is refused (ExposureRefused) and nothing routes to it; a route edited
into a bad state while the operator is down keeps its last good rendering after the restart; deleting the channel removes its routes and
allowances and nothing else; a canary gated by its SLO on an operator without Prometheus stays at weight 0
(MetricsUnavailable), and a team can neither put a weight next to the gate (CEL) nor write the weight through a
status in its manifest.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.support import Cluster, builders, condition, is_ready, wait_for
from tests.support.builders import route

Obj = dict[str, Any]
HERE = Path(__file__).resolve().parent
SCHEMAS = HERE.parent / "schemas"


def namespaces(*names: str) -> list[Obj]:
    return [builders.namespace(n) for n in names]


def capability(ns: str, name: str, *, port: int = 8080, classification: str = "internal") -> Obj:
    return builders.capability(name, ns, owner={"team": ns, "contact": f"{ns}@bank.example"}, domain=ns,
                               image=f"registry.example/{ns}/{name}:1.0.0", replicas=1, port=port,
                               dataClassification=classification)


def channel(name: str, routes: list[Obj], *, type_: str = "mobile", backend: Obj | None = None) -> Obj:
    return builders.channel(name, routes, type_=type_, tls={"secretName": f"{name}-tls"},
                            backend=backend or {"kind": "ingress", "ingressClassName": "nginx"},
                            gatewayNamespace="ingress-nginx")


def route_status(cluster: Cluster, channel_name: str, route_name: str) -> Obj:
    body = cluster.get("channel", channel_name) or {}
    return next((r for r in (body.get("status") or {}).get("routes") or [] if r["name"] == route_name), {})


def route_is(cluster: Cluster, channel_name: str, route_name: str, ready: str, reason: str) -> Obj | None:
    st = route_status(cluster, channel_name, route_name)
    return st if st.get("ready") == ready and st.get("reason") == reason else None


def names(cluster: Cluster, kind: str, ns: str) -> set[str]:
    return {o["metadata"]["name"] for o in cluster.list(kind, ns)}


def test_a_channel_serves_two_capabilities_waits_for_a_missing_one_and_its_deletion_removes_only_its_objects(
        cluster: Cluster, operator: Any) -> None:
    cluster.apply(namespaces("payments", "onboarding", "ingress-nginx"))
    cluster.apply([capability("payments", "payments-api", port=9090), capability("onboarding", "account-opening")])
    cluster.apply(channel("mobile", [route("payments", "payments", "payments-api", "/payments",
                                           rateLimit={"requestsPerSecond": 50, "burst": 100}),
                                     route("onboarding", "onboarding", "account-opening", "/accounts"),
                                     route("cards", "cards", "card-service", "/cards")]))
    cluster.apply(channel("web", [route("payments", "payments", "payments-api", "/pay")], type_="web"))

    # The missing capability only holds back its own route.
    wait_for(lambda: route_is(cluster, "mobile", "cards", "False", "CapabilityMissing"), timeout=60,
             what="route cards not Ready with CapabilityMissing")
    wait_for(lambda: route_is(cluster, "mobile", "payments", "True", "RouteReady"), timeout=60,
             what="route payments Ready")
    wait_for(lambda: route_is(cluster, "mobile", "onboarding", "True", "RouteReady"), timeout=60,
             what="route onboarding Ready")
    mobile = cluster.get("channel", "mobile")
    assert condition(mobile, "Ready")["status"] == "False"
    assert mobile["status"]["readyRoutes"] == "2/3"
    assert mobile["status"]["urls"] == ["https://mobile.bank.example/accounts", "https://mobile.bank.example/payments"]

    ingress = cluster.get("ingress", "mobile-payments", "payments")
    assert ingress is not None
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/limit-rps"] == "50"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "payments-api", "port": {"number": 9090}}
    for kind, name, ns in [("ingress", "mobile-payments", "payments"), ("ingress", "mobile-onboarding", "onboarding"),
                           ("networkpolicy", "mobile-payments.from-gateway", "payments"),
                           ("networkpolicy", "mobile-onboarding.from-gateway", "onboarding")]:
        obj = cluster.get(kind, name, ns)
        assert obj is not None, f"{kind} {ns}/{name} missing"
        kubernetes_validate.validate({k: v for k, v in obj.items() if k != "status"}, "1.33", strict=True)
    allow = cluster.get("networkpolicy", "mobile-payments.from-gateway", "payments")
    assert allow["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9090}]
    assert allow["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"}

    # The capability appears: the route turns Ready with nobody touching the channel.
    cluster.apply(namespaces("cards"))
    cluster.apply(capability("cards", "card-service"))
    wait_for(lambda: is_ready(cluster.get("channel", "mobile")), timeout=60, what="channel mobile Ready")
    assert cluster.get("ingress", "mobile-cards", "cards") is not None

    exposed = wait_for(lambda: (cluster.get("businesscapability", "payments-api", "payments") or {})
                       .get("status", {}).get("exposedOn"), timeout=30, what="payments-api status.exposedOn")
    assert {(e["channel"], e["route"]) for e in exposed} == {("mobile", "payments"), ("web", "payments")}

    # Deleting the channel removes its routes and allowances, and nothing else.
    cluster.kubectl("delete", "channel", "mobile", "--wait=false")
    wait_for(lambda: not names(cluster, "ingress", "payments") & {"mobile-payments"}
             and not names(cluster, "ingress", "cards") and not names(cluster, "ingress", "onboarding"),
             timeout=60, what="the mobile channel's Ingresses to be deleted")
    wait_for(lambda: not {n for n in names(cluster, "networkpolicy", "payments") if n.startswith("mobile-")},
             timeout=60, what="the mobile channel's NetworkPolicies to be deleted")
    assert cluster.get("ingress", "web-payments", "payments") is not None
    assert cluster.get("networkpolicy", "web-payments.from-gateway", "payments") is not None
    assert cluster.get("service", "payments-api", "payments") is not None
    assert {"payments-api-default-deny", "payments-api-allow"} <= names(cluster, "networkpolicy", "payments")


@pytest.fixture
def gateway_api(cluster: Cluster) -> Cluster:
    """The cluster with the HTTPRoute CRD installed before the operator starts (request it before `operator`)."""
    cluster.kubectl("apply", "--server-side", "-f", str(HERE / "manifests" / "gateway-api-httproute-crd.yaml"))
    wait_for(lambda: cluster.kubectl("get", "httproutes", "-A", check=False).returncode == 0, timeout=30,
             what="the HTTPRoute CRD to be served")
    return cluster


def test_a_ten_percent_canary_shows_in_the_http_route_weights_and_in_status(gateway_api: Cluster,
                                                                             operator: Any) -> None:
    cluster = gateway_api
    cluster.apply(namespaces("payments", "gateway-system"))
    cluster.apply([capability("payments", "payments-api"), capability("payments", "payments-api-next", port=8081)])
    canary = {"capability": {"namespace": "payments", "name": "payments-api-next"}, "weight": 10,
              "headerMatch": {"name": "X-Customer-Segment", "value": "beta"}}
    cluster.apply(channel("web", [route("payments", "payments", "payments-api", "/payments", canary=canary)],
                          type_="web", backend={"kind": "gateway",
                                                "gatewayRef": {"name": "public", "namespace": "gateway-system"}}))
    st = wait_for(lambda: route_is(cluster, "web", "payments", "True", "RouteReady"), timeout=60,
                  what="route payments Ready")
    assert st["canaryWeight"] == 10
    http_route = cluster.get("httproute", "web-payments", "payments")
    weighted = http_route["spec"]["rules"][-1]["backendRefs"]
    assert [(b["name"], b["port"], b["weight"]) for b in weighted] == [("payments-api", 8080, 90),
                                                                      ("payments-api-next", 8081, 10)]
    segment = http_route["spec"]["rules"][0]
    assert segment["matches"][0]["headers"] == [{"type": "Exact", "name": "X-Customer-Segment", "value": "beta"}]
    assert [b["name"] for b in segment["backendRefs"]] == ["payments-api-next"]

    if (SCHEMAS / "node_modules" / "@kubernetes-models" / "gateway-api").is_dir() and shutil.which("node"):
        clean = {k: http_route[k] for k in ("apiVersion", "kind", "spec")}
        clean["metadata"] = {"name": http_route["metadata"]["name"], "namespace": "payments"}
        cp = subprocess.run(["node", str(SCHEMAS / "validate-gateway-api.mjs")], input=json.dumps([clean]),
                            capture_output=True, text=True, timeout=60, check=True)
        assert json.loads(cp.stdout) == [[]]


def test_a_restricted_capability_is_refused_on_a_public_channel_and_a_bad_edit_keeps_the_last_good_route(
        cluster: Cluster, operator: Any) -> None:
    cluster.apply(namespaces("kyc", "payments", "ingress-nginx"))
    cluster.apply([capability("kyc", "kyc-check", classification="restricted"),
                   capability("payments", "payments-api")])
    cluster.apply(channel("mobile", [route("kyc", "kyc", "kyc-check", "/kyc"),
                                     route("payments", "payments", "payments-api", "/payments")]))
    st = wait_for(lambda: route_is(cluster, "mobile", "kyc", "False", "ExposureRefused"), timeout=60,
                  what="route kyc refused")
    assert "restricted" in st["message"]
    wait_for(lambda: route_is(cluster, "mobile", "payments", "True", "RouteReady"), timeout=60,
             what="route payments Ready")
    assert not {n for n in names(cluster, "ingress", "kyc") if n.startswith("mobile-")}
    assert not {n for n in names(cluster, "networkpolicy", "kyc") if n.startswith("mobile-")}
    assert condition(cluster.get("channel", "mobile"), "Ready")["reason"] == "ExposureRefused"

    # While the operator is down, point the good route at a capability that does not exist: the
    # restarted operator recovers the route's last good rendering from the live objects and keeps it.
    operator.stop()
    cluster.apply(channel("mobile", [route("kyc", "kyc", "kyc-check", "/kyc"),
                                     route("payments", "payments", "payments-api-typo", "/payments")]))
    operator.start()
    st = wait_for(lambda: route_is(cluster, "mobile", "payments", "False", "CapabilityMissing"), timeout=60,
                  what="route payments not Ready after the bad edit")
    assert "last good rendering" in st["message"]
    ingress = cluster.get("ingress", "mobile-payments", "payments")
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "payments-api"
    assert "https://mobile.bank.example/payments" in cluster.get("channel", "mobile")["status"]["urls"]


def test_a_gated_canary_without_metrics_gets_no_traffic_and_no_team_can_write_its_weight(
        gateway_api: Cluster, operator: Any) -> None:
    cluster = gateway_api
    cluster.apply(namespaces("payments", "gateway-system"))
    nxt = capability("payments", "payments-api-next", port=8081)
    nxt["spec"]["slo"] = {"availability": {"objectivePercent": "99.9"}}
    cluster.apply([capability("payments", "payments-api"), nxt])
    gate = {"slo": "availability", "stepPercent": 10, "maxWeight": 50, "intervalSeconds": 60}
    canary = {"capability": {"namespace": "payments", "name": "payments-api-next"}, "gate": gate}
    gated = channel("gated", [route("payments", "payments", "payments-api", "/payments", canary=canary)],
                    type_="web", backend={"kind": "gateway", "gatewayRef": {"name": "public", "namespace": "gateway-system"}})
    cluster.apply(gated)
    st = wait_for(lambda: (s := route_status(cluster, "gated", "payments")).get("canaryGate") and s,
                  timeout=60, what="the gated canary's state in the route status")
    # This operator has no FINPLANE_PROMETHEUS_URL: no verdict, so the canary never leaves 0.
    assert st["canaryWeight"] == 0 and st["canaryGate"]["state"] == "MetricsUnavailable"
    weights = wait_for(lambda: (cluster.get("httproute", "gated-payments", "payments") or {}).get("spec"),
                       timeout=60, what="the gated HTTPRoute")["rules"][-1]["backendRefs"]
    assert [(b["name"], b["weight"]) for b in weights] == [("payments-api", 100), ("payments-api-next", 0)]

    # As the team: a weight next to the gate is refused at the door (CEL), a status in the manifest is dropped.
    forced = json.loads(json.dumps(gated))
    forced["spec"]["routes"][0]["canary"]["weight"] = 100
    refused = cluster.kubectl("apply", "--server-side", "--field-manager=test", "-f", "-", input=json.dumps(forced),
                              check=False)
    assert refused.returncode != 0 and "exclusive" in refused.stderr
    with_status = {**gated, "status": {"routes": [{"name": "payments", "ready": "True", "canaryWeight": 100}]}}
    cluster.apply(with_status)
    assert route_status(cluster, "gated", "payments")["canaryWeight"] == 0
    weights = cluster.get("httproute", "gated-payments", "payments")["spec"]["rules"][-1]["backendRefs"]
    assert weights[-1]["weight"] == 0
