"""The open platform through the API, as a partner and as an auditor.

Covers: a partner sees no channel that is not partner-facing even when a route of it reaches a capability its
sandbox may call; a partner cannot raise its own API quota (spec.quota's call limits are refused on its request,
it cannot amend its sandbox or write a channel's rate limits); the DORA register of information (auditor and
admin only, JSON and CSV) lists the example partner with its contract dates and what it reaches, an expired
sandbox with its end date, and no credential; a bad date is a 422, not a 500.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.api.conftest import capability

API = "finplane.io/v1alpha1"
ACME = {"role": "partner", "partner": "acme", "subject": "acme-bot"}
ADA = {"role": "admin", "subject": "ada"}
AUDREY = {"role": "auditor", "subject": "audrey"}
PAT = {"role": "team", "team": "payments", "subject": "pat"}
Obj = dict[str, Any]
KYC_ROUTE = {"name": "kyc", "capability": {"namespace": "risk", "name": "kyc"}, "pathPrefix": "/kyc"}


def _channel(name: str, type_: str) -> Obj:
    return {"apiVersion": API, "kind": "Channel", "metadata": {"name": name},
            "spec": {"type": type_, "hostnames": [f"{name}.bank.example"], "routes": [KYC_ROUTE]},
            "status": {"routes": [{"name": "kyc", "ready": "True", "url": f"https://{name}.bank.example/kyc"}]}}


def _sandbox(name: str, partner: str, *, created: str, status: Obj, **spec: Any) -> Obj:
    return {"apiVersion": API, "kind": "TenantSandbox",
            "metadata": {"name": name, "creationTimestamp": created, "annotations": {"finplane.io/approval": "approved"}},
            "spec": {"partner": {"name": partner, "organisation": f"{partner.title()} Payments Ltd",
                                 "contact": f"ops@{partner}.example"}, "tier": "small", "ttlSeconds": 30 * 86400,
                     "allowedCapabilities": [{"namespace": "risk", "name": "kyc"}],
                     "members": [{"kind": "Group", "name": f"partner:{partner}:developers"}], **spec},
            "status": status}


@pytest.fixture
def estate(writer: Any) -> None:
    writer.seed(capability("kyc", "risk", domain="onboarding", classification="confidential") |
                {"metadata": {"name": "kyc", "namespace": "risk", "labels": {"finplane.io/team": "risk"}}})
    writer.seed(_channel("partners", "open-api"))
    writer.seed(_channel("mobile", "mobile"))
    writer.seed(_sandbox("acme--dev", "acme", created="2026-01-10T09:00:00Z", registryRef="partner-registry",
                         status={"phase": "Active", "expiresAt": "2026-02-09T09:00:00Z",
                                 "credentialHash": "sha256:" + "a" * 64, "credentialFingerprint": "aaaaaaaaaaaa"}))
    writer.seed(_sandbox("globex--trial", "globex", created="2025-11-01T00:00:00Z",
                         status={"phase": "Expired", "expiresAt": "2025-12-01T00:00:00Z",
                                 "teardown": {"time": "2025-12-01T00:00:01Z", "reason": "Expired"}}))
    writer.seed(_sandbox("initech--later", "initech", created="2026-06-01T00:00:00Z", status={"phase": "Active"}))


def test_a_partner_sees_only_partner_facing_channels(estate: None, client: Any, as_: Any) -> None:
    items = client.get("/api/v1/channels", headers=as_(**ACME)).json()["items"]
    assert [i["name"] for i in items] == ["partners"]
    assert client.get("/api/v1/channels/mobile", headers=as_(**ACME)).status_code == 404
    assert sorted(i["name"] for i in client.get("/api/v1/channels", headers=as_(**PAT)).json()["items"]) == \
        ["mobile", "partners"]


@pytest.mark.parametrize("quota", [{"apiRequestsPerSecond": 1000}, {"apiRequestsPerDay": 10 ** 8}],
                         ids=["per-second", "per-day"])
def test_a_partner_cannot_raise_its_own_api_quota_on_its_request(client: Any, as_: Any, writer: Any,
                                                                 make_sandbox_spec: Any, quota: Obj) -> None:
    resp = client.post("/api/v1/sandboxes", headers=as_(**ACME),
                       json={"name": "acme--dev", "spec": make_sandbox_spec("acme") | {"quota": quota},
                             "termsAccepted": True})
    assert resp.status_code == 422, resp.text
    assert [e["field"] for e in resp.json()["errors"]] == ["spec.quota"]
    assert writer.writes == []


def test_a_partner_cannot_amend_its_sandbox_nor_change_a_channels_limits(estate: None, client: Any, as_: Any,
                                                                        writer: Any, make_sandbox_spec: Any) -> None:
    raised = make_sandbox_spec("acme") | {"tier": "large", "quota": {"apiRequestsPerDay": 10 ** 8}}
    assert client.put("/api/v1/sandboxes/acme--dev", headers=as_(**ACME), json={"spec": raised}).status_code == 403
    spec = _channel("partners", "open-api")["spec"] | {"routes": [KYC_ROUTE | {"rateLimit": {"requestsPerSecond": 99999}}]}
    assert client.put("/api/v1/channels/partners", headers=as_(**ACME), json={"spec": spec}).status_code == 403
    assert writer.writes == []


def test_the_register_lists_the_partner_with_its_dates_and_reach_and_the_expired_one_with_its_end(
        estate: None, client: Any, as_: Any) -> None:
    resp = client.get("/api/v1/register", params={"asOf": "2026-01-31"}, headers=as_(**AUDREY))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["asOf"] == "2026-01-31T23:59:59Z"
    rows = {r["arrangementId"]: r for r in body["arrangements"]}
    assert set(rows) == {"acme--dev", "globex--trial"}  # initech's starts after the date
    acme = rows["acme--dev"]
    assert (acme["partner"], acme["organisation"], acme["contractStart"], acme["contractEnd"], acme["status"]) == \
        ("acme", "Acme Payments Ltd", "2026-01-10T09:00:00Z", "2026-02-09T09:00:00Z", "active")
    assert (acme["capabilities"], acme["functions"], acme["dataClassifications"]) == \
        (["risk/kyc"], ["onboarding"], ["confidential"])
    assert acme["channelRoutes"] == ["partners/kyc"]  # the mobile channel is no partner arrangement
    assert acme["registries"] == ["partner-registry"]
    assert acme["roles"] == ["partner-api-client", "sandbox-member:Group:partner:acme:developers"]
    assert (rows["globex--trial"]["status"], rows["globex--trial"]["contractEnd"]) == ("ended", "2025-12-01T00:00:00Z")
    assert "sha256:" not in resp.text and "aaaaaaaaaaaa" not in resp.text


def test_the_register_as_csv_has_one_line_per_arrangement(estate: None, client: Any, as_: Any) -> None:
    resp = client.get("/api/v1/register", params={"asOf": "2026-01-31", "format": "csv"}, headers=as_(**ADA))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [(r["arrangementId"], r["contractEnd"], r["status"]) for r in rows] == [
        ("acme--dev", "2026-02-09T09:00:00Z", "active"), ("globex--trial", "2025-12-01T00:00:00Z", "ended")]


@pytest.mark.parametrize("who", [ACME, PAT], ids=["partner", "team"])
def test_only_auditors_and_admins_read_the_register(estate: None, client: Any, as_: Any, who: Obj) -> None:
    assert client.get("/api/v1/register", params={"asOf": "2026-01-31"}, headers=as_(**who)).status_code == 403


def test_a_date_that_does_not_parse_is_a_422_naming_it(estate: None, client: Any, as_: Any) -> None:
    resp = client.get("/api/v1/register", params={"asOf": "2026-13-45"}, headers=as_(**AUDREY))
    assert resp.status_code == 422
    assert "2026-13-45" in resp.text
