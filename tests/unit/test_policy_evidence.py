"""The evidence log: a hash chain that verifies, detects an edited, removed or reordered line at that
line, survives a restart (state replayed), and exports what was true on a past date for one team.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

from finplane.commands.evidence import export, verify
from finplane.policy.evidence import EvidenceLog, verify_log


def day(d: int) -> datetime:
    return datetime(2026, 3, d, 12, tzinfo=UTC)


def result(obj: str, res: str, team: str = "payments") -> dict[str, str]:
    return {"type": "result", "key": f"baseline|no-latest-tag|{obj}", "policy": "baseline", "rule": "no-latest-tag",
            "object": obj, "team": team, "result": res}


def filled(tmp_path: Path) -> Path:
    log = EvidenceLog(tmp_path / "evidence.jsonl")
    log.append(result("BusinessCapability/payments/api", "fail"), now=day(1))
    log.append(result("BusinessCapability/kyc/check", "pass", team="kyc"), now=day(1))
    log.append({"type": "waiver-granted", "policy": "baseline", "waiver": "tags-ok"}, now=day(2))
    log.append(result("BusinessCapability/payments/api", "pass"), now=day(5))
    return log.path


def test_an_untouched_chain_verifies(tmp_path: Path, capsys: object) -> None:
    path = filled(tmp_path)
    assert verify_log(path).ok and verify_log(path).entries == 4
    assert verify(path) == 0


def test_editing_one_line_fails_verification_at_that_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = filled(tmp_path)
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"pass"', '"fail"')
    path.write_text("\n".join(lines) + "\n")
    v = verify_log(path)
    assert not v.ok and v.bad_line == 2
    assert verify(path) == 1
    assert "line 2" in capsys.readouterr().out


def test_removing_a_line_fails_verification_at_the_next_one(tmp_path: Path) -> None:
    path = filled(tmp_path)
    lines = path.read_text().splitlines()
    del lines[2]
    path.write_text("\n".join(lines) + "\n")
    assert verify_log(path).bad_line == 3


def test_rehashing_an_edited_line_fails_at_that_line_on_its_signature(tmp_path: Path) -> None:
    from finplane.policy.evidence import entry_hash

    path = filled(tmp_path)
    lines = path.read_text().splitlines()
    entry = json.loads(lines[0])
    entry["result"] = "pass"
    entry["hash"] = entry_hash(entry)
    lines[0] = json.dumps(entry)
    path.write_text("\n".join(lines) + "\n")
    v = verify_log(path)
    assert v.bad_line == 1 and "signature does not verify" in v.reason


def test_a_reopened_log_continues_the_chain_and_remembers_the_last_results(tmp_path: Path) -> None:
    path = filled(tmp_path)
    log = EvidenceLog(path)
    assert log.seq == 4 and log.results["baseline|no-latest-tag|BusinessCapability/payments/api"]["result"] == "pass"
    assert log.waivers == {"baseline/tags-ok": "granted"}
    log.append(result("BusinessCapability/payments/api", "fail"), now=day(6))
    assert verify_log(path).ok and verify_log(path).entries == 5


def test_an_export_for_a_past_date_shows_what_was_true_then_for_one_team(tmp_path: Path) -> None:
    path = filled(tmp_path)
    out = tmp_path / "bundle"
    assert export(path, "2026-03-01", "2026-03-03T00:00:00Z", "payments", out) == 0
    bundle = json.loads((out / "bundle.json").read_text())
    assert [(e["object"], e["result"]) for e in bundle["stateAtTo"]] == [("BusinessCapability/payments/api", "fail")]
    assert bundle["chainVerified"] is True and bundle["chainHead"] == verify_log(path).head
    assert [e["type"] for e in bundle["entries"]] == ["result", "waiver-granted"]
    with (out / "state.csv").open() as fh:
        assert fh.readline().startswith("# chain head ")
        rows = list(csv.DictReader(fh))
    assert [r["result"] for r in rows] == ["fail"]
    assert export(path, "2026-03-01", "2026-03-06", "payments", tmp_path / "later") == 0
    later = json.loads((tmp_path / "later" / "bundle.json").read_text())
    assert [e["result"] for e in later["stateAtTo"]] == ["pass"]


def test_two_writers_on_one_file_extend_a_single_chain(tmp_path: Path) -> None:
    first, second = EvidenceLog(tmp_path / "e.jsonl"), EvidenceLog(tmp_path / "e.jsonl")
    first.append(result("BusinessCapability/a/x", "fail"), now=day(1))
    second.append(result("BusinessCapability/a/y", "fail"), now=day(1))
    first.append(result("BusinessCapability/a/x", "pass"), now=day(2))
    v = verify_log(tmp_path / "e.jsonl")
    assert v.ok and v.entries == 3
