"""Approving a waiver while the operator writes the policy's status: the approval lands, nothing is lost.

Covers: the API's cached policy lags a status write by the operator (a newer resourceVersion): the
approval re-reads the policy and appends the waiver to the fresh copy, keeping the status and every
waiver already there; when the policy keeps changing under it (every attempt conflicts), the answer is
a 409 and the request stays pending, so it can be approved again.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from finplane.kube import errors as kerr

API = "finplane.io/v1alpha1"
PAT = {"role": "team", "team": "payments", "subject": "pat"}
ADA = {"role": "admin", "subject": "ada"}
WAIVER = {"policy": "baseline", "rule": "no-latest-tag",
          "resources": [{"kind": "BusinessCapability", "namespace": "payments", "name": "pay"}],
          "justification": "vendor image only has latest", "risk": "low", "ticket": "RISK-7",
          "expiresAt": (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds")}
KEY = (API, "CompliancePolicy", "", "baseline")


def _seed(writer):  # type: ignore[no-untyped-def]
    writer.seed({"apiVersion": API, "kind": "CompliancePolicy", "metadata": {"name": "baseline"},
                 "spec": {"mode": "audit", "rules": [{"id": "no-latest-tag"}]}})


def _operator_writes_status_unseen(writer):  # type: ignore[no-untyped-def]
    """A status write the API's watch has not delivered yet: the cluster moves, the cache does not."""
    obj = copy.deepcopy(writer.objects[KEY])
    obj["status"] = {"observedGeneration": 1, "summary": {"fail": 1}}
    obj["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1000)
    writer.objects[KEY] = obj


def test_an_approval_racing_a_status_write_lands_on_the_fresh_policy(client, as_, writer):
    _seed(writer)
    wid = client.post("/api/v1/compliance/waivers", headers=as_(**PAT), json=WAIVER).json()["id"]
    _operator_writes_status_unseen(writer)
    approved = client.post(f"/api/v1/compliance/policies/baseline/waivers/{wid}/approve", headers=as_(**ADA))
    assert approved.status_code == 200, approved.text
    live = writer.objects[KEY]
    assert [w["name"] for w in live["spec"]["waivers"]] == [wid]
    assert live["status"] == {"observedGeneration": 1, "summary": {"fail": 1}}


def test_a_policy_that_keeps_changing_gives_409_and_the_request_stays_pending(client, as_, writer, monkeypatch):
    _seed(writer)
    wid = client.post("/api/v1/compliance/waivers", headers=as_(**PAT), json=WAIVER).json()["id"]
    original = writer.replace
    attempts = []

    async def always_stale(body):  # type: ignore[no-untyped-def]
        if body["kind"] == "CompliancePolicy":
            attempts.append(body)
            raise kerr.Conflict("stale", status=409, reason="Conflict")
        return await original(body)

    monkeypatch.setattr(writer, "replace", always_stale)
    refused = client.post(f"/api/v1/compliance/policies/baseline/waivers/{wid}/approve", headers=as_(**ADA))
    assert refused.status_code == 409 and refused.json()["reason"] == "Conflict"
    assert len(attempts) == 3 and "waivers" not in writer.objects[KEY]["spec"]
    pending = client.get("/api/v1/compliance/waivers?state=pending", headers=as_(**ADA)).json()["items"]
    assert [w["id"] for w in pending] == [wid]
