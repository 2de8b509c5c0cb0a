"""Preview, evidence export and chain verification through the API (doubles at the API's seam, a
real evidence log file), and every API change recorded in the compliance engine's hash chain.

Covers: auditors and admins read the verification, the export and the preview; teams and
partners get 403; verification is the one `finplane evidence verify` computes (it accepts the
chain the operator and the API wrote together, and names the line someone edited); the export
for a past date reports what was true then, filters by team, carries the chain head, and shows
API changes; CSV downloads start with the chain head; a bad date range is 422; a missing log is
reported as absent and not verified, and its export is 404; the preview lists the refused capability
with its team, rules and channels; an unauthenticated attempt stays out of the chain.

The guard rails of the signed log, as the attacker: a change through the API is refused with 503
(and not made) while the evidence log is corrupt or was truncated under the API, so no change goes
unrecorded; verification is anchored on the head the policy's status records, so an attacker who
removes the last entries is named; the public key route serves the key the entries verify with.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finplane.commands.evidence import verify as cli_verify
from finplane.policy.evidence import EvidenceLog
from platform_api.settings import ApiSettings

API = "finplane.io/v1alpha1"
PAT = {"role": "team", "team": "payments", "subject": "pat"}
AUDREY = {"role": "auditor", "subject": "audrey"}
ADA = {"role": "admin", "subject": "ada"}
WAIVER = {"policy": "baseline", "rule": "no-latest-tag",
          "resources": [{"kind": "BusinessCapability", "namespace": "payments", "name": "pay"}],
          "justification": "vendor image only has latest", "risk": "low", "ticket": "RISK-7",
          "expiresAt": (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds")}  # within the maximum


@pytest.fixture
def settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(dev_mode=True, dev_key_dir=tmp_path / "keys", audit_log=tmp_path / "audit.jsonl",
                       evidence_dir=tmp_path / "evidence", rate_limit_per_second=1000, rate_limit_burst=1000)


@pytest.fixture
def log_path(settings: ApiSettings) -> Path:
    assert settings.evidence_dir is not None
    return settings.evidence_dir / "evidence.jsonl"


@pytest.fixture
def operator_log(log_path: Path) -> EvidenceLog:
    """What the operator recorded: payments' capability failing in January, passing in March."""
    log = EvidenceLog(log_path)
    for when, team, result in ((datetime(2026, 1, 10, tzinfo=UTC), "payments", "fail"),
                               (datetime(2026, 1, 11, tzinfo=UTC), "cards", "pass"),
                               (datetime(2026, 3, 1, tzinfo=UTC), "payments", "pass")):
        log.append({"type": "result", "key": f"baseline/no-latest-tag/{team}/pay", "policy": "baseline",
                    "rule": "no-latest-tag", "object": f"BusinessCapability {team}/pay", "team": team,
                    "result": result, "message": "m"}, now=when)
    return log


@pytest.fixture
def policy(writer, make_capability):  # type: ignore[no-untyped-def]
    writer.seed({"apiVersion": API, "kind": "CompliancePolicy", "metadata": {"name": "baseline"},
                 "spec": {"mode": "audit", "rules": [{"id": "no-latest-tag"}]}})
    writer.seed(make_capability("pay", "payments"))
    latest = make_capability("legacy", "cards")
    latest["spec"]["image"] = "registry.bank.example/legacy:latest"
    writer.seed(latest)
    writer.seed({"apiVersion": API, "kind": "Channel", "metadata": {"name": "mobile"},
                 "spec": {"type": "mobile", "hostnames": ["m.bank.example"],
                          "routes": [{"name": "legacy", "path": "/legacy",
                                      "capability": {"namespace": "cards", "name": "legacy"}}]}})


def test_an_auditor_sees_the_chain_verified_after_operator_and_api_both_appended(
        operator_log, policy, client, as_, log_path):  # type: ignore[no-untyped-def]
    assert client.post("/api/v1/compliance/waivers", headers=as_(**PAT), json=WAIVER).status_code == 201
    body = client.get("/api/v1/compliance/evidence/verify", headers=as_(**AUDREY)).json()
    last = json.loads(log_path.read_text().splitlines()[-1])
    assert (body["present"], body["ok"], body["entries"], body["head"]) == (True, True, 4, last["hash"])
    assert last["type"] == "api-change" and last["actor"] == "pat" and last["action"] == "request-waiver"
    assert cli_verify(log_path) == 0  # what `finplane evidence verify` says about the same file


def test_verification_names_the_line_someone_edited(operator_log, client, as_, log_path):  # type: ignore[no-untyped-def]
    lines = log_path.read_text().splitlines()
    lines[1] = lines[1].replace('"pass"', '"fail"')
    log_path.write_text("\n".join(lines) + "\n")
    body = client.get("/api/v1/compliance/evidence/verify", headers=as_(**ADA)).json()
    assert (body["ok"], body["badLine"], body["entries"]) == (False, 2, 1)


def test_a_missing_evidence_log_is_reported_as_absent_and_not_verified(client, as_):  # type: ignore[no-untyped-def]
    body = client.get("/api/v1/compliance/evidence/verify", headers=as_(**AUDREY)).json()
    assert (body["present"], body["ok"], body["entries"], body["reason"]) == (False, False, 0, "no evidence log")
    resp = client.get("/api/v1/compliance/evidence/export?from=2026-01-01&to=2026-02-01", headers=as_(**AUDREY))
    assert resp.status_code == 404 and resp.json()["reason"] == "NoEvidenceLog"


@pytest.mark.parametrize("who", [PAT, {"role": "partner", "partner": "acme", "subject": "pia"}], ids=["team", "partner"])
@pytest.mark.parametrize("path", ["/api/v1/compliance/evidence/verify",
                                  "/api/v1/compliance/evidence/export?from=2026-01-01&to=2026-02-01",
                                  "/api/v1/compliance/policies/baseline/preview"])
def test_teams_and_partners_may_not_read_evidence_or_previews(policy, client, as_, who, path):  # type: ignore[no-untyped-def]
    assert client.get(path, headers=as_(**who)).status_code == 403


def test_the_export_for_a_past_date_reports_what_was_true_then(operator_log, client, as_):  # type: ignore[no-untyped-def]
    resp = client.get("/api/v1/compliance/evidence/export?from=2026-01-01&to=2026-02-01", headers=as_(**AUDREY))
    bundle = resp.json()
    assert resp.headers["x-finplane-chain-head"] == bundle["chainHead"] == operator_log.head
    assert bundle["chainVerified"] is True
    assert {(e["team"], e["result"]) for e in bundle["stateAtTo"]} == {("payments", "fail"), ("cards", "pass")}
    later = client.get("/api/v1/compliance/evidence/export?from=2026-01-01&to=2026-04-01&team=payments",
                       headers=as_(**AUDREY)).json()
    assert [(e["team"], e["result"]) for e in later["stateAtTo"]] == [("payments", "pass")]
    assert [e["result"] for e in later["entries"]] == ["fail", "pass"]


def test_an_api_change_appears_in_the_export_of_its_day(policy, client, as_):  # type: ignore[no-untyped-def]
    client.post("/api/v1/compliance/waivers", headers=as_(**PAT), json=WAIVER)
    today = datetime.now(UTC).date()
    bundle = client.get(f"/api/v1/compliance/evidence/export?from={today}&to={today}T23:59:59Z&team=payments",
                        headers=as_(**ADA)).json()
    changes = [e for e in bundle["entries"] if e["type"] == "api-change"]
    assert [(c["action"], c["actor"], c["object"], c["result"]) for c in changes] == [
        ("request-waiver", "pat", "CompliancePolicy/baseline", "success")]
    assert changes[0]["source"] == "testclient"


def test_the_csv_download_starts_with_the_chain_head(operator_log, client, as_):  # type: ignore[no-untyped-def]
    resp = client.get("/api/v1/compliance/evidence/export?from=2026-01-01&to=2026-12-31&format=csv&part=state",
                      headers=as_(**AUDREY))
    assert resp.headers["content-type"].startswith("text/csv")
    head, header, *rows = resp.text.splitlines()
    assert head == f"# chain head {operator_log.head}"
    assert header.startswith("seq,time,type,policy,rule,object,team,result")
    assert sorted(r.split(",")[6] for r in rows) == ["cards", "payments"]


@pytest.mark.parametrize("query", ["from=yesterday&to=2026-01-01", "from=2026-02-01&to=2026-01-01"])
def test_a_bad_date_range_is_a_422_problem(client, as_, query):  # type: ignore[no-untyped-def]
    resp = client.get(f"/api/v1/compliance/evidence/export?{query}", headers=as_(**AUDREY))
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"


def test_the_preview_lists_the_refused_capability_with_its_team_rules_and_channels(policy, client, as_):  # type: ignore[no-untyped-def]
    body = client.get("/api/v1/compliance/policies/baseline/preview", headers=as_(**AUDREY)).json()
    assert [(r["namespace"], r["name"], r["team"], r["channels"]) for r in body["refused"]] == [
        ("cards", "legacy", "cards", ["mobile"])]
    assert [v["rule"] for v in body["refused"][0]["violations"]] == ["no-latest-tag"]
    assert (body["evaluated"], body["teams"], body["channels"]) == (2, ["cards"], ["mobile"])
    reach = body["admission"]
    assert reach["rendered"] and reach["rules"] == ["no-latest-tag"] and "kube-system" in reach["excludedNamespaces"]
    assert reach["namespaces"] is None  # the API reads no namespaces; the CLI lists them


def test_the_preview_of_an_unknown_policy_is_404(client, as_):  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/compliance/policies/nope/preview", headers=as_(**ADA)).status_code == 404


def test_an_unauthenticated_attempt_stays_out_of_the_chain(policy, client, log_path):  # type: ignore[no-untyped-def]
    assert client.post("/api/v1/compliance/waivers", json=WAIVER).status_code == 401
    assert not log_path.exists()


def test_a_denied_attempt_by_a_known_caller_is_recorded_as_denied(policy, client, as_, log_path):  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/compliance/waivers", headers=as_(**AUDREY), json=WAIVER)
    assert resp.status_code == 403
    entry = json.loads(log_path.read_text().splitlines()[-1])
    assert (entry["actor"], entry["role"], entry["status"], entry["result"]) == ("audrey", "auditor", 403, "denied")


def test_a_change_is_refused_with_503_and_not_made_while_the_evidence_log_is_corrupt(
        operator_log, policy, client, as_, log_path, writer):  # type: ignore[no-untyped-def]
    lines = log_path.read_text().splitlines()
    lines.insert(1, "garbage written by someone with access to the volume")
    log_path.write_text("\n".join(lines) + "\n")
    before = log_path.read_bytes()
    resp = client.post("/api/v1/compliance/waivers", headers=as_(**PAT), json=WAIVER)
    assert resp.status_code == 503 and resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["reason"] == "EvidenceUnavailable" and "was not made" in resp.json()["detail"]
    assert resp.headers["retry-after"] == "30"
    assert client.get("/api/v1/compliance/waivers", headers=as_(**ADA)).json()["items"] == []  # never made
    assert log_path.read_bytes() == before
    assert client.get("/api/v1/compliance/policies", headers=as_(**PAT)).status_code == 200  # reads go on


def test_a_log_truncated_under_the_running_api_refuses_the_next_change(
        operator_log, policy, client, as_, log_path, writer):  # type: ignore[no-untyped-def]
    assert client.post("/api/v1/compliance/waivers", headers=as_(**PAT), json=WAIVER).status_code == 201
    lines = log_path.read_text().splitlines()
    log_path.write_text(lines[0] + "\n")  # the attacker cuts the chain; the next change must not chain onto it
    second = {**WAIVER, "ticket": "RISK-8"}
    resp = client.post("/api/v1/compliance/waivers", headers=as_(**PAT), json=second)
    assert resp.status_code == 503
    waivers = client.get("/api/v1/compliance/waivers", headers=as_(**ADA)).json()["items"]
    assert len(waivers) == 1 and "RISK-8" not in json.dumps(waivers)  # the second request was not made
    assert log_path.read_text().splitlines() == lines[:1]


def test_verification_names_the_policy_status_head_the_truncated_log_no_longer_reaches(
        operator_log, policy, client, as_, log_path, writer):  # type: ignore[no-untyped-def]
    writer.set_status("finplane.io/v1alpha1", "CompliancePolicy", "baseline",
                      {"evidence": {"headHash": operator_log.head}})
    body = client.get("/api/v1/compliance/evidence/verify", headers=as_(**AUDREY)).json()
    assert body["ok"] and body["anchors"] == ["the status of CompliancePolicy baseline"]
    log_path.write_text("".join(line + "\n" for line in log_path.read_text().splitlines()[:-1]))
    body = client.get("/api/v1/compliance/evidence/verify", headers=as_(**AUDREY)).json()
    assert not body["ok"] and body["entries"] == 2
    assert body["reason"].startswith("the log does not reach the head recorded in the status of CompliancePolicy "
                                     "baseline")
    bundle = client.get("/api/v1/compliance/evidence/export?from=2026-01-01&to=2026-12-31",
                        headers=as_(**AUDREY)).json()
    assert bundle["chainVerified"] is False and "does not reach" in bundle["problem"]


def test_the_public_key_route_serves_the_key_the_entries_verify_with(operator_log, client, as_, tmp_path):  # type: ignore[no-untyped-def]
    resp = client.get("/api/v1/compliance/evidence/public-key", headers=as_(**PAT))
    assert resp.status_code == 200
    body = resp.json()
    assert (body["kid"], body["algorithm"]) == (operator_log.signer.kid, "Ed25519")
    assert "PRIVATE" not in body["pem"]
    pem = tmp_path / "published.pem"
    pem.write_text(body["pem"])
    assert cli_verify(operator_log.path, public_keys=[pem], expect_head=[operator_log.head]) == 0
    assert client.get("/api/v1/compliance/evidence/public-key").status_code == 401
