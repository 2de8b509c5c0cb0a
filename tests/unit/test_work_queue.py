"""The operator's work queue: deduplication, one worker per key at a time, backoff on failure.

Covers: a key enqueued many times while waiting runs once; a key enqueued while running runs once more;
a failing key is retried with growing delays, not in a hot loop.
"""

from __future__ import annotations

import asyncio

from finplane.reconcile.queue import WorkQueue


async def test_duplicate_keys_collapse_into_one_run() -> None:
    runs: list[str] = []

    async def handler(key: object) -> None:
        runs.append(str(key))

    q = WorkQueue(handler, workers=2)
    for _ in range(10):
        q.enqueue("a")
    q.start()
    await asyncio.sleep(0.05)
    await q.stop()
    assert runs == ["a"]


async def test_a_key_enqueued_while_running_runs_again_afterwards_never_concurrently() -> None:
    active, runs = 0, 0
    overlap = False
    gate = asyncio.Event()

    async def handler(key: object) -> None:
        nonlocal active, runs, overlap
        active += 1
        overlap = overlap or active > 1
        runs += 1
        await gate.wait()
        active -= 1

    q = WorkQueue(handler, workers=4)
    q.start()
    q.enqueue("k")
    await asyncio.sleep(0.02)
    q.enqueue("k")
    q.enqueue("k")
    gate.set()
    await asyncio.sleep(0.05)
    await q.stop()
    assert runs == 2 and not overlap


async def test_failures_back_off_instead_of_looping() -> None:
    calls = 0

    async def handler(key: object) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom")

    q = WorkQueue(handler, workers=1, base_delay=0.05, max_delay=10)
    q.start()
    q.enqueue("x")
    await asyncio.sleep(0.4)  # delays 0.05, 0.1, 0.2 (jittered): at most 4 attempts fit
    await q.stop()
    assert 2 <= calls <= 4


async def test_a_follow_up_pass_runs_before_the_backlog_of_first_passes() -> None:
    """A burst of new objects must not hold back the second pass that makes an earlier one Ready."""
    runs: list[str] = []

    async def handler(key: object) -> None:
        runs.append(str(key))
        if key == "old" and runs.count("old") == 1:
            for i in range(5):  # the burst arrives while the first pass of "old" runs
                q.enqueue(f"new-{i}")
            q.enqueue("old")  # its follow-up (the rollout progressed): wanted before the burst

    q = WorkQueue(handler, workers=1)
    q.enqueue("old")
    q.start()
    for _ in range(100):
        await asyncio.sleep(0.01)
        if len(runs) == 7:
            break
    await q.stop()
    assert runs == ["old", "old", "new-0", "new-1", "new-2", "new-3", "new-4"]


async def test_a_forgotten_key_comes_back_as_new_and_waits_its_turn() -> None:
    runs: list[str] = []

    async def handler(key: object) -> None:
        runs.append(str(key))

    q = WorkQueue(handler, workers=1)
    q.start()
    q.enqueue("a")
    await asyncio.sleep(0.02)
    q.forget("a")  # deleted, then created again under the same name: a first pass, not a follow-up
    q.enqueue("b")
    q.enqueue("a")
    await asyncio.sleep(0.05)
    await q.stop()
    assert runs == ["a", "b", "a"]
