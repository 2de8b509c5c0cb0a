"""Tampering with the evidence log, as an attacker who can write the file but does not hold the key.

Covers, each failing `finplane evidence verify` with a message naming what is wrong: an edited line;
an edited line with its hash recomputed; a deleted line; the last line removed; the last ten
removed; the log truncated to empty; the log replaced by an older copy; an entry appended with a
recomputed hash; an entry appended and signed with the attacker's own key; an edit with every later
line re-chained (and re-signed with another key); a forged signed head in an export's bundle; the
public key file beside the log replaced by the attacker's; a missing log (verify and export both exit
non-zero and say where they looked). The untouched log passes, against every kind of anchor. The anchors are what the operator recorded outside the file:
the policy's `status.evidence.headHash`, an earlier export's signed head, a hash given by hand.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from finplane.commands.evidence import export, verify
from finplane.policy.evidence import EvidenceLog, entry_hash
from finplane.policy.evidence_anchors import anchors_from_policies
from finplane.policy.evidence_keys import Signer
from finplane.policy.evidence_verify import Anchor, verify_log

ENTRIES = 12


@pytest.fixture(autouse=True)
def _no_configured_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINPLANE_EVIDENCE_KEY_FILE", raising=False)
    monkeypatch.delenv("FINPLANE_EVIDENCE_DIR", raising=False)


@pytest.fixture
def log(tmp_path: Path) -> EvidenceLog:
    """Twelve results the operator recorded; its key is in keys/ beside the log, which the attacker cannot read."""
    log = EvidenceLog(tmp_path / "evidence.jsonl")
    for i in range(ENTRIES):
        log.append({"type": "result", "key": f"baseline|no-latest-tag|BusinessCapability/payments/svc{i}",
                    "policy": "baseline", "rule": "no-latest-tag", "object": f"BusinessCapability/payments/svc{i}",
                    "team": "payments", "result": "fail" if i % 3 else "pass"},
                   now=datetime(2026, 3, 1 + i, tzinfo=UTC))
    return log


def status_anchor(log: EvidenceLog) -> list[Anchor]:
    """What the compliance reconciler wrote into the policy's status when it last appended."""
    return anchors_from_policies([{"metadata": {"name": "baseline"},
                                   "status": {"evidence": {"headHash": log.head}}}])


def lines(log: EvidenceLog) -> list[str]:
    return log.path.read_text().splitlines()


def write(log: EvidenceLog, rows: list[str]) -> None:
    log.path.write_text("".join(r + "\n" for r in rows))


def cli(log: EvidenceLog, capsys: pytest.CaptureFixture[str], **kw: Any) -> tuple[int, str]:
    code = verify(log.path, **kw)
    out = capsys.readouterr()
    return code, out.out + out.err


def test_the_untouched_log_passes_against_every_anchor(log: EvidenceLog, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert export(log.path, "2026-03-01", "2026-04-01", None, tmp_path / "audit") == 0
    v = verify_log(log.path, anchors=status_anchor(log))
    assert (v.ok, v.entries, v.head) == (True, ENTRIES, log.head)
    code, out = cli(log, capsys, expect_head=[log.head], anchor=[tmp_path / "audit" / "bundle.json",
                                                                 tmp_path / "audit" / "assessment-results.json"])
    assert code == 0 and f"OK, {ENTRIES} entries" in out and "reaches --expect-head" in out


def test_an_edited_line_fails_at_that_line(log: EvidenceLog, capsys: pytest.CaptureFixture[str]) -> None:
    rows = lines(log)
    rows[4] = rows[4].replace('"fail"', '"pass"')
    write(log, rows)
    code, out = cli(log, capsys)
    assert code == 1 and "line 5: hash does not match the entry's content (the line was edited)" in out


def test_an_edited_line_with_its_hash_recomputed_fails_on_its_signature(log: EvidenceLog,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    rows = lines(log)
    entry = json.loads(rows[4])
    entry["result"] = "pass"
    entry["hash"] = entry_hash(entry)
    rows[4] = json.dumps(entry)
    write(log, rows)
    code, out = cli(log, capsys)
    assert code == 1 and "line 5: the signature does not verify" in out


def test_a_deleted_line_fails_at_the_line_after_it(log: EvidenceLog, capsys: pytest.CaptureFixture[str]) -> None:
    rows = lines(log)
    del rows[4]
    write(log, rows)
    code, out = cli(log, capsys)
    assert code == 1 and "line 5: seq 6 where 5 was due (an entry before this line was deleted" in out


def test_removing_the_last_line_fails_against_the_head_in_the_policy_status(log: EvidenceLog) -> None:
    anchors = status_anchor(log)
    write(log, lines(log)[:-1])
    v = verify_log(log.path, anchors=anchors)
    assert not v.ok and v.entries == ENTRIES - 1
    assert v.reason.startswith("the log does not reach the head recorded in the status of CompliancePolicy "
                               "baseline") and f"it ends at seq {ENTRIES - 1}" in v.reason


def test_removing_the_last_ten_lines_fails_against_an_earlier_exports_signed_head(
        log: EvidenceLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export(log.path, "2026-03-01", "2026-04-01", None, tmp_path / "audit")
    capsys.readouterr()
    write(log, lines(log)[:-10])
    code, out = cli(log, capsys, anchor=[tmp_path / "audit" / "bundle.json"])
    assert code == 1
    assert f"the log does not reach the head recorded in {tmp_path / 'audit' / 'bundle.json'} (seq {ENTRIES}," in out
    assert "it ends at seq 2" in out


def test_truncating_the_log_to_empty_fails_with_or_without_an_anchor(log: EvidenceLog,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    head = log.head
    log.path.write_bytes(b"")
    code, out = cli(log, capsys)
    assert code == 1 and "the log is empty" in out and "truncated" in out
    code, out = cli(log, capsys, expect_head=[head])
    assert code == 1 and "the log is empty but the head recorded in --expect-head" in out


def test_replacing_the_log_with_an_older_copy_fails_against_the_status_head(log: EvidenceLog) -> None:
    older = lines(log)[:7]
    anchors = status_anchor(log)
    write(log, older)
    v = verify_log(log.path, anchors=anchors)
    assert not v.ok and "entries were removed from its end or it was rewritten" in v.reason


def forged(log: EvidenceLog, **fields: Any) -> dict[str, Any]:
    """An entry chained onto the last one the way the code does it, without the operator's key."""
    last = json.loads(lines(log)[-1])
    entry: dict[str, Any] = {"seq": last["seq"] + 1, "time": "2026-03-31T00:00:00.000000Z", "type": "result",
                             "key": "baseline|no-latest-tag|BusinessCapability/payments/svc0", "policy": "baseline",
                             "rule": "no-latest-tag", "object": "BusinessCapability/payments/svc0",
                             "team": "payments", "result": "pass", "prev": last["hash"], **fields}
    entry["hash"] = entry_hash(entry)
    return entry


def test_an_appended_entry_with_a_recomputed_hash_fails_as_unsigned(log: EvidenceLog,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    write(log, [*lines(log), json.dumps(forged(log))])
    code, out = cli(log, capsys)
    assert code == 1 and f"line {ENTRIES + 1}: the entry is not signed" in out


def test_an_appended_entry_signed_with_the_attackers_own_key_fails(log: EvidenceLog,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    entry = forged(log)
    mallory = Signer(Ed25519PrivateKey.generate())
    entry["kid"], entry["sig"] = mallory.sign(entry["hash"])
    write(log, [*lines(log), json.dumps(entry)])
    code, out = cli(log, capsys)
    assert code == 1 and f"line {ENTRIES + 1}: the entry is signed by key {mallory.kid}, which is not a trusted" in out
    # ...and claiming the operator's key id does not help: the signature does not verify with it
    entry["kid"] = log.signer.kid
    write(log, [*lines(log)[:-1], json.dumps(entry)])
    code, out = cli(log, capsys)
    assert code == 1 and f"line {ENTRIES + 1}: the signature does not verify with key {log.signer.kid}" in out


@pytest.mark.parametrize("resign", [False, True], ids=["unsigned", "re-signed-with-another-key"])
def test_an_edit_with_every_later_line_re_chained_fails_at_the_edited_line(
        log: EvidenceLog, capsys: pytest.CaptureFixture[str], resign: bool) -> None:
    mallory = Signer(Ed25519PrivateKey.generate())
    rows = [json.loads(r) for r in lines(log)]
    rows[4]["result"] = "pass"
    prev = rows[3]["hash"]
    for e in rows[4:]:
        e["prev"] = prev
        e["hash"] = prev = entry_hash(e)
        if resign:
            e["kid"], e["sig"] = mallory.sign(e["hash"])
    write(log, [json.dumps(e) for e in rows])
    code, out = cli(log, capsys)
    expected = f"line 5: the entry is signed by key {mallory.kid}" if resign else "line 5: the signature does not verify"
    assert code == 1 and expected in out


def test_a_forged_signed_head_in_a_bundle_is_refused(log: EvidenceLog, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The attacker truncates the log and edits the auditor's bundle to name the truncated head."""
    export(log.path, "2026-03-01", "2026-04-01", None, tmp_path / "audit")
    write(log, lines(log)[:-3])
    bundle_file = tmp_path / "audit" / "bundle.json"
    bundle = json.loads(bundle_file.read_text())
    truncated_head = json.loads(lines(log)[-1])["hash"]
    bundle["signedHead"].update(hash=truncated_head, seq=ENTRIES - 3)  # the signature was over the real head
    bundle_file.write_text(json.dumps(bundle))
    capsys.readouterr()
    code, out = cli(log, capsys, anchor=[bundle_file])
    assert code == 1 and "is not a signed head of this log's key: the signature does not verify" in out


def test_a_missing_log_is_an_error_for_verify_and_export_alike(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert verify(None) == 2
    err = capsys.readouterr().err
    assert "no evidence log found; looked at:" in err and str(tmp_path / ".finplane/dev/evidence/evidence.jsonl") in err
    assert export(None, "2026-03-01", "2026-04-01", None, tmp_path / "out") == 2
    assert "no evidence log found" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert verify(tmp_path / "gone.jsonl") == 2
    assert "gone.jsonl: no evidence log" in capsys.readouterr().err


def test_replacing_the_public_key_file_beside_the_log_does_not_make_a_forgery_pass(
        log: EvidenceLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from finplane.policy.evidence_keys import public_pem

    accepted = tmp_path / "accepted.pem"  # what the auditor recorded when the system was accepted
    accepted.write_text(public_pem(log.signer.public))
    mallory = Signer(Ed25519PrivateKey.generate())
    (tmp_path / "keys" / "evidence-ed25519.pub").write_text(public_pem(mallory.public))
    entry = forged(log)
    entry["kid"], entry["sig"] = mallory.sign(entry["hash"])
    write(log, [*lines(log), json.dumps(entry)])
    for kw in ({}, {"public_keys": [accepted]}):
        code, out = cli(log, capsys, **kw)
        assert code == 1 and f"line {ENTRIES + 1}: the entry is signed by key {mallory.kid}" in out
