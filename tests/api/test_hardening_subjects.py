"""Look-alike subjects against the four-eyes rule, as an admin who wants to approve its own request would
try them: ``Ada``, ``ADA``, fullwidth ``ａｄａ`` or mathematical bold ``𝐚𝐝𝐚`` are ``ada`` (compared NFKC-casefolded) and are refused as
self-approval of sandboxes, extensions and waivers; ``ada `` (trailing space), ``ada`` with a zero-width
space, a bidi override, a NUL or a tab are refused at authentication (401 ``InvalidSubject``), so they
never become a second person; a record written before subjects were canonical (``Ada``) still binds.
Another person approves as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from platform_api.auth.identity import Identity, Role, canonical_subject, same_subject, subject_problem
from platform_api.settings import ApiSettings

API = "finplane.io/v1alpha1"
ADA = {"role": "admin", "subject": "ada"}
BOB = {"role": "admin", "subject": "bob"}
SBX = "acme--ada-sbx"  # sandboxes requested through the API are named <partner>--<name>


def _in(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat(timespec="seconds").replace("+00:00", "Z")


WAIVER = {"policy": "baseline", "rule": "no-latest-tag", "justification": "vendor image, fix in Q3",
          "risk": "low", "ticket": "RISK-7", "expiresAt": _in(30),
          "resources": [{"kind": "BusinessCapability", "namespace": "payments", "name": "pay"}]}


@pytest.fixture
def settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(dev_mode=True, dev_key_dir=tmp_path / "keys", audit_log=tmp_path / "audit.jsonl",
                       evidence_dir=tmp_path / "evidence", rate_limit_per_second=1000, rate_limit_burst=1000,
                       waiver_namespace="finplane-system")


def _approve(client, as_, name, who, path="approve"):  # type: ignore[no-untyped-def]
    """Approve as `who` the version `who` just read (approval binds to the reviewed ETag)."""
    etag = client.get(f"/api/v1/sandboxes/{name}", headers=as_(role="admin", subject="bob")).headers["etag"]
    return client.post(f"/api/v1/sandboxes/{name}/{path}", headers=as_(**who) | {"If-Match": etag})

LOOK_ALIKES = ["Ada", "ADA", "\uff41\uff44\uff41", "\U0001d41a\U0001d41d\U0001d41a"]
INVISIBLE = ["ada ", " ada", "ada\u200b", "\u200bada", "ada\u202e", "ada\x00", "ada\t", "a\u00a0da", "ada\u2028",
             "ad\u00ada"]


@pytest.fixture
def ada_request(client, as_, make_sandbox_spec):  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/sandboxes", headers=as_(**ADA),
                       json={"name": SBX, "spec": make_sandbox_spec("acme"), "termsAccepted": True})
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.mark.parametrize("subject", LOOK_ALIKES)
def test_a_case_or_width_variant_of_the_requester_cannot_approve_its_request(ada_request, client, as_, subject):
    resp = _approve(client, as_, SBX, {"role": "admin", "subject": subject})
    assert resp.status_code == 403, resp.text
    assert resp.json()["reason"] == "SelfApproval"
    assert _approve(client, as_, SBX, BOB).json()["approval"] == "approved"


@pytest.mark.parametrize("subject", INVISIBLE)
def test_a_subject_with_whitespace_control_or_format_characters_is_refused_at_authentication(
        ada_request, client, as_, subject):
    resp = _approve(client, as_, SBX, {"role": "admin", "subject": subject})
    assert resp.status_code == 401, resp.text
    assert resp.json()["reason"] == "InvalidSubject"
    assert client.get(f"/api/v1/sandboxes/{SBX}", headers=as_(**BOB)).json()["approval"] == "pending"


def test_an_overlong_subject_is_refused(client, as_):
    resp = client.get("/api/v1/channels", headers=as_(role="admin", subject="a" * 256))
    assert (resp.status_code, resp.json()["reason"]) == (401, "InvalidSubject")


def test_the_requester_is_recorded_in_its_canonical_form(client, as_, make_sandbox_spec, writer):
    resp = client.post("/api/v1/sandboxes", headers=as_(role="admin", subject="ADA"),
                       json={"name": SBX, "spec": make_sandbox_spec("acme"), "termsAccepted": True})
    assert resp.status_code == 201, resp.text
    obj = writer.objects[(API, "TenantSandbox", "", SBX)]
    assert obj["metadata"]["annotations"]["finplane.io/requested-by"] == "ada"


def test_a_record_written_before_subjects_were_canonical_still_binds(client, as_, make_sandbox_spec, writer):
    writer.seed({"apiVersion": API, "kind": "TenantSandbox",
                 "metadata": {"name": "old-sbx", "annotations": {"finplane.io/approval": "pending",
                                                                 "finplane.io/requested-by": "Ada"}},
                 "spec": make_sandbox_spec("acme")})
    resp = _approve(client, as_, "old-sbx", ADA)
    assert (resp.status_code, resp.json()["reason"]) == (403, "SelfApproval")


def test_a_look_alike_cannot_approve_its_own_extension(client, as_, make_sandbox_spec):
    made = client.post("/api/v1/sandboxes", headers=as_(role="partner", partner="acme", subject="acme-bot"),
                       json={"name": "acme--sbx", "spec": make_sandbox_spec("acme"), "termsAccepted": True})
    assert made.status_code == 201, made.text
    assert _approve(client, as_, "acme--sbx", BOB).status_code == 200  # extensions are for approved sandboxes
    asked = client.post("/api/v1/sandboxes/acme--sbx/extension", headers=as_(**ADA),
                        json={"expiresAt": _in(20), "reason": "pilot"})
    assert asked.status_code == 202, asked.text
    resp = _approve(client, as_, "acme--sbx", {"role": "admin", "subject": "Ada"}, path="extension/approve")
    assert (resp.status_code, resp.json()["reason"]) == (403, "SelfApproval")


def test_a_look_alike_cannot_approve_its_own_waiver(client, as_, writer):
    writer.seed({"apiVersion": API, "kind": "CompliancePolicy", "metadata": {"name": "baseline"},
                 "spec": {"mode": "audit", "rules": [{"id": "no-latest-tag"}]}})
    mine = client.post("/api/v1/compliance/waivers", headers=as_(**ADA), json=WAIVER)
    assert mine.status_code == 201, mine.text
    resp = client.post(f"/api/v1/compliance/policies/baseline/waivers/{mine.json()['id']}/approve",
                       headers=as_(role="admin", subject="\uff21\uff24\uff21"))
    assert (resp.status_code, resp.json()["reason"]) == (403, "SelfApproval")


def test_canonical_subjects_fold_case_width_and_compatibility_forms():
    assert {canonical_subject(s) for s in LOOK_ALIKES} == {"ada"}
    assert canonical_subject("Stra\u00dfe") == canonical_subject("STRASSE")
    assert canonical_subject("\ufb01le") == "file"  # the fi ligature
    assert all(subject_problem(s) is not None for s in INVISIBLE)
    assert subject_problem("ada@bank.example") is None
    assert subject_problem("\u00e9lodie") is None  # accents are letters, not look-alike padding


def test_same_subject_compares_issuer_and_canonical_subject():
    ada = Identity(subject="ada", role=Role.ADMIN, issuer="https://idp.bank.example")
    assert same_subject(ada, "Ada")
    assert same_subject(ada, "ada", recorded_issuer="https://idp.bank.example")
    assert not same_subject(ada, "ada", recorded_issuer="https://finplane.local/dev")
    assert not same_subject(ada, None)
    assert not same_subject(ada, {"subject": "ada"})
    assert not same_subject(ada, "bob")
