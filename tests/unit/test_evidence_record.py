"""Several writers, one record: each pod's own signed chain, the heads they witness of each other, the merge.

Covers: two API replicas and an operator failover (a second operator process opening its own chain) give one
record that verifies, merged in a deterministic order, with nothing recorded twice (the second operator replays
the first one's results and marks); and, as an attacker with write access to the shared volume but not the key:
removing one writer's whole chain, cutting entries off its end, replacing it by an older copy, moving a chain to
another writer's file name, and appending an entry signed by another key each fail verification naming the
chain; the newest chain's cut tail fails against the policy's recorded head; the running operator itself
reports a removed chain (`record_problem`), which is what turns its policies `EvidenceCorrupt`.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from finplane.policy.evidence import EvidenceLog, entry_hash, open_chain
from finplane.policy.evidence_anchors import anchors_from_policies
from finplane.policy.evidence_keys import Signer
from finplane.policy.evidence_merge import verify_record
from finplane.policy.evidence_record import check_writer_id

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_configured_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FINPLANE_EVIDENCE_KEY_FILE", "FINPLANE_EVIDENCE_DIR", "FINPLANE_EVIDENCE_WRITER"):
        monkeypatch.delenv(var, raising=False)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def result(key: str, value: str) -> dict[str, object]:
    return {"type": "result", "key": key, "policy": "baseline", "rule": "no-latest-tag", "object": key,
            "result": value}


def api_change(who: str) -> dict[str, object]:
    return {"type": "api-change", "action": "create", "object": f"BusinessCapability/payments/{who}", "actor": who}


def build(record: Path) -> dict[str, EvidenceLog]:
    """Operator op-a records results, two API replicas record changes, op-a stops and op-b takes over."""
    op_a, api_1, api_2 = (open_chain(record, writer=w) for w in ("op-a", "api-1", "api-2"))
    op_a.append(result("svc1", "fail"), now=at(1))
    api_1.append(api_change("pat"), now=at(2))
    api_2.append(api_change("ada"), now=at(3))
    op_a.append(result("svc2", "pass"), now=at(4))
    assert op_a.witness(now=at(5)) is not None  # the operator's pass witnesses both API chains
    api_1.append(api_change("bob"), now=at(6))
    op_b = open_chain(record, writer="op-b")  # the standby, started before the failover, reads the record
    op_b.append(result("svc1", "pass"), now=at(8))  # its first entry opens its chain with everyone's heads
    return {"op-a": op_a, "api-1": api_1, "api-2": api_2, "op-b": op_b}


def chain(record: Path, writer: str) -> Path:
    return record / "chains" / f"{writer}.jsonl"


def test_two_api_replicas_and_a_failover_give_one_record_that_verifies(tmp_path: Path) -> None:
    logs = build(tmp_path)
    rv = verify_record(tmp_path, anchors=anchors_from_policies(
        [{"metadata": {"name": "baseline"}, "status": {"evidence": {"headHash": logs["op-b"].head}}}]))
    assert rv.ok, rv.problems
    assert sorted(rv.chains) == ["api-1", "api-2", "op-a", "op-b"]
    assert len(rv.entries) == sum(log.seq for log in logs.values())  # nothing lost
    assert [e["time"] for e in rv.entries] == sorted(e["time"] for e in rv.entries)
    assert [(e["chain"], e["seq"]) for e in rv.entries] == \
        [(e["chain"], e["seq"]) for e in verify_record(tmp_path).entries]  # the merge is deterministic
    opened = next(e for e in rv.entries if e["chain"] == "op-b" and e["type"] == "chain-opened")
    assert opened["heads"]["op-a"] == {"seq": logs["op-a"].seq, "hash": logs["op-a"].head}
    assert rv.anchors == ("the status of CompliancePolicy baseline",)


def test_the_operator_taking_over_replays_the_record_and_records_nothing_twice(tmp_path: Path) -> None:
    logs = build(tmp_path)
    op_b = logs["op-b"]
    assert op_b.results["svc1"]["result"] == "pass" and op_b.results["svc2"]["result"] == "pass"
    restarted = open_chain(tmp_path, writer="op-c")  # a later replica: the newest result of each key wins
    assert {k: e["result"] for k, e in restarted.results.items()} == {"svc1": "pass", "svc2": "pass"}
    assert restarted.seq == 0 and not chain(tmp_path, "op-c").exists()  # reading opened nothing
    logs["op-a"].append({"type": "mode", "policy": "baseline", "mode": "enforce"}, now=at(9))
    restarted.check()  # the pass before its first append catches up with what the others wrote since
    assert restarted.modes == {"baseline": "enforce"}


def test_removing_one_writers_chain_is_detected(tmp_path: Path) -> None:
    build(tmp_path)
    chain(tmp_path, "api-2").unlink()
    rv = verify_record(tmp_path)
    assert not rv.ok
    assert any("witnessed chain api-2 at seq 2" in p and "that chain is missing" in p for p in rv.problems), rv.problems


def test_cutting_the_end_of_a_writers_chain_is_detected(tmp_path: Path) -> None:
    build(tmp_path)
    rows = chain(tmp_path, "api-1").read_text().splitlines(keepends=True)
    chain(tmp_path, "api-1").write_text("".join(rows[:-1]))  # "bob"'s change, which op-b's chain-opened witnessed
    rv = verify_record(tmp_path)
    assert not rv.ok
    assert any("chain op-b witnessed chain api-1 at seq 3" in p and "entries were removed from its end" in p
               for p in rv.problems), rv.problems


def test_an_older_copy_of_a_chain_is_detected(tmp_path: Path) -> None:
    old = tmp_path / "old-op-a.jsonl"
    op_a = open_chain(tmp_path, writer="op-a")
    op_a.append(result("svc1", "fail"), now=at(1))
    shutil.copy(chain(tmp_path, "op-a"), old)
    op_a.append(result("svc1", "pass"), now=at(2))
    api = open_chain(tmp_path, writer="api-1")
    api.append(api_change("pat"), now=at(3))  # its chain-opened witnesses op-a at seq 3
    shutil.copy(old, chain(tmp_path, "op-a"))
    rv = verify_record(tmp_path)
    assert not rv.ok and any("witnessed chain op-a at seq 3" in p for p in rv.problems), rv.problems


def test_a_chain_moved_to_another_writers_name_is_detected(tmp_path: Path) -> None:
    build(tmp_path)
    chain(tmp_path, "api-2").rename(chain(tmp_path, "api-9"))
    rv = verify_record(tmp_path)
    assert not rv.ok
    assert any("chain api-9" in p and "belongs to chain api-2" in p for p in rv.problems), rv.problems


def test_an_entry_signed_by_another_key_fails_verify(tmp_path: Path) -> None:
    build(tmp_path)
    forger = Signer(Ed25519PrivateKey.generate())
    last = json.loads(chain(tmp_path, "api-2").read_text().splitlines()[-1])
    forged = {"seq": last["seq"] + 1, "time": "2026-03-02T10:00:00.000000Z", **api_change("mallory"),
              "chain": "api-2", "prev": last["hash"]}
    forged["hash"] = entry_hash(forged)
    forged["kid"], forged["sig"] = forger.sign(forged["hash"])
    with chain(tmp_path, "api-2").open("a") as fh:
        fh.write(json.dumps(forged) + "\n")
    rv = verify_record(tmp_path)
    assert not rv.ok
    assert any("chain api-2" in p and f"signed by key {forger.kid}, which is not a trusted" in p
               for p in rv.problems), rv.problems


def test_the_newest_chains_cut_tail_fails_against_the_policys_head(tmp_path: Path) -> None:
    logs = build(tmp_path)
    status = [{"metadata": {"name": "baseline"}, "status": {"evidence": {"headHash": logs["op-b"].head}}}]
    rows = chain(tmp_path, "op-b").read_text().splitlines(keepends=True)
    chain(tmp_path, "op-b").write_text(rows[0])  # nobody witnessed op-b's last result: only the status did
    assert verify_record(tmp_path).ok  # without an anchor the cut is invisible, as the docs say
    rv = verify_record(tmp_path, anchors=anchors_from_policies(status))
    assert not rv.ok and any("no chain reaches the head recorded in the status of CompliancePolicy baseline" in p
                             for p in rv.problems), rv.problems


def test_the_running_operator_reports_a_removed_chain(tmp_path: Path) -> None:
    logs = build(tmp_path)
    op_b = logs["op-b"]
    assert op_b.record_problem() is None
    chain(tmp_path, "api-1").unlink()
    op_b.check()  # its own chain is whole: its appends go on
    problem = op_b.record_problem()
    assert problem is not None and "api-1" in str(problem) and "gone" in str(problem)
    assert problem.condition()["reason"] == "EvidenceCorrupt"


def test_a_writer_id_must_be_a_pod_name() -> None:
    assert check_writer_id("finplane-api-7d9c-x2x") == "finplane-api-7d9c-x2x"
    for bad in ("../evil", "Upper", "", "a/b"):
        with pytest.raises(ValueError, match="FINPLANE_EVIDENCE_WRITER"):
            check_writer_id(bad)
