"""Compliance routes: results come from PolicyReports and a team sees only its own; waivers are
requested by a team and approved by a different admin (four-eyes) into the policy's exceptions;
preview and evidence answer a clear 501 problem until the compliance engine offers them."""

from __future__ import annotations

import pytest

API = "finplane.io/v1alpha1"
PAT = {"role": "team", "team": "payments", "subject": "pat"}
WAIVER = {"policy": "baseline", "rule": "no-latest-tag",
          "resources": [{"kind": "BusinessCapability", "namespace": "payments", "name": "pay"}],
          "justification": "vendor image only has latest", "risk": "low", "ticket": "RISK-7",
          "expiresAt": "2099-01-01T00:00:00Z"}


@pytest.fixture
def reports(writer):  # type: ignore[no-untyped-def]
    writer.seed({"apiVersion": API, "kind": "CompliancePolicy", "metadata": {"name": "baseline"},
                 "spec": {"mode": "audit"}})
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
    exceptions = writer.objects[(API, "CompliancePolicy", "", "baseline")]["spec"]["exceptions"]
    assert [(e["requestedBy"], e["approver"], e["rule"]) for e in exceptions] == [("pat", "ada", "no-latest-tag")]


def test_a_waiver_that_has_already_expired_is_refused(reports, client, as_):
    resp = client.post("/api/v1/compliance/waivers", headers=as_(**PAT), json={**WAIVER, "expiresAt": "2001-01-01T00:00:00Z"})
    assert resp.status_code == 422


def test_a_waiver_for_a_missing_policy_is_404(client, as_):
    assert client.post("/api/v1/compliance/waivers", headers=as_(**PAT),
                       json={**WAIVER, "policy": "nope"}).status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/compliance/evidence/export", "/api/v1/compliance/evidence/verify",
                                  "/api/v1/compliance/policies/baseline/preview"])
def test_features_awaiting_the_compliance_engine_answer_501_with_a_problem(reports, client, as_, path):
    resp = client.get(path, headers=as_(role="auditor", subject="audrey"))
    assert resp.status_code == 501
    assert resp.json()["reason"] == "NotImplemented"
