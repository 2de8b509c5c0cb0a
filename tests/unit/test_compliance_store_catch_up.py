"""A new leader (after a failover) or a fresh start fills its stores object by object. Compliance must not
write evidence from a half-filled store: an object the evidence names that the store lacks, but the API
server still has, is not "removed".

Covers, with the one double of Finplane's gateway seam: the first operator records `fail` for a capability;
a second operator replaying the same record, whose store has not listed the capability yet while the API
server has it, records nothing and writes no status (it looks again in 1 s); once the store has it, still
nothing new is recorded; a capability really deleted is recorded as removed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.fake_kube import FakeKube
from tests.unit.test_compliance_outputs import reconcile_policy, runtime

Obj = dict[str, Any]
POLICY = ("", "baseline")


def recorded(tmp_path: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted((tmp_path / "evidence").rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("type") == "result":
                out.append((str(entry["object"]), str(entry["result"])))
    return out


async def test_a_new_leader_whose_store_lags_records_no_false_removal(tmp_path: Path) -> None:
    kube = FakeKube()
    first = runtime(kube, tmp_path)
    cap = first.stores["BusinessCapability"][("payments", "pay")]
    kube.put(dict(cap))
    await reconcile_policy(first, POLICY)
    assert recorded(tmp_path) == [("BusinessCapability/payments/pay", "fail")]

    second = runtime(kube, tmp_path)  # replays the record; its store has not listed the capability yet
    lagging = second.stores["BusinessCapability"].pop(("payments", "pay"))
    writes = len(kube.statuses("CompliancePolicy"))
    await reconcile_policy(second, POLICY)
    assert recorded(tmp_path) == [("BusinessCapability/payments/pay", "fail")]  # no "removed"
    assert len(kube.statuses("CompliancePolicy")) == writes  # nothing written from a half-filled store

    second.stores["BusinessCapability"][("payments", "pay")] = lagging  # the listing arrives
    await reconcile_policy(second, POLICY)
    assert recorded(tmp_path) == [("BusinessCapability/payments/pay", "fail")]


async def test_a_capability_really_deleted_is_recorded_as_removed(tmp_path: Path) -> None:
    kube = FakeKube()
    rt = runtime(kube, tmp_path)
    await reconcile_policy(rt, POLICY)
    rt.stores["BusinessCapability"].pop(("payments", "pay"))  # gone from the store and from the API server
    await reconcile_policy(rt, POLICY)
    assert recorded(tmp_path) == [("BusinessCapability/payments/pay", "fail"),
                                  ("BusinessCapability/payments/pay", "removed")]


async def test_a_standby_that_loaded_the_record_before_the_leader_wrote_records_no_false_removal(
        tmp_path: Path, monkeypatch: Any) -> None:
    """The standby replays the record when it starts, before the leader has recorded anything; its first pass
    after the failover catches up with the leader's chain. The store guard must read the caught-up record:
    reading the one replayed at start, it saw no result to protect, and `removed` was recorded (seen in CI)."""
    kube = FakeKube()
    monkeypatch.setenv("FINPLANE_EVIDENCE_WRITER", "op-a")
    leader = runtime(kube, tmp_path)
    monkeypatch.setenv("FINPLANE_EVIDENCE_WRITER", "op-b")
    standby = runtime(kube, tmp_path)  # started (and replayed the empty record) before the leader wrote
    cap = leader.stores["BusinessCapability"][("payments", "pay")]
    kube.put(dict(cap))
    await reconcile_policy(leader, POLICY)
    assert recorded(tmp_path) == [("BusinessCapability/payments/pay", "fail")]

    lagging = standby.stores["BusinessCapability"].pop(("payments", "pay"))  # the failover: not listed yet
    await reconcile_policy(standby, POLICY)
    assert recorded(tmp_path) == [("BusinessCapability/payments/pay", "fail")]  # no "removed"
    standby.stores["BusinessCapability"][("payments", "pay")] = lagging
    await reconcile_policy(standby, POLICY)
    assert recorded(tmp_path) == [("BusinessCapability/payments/pay", "fail")]  # and no second "fail"
