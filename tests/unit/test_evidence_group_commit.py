"""The operator's observational evidence is group-committed: written at once, synced to disk once per batch.

Covers: entries recorded in a burst inside the event loop are in the log file immediately (a crash of the
process loses none) and verify; they share one fsync, run off the loop shortly after; outside a loop (the CLI)
each is synced at once; the runtime's stop syncs what is still waiting; a compliance result (appended by the
reconciler, not the recorder) is still synced before `append` returns.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from finplane.policy.evidence import EvidenceLog
from finplane.reconcile import recorder as recorder_module
from finplane.reconcile.recorder import EvidenceRecorder
from finplane.reconcile.runtime import Runtime
from finplane.settings import Settings
from tests.support.fake_kube import FakeKube


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The .jsonl files synced (the signing key's file is synced too when it is created: not counted)."""
    calls: list[str] = []
    real = os.fsync

    def counting(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if path.endswith(".jsonl"):
            calls.append(path)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def capability(name: str) -> dict[str, Any]:
    return {"kind": "BusinessCapability", "metadata": {"name": name, "namespace": "payments", "uid": f"u-{name}",
                                                       "generation": 1}}


async def test_a_burst_of_observations_is_written_at_once_and_synced_once(tmp_path: Path, fsyncs: list[str]) -> None:
    rec = EvidenceRecorder(tmp_path / "evidence" / "log.jsonl")
    for i in range(20):
        rec.deleted("BusinessCapability", capability(f"c{i}"))
    written = [e for e in lines(rec.log.path) if e["type"] == "deleted"]
    assert len(written) == 20  # in the file already: the kernel has them, a process crash loses none
    assert fsyncs == [] and rec.log.unsynced == 20
    await asyncio.sleep(recorder_module.FLUSH_SECONDS * 4)
    for _ in range(50):
        if fsyncs:
            break
        await asyncio.sleep(0.01)
    assert len(fsyncs) == 1 and rec.log.unsynced == 0  # one fsync for the burst
    reopened = EvidenceLog(rec.log.path)
    assert reopened.corrupt is None and reopened.seq == rec.log.seq


def test_outside_an_event_loop_each_entry_is_synced_before_record_returns(tmp_path: Path, fsyncs: list[str]) -> None:
    rec = EvidenceRecorder(tmp_path / "evidence" / "log.jsonl")
    rec.deleted("BusinessCapability", capability("a"))
    rec.deleted("BusinessCapability", capability("b"))
    assert len(fsyncs) == 2 and rec.log.unsynced == 0


async def test_stopping_the_runtime_syncs_what_is_still_waiting(tmp_path: Path, fsyncs: list[str]) -> None:
    rt = Runtime(kube=FakeKube(), settings=Settings(evidence_dir=str(tmp_path / "evidence")))  # type: ignore[arg-type]
    rt.recorder.deleted("BusinessCapability", capability("a"))
    assert fsyncs == []
    await rt.stop()
    assert len(fsyncs) == 1 and rt.recorder.log.unsynced == 0


def test_an_append_that_asks_for_durability_is_synced_before_it_returns(tmp_path: Path, fsyncs: list[str]) -> None:
    log = EvidenceLog(tmp_path / "log.jsonl")
    log.append({"type": "result", "key": "p|r|BusinessCapability/payments/a", "result": "fail"})
    assert len(fsyncs) == 1 and log.unsynced == 0
