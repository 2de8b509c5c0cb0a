"""Promotion to production access: the partner (or an admin) asks, a different admin approves the version it
reviewed, an admin revokes. Written as the attackers the four-eyes rule keeps out."""

from __future__ import annotations

import json

import pytest

API = "finplane.io/v1alpha1"
ACME = {"role": "partner", "partner": "acme", "subject": "acme-bot"}
GLOBEX = {"role": "partner", "partner": "globex", "subject": "globex-bot"}
ADA = {"role": "admin", "subject": "ada"}
BOB = {"role": "admin", "subject": "bob"}
NAME = "acme--sbx"
CAPS = [{"namespace": "payments", "name": "ledger"}, {"namespace": "payments", "name": "fx"}]


def _etag(client, as_, who):  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/sandboxes/{NAME}", headers=as_(**who)).headers["etag"]


@pytest.fixture
def approved(client, as_, make_sandbox_spec):  # type: ignore[no-untyped-def]
    spec = {**make_sandbox_spec("acme"), "allowedCapabilities": CAPS}
    resp = client.post("/api/v1/sandboxes", headers=as_(**ADA), json={"name": NAME, "spec": spec, "termsAccepted": True})
    assert resp.status_code == 201, resp.text
    resp = client.post(f"/api/v1/sandboxes/{NAME}/approve", headers={**as_(**BOB), "If-Match": _etag(client, as_, BOB)})
    assert resp.status_code == 200, resp.text


@pytest.fixture
def promotion_requested(approved, client, as_):  # type: ignore[no-untyped-def]
    resp = client.post(f"/api/v1/sandboxes/{NAME}/promotion", headers=as_(**ACME),
                       json={"capabilities": ["payments/ledger"], "tier": "large"})
    assert resp.status_code == 202, resp.text
    return resp.json()


def _ann(writer):  # type: ignore[no-untyped-def]
    return writer.objects[(API, "TenantSandbox", "", NAME)]["metadata"]["annotations"]


def test_the_partner_asks_and_another_admin_approves_what_it_reviewed(promotion_requested, client, as_, writer):
    assert promotion_requested["promotion"]["state"] == "pending"
    assert promotion_requested["promotion"]["requestedBy"] == "acme-bot"
    resp = client.post(f"/api/v1/sandboxes/{NAME}/promotion/approve",
                       headers={**as_(**ADA), "If-Match": _etag(client, as_, ADA)})
    assert resp.status_code == 200, resp.text
    assert resp.json()["promotion"]["state"] == "approved"
    assert resp.json()["promotion"]["decidedBy"] == "ada"
    assert json.loads(_ann(writer)["finplane.io/promotion-request"]) == {"capabilities": ["payments/ledger"],
                                                                         "tier": "large"}


def test_the_requesting_admin_cannot_approve_even_spelled_differently(approved, client, as_):
    assert client.post(f"/api/v1/sandboxes/{NAME}/promotion", headers=as_(**ADA),
                       json={"capabilities": ["payments/ledger"]}).status_code == 202
    resp = client.post(f"/api/v1/sandboxes/{NAME}/promotion/approve",
                       headers={**as_(role="admin", subject="ADA"), "If-Match": _etag(client, as_, ADA)})
    assert resp.status_code == 403
    assert resp.json()["reason"] == "SelfApproval"
    assert client.get(f"/api/v1/sandboxes/{NAME}", headers=as_(**BOB)).json()["promotion"]["state"] == "pending"


def test_a_partner_cannot_promote_itself(promotion_requested, client, as_):
    resp = client.post(f"/api/v1/sandboxes/{NAME}/promotion/approve",
                       headers={**as_(**ACME), "If-Match": _etag(client, as_, ACME)})
    assert resp.status_code == 403
    assert client.get(f"/api/v1/sandboxes/{NAME}", headers=as_(**ADA)).json()["promotion"]["state"] == "pending"


def test_another_partner_cannot_request_the_promotion(approved, client, as_):
    resp = client.post(f"/api/v1/sandboxes/{NAME}/promotion", headers=as_(**GLOBEX),
                       json={"capabilities": ["payments/ledger"]})
    assert resp.status_code in (403, 404)
    assert client.get(f"/api/v1/sandboxes/{NAME}", headers=as_(**ADA)).json()["promotion"] is None


def test_a_request_swapped_after_review_is_refused_with_412(promotion_requested, client, as_):
    reviewed = _etag(client, as_, ADA)  # Ada reviews: ledger only
    # Before Ada clicks, the request is swapped for a wider one (Bob revokes, the partner asks again).
    assert client.post(f"/api/v1/sandboxes/{NAME}/promotion/revoke", headers=as_(**BOB)).status_code == 200
    assert client.post(f"/api/v1/sandboxes/{NAME}/promotion", headers=as_(**ACME),
                       json={"capabilities": ["payments/ledger", "payments/fx"]}).status_code == 202
    resp = client.post(f"/api/v1/sandboxes/{NAME}/promotion/approve", headers={**as_(**ADA), "If-Match": reviewed})
    assert resp.status_code == 412
    assert client.post(f"/api/v1/sandboxes/{NAME}/promotion/approve", headers=as_(**ADA)).status_code == 428


def test_a_promotion_cannot_reach_beyond_the_sandbox(approved, client, as_):
    resp = client.post(f"/api/v1/sandboxes/{NAME}/promotion", headers=as_(**ACME),
                       json={"capabilities": ["core/accounts"]})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "capabilities[0]"


def test_revocation_is_an_admins_and_is_recorded(promotion_requested, client, as_, writer):
    client.post(f"/api/v1/sandboxes/{NAME}/promotion/approve", headers={**as_(**ADA), "If-Match": _etag(client, as_, ADA)})
    assert client.post(f"/api/v1/sandboxes/{NAME}/promotion/revoke", headers=as_(**ACME)).status_code == 403
    resp = client.post(f"/api/v1/sandboxes/{NAME}/promotion/revoke", headers=as_(**BOB))
    assert resp.status_code == 200
    assert resp.json()["promotion"]["state"] == "revoked"
    assert _ann(writer)["finplane.io/promotion-revoked-by"] == "bob"
