"""Sandbox contracts, attacked as a partner (and as an admin who should not get what is the partner's):

- approval binds to what the admin reviewed: without If-Match 428, after the partner swapped in a later
  date (or another admin amended the request) 412 and nothing changes; the operator's status writes do
  not make a review stale;
- extensions: never into the past, never beyond creation + the platform's maximum (year 9999 included,
  a 422 not a 500), one pending at a time, withdrawn only by their requester;
- a partner's request sets only what is the partner's: platform-only fields, system: members, members
  outside its IdP prefix and restricted (or unknown) capabilities are refused with 422 naming the field;
  an admin sets them visibly (amendedBy, platformFields) and cannot approve its own amendment;
- only the partner named in the sandbox receives its one-time credential (not the admin who asked);
- names are <partner>--<name>: probing or squatting another partner's names gives one answer whether the
  name exists or not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

API = "finplane.io/v1alpha1"
ACME = {"role": "partner", "partner": "acme", "subject": "acme-bot"}
GLOBEX = {"role": "partner", "partner": "globex", "subject": "globex-bot"}
ADA = {"role": "admin", "subject": "ada"}
BOB = {"role": "admin", "subject": "bob"}
PAT = {"role": "team", "team": "payments", "subject": "pat"}
MAX_DAYS = 90  # the default FINPLANE_SANDBOX_MAX_TTL_SECONDS


def _z(when: datetime) -> str:
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _in(days: float) -> str:
    return _z(datetime.now(UTC) + timedelta(days=days))


def _sandbox(client, as_, who, name, spec):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/sandboxes", headers=as_(**who), json={"name": name, "spec": spec, "termsAccepted": True})


def _etag(client, as_, who, name):  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/sandboxes/{name}", headers=as_(**who)).headers["etag"]


def _post(client, as_, who, path, etag=None, **kw):  # type: ignore[no-untyped-def]
    headers = as_(**who) | ({"If-Match": etag} if etag else {})
    return client.post(f"/api/v1/sandboxes/{path}", headers=headers, **kw)


@pytest.fixture
def pending(client, as_, make_sandbox_spec):  # type: ignore[no-untyped-def]
    assert _sandbox(client, as_, ACME, "acme--dev", make_sandbox_spec("acme")).status_code == 201
    return "acme--dev"


@pytest.fixture
def active(pending, client, as_):  # type: ignore[no-untyped-def]
    assert _post(client, as_, ADA, "acme--dev/approve", _etag(client, as_, ADA, "acme--dev")).status_code == 200
    return "acme--dev"


def _stored(writer, name="acme--dev"):  # type: ignore[no-untyped-def]
    return writer.objects[(API, "TenantSandbox", "", name)]


# --- approval bound to the reviewed version ------------------------------------------------------------

def test_an_approval_without_if_match_is_428_and_a_wildcard_does_not_count(pending, client, as_, writer):
    for headers in ({}, {"If-Match": "*"}):
        resp = client.post("/api/v1/sandboxes/acme--dev/approve", headers=as_(**ADA) | headers)
        assert resp.status_code == 428, resp.text
        assert resp.json()["reason"] == "PreconditionRequired"
    assert _stored(writer)["metadata"]["annotations"]["finplane.io/approval"] == "pending"


def test_a_partner_swapping_in_a_later_date_after_the_admin_read_it_makes_the_approval_412(active, client, as_,
                                                                                           writer):
    assert _post(client, as_, ACME, "acme--dev/extension", json={"expiresAt": _in(10), "reason": "pilot"}).status_code == 202
    reviewed = _etag(client, as_, ADA, "acme--dev")  # Ada reads: ten more days
    # The partner withdraws and asks for the maximum instead, before Ada clicks.
    assert client.delete("/api/v1/sandboxes/acme--dev/extension", headers=as_(**ACME)).status_code == 200
    later = _in(MAX_DAYS - 1)
    assert _post(client, as_, ACME, "acme--dev/extension", json={"expiresAt": later, "reason": "pilot"}).status_code == 202
    resp = _post(client, as_, ADA, "acme--dev/extension/approve", reviewed)
    assert resp.status_code == 412, resp.text
    assert resp.json()["reason"] == "StaleVersion"
    assert "expiresAt" not in _stored(writer)["spec"]  # nothing was applied
    # Reading again shows the new date; approving that version is Ada's informed decision.
    fresh = client.get("/api/v1/sandboxes/acme--dev", headers=as_(**ADA))
    assert fresh.json()["extensionRequest"]["expiresAt"] == later
    assert _post(client, as_, ADA, "acme--dev/extension/approve", fresh.headers["etag"]).status_code == 200
    assert _stored(writer)["spec"]["expiresAt"] == later


def test_another_admins_amendment_after_the_read_makes_the_approval_412(pending, client, as_, make_sandbox_spec):
    reviewed = _etag(client, as_, ADA, "acme--dev")
    amended = client.put("/api/v1/sandboxes/acme--dev", headers=as_(**BOB) | {"If-Match": _etag(client, as_, BOB, "acme--dev")},
                         json={"spec": make_sandbox_spec("acme") | {"allowedImages": ["*"]}})
    assert amended.status_code == 200, amended.text
    assert _post(client, as_, ADA, "acme--dev/approve", reviewed).status_code == 412


def test_the_operators_status_write_does_not_make_a_review_stale(pending, client, as_, writer):
    reviewed = _etag(client, as_, ADA, "acme--dev")
    writer.set_status(API, "TenantSandbox", "acme--dev", {"phase": "Provisioning"})  # a new resourceVersion
    assert _post(client, as_, ADA, "acme--dev/approve", reviewed).status_code == 200


# --- lifetime -----------------------------------------------------------------------------------------

# Fixed ids: the relative times differ between xdist workers, which must collect the same test ids.
@pytest.mark.parametrize("when", [_in(-1), _in(MAX_DAYS + 1), "9999-12-31T23:59:59Z",
                                  "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00"],
                         ids=["past", "beyond-max", "year-9999", "year-9999-offset", "year-1-offset"])
def test_an_extension_into_the_past_or_beyond_the_maximum_lifetime_is_refused(active, client, as_, writer, when):
    resp = _post(client, as_, ACME, "acme--dev/extension", json={"expiresAt": when, "reason": "longer"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["field"].removeprefix("body.") == "expiresAt"  # schema or service check
    assert "finplane.io/extension-request" not in _stored(writer)["metadata"]["annotations"]


@pytest.mark.parametrize("lifetime", [{"ttlSeconds": (MAX_DAYS + 1) * 86400}, {"expiresAt": _in(MAX_DAYS + 1)},
                                      {"expiresAt": _in(-1)}, {"expiresAt": "9999-01-01T00:00:00Z"}],
                         ids=["ttl-beyond-max", "expiry-beyond-max", "expiry-past", "expiry-year-9999"])
def test_a_request_beyond_the_maximum_lifetime_or_in_the_past_is_refused(client, as_, writer, make_sandbox_spec,
                                                                         lifetime):
    spec = {k: v for k, v in make_sandbox_spec("acme").items() if k != "ttlSeconds"} | lifetime
    resp = _sandbox(client, as_, ADA, "acme--long", spec)  # not even an admin
    assert resp.status_code == 422, resp.text
    assert resp.json()["reason"] == "LifetimeOutOfBounds"
    assert writer.writes == []


def test_one_extension_request_is_pending_at_a_time_and_only_its_requester_withdraws_it(active, client, as_):
    assert _post(client, as_, ACME, "acme--dev/extension", json={"expiresAt": _in(20), "reason": "a"}).status_code == 202
    second = _post(client, as_, ACME, "acme--dev/extension", json={"expiresAt": _in(30), "reason": "b"})
    assert (second.status_code, second.json()["reason"]) == (409, "ExtensionPending")
    assert client.delete("/api/v1/sandboxes/acme--dev/extension", headers=as_(**GLOBEX)).status_code == 404
    assert client.delete("/api/v1/sandboxes/acme--dev/extension", headers=as_(**ADA)).status_code == 403
    assert client.delete("/api/v1/sandboxes/acme--dev/extension", headers=as_(**ACME)).json()["extensionRequest"] is None


def test_an_admin_rejects_an_extension_it_reviewed_and_the_expiry_stays(active, client, as_, writer):
    _post(client, as_, ACME, "acme--dev/extension", json={"expiresAt": _in(20), "reason": "a"})
    resp = _post(client, as_, BOB, "acme--dev/extension/reject", _etag(client, as_, BOB, "acme--dev"))
    assert resp.status_code == 200 and resp.json()["extensionRequest"] is None
    assert _stored(writer)["spec"]["ttlSeconds"] == 86400 and "expiresAt" not in _stored(writer)["spec"]


def test_a_pending_request_cannot_be_extended(pending, client, as_):
    resp = _post(client, as_, ACME, "acme--dev/extension", json={"expiresAt": _in(20), "reason": "a"})
    assert (resp.status_code, resp.json()["reason"]) == (409, "NotApproved")


# --- what a partner may set ---------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [
    ("quota", {"pods": 10000}), ("registryRef", "core-registry"), ("allowedImages", ["*"]),
    ("awsRoleArn", "arn:aws:iam::123456789012:role/admin"), ("credentialRotation", 3)])
def test_a_partner_cannot_set_platform_only_fields(client, as_, writer, make_sandbox_spec, field, value):
    resp = _sandbox(client, as_, ACME, "acme--dev", make_sandbox_spec("acme") | {field: value})
    assert resp.status_code == 422, resp.text
    assert [e["field"] for e in resp.json()["errors"]] == [f"spec.{field}"]
    assert writer.writes == []


@pytest.mark.parametrize("who", [ACME, ADA])
@pytest.mark.parametrize("member", [{"kind": "Group", "name": "system:authenticated"},
                                    {"kind": "Group", "name": "system:masters"},
                                    {"kind": "User", "name": "system:admin"}])
def test_nobody_makes_kubernetes_system_identities_sandbox_members(client, as_, writer, make_sandbox_spec, who, member):
    resp = _sandbox(client, as_, who, "acme--dev", make_sandbox_spec("acme") | {"members": [member]})
    assert resp.status_code == 422, resp.text
    assert "spec.members[0].name" in [e["field"] for e in resp.json()["errors"]]
    assert writer.writes == []


def test_a_partners_members_are_under_its_own_identity_provider_prefix(client, as_, make_sandbox_spec):
    foreign = [{"kind": "User", "name": "partner:globex:eve"}, {"kind": "User", "name": "jane@bank.example"}]
    resp = _sandbox(client, as_, ACME, "acme--dev", make_sandbox_spec("acme") | {"members": foreign})
    assert [e["field"] for e in resp.json()["errors"]] == ["spec.members[0].name", "spec.members[1].name"]
    own = [{"kind": "User", "name": "partner:acme:jane"}, {"kind": "Group", "name": "partner:acme:developers"}]
    assert _sandbox(client, as_, ACME, "acme--dev", make_sandbox_spec("acme") | {"members": own}).status_code == 201


def test_a_partner_cannot_ask_for_a_restricted_capability_and_learns_nothing_about_which_exist(
        client, as_, writer, make_sandbox_spec, make_capability):
    writer.seed(make_capability("ledger", "core", classification="restricted"))
    writer.seed(make_capability("kyc", "risk", classification="internal"))
    answers = []
    for ref in ({"namespace": "core", "name": "ledger"}, {"namespace": "core", "name": "no-such"}):
        resp = _sandbox(client, as_, ACME, "acme--dev", make_sandbox_spec("acme") | {"allowedCapabilities": [ref]})
        assert resp.status_code == 422
        answers.append(resp.json()["errors"])
    assert answers[0] == answers[1]
    kyc = [{"namespace": "risk", "name": "kyc"}]
    assert _sandbox(client, as_, ACME, "acme--dev", make_sandbox_spec("acme") | {"allowedCapabilities": kyc}).status_code == 201


def test_an_admin_adds_platform_fields_visibly_and_cannot_approve_its_own_amendment(pending, client, as_,
                                                                                     make_sandbox_spec):
    spec = make_sandbox_spec("acme") | {"quota": {"pods": 50}, "allowedCapabilities": [{"namespace": "core", "name": "ledger"}]}
    amended = client.put("/api/v1/sandboxes/acme--dev", headers=as_(**ADA) | {"If-Match": _etag(client, as_, ADA, "acme--dev")},
                         json={"spec": spec})
    assert amended.status_code == 200, amended.text
    seen = client.get("/api/v1/sandboxes/acme--dev", headers=as_(**ACME)).json()
    assert (seen["amendedBy"], seen["platformFields"]) == ("ada", ["quota"])
    own = _post(client, as_, ADA, "acme--dev/approve", amended.headers["etag"])
    assert (own.status_code, own.json()["reason"]) == (403, "SelfApproval")
    assert _post(client, as_, BOB, "acme--dev/approve", amended.headers["etag"]).json()["approval"] == "approved"


def test_an_amendment_needs_if_match(pending, client, as_, make_sandbox_spec):
    resp = client.put("/api/v1/sandboxes/acme--dev", headers=as_(**ADA), json={"spec": make_sandbox_spec("acme")})
    assert resp.status_code == 428


# --- the credential -----------------------------------------------------------------------------------

@pytest.mark.parametrize("requester", [ADA, PAT])
def test_whoever_requested_it_for_the_partner_never_receives_the_partners_credential(
        client, as_, make_sandbox_spec, provision, requester):
    assert _sandbox(client, as_, requester, "acme--dev", make_sandbox_spec("acme")).status_code == 201
    assert _post(client, as_, BOB, "acme--dev/approve", _etag(client, as_, BOB, "acme--dev")).status_code == 200
    key = provision("acme--dev")
    taken = client.get("/api/v1/sandboxes/acme--dev", headers=as_(**requester))
    assert taken.status_code == 200 and key not in taken.text
    assert taken.json()["credential"]["shown"] is False  # not consumed either
    assert client.get("/api/v1/sandboxes/acme--dev", headers=as_(**ACME)).json()["credential"]["value"] == key


# --- names --------------------------------------------------------------------------------------------

def test_probing_another_partners_names_gives_one_answer_whether_they_exist_or_not(pending, client, as_, writer,
                                                                                   make_sandbox_spec):
    taken = _sandbox(client, as_, GLOBEX, "acme--dev", make_sandbox_spec("globex"))
    free = _sandbox(client, as_, GLOBEX, "acme--free", make_sandbox_spec("globex"))
    assert taken.status_code == free.status_code == 422
    strip = lambda r: {k: v for k, v in r.json().items() if k != "instance"}  # noqa: E731
    assert strip(taken) == strip(free)
    assert (API, "TenantSandbox", "", "acme--free") not in writer.objects
    assert _stored(writer)["spec"]["partner"]["name"] == "acme"  # not squatted either


def test_a_partner_cannot_squat_names_by_sharing_a_prefix(client, as_, make_sandbox_spec):
    # "acme" must not take names of a partner "acme-corp": the separator is "--", never a single "-".
    resp = _sandbox(client, as_, ACME, "acme-corp--dev", make_sandbox_spec("acme"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "name"
    assert _sandbox(client, as_, ACME, "acme--corp-dev", make_sandbox_spec("acme")).status_code == 201


def test_a_partner_sees_a_conflict_only_for_its_own_names(pending, client, as_, make_sandbox_spec):
    again = _sandbox(client, as_, ACME, "acme--dev", make_sandbox_spec("acme"))
    assert (again.status_code, again.json()["reason"]) == (409, "AlreadyExists")


def test_a_partner_whose_name_contains_the_separator_cannot_claim_others_names(client, as_, make_sandbox_spec):
    # "ac--me" asking for "ac--me--dev" could otherwise be read as partner "ac" and sandbox "me--dev".
    tricky = {"role": "partner", "partner": "ac--me", "subject": "bot"}
    resp = _sandbox(client, as_, tricky, "ac--me--dev", make_sandbox_spec("ac--me"))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "spec.partner.name"
