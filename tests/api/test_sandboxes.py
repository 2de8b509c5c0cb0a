"""Sandboxes: a partner's request records accepted terms and waits for approval; four-eyes refuses
self-approval; the credential is handed out exactly once (and once again after rotation); extension
requests need another admin; an unapproved sandbox cannot rotate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

API = "finplane.io/v1alpha1"
ACME = {"role": "partner", "partner": "acme", "subject": "acme-bot"}
ADA = {"role": "admin", "subject": "ada"}
BOB = {"role": "admin", "subject": "bob"}


def reviewed(client, as_, who, name):  # type: ignore[no-untyped-def]
    """The caller's headers with If-Match set to the sandbox's ETag as the caller read it."""
    headers = as_(**who)
    return {**headers, "If-Match": client.get(f"/api/v1/sandboxes/{name}", headers=headers).headers["etag"]}


def _in(*, days: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def _z(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def requested(client, as_, make_sandbox_spec):  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/sandboxes", headers=as_(**ACME),
                       json={"name": "acme--sbx", "spec": make_sandbox_spec("acme"), "termsAccepted": True})
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.fixture
def approved(requested, client, as_):  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/sandboxes/acme--sbx/approve", headers=reviewed(client, as_, ADA, "acme--sbx"))
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_partner_request_is_stored_pending_with_requester_and_terms(requested, writer):
    obj = writer.objects[(API, "TenantSandbox", "", "acme--sbx")]
    ann = obj["metadata"]["annotations"]
    assert requested["approval"] == "pending"
    assert ann["finplane.io/approval"] == "pending"
    assert ann["finplane.io/requested-by"] == "acme-bot"
    assert "finplane.io/terms-accepted-at" in ann
    assert obj["metadata"]["labels"]["finplane.io/partner"] == "acme"


def test_a_request_without_accepted_terms_is_refused(client, as_, make_sandbox_spec):
    resp = client.post("/api/v1/sandboxes", headers=as_(**ACME),
                       json={"name": "acme--sbx", "spec": make_sandbox_spec("acme"), "termsAccepted": False})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "termsAccepted"


def test_a_partner_cannot_request_a_sandbox_in_another_partners_name(client, as_, make_sandbox_spec):
    resp = client.post("/api/v1/sandboxes", headers=as_(**ACME),
                       json={"name": "sneaky", "spec": make_sandbox_spec("globex"), "termsAccepted": True})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "spec.partner.name"


def test_an_admin_cannot_approve_its_own_request(client, as_, make_sandbox_spec):
    client.post("/api/v1/sandboxes", headers=as_(**ADA),
                json={"name": "acme--ada", "spec": make_sandbox_spec("acme"), "termsAccepted": True})
    resp = client.post("/api/v1/sandboxes/acme--ada/approve", headers=reviewed(client, as_, ADA, "acme--ada"))
    assert resp.status_code == 403
    assert resp.json()["reason"] == "SelfApproval"
    assert client.post("/api/v1/sandboxes/acme--ada/approve", headers=reviewed(client, as_, BOB, "acme--ada")).json()["approval"] == "approved"


def test_another_admin_approves_once_and_a_second_decision_is_refused(requested, client, as_, writer):
    resp = client.post("/api/v1/sandboxes/acme--sbx/approve", headers=reviewed(client, as_, ADA, "acme--sbx"), json={"comment": "ok"})
    assert resp.status_code == 200
    assert resp.json()["decidedBy"] == "ada"
    assert writer.objects[(API, "TenantSandbox", "", "acme--sbx")]["metadata"]["annotations"][
        "finplane.io/approval"] == "approved"
    again = client.post("/api/v1/sandboxes/acme--sbx/reject", headers=reviewed(client, as_, BOB, "acme--sbx"))
    assert again.status_code == 409
    assert again.json()["reason"] == "AlreadyDecided"


def test_a_rejected_request_stays_rejected(requested, client, as_):
    assert client.post("/api/v1/sandboxes/acme--sbx/reject", headers=reviewed(client, as_, ADA, "acme--sbx")).json()["approval"] == "rejected"


def test_the_credential_is_shown_to_its_partner_exactly_once(requested, client, as_, provision):
    client.post("/api/v1/sandboxes/acme--sbx/approve", headers=reviewed(client, as_, ADA, "acme--sbx"))
    assert client.get("/api/v1/sandboxes/acme--sbx", headers=as_(**ACME)).json()["credential"] is None
    key = provision("acme--sbx")
    # An admin's or auditor's read neither sees nor consumes it.
    for who in (ADA, {"role": "auditor", "subject": "audrey"}):
        seen = client.get("/api/v1/sandboxes/acme--sbx", headers=as_(**who)).json()["credential"]
        assert seen["value"] is None and seen["shown"] is False
    first = client.get("/api/v1/sandboxes/acme--sbx", headers=as_(**ACME))
    assert first.json()["credential"]["value"] == key
    assert first.headers["cache-control"] == "no-store"
    second = client.get("/api/v1/sandboxes/acme--sbx", headers=as_(**ACME)).json()["credential"]
    assert second == {"fingerprint": key[-6:], "value": None, "shown": True}


def test_a_rotation_makes_the_new_credential_visible_once_more(requested, client, as_, provision, writer):
    client.post("/api/v1/sandboxes/acme--sbx/approve", headers=reviewed(client, as_, ADA, "acme--sbx"))
    provision("acme--sbx")
    client.get("/api/v1/sandboxes/acme--sbx", headers=as_(**ACME))
    resp = client.post("/api/v1/sandboxes/acme--sbx/rotation", headers=as_(**ACME))
    assert resp.status_code == 202
    assert writer.objects[(API, "TenantSandbox", "", "acme--sbx")]["spec"]["credentialRotation"] == 1
    new_key = provision("acme--sbx", key="fpk_second_key", rotation=1)
    assert client.get("/api/v1/sandboxes/acme--sbx", headers=as_(**ACME)).json()["credential"]["value"] == new_key
    assert client.get("/api/v1/sandboxes/acme--sbx", headers=as_(**ACME)).json()["credential"]["value"] is None


def test_a_pending_sandbox_has_no_credential_to_rotate(requested, client, as_):
    resp = client.post("/api/v1/sandboxes/acme--sbx/rotation", headers=as_(**ACME))
    assert resp.status_code == 409
    assert resp.json()["reason"] == "NotApproved"


def test_an_extension_is_requested_by_the_partner_and_approved_by_an_admin(approved, client, as_, writer):
    later = _in(days=30)
    resp = client.post("/api/v1/sandboxes/acme--sbx/extension", headers=as_(**ACME),
                       json={"expiresAt": later.astimezone(timezone(timedelta(hours=1))).isoformat(),
                             "reason": "pilot runs longer"})
    assert resp.status_code == 202
    assert resp.json()["extensionRequest"]["expiresAt"] == _z(later)
    assert client.post("/api/v1/sandboxes/acme--sbx/extension/approve",
                       headers=reviewed(client, as_, BOB, "acme--sbx")).status_code == 200
    spec = writer.objects[(API, "TenantSandbox", "", "acme--sbx")]["spec"]
    assert spec["expiresAt"] == _z(later)
    assert "ttlSeconds" not in spec


def test_an_admin_cannot_approve_its_own_extension(approved, client, as_):
    client.post("/api/v1/sandboxes/acme--sbx/extension", headers=as_(**ADA),
                json={"expiresAt": _z(_in(days=30)), "reason": "x"})
    resp = client.post("/api/v1/sandboxes/acme--sbx/extension/approve", headers=reviewed(client, as_, ADA, "acme--sbx"))
    assert resp.status_code == 403
    assert resp.json()["reason"] == "SelfApproval"


def test_an_extension_date_without_a_time_zone_is_refused(approved, client, as_):
    resp = client.post("/api/v1/sandboxes/acme--sbx/extension", headers=as_(**ACME),
                       json={"expiresAt": "2099-03-01T12:00:00", "reason": "x"})
    assert resp.status_code == 422


def test_the_audit_log_records_who_requested_and_who_approved(requested, client, as_, settings):
    client.post("/api/v1/sandboxes/acme--sbx/approve", headers=reviewed(client, as_, ADA, "acme--sbx"))
    client.post("/api/v1/sandboxes/acme--sbx/approve", headers=reviewed(client, as_, ACME, "acme--sbx"))  # denied: recorded too
    lines = [json.loads(line) for line in settings.audit_log.read_text().splitlines()]
    assert [(e["action"], e["actor"]["subject"], e["status"], e["result"]) for e in lines] == [
        ("request", "acme-bot", 201, "success"), ("approve", "ada", 200, "success"),
        ("approve", "acme-bot", 403, "denied")]
    assert lines[1]["route"] == "/api/v1/sandboxes/{name}/approve"
    assert lines[1]["source"]["ip"]
    assert "Bearer" not in settings.audit_log.read_text()


def _changed_behind_the_cache(writer, **change):  # type: ignore[no-untyped-def]
    """The cluster's copy moves on (the operator's status write, another caller) before the cache sees it."""
    obj = writer.objects[(API, "TenantSandbox", "", "acme--sbx")]
    obj["metadata"]["resourceVersion"] = "9999"
    for path, value in change.items():
        target = obj
        *parents, leaf = path.split("__")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return obj


def test_an_extension_sent_while_the_cache_is_behind_is_recorded_not_refused_for_a_precondition_never_sent(
        approved, client, as_, writer):
    _changed_behind_the_cache(writer, status__phase="Active")
    resp = client.post("/api/v1/sandboxes/acme--sbx/extension", headers=as_(**ACME),
                       json={"expiresAt": _in(days=20).isoformat(), "reason": "pilot runs longer"})
    assert resp.status_code == 202, resp.text  # was 412 "If-Match does not match" without any If-Match
    stored = writer.objects[(API, "TenantSandbox", "", "acme--sbx")]
    assert "finplane.io/extension-request" in stored["metadata"]["annotations"]


def test_a_racing_extension_the_cache_has_not_seen_is_still_refused_as_pending(approved, client, as_, writer):
    racing = json.dumps({"expiresAt": _z(_in(days=10)), "reason": "first", "requestedBy": "acme-bot",
                         "requestedAt": _z(_in(days=0))})
    _changed_behind_the_cache(writer)["metadata"]["annotations"]["finplane.io/extension-request"] = racing
    resp = client.post("/api/v1/sandboxes/acme--sbx/extension", headers=as_(**ACME),
                       json={"expiresAt": _in(days=20).isoformat(), "reason": "second"})
    assert resp.status_code == 409 and resp.json()["reason"] == "ExtensionPending"
    assert writer.objects[(API, "TenantSandbox", "", "acme--sbx")]["metadata"]["annotations"][
        "finplane.io/extension-request"] == racing  # the first request stands


def test_a_rotation_while_the_cache_is_behind_counts_from_the_clusters_copy(approved, client, as_, writer):
    _changed_behind_the_cache(writer, spec__credentialRotation=1)  # a rotation the cache has not seen
    resp = client.post("/api/v1/sandboxes/acme--sbx/rotation", headers=as_(**ACME))
    assert resp.status_code == 202, resp.text
    assert writer.objects[(API, "TenantSandbox", "", "acme--sbx")]["spec"]["credentialRotation"] == 2
