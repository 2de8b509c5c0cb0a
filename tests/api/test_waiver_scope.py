"""Waivers, attacked as a team: it cannot waive another team's objects, every namespace or a cluster-scoped
kind (admins can); no waiver outlives the maximum duration (year 9999 refused); a team has a capped number
of requests pending; requests are one small ConfigMap each in the API's namespace, so the policy gains no
annotation however many are asked for, and a look-alike ConfigMap a team writes into its own namespace is
no request; the affected team sees pending waivers over its objects; an admin rejects, the requester (or
its team) withdraws, and neither leaves anything to approve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from platform_api.settings import ApiSettings

API = "finplane.io/v1alpha1"
PAT = {"role": "team", "team": "payments", "subject": "pat"}
PIA = {"role": "team", "team": "payments", "subject": "pia"}
CARL = {"role": "team", "team": "cards", "subject": "carl"}
ADA = {"role": "admin", "subject": "ada"}
BOB = {"role": "admin", "subject": "bob"}
NS = "finplane-system"


def _in(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat(timespec="seconds").replace("+00:00", "Z")


def waiver(namespace: str | None = "payments", kind: str = "BusinessCapability", name: str | None = "pay",
           **change: object) -> dict:  # type: ignore[type-arg]
    ref = {"kind": kind} | ({"namespace": namespace} if namespace else {}) | ({"name": name} if name else {})
    return {"policy": "baseline", "rule": "no-latest-tag", "resources": [ref],
            "justification": "vendor image only has latest", "risk": "low", "ticket": "RISK-7",
            "expiresAt": _in(30)} | change


@pytest.fixture
def settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(dev_mode=True, dev_key_dir=tmp_path / "keys", audit_log=tmp_path / "audit.jsonl",
                       evidence_dir=tmp_path / "evidence", rate_limit_per_second=1000, rate_limit_burst=1000,
                       waiver_max_pending_per_team=3, waiver_namespace=NS)


@pytest.fixture
def policy(writer):  # type: ignore[no-untyped-def]
    return writer.seed({"apiVersion": API, "kind": "CompliancePolicy", "metadata": {"name": "baseline"},
                        "spec": {"mode": "audit", "rules": [{"id": "no-latest-tag"}]}})


def _post(client, as_, who, body):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/compliance/waivers", headers=as_(**who), json=body)


def _requests(writer):  # type: ignore[no-untyped-def]
    return [o for k, o in writer.objects.items() if k[1] == "ConfigMap"]


@pytest.mark.parametrize(("body", "field"), [
    (waiver(namespace="cards"), "resources[0].namespace"),          # another team's object
    (waiver(namespace=None, name=None), "resources[0].namespace"),  # every capability of the cluster
    (waiver(namespace=None, kind="Channel", name="web"), "resources[0].kind"),  # a cluster-scoped kind
])
def test_a_team_cannot_waive_objects_outside_its_own_namespace(policy, client, as_, writer, body, field):
    resp = _post(client, as_, PAT, body)
    assert resp.status_code == 422, resp.text
    assert (resp.json()["reason"], resp.json()["errors"][0]["field"]) == ("OutOfScope", field)
    assert _requests(writer) == []


def test_an_admin_may_waive_kind_wide_and_the_affected_teams_see_it_pending(policy, client, as_):
    resp = _post(client, as_, ADA, waiver(namespace=None, name=None))
    assert resp.status_code == 201, resp.text
    for team in (PAT, CARL):
        listed = client.get("/api/v1/compliance/waivers?state=pending", headers=as_(**team)).json()["items"]
        assert [w["id"] for w in listed] == [resp.json()["id"]]


def test_a_pending_waiver_over_a_teams_object_is_visible_to_that_team_only(policy, client, as_):
    wid = _post(client, as_, ADA, waiver(namespace="payments")).json()["id"]
    assert [w["id"] for w in client.get("/api/v1/compliance/waivers", headers=as_(**PAT)).json()["items"]] == [wid]
    assert client.get("/api/v1/compliance/waivers", headers=as_(**CARL)).json()["items"] == []


# Fixed ids: the relative times differ between xdist workers, which must collect the same test ids.
@pytest.mark.parametrize("expires", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59-23:59", _in(91), _in(-1),
                                     "0001-01-01T00:00:00+14:00"],
                         ids=["year-9999", "year-9999-offset", "beyond-max", "past", "year-1-offset"])
def test_a_waiver_cannot_outlive_the_maximum_duration(policy, client, as_, writer, expires):
    for who in (PAT, ADA):
        resp = _post(client, as_, who, waiver(expiresAt=expires))
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["field"].removeprefix("body.") == "expiresAt"  # schema or service check
    assert _requests(writer) == []


def test_a_team_has_a_capped_number_of_pending_requests_and_others_are_not_blocked(policy, client, as_):
    for _ in range(3):
        assert _post(client, as_, PAT, waiver()).status_code == 201
    over = _post(client, as_, PIA, waiver())  # the cap is the team's, whichever member asks
    assert (over.status_code, over.json()["reason"]) == (409, "TooManyPending")
    assert _post(client, as_, CARL, waiver(namespace="cards")).status_code == 201


def test_requests_are_small_objects_of_their_own_and_the_policy_gains_no_annotation(policy, client, as_, writer):
    big = waiver(justification="x" * 2048, resources=[
        {"kind": "BusinessCapability", "namespace": "payments", "name": f"c{i}-" + "a" * 200} for i in range(32)])
    for who in (PAT, PIA, CARL):
        body = big if who is not CARL else big | {"resources": [{"kind": "BusinessCapability", "namespace": "cards"}]}
        assert _post(client, as_, who, body).status_code == 201
    stored = writer.objects[(API, "CompliancePolicy", "", "baseline")]
    assert stored["metadata"].get("annotations") in (None, {})
    assert stored["metadata"]["resourceVersion"] == policy["metadata"]["resourceVersion"]  # not written at all
    cms = _requests(writer)
    assert len(cms) == 3 and {c["metadata"]["namespace"] for c in cms} == {NS}
    assert max(len(c["data"]["request.json"]) for c in cms) < 16 * 1024


def test_a_look_alike_request_a_team_writes_into_its_own_namespace_is_no_request(policy, client, as_, writer):
    forged = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "waiver-w-00000000", "namespace": "payments", "labels": {"finplane.io/waiver-request": "true"}},
        "data": {"request.json": '{"policy": "baseline", "rule": "no-latest-tag", "requestedBy": "carl", '
                                 '"resources": [{"kind": "BusinessCapability"}], "justification": "forged forged",'
                                 '"risk": "low", "ticket": "T", "expiresAt": "2030-01-01T00:00:00Z"}'}}
    writer.seed(forged)
    assert client.get("/api/v1/compliance/waivers", headers=as_(**ADA)).json()["items"] == []
    resp = client.post("/api/v1/compliance/policies/baseline/waivers/w-00000000/approve", headers=as_(**BOB))
    assert resp.status_code == 404


def test_an_admin_rejects_a_request_and_nothing_is_left_to_approve(policy, client, as_, writer):
    wid = _post(client, as_, PAT, waiver()).json()["id"]
    resp = client.post(f"/api/v1/compliance/policies/baseline/waivers/{wid}/reject", headers=as_(**ADA))
    assert (resp.status_code, resp.json()["state"]) == (200, "rejected")
    assert client.post(f"/api/v1/compliance/policies/baseline/waivers/{wid}/approve",
                       headers=as_(**BOB)).status_code == 404
    assert _requests(writer) == []
    assert "waivers" not in writer.objects[(API, "CompliancePolicy", "", "baseline")]["spec"]


def test_only_the_requesting_team_withdraws_its_request(policy, client, as_, writer):
    wid = _post(client, as_, PAT, waiver()).json()["id"]
    assert client.delete(f"/api/v1/compliance/policies/baseline/waivers/{wid}", headers=as_(**CARL)).status_code == 404
    assert client.delete(f"/api/v1/compliance/policies/baseline/waivers/{wid}", headers=as_(**ADA)).status_code == 403
    resp = client.delete(f"/api/v1/compliance/policies/baseline/waivers/{wid}", headers=as_(**PIA))
    assert (resp.status_code, resp.json()["state"]) == (200, "withdrawn")
    assert _requests(writer) == []


def test_an_approved_request_leaves_no_pending_object_behind(policy, client, as_, writer):
    wid = _post(client, as_, PAT, waiver()).json()["id"]
    resp = client.post(f"/api/v1/compliance/policies/baseline/waivers/{wid}/approve", headers=as_(**ADA))
    assert (resp.status_code, resp.json()["state"]) == (200, "approved")
    assert _requests(writer) == []
    again = client.post(f"/api/v1/compliance/policies/baseline/waivers/{wid}/approve", headers=as_(**BOB))
    assert again.status_code == 404
