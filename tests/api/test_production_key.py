"""A promoted partner's production key through the platform API: handed to the partner the sandbox names exactly
once, like the sandbox credential. Written as the attackers: a second read, another partner, an admin or an
auditor reading it. Covers: no value (and nothing consumed) until the operator has delivered the key into the
sandbox's namespace; the first read returns it under `Cache-Control: no-store`; a revocation and a new approval
show the new key once more."""

from __future__ import annotations

import base64

import pytest

from finplane.models.tenant_sandbox_promotion import PRODUCTION_CREDENTIAL_SECRET

ACME = {"role": "partner", "partner": "acme", "subject": "acme-bot"}
GLOBEX = {"role": "partner", "partner": "globex", "subject": "globex-bot"}
ADA = {"role": "admin", "subject": "ada"}
BOB = {"role": "admin", "subject": "bob"}
AUDREY = {"role": "auditor", "subject": "audrey"}
NAME = "acme--sbx"
URL = f"/api/v1/sandboxes/{NAME}"


def _etag(client, as_, who):  # type: ignore[no-untyped-def]
    return client.get(URL, headers=as_(**who)).headers["etag"]


def deliver(writer, key: str) -> None:  # type: ignore[no-untyped-def]
    """Play the operator's channel pass: the production key's copy in the sandbox's namespace."""
    writer.seed({"apiVersion": "v1", "kind": "Secret",
                 "metadata": {"name": PRODUCTION_CREDENTIAL_SECRET, "namespace": f"sbx-{NAME}"},
                 "data": {"api-key": base64.b64encode(key.encode()).decode()}})


def production(client, as_, who):  # type: ignore[no-untyped-def]
    resp = client.get(URL, headers=as_(**who))
    assert resp.status_code == 200, resp.text
    return resp, resp.json()["promotion"]["productionCredential"]


@pytest.fixture
def promoted(client, as_, make_sandbox_spec, provision):  # type: ignore[no-untyped-def]
    spec = {**make_sandbox_spec("acme"), "allowedCapabilities": [{"namespace": "payments", "name": "ledger"}]}
    assert client.post("/api/v1/sandboxes", headers=as_(**ADA),
                       json={"name": NAME, "spec": spec, "termsAccepted": True}).status_code == 201
    assert client.post(f"{URL}/approve", headers={**as_(**BOB), "If-Match": _etag(client, as_, BOB)}).status_code == 200
    provision(NAME)
    assert client.get(URL, headers=as_(**ACME)).json()["credential"]["value"]  # the sandbox key, read once already
    assert client.post(f"{URL}/promotion", headers=as_(**ACME),
                       json={"capabilities": ["payments/ledger"]}).status_code == 202
    resp = client.post(f"{URL}/promotion/approve", headers={**as_(**ADA), "If-Match": _etag(client, as_, ADA)})
    assert resp.status_code == 200, resp.text


def test_the_production_key_is_shown_to_its_partner_exactly_once(promoted, client, as_, writer):
    _, before = production(client, as_, ACME)
    assert before == {"value": None, "shown": False}  # the operator has not delivered it yet: nothing consumed
    deliver(writer, "fpk_production_key")
    first, seen = production(client, as_, ACME)
    assert seen == {"value": "fpk_production_key", "shown": True}
    assert first.headers["cache-control"] == "no-store"
    assert first.json()["credential"]["value"] is None  # the sandbox key stays shown, not handed out again
    _, second = production(client, as_, ACME)
    assert second == {"value": None, "shown": True}


@pytest.mark.parametrize("who", [ADA, BOB, AUDREY], ids=["the-approving-admin", "another-admin", "an-auditor"])
def test_an_admin_or_auditor_neither_sees_nor_consumes_the_production_key(promoted, client, as_, writer, who):
    deliver(writer, "fpk_production_key")
    resp, seen = production(client, as_, who)
    assert seen == {"value": None, "shown": False}
    assert "fpk_production_key" not in resp.text
    assert production(client, as_, ACME)[1]["value"] == "fpk_production_key"  # still the partner's, once


def test_another_partner_cannot_read_the_production_key(promoted, client, as_, writer):
    deliver(writer, "fpk_production_key")
    resp = client.get(URL, headers=as_(**GLOBEX))
    assert resp.status_code == 404
    assert "fpk_production_key" not in resp.text
    assert production(client, as_, ACME)[1]["value"] == "fpk_production_key"


def test_a_new_approval_after_revocation_shows_the_new_key_once_more(promoted, client, as_, writer):
    deliver(writer, "fpk_first_production_key")
    assert production(client, as_, ACME)[1]["value"] == "fpk_first_production_key"
    assert client.post(f"{URL}/promotion/revoke", headers=as_(**ADA)).status_code == 200
    assert client.get(URL, headers=as_(**ACME)).json()["promotion"]["productionCredential"] is None  # revoked
    assert client.post(f"{URL}/promotion", headers=as_(**ACME),
                       json={"capabilities": ["payments/ledger"]}).status_code == 202
    assert client.post(f"{URL}/promotion/approve",
                       headers={**as_(**BOB), "If-Match": _etag(client, as_, BOB)}).status_code == 200
    deliver(writer, "fpk_second_production_key")
    assert production(client, as_, ACME)[1]["value"] == "fpk_second_production_key"
    assert production(client, as_, ACME)[1]["value"] is None
