"""The evidence writer after a crash, on a corrupt file, and with its signing key.

Covers: a torn last line (a crash mid-append) passes verification with a note, is cut off on the
next append and recorded by a `torn-line-recovered` entry (its size and SHA-256), and the chain
verifies afterwards; an entry whose newline was lost is kept and the next one goes on a new line;
a garbage line in the middle makes the log `corrupt` (`EvidenceCorrupt`, naming the line, and a
`Ready=False/EvidenceCorrupt` condition), `append` refuses to chain onto it and writes nothing;
a log truncated under a running writer is refused rather than chained onto the truncated head; a
head recorded outside the log that it does not reach marks it corrupt; the key is generated once
(mode 0600, public key beside it) and reused by a second writer; `FINPLANE_EVIDENCE_KEY_FILE` moves it;
the cluster's key round-trips through its Secret and the ConfigMap publishes only the public half.
"""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finplane.policy.evidence import EvidenceCorrupt, EvidenceLog
from finplane.policy.evidence_keys import default_key_file
from finplane.policy.evidence_verify import verify_log


@pytest.fixture(autouse=True)
def _no_configured_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINPLANE_EVIDENCE_KEY_FILE", raising=False)


def event(n: int) -> dict[str, object]:
    return {"type": "mode", "policy": f"p{n}", "mode": "audit"}


def three(tmp_path: Path) -> EvidenceLog:
    log = EvidenceLog(tmp_path / "evidence.jsonl")
    for n in range(3):
        log.append(event(n), now=datetime(2026, 3, 1, n, tzinfo=UTC))
    return log


def test_a_torn_last_line_is_cut_off_and_recorded_on_the_next_append(tmp_path: Path) -> None:
    log = three(tmp_path)
    torn = b'{"seq": 4, "time": "2026-03-01T03:00:00Z", "type": "mo'
    with log.path.open("ab") as fh:
        fh.write(torn)  # the crash: half a line, no newline
    v = verify_log(log.path)
    assert v.ok and v.entries == 3 and v.torn is not None and "line 4: a torn last line" in v.notes[0]

    restarted = EvidenceLog(log.path)  # the next start of the operator
    assert restarted.corrupt is None and restarted.seq == 3
    restarted.append(event(9))
    rows = [json.loads(r) for r in log.path.read_text().splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    recovered = rows[3]
    assert (recovered["type"], recovered["line"], recovered["bytes"]) == ("torn-line-recovered", 4, len(torn))
    import hashlib

    assert recovered["sha256"] == hashlib.sha256(torn).hexdigest()
    assert rows[4]["policy"] == "p9"
    v = verify_log(log.path)
    assert v.ok and v.entries == 5 and v.torn is None


def test_an_entry_whose_newline_was_lost_is_kept_and_the_next_goes_on_its_own_line(tmp_path: Path) -> None:
    log = three(tmp_path)
    log.path.write_bytes(log.path.read_bytes().rstrip(b"\n"))
    again = EvidenceLog(log.path)
    again.append(event(7))
    assert [json.loads(r)["seq"] for r in log.path.read_text().splitlines()] == [1, 2, 3, 4]
    assert verify_log(log.path).ok


def test_a_garbage_line_in_the_middle_is_corruption_and_nothing_is_chained_onto_it(tmp_path: Path) -> None:
    log = three(tmp_path)
    rows = log.path.read_text().splitlines()
    rows.insert(1, "#### not json ####")
    log.path.write_text("\n".join(rows) + "\n")
    before = log.path.read_bytes()
    reopened = EvidenceLog(log.path)
    assert isinstance(reopened.corrupt, EvidenceCorrupt) and reopened.corrupt.line == 2
    with pytest.raises(EvidenceCorrupt, match="line 2: not a JSON entry"):
        reopened.append(event(5))
    assert log.path.read_bytes() == before
    cond = reopened.corrupt.condition()
    assert (cond["type"], cond["status"], cond["reason"]) == ("Ready", "False", "EvidenceCorrupt")
    assert "line 2" in cond["message"]
    assert EvidenceLog(log.path).seq == 1  # the state replayed is what came before the corruption


def test_a_log_truncated_under_a_running_writer_is_refused_not_chained_onto(tmp_path: Path) -> None:
    log = three(tmp_path)
    rows = log.path.read_text().splitlines()
    log.path.write_text(rows[0] + "\n")  # the attacker removes the last two entries while the API runs
    with pytest.raises(EvidenceCorrupt, match="shorter than the .* bytes already read .*removed from its end"):
        log.append(event(4))
    assert log.path.read_text().splitlines() == rows[:1]
    with pytest.raises(EvidenceCorrupt):
        log.check()  # what the API asks before it makes a change


def test_the_log_deleted_under_a_writer_is_refused(tmp_path: Path) -> None:
    log = three(tmp_path)
    log.path.unlink()
    with pytest.raises(EvidenceCorrupt, match="gone"):
        log.check()
    with pytest.raises(EvidenceCorrupt):
        log.append(event(4))


def test_a_head_recorded_outside_the_log_that_it_does_not_reach_marks_it_corrupt(tmp_path: Path) -> None:
    log = three(tmp_path)
    status_head = log.head
    rows = log.path.read_text().splitlines()
    log.path.write_text(rows[0] + "\n")
    fresh = EvidenceLog(log.path)  # a restarted operator sees a consistent, shorter chain...
    assert fresh.corrupt is None
    problem = fresh.check_anchor(status_head, source="the status of CompliancePolicy baseline")
    assert problem is fresh.corrupt and problem is not None  # ...until it compares it with the status
    assert "does not reach the head recorded in the status of CompliancePolicy baseline" in str(problem)
    other = EvidenceLog(tmp_path / "other" / "evidence.jsonl")
    other.append(event(42))
    assert other.check_anchor(status_head, source="x") is not None  # another log does not reach it either
    ok = three(tmp_path / "ok")
    assert ok.check_anchor(ok.head, source="status") is None


def test_the_key_is_generated_once_private_and_reused_by_a_second_writer(tmp_path: Path) -> None:
    first = EvidenceLog(tmp_path / "evidence.jsonl")
    key = default_key_file(first.path)
    assert key == tmp_path / "keys" / "evidence-ed25519.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.with_suffix(".pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    second = EvidenceLog(first.path)
    assert second.signer.kid == first.signer.kid
    first.append(event(1))
    second.append(event(2))  # two writers, one chain, one key
    v = verify_log(first.path)
    assert v.ok and v.entries == 2


def test_the_key_file_setting_moves_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINPLANE_EVIDENCE_KEY_FILE", str(tmp_path / "secret" / "key.pem"))
    log = EvidenceLog(tmp_path / "logs" / "evidence.jsonl")
    log.append(event(1))
    assert (tmp_path / "secret" / "key.pem").exists() and not (tmp_path / "logs" / "keys").exists()
    assert verify_log(log.path).ok


def test_the_key_file_is_an_operator_setting_of_the_same_name() -> None:
    from finplane.policy.evidence_keys import KEY_ENV
    from finplane.settings import Settings

    assert "evidence_key_file" in Settings.model_fields
    assert KEY_ENV == "FINPLANE_" + "evidence_key_file".upper()


def test_the_cluster_key_round_trips_through_its_secret_and_only_the_public_half_is_published(
        tmp_path: Path) -> None:
    import base64

    from finplane.policy.evidence_keys import (
        load_public_key,
        public_key_configmap,
        signer_from_secret,
        signing_secret,
    )

    log = EvidenceLog(tmp_path / "evidence.jsonl")
    secret = signing_secret(log.signer, name="finplane-evidence-key", namespace="finplane-system")
    assert secret["immutable"] is True and secret["metadata"]["annotations"]["finplane.io/evidence-key-id"] == \
        log.signer.kid
    restored = signer_from_secret(secret)
    assert restored.kid == log.signer.kid
    again = EvidenceLog(log.path, signer=restored)  # the operator after a restart, key read from the Secret
    again.append(event(1))
    cm = public_key_configmap(log.signer, name="finplane-evidence-public-key", namespace="finplane-system")
    assert "PRIVATE" not in json.dumps(cm) and cm["data"]["kid"] == log.signer.kid
    pem = tmp_path / "published.pem"
    pem.write_text(cm["data"]["public-key.pem"])
    assert verify_log(log.path, keys=load_public_key(pem)).ok
    with pytest.raises(ValueError, match="has no evidence-ed25519.pem"):
        signer_from_secret({"metadata": {"name": "empty"}, "data": {}})
    assert base64.b64decode(secret["data"]["evidence-ed25519.pem"]).startswith(b"-----BEGIN PRIVATE KEY")
