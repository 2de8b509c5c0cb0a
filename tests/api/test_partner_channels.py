"""Channels as a partner sees them: only channels with a route to a capability one of its approved
sandboxes may call, only those routes, and nothing internal (no canary with its segment header value, no
backend, TLS secret or gateway namespace, no conditions); a channel it may not use is as absent as a
missing one. Teams keep the full view."""

from __future__ import annotations

import pytest

API = "finplane.io/v1alpha1"
ACME = {"role": "partner", "partner": "acme", "subject": "acme-bot"}
GLOBEX = {"role": "partner", "partner": "globex", "subject": "globex-bot"}


def _channel(name: str, routes: list[dict]) -> dict:  # type: ignore[type-arg]
    return {"apiVersion": API, "kind": "Channel", "metadata": {"name": name},
            "spec": {"type": "open-api", "hostnames": [f"{name}.bank.example"], "tls": {"secretName": "tls-secret"},
                     "gatewayNamespace": "ingress-internal", "authentication": {"mode": "jwt"}, "routes": routes},
            "status": {"conditions": [{"type": "Ready", "status": "False", "message": "route ledger: not ready"}],
                       "routes": [{"name": r["name"], "ready": "True", "url": f"https://{name}.bank.example/{r['name']}",
                                   "canaryWeight": 10} for r in routes]}}


@pytest.fixture
def channels(writer, make_sandbox_spec):  # type: ignore[no-untyped-def]
    kyc = {"name": "kyc", "capability": {"namespace": "risk", "name": "kyc"}, "pathPrefix": "/kyc",
           "canary": {"capability": {"namespace": "risk", "name": "kyc-v2"},
                      "headerMatch": {"name": "X-Segment", "value": "vip-secret-segment"}}}
    ledger = {"name": "ledger", "capability": {"namespace": "core", "name": "ledger"}, "pathPrefix": "/ledger"}
    writer.seed(_channel("partners", [kyc, ledger]))
    writer.seed(_channel("internal", [ledger]))
    granted = make_sandbox_spec("acme") | {"allowedCapabilities": [{"namespace": "risk", "name": "kyc"}]}
    writer.seed({"apiVersion": API, "kind": "TenantSandbox", "metadata": {
        "name": "acme--dev", "annotations": {"finplane.io/approval": "approved"}}, "spec": granted})
    # A pending request grants nothing yet.
    pending = make_sandbox_spec("globex") | {"allowedCapabilities": [{"namespace": "risk", "name": "kyc"}]}
    writer.seed({"apiVersion": API, "kind": "TenantSandbox", "metadata": {
        "name": "globex--dev", "annotations": {"finplane.io/approval": "pending"}}, "spec": pending})


def test_a_partner_lists_only_the_routes_its_sandbox_may_call_without_internal_details(channels, client, as_):
    resp = client.get("/api/v1/channels", headers=as_(**ACME))
    (only,) = resp.json()["items"]
    assert only["name"] == "partners"
    assert [r["name"] for r in only["spec"]["routes"]] == ["kyc"]
    assert [r["name"] for r in only["status"]["routes"]] == ["kyc"]
    assert only["status"]["urls"] == ["https://partners.bank.example/kyc"]
    for hidden in ("vip-secret-segment", "kyc-v2", "ledger", "tls-secret", "ingress-internal", "canary"):
        assert hidden not in resp.text


def test_a_channel_without_a_route_for_the_partner_is_as_absent_as_a_missing_one(channels, client, as_):
    hidden = client.get("/api/v1/channels/internal", headers=as_(**ACME))
    missing = client.get("/api/v1/channels/no-such", headers=as_(**ACME))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace("internal", "X") == missing.json()["detail"].replace("no-such", "X")


def test_a_pending_sandbox_opens_no_channel_to_its_partner(channels, client, as_):
    assert client.get("/api/v1/channels", headers=as_(**GLOBEX)).json()["items"] == []
    assert client.get("/api/v1/channels/partners", headers=as_(**GLOBEX)).status_code == 404


def test_a_team_still_sees_every_channel_in_full(channels, client, as_):
    items = client.get("/api/v1/channels", headers=as_("team", team="payments")).json()["items"]
    assert sorted(i["name"] for i in items) == ["internal", "partners"]
    full = next(i for i in items if i["name"] == "partners")
    assert full["spec"]["routes"][0]["canary"]["headerMatch"]["value"] == "vip-secret-segment"
