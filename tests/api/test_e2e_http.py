"""End to end over HTTP: the real `finplane api` process against the embedded API server.

Covers: a team's capability created through the API lands in the cluster and the catalog;
objects written by others (kubectl) reach the API through its watch; a stale ETag gets 412 after
someone else changed the object; another team's capability is 404; the sandbox four-eyes flow and
the credential shown once (the operator's part played with kubectl); pagination stays stable
while objects are inserted; bad tokens get 401 with a reason; the audit log records changes.
"""

from __future__ import annotations

import base64
import json

import pytest

from finplane import SANDBOX_CREDENTIAL_SECRET
from tests.support import waiting

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-e2e")]

API = "finplane.io/v1alpha1"
PAT = {"role": "team", "team": "payments", "subject": "pat"}


def wait_for(predicate):  # type: ignore[no-untyped-def]
    """tests.support's wait at this file's pace: the API answers within 10 s, polled every 50 ms."""
    return waiting.wait_for(predicate, timeout=10.0, interval=0.05)


def spec(team: str = "payments", **extra):  # type: ignore[no-untyped-def]
    return {"owner": {"team": team, "contact": f"{team}@bank.example"}, "domain": "payments",
            "image": "registry.bank.example/pay:1.0", **extra}


@pytest.fixture(scope="module", autouse=True)
def namespaces(stack):  # type: ignore[no-untyped-def]
    for ns in ("payments", "cards", "bulk"):
        stack.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})


def test_a_capability_created_through_the_api_lands_in_the_cluster_and_the_catalog(stack):
    resp = stack.http.post("/api/v1/teams/payments/capabilities", headers=stack.headers(**PAT),
                           json={"name": "pay", "spec": spec()})
    assert resp.status_code == 201, resp.text
    stored = json.loads(stack.kubectl("get", "businesscapability", "pay", "-n", "payments", "-o", "json"))
    assert resp.headers["etag"] == f'"{stored["metadata"]["resourceVersion"]}"'
    names = [i["name"] for i in stack.http.get("/api/v1/catalog", headers=stack.headers(**PAT)).json()["items"]]
    assert "pay" in names


def test_objects_written_by_others_reach_the_api_through_its_watch(stack):
    stack.apply({"apiVersion": API, "kind": "BusinessCapability", "metadata": {"name": "kyc", "namespace": "payments"},
                 "spec": spec(domain="onboarding")})
    wait_for(lambda: stack.http.get("/api/v1/catalog?domain=onboarding",
                                    headers=stack.headers(**PAT)).json()["items"])
    stack.kubectl("delete", "businesscapability", "kyc", "-n", "payments")
    wait_for(lambda: not stack.http.get("/api/v1/catalog?domain=onboarding",
                                        headers=stack.headers(**PAT)).json()["items"])


def test_an_update_after_someone_else_changed_the_object_gets_412_with_the_current_version(stack):
    h = stack.headers(**PAT)
    created = stack.http.post("/api/v1/teams/payments/capabilities", headers=h, json={"name": "fx", "spec": spec()})
    etag = created.headers["etag"]
    stack.kubectl("annotate", "businesscapability", "fx", "-n", "payments", "someone=else")
    current = wait_for(lambda: (r := stack.http.get("/api/v1/teams/payments/capabilities/fx", headers=h))
                       .headers["etag"] != etag and r)
    resp = stack.http.put("/api/v1/teams/payments/capabilities/fx", headers={**h, "If-Match": etag},
                          json={"spec": spec(version="2")})
    assert resp.status_code == 412
    assert f'"{resp.json()["currentVersion"]}"' == current.headers["etag"]
    ok = stack.http.put("/api/v1/teams/payments/capabilities/fx", headers={**h, "If-Match": current.headers["etag"]},
                        json={"spec": spec(version="2")})
    assert ok.status_code == 200


def test_another_teams_capability_cannot_be_read_or_changed(stack):
    stack.http.post("/api/v1/teams/payments/capabilities", headers=stack.headers(**PAT),
                    json={"name": "secretive", "spec": spec()})
    carl = stack.headers(role="team", team="cards", subject="carl")
    assert stack.http.get("/api/v1/teams/payments/capabilities/secretive", headers=carl).status_code == 404
    assert stack.http.delete("/api/v1/teams/payments/capabilities/secretive", headers=carl).status_code == 404
    assert stack.kubectl("get", "businesscapability", "secretive", "-n", "payments", "-o", "name")


def test_a_sandbox_is_approved_by_a_second_person_and_its_credential_shown_once(stack):
    acme = stack.headers(role="partner", partner="acme", subject="acme-bot")
    body = {"name": "acme--e2e", "termsAccepted": True,
            "spec": {"partner": {"organisation": "Acme Ltd", "contact": "ops@acme.example"}, "ttlSeconds": 86400}}
    assert stack.http.post("/api/v1/sandboxes", headers=acme, json=body).status_code == 201
    assert stack.http.post("/api/v1/sandboxes/acme--e2e/approve", headers=acme).status_code == 403
    ada = stack.headers(role="admin", subject="ada")
    reviewed = stack.http.get("/api/v1/sandboxes/acme--e2e", headers=ada).headers["etag"]
    approved = stack.http.post("/api/v1/sandboxes/acme--e2e/approve", headers={**ada, "If-Match": reviewed})
    assert approved.json()["approval"] == "approved"
    ann = json.loads(stack.kubectl("get", "tenantsandbox", "acme--e2e", "-o", "json"))["metadata"]["annotations"]
    assert (ann["finplane.io/approval"], ann["finplane.io/requested-by"], ann["finplane.io/decided-by"]) == \
        ("approved", "acme-bot", "ada")
    # The operator's part: a namespace, the credential Secret and the status pointing at it.
    key = "fpk_" + "s3cr3t" * 4
    stack.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sbx-acme--e2e"}})
    stack.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": SANDBOX_CREDENTIAL_SECRET, "namespace": "sbx-acme--e2e"},
                 "data": {"api-key": base64.b64encode(key.encode()).decode()}})
    stack.kubectl("patch", "tenantsandbox", "acme--e2e", "--subresource=status", "--type=merge", "-p", json.dumps(
        {"status": {"phase": "Active", "namespace": "sbx-acme--e2e", "credentialFingerprint": "s3cr3t",
                    "credentialSecretRef": {"name": SANDBOX_CREDENTIAL_SECRET, "namespace": "sbx-acme--e2e",
                                            "key": "api-key"}}}))
    wait_for(lambda: stack.http.get("/api/v1/sandboxes/acme--e2e", headers=stack.headers(role="auditor", subject="a"))
             .json()["credential"])
    first = stack.http.get("/api/v1/sandboxes/acme--e2e", headers=acme).json()["credential"]
    second = stack.http.get("/api/v1/sandboxes/acme--e2e", headers=acme).json()["credential"]
    assert first["value"] == key
    assert second == {"fingerprint": "s3cr3t", "value": None, "shown": True}
    globex = stack.headers(role="partner", partner="globex", subject="globex-bot")
    assert stack.http.get("/api/v1/sandboxes/acme--e2e", headers=globex).status_code == 404
    assert key not in stack.audit_log.read_text()


def test_pages_stay_stable_while_capabilities_are_created_concurrently(stack):
    h = stack.headers(role="team", team="bulk", subject="bella")
    for i in range(0, 12, 2):
        stack.apply({"apiVersion": API, "kind": "BusinessCapability",
                     "metadata": {"name": f"b{i:02d}", "namespace": "bulk"}, "spec": spec(team="bulk")})
    wait_for(lambda: len(stack.http.get("/api/v1/catalog?team=bulk", headers=h).json()["items"]) == 6)
    seen, cursor, odd = [], None, iter(range(1, 12, 2))
    while True:
        params = {"team": "bulk", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = stack.http.get("/api/v1/catalog", headers=h, params=params).json()
        seen += [i["name"] for i in page["items"]]
        n = next(odd, None)
        if n is not None:
            stack.http.post("/api/v1/teams/bulk/capabilities", headers=h,
                            json={"name": f"b{n:02d}", "spec": spec(team="bulk")})
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert {f"b{i:02d}" for i in range(0, 12, 2)} <= set(seen)


def test_bad_tokens_get_401_with_a_reason_over_http(stack):
    expired = stack.headers(role="admin", ttl=-300)
    resp = stack.http.get("/api/v1/channels", headers=expired)
    assert (resp.status_code, resp.json()["reason"]) == (401, "TokenExpired")
    resp = stack.http.get("/api/v1/channels", headers={"Authorization": "Bearer x.y.z"})
    assert (resp.status_code, resp.json()["reason"]) == (401, "MalformedToken")


def test_the_audit_log_records_each_change_with_who_and_the_result(stack):
    stack.http.post("/api/v1/teams/payments/capabilities", headers=stack.headers(**PAT),
                    json={"name": "audited", "spec": spec()})
    entries = [json.loads(line) for line in stack.audit_log.read_text().splitlines()]
    mine = [e for e in entries if e.get("name") == "audited"]
    assert mine and mine[-1]["actor"]["subject"] == "pat" and mine[-1]["status"] == 201
    assert mine[-1]["source"]["ip"] == "127.0.0.1"
