"""Compliance routes: results come from PolicyReports and a team sees only its own; waivers are
requested by a team and approved by a different admin (four-eyes) into the policy's
``spec.waivers`` in the CRD's own shape (the CompliancePolicy model accepts the written spec and
the engine applies the waiver); requests the CRD could not hold (an unknown rule, a too-short
justification, an expired date) are refused with 422. Preview and evidence: test_evidence_routes.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finplane.models.compliance_policy import CompliancePolicySpec
from finplane.policy.selection import waiver_for
from finplane.policy.subject import Subject
from platform_api.settings import ApiSettings

API = "finplane.io/v1alpha1"
PAT = {"role": "team", "team": "payments", "subject": "pat"}
WAIVER = {"policy": "baseline", "rule": "no-latest-tag",
          "resources": [{"kind": "BusinessCapability", "namespace": "payments", "name": "pay"}],
          "justification": "vendor image only has latest", "risk": "low", "ticket": "RISK-7",
          "expiresAt": (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds")}


@pytest.fixture
def settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(dev_mode=True, dev_key_dir=tmp_path / "keys", audit_log=tmp_path / "audit.jsonl",
                       evidence_dir=tmp_path / "evidence", rate_limit_per_second=1000, rate_limit_burst=1000)


@pytest.fixture
def reports(writer):  # type: ignore[no-untyped-def]
    writer.seed({"apiVersion": API, "kind": "CompliancePolicy", "metadata": {"name": "baseline"},
                 "spec": {"mode": "audit", "rules": [{"id": "no-latest-tag"}]}})
    for ns, result in (("payments", "fail"), ("cards", "pass")):
        writer.seed({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
                     "metadata": {"name": "finplane", "namespace": ns},
                     "results": [{"policy": "baseline", "rule": "no-latest-tag", "result": result,
                                  "severity": "high", "resources": [{"kind": "BusinessCapability", "name": "x"}],
                                  "properties": {"team": ns}}]})


def test_a_team_sees_only_results_about_its_own_objects(reports, client, as_):
    items = client.get("/api/v1/compliance/results", headers=as_(**PAT)).json()["items"]
    assert [(i["team"], i["result"]) for i in items] == [("payments", "fail")]
    assert client.get("/api/v1/compliance/results?team=cards", headers=as_(**PAT)).json()["items"] == []


def test_an_auditor_filters_results_by_result_and_severity(reports, client, as_):
    h = as_(role="auditor", subject="audrey")
    assert len(client.get("/api/v1/compliance/results", headers=h).json()["items"]) == 2
    assert [i["team"] for i in client.get("/api/v1/compliance/results?result=pass", headers=h).json()["items"]] \
        == ["cards"]
    assert client.get("/api/v1/compliance/results?severity=low", headers=h).json()["items"] == []


def test_a_waiver_needs_an_admin_other_than_its_requester(reports, client, as_, writer):
    ada = {"role": "admin", "subject": "ada"}
    mine = client.post("/api/v1/compliance/waivers", headers=as_(**ada), json=WAIVER).json()
    assert client.post(f"/api/v1/compliance/policies/baseline/waivers/{mine['id']}/approve",
                       headers=as_(**ada)).json()["reason"] == "SelfApproval"
    theirs = client.post("/api/v1/compliance/waivers", headers=as_(**PAT), json=WAIVER)
    assert theirs.status_code == 201
    assert theirs.json()["state"] == "pending"
    approved = client.post(f"/api/v1/compliance/policies/baseline/waivers/{theirs.json()['id']}/approve",
                           headers=as_(**ada))
    assert approved.status_code == 200
    assert approved.json()["state"] == "approved"
    waivers = writer.objects[(API, "CompliancePolicy", "", "baseline")]["spec"]["waivers"]
    assert [(w["requestedBy"], w["approvedBy"], w["ruleId"]) for w in waivers] == [("pat", "ada", "no-latest-tag")]


def test_an_approved_waiver_is_one_the_policy_model_accepts_and_the_engine_applies(reports, client, as_, writer):
    wid = client.post("/api/v1/compliance/waivers", headers=as_(**PAT), json=WAIVER).json()["id"]
    client.post(f"/api/v1/compliance/policies/baseline/waivers/{wid}/approve", headers=as_(role="admin", subject="ada"))
    spec = CompliancePolicySpec.model_validate(writer.objects[(API, "CompliancePolicy", "", "baseline")]["spec"])
    (waiver,) = spec.waivers
    assert (waiver.name, waiver.risk_rating, waiver.ticket) == (wid, "low", "RISK-7")
    pay = Subject(kind="BusinessCapability", body={"metadata": {"namespace": "payments", "name": "pay"}})
    other = Subject(kind="BusinessCapability", body={"metadata": {"namespace": "payments", "name": "other"}})
    now = datetime.now(UTC)
    assert waiver_for(spec.waivers, "no-latest-tag", pay, now=now) is waiver
    assert waiver_for(spec.waivers, "no-latest-tag", other, now=now) is None
    listed = client.get("/api/v1/compliance/waivers?state=approved", headers=as_(**PAT)).json()["items"]
    assert [(w["id"], w["approver"]) for w in listed] == [(wid, "ada")]


@pytest.mark.parametrize("change", [{"rule": "no-such-rule"}, {"justification": "short"},
                                    {"resources": [{"kind": "Secret", "name": "x"}]}, {"risk": "none"}])
def test_a_waiver_the_policy_could_not_hold_is_refused_at_request_time(reports, client, as_, change):
    assert client.post("/api/v1/compliance/waivers", headers=as_(**PAT), json={**WAIVER, **change}).status_code == 422


def test_a_waiver_that_has_already_expired_is_refused(reports, client, as_):
    resp = client.post("/api/v1/compliance/waivers", headers=as_(**PAT), json={**WAIVER, "expiresAt": "2001-01-01T00:00:00Z"})
    assert resp.status_code == 422


def test_a_waiver_for_a_missing_policy_is_404(client, as_):
    assert client.post("/api/v1/compliance/waivers", headers=as_(**PAT),
                       json={**WAIVER, "policy": "nope"}).status_code == 404
