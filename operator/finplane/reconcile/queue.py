"""A keyed work queue in the style of controller-runtime: deduplicated, rate-limited, level-based.

kopf's watch events only *enqueue* keys (`handlers/`); a fixed pool of workers takes each key and
runs its reconciler against the latest known body. Why not kopf's own create/update handlers:
they persist progress and a diff-base in annotations on every object (extra writes, and the
262,144-byte annotation limit of kopf issue #1087); a level-based queue writes nothing of its own.

Guarantees: one key is never reconciled by two workers at once; a key enqueued while it is being
processed runs once more afterwards; a failing key is retried with exponential backoff (capped),
never in a hot loop; `resync` re-enqueues every key (drift detection on a timer). "Not yet" is not
an error: a reconciler returns `Outcome(requeue_after=...)` and its controller calls
`enqueue(key, delay=...)`, the one requeue mechanism (reconcile.controller).

Order: a key that has had a pass before (a follow-up: its rollout progressed, a retry, a drift
check) is taken before keys waiting for their first pass, FIFO within each lane. With one FIFO, a
burst of 1,000 new objects ran every first pass before any second pass, so no object became Ready
until the whole backlog had been seen once (issue 19); a follow-up is one short pass and finishes
an object, so it goes first. Each key is in at most one lane at a time (`enqueue` deduplicates).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

__all__ = ["WorkQueue"]

log = logging.getLogger("finplane.queue")


@dataclass
class _State:
    failures: int = 0
    due: float = 0.0
    timer: asyncio.TimerHandle | None = None


@dataclass
class WorkQueue:
    """Run `handler(key)` for enqueued keys on `workers` concurrent workers."""

    handler: Callable[[Hashable], Awaitable[None]]
    workers: int = 4
    base_delay: float = 1.0
    max_delay: float = 300.0
    name: str = "queue"
    _queue: asyncio.Queue[None] = field(default_factory=asyncio.Queue)  # one token per key in a lane
    _followups: deque[Hashable] = field(default_factory=deque)  # keys that had a pass before: first
    _first: deque[Hashable] = field(default_factory=deque)  # keys waiting for their first pass
    _seen: set[Hashable] = field(default_factory=set)  # keys that had a pass (until forgotten)
    _forgotten: set[Hashable] = field(default_factory=set)  # forgotten while a pass of it ran
    _queued: set[Hashable] = field(default_factory=set)
    _active: set[Hashable] = field(default_factory=set)
    _dirty: set[Hashable] = field(default_factory=set)
    _states: dict[Hashable, _State] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    processed: int = 0
    retries: int = 0

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._worker(), name=f"{self.name}-{i}") for i in range(self.workers)]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for st in self._states.values():
            if st.timer:
                st.timer.cancel()

    def enqueue(self, key: Hashable, *, delay: float = 0.0) -> None:
        """Ask for `key` to be reconciled (after `delay` seconds); duplicates collapse."""
        if delay > 0:
            st = self._states.setdefault(key, _State())
            due = time.monotonic() + delay
            if st.timer and st.due <= due:
                return  # an earlier retry is already planned
            if st.timer:
                st.timer.cancel()
            st.due = due
            st.timer = asyncio.get_running_loop().call_later(delay, self._fire, key)
            return
        if key in self._active:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            (self._followups if key in self._seen else self._first).append(key)
            self._queue.put_nowait(None)

    def forget(self, key: Hashable) -> None:
        """The object is gone: drop its backoff state and any planned retry."""
        self._seen.discard(key)
        if key in self._active:
            self._forgotten.add(key)  # its pass is still running: do not remember it as seen afterwards
        st = self._states.pop(key, None)
        if st and st.timer:
            st.timer.cancel()

    def failures(self, key: Hashable) -> int:
        """How many times in a row `key` has failed (0 after a success)."""
        st = self._states.get(key)
        return st.failures if st else 0

    def _fire(self, key: Hashable) -> None:
        st = self._states.get(key)
        if st:
            st.timer = None
        self.enqueue(key)

    async def _worker(self) -> None:
        while True:
            await self._queue.get()
            key = self._followups.popleft() if self._followups else self._first.popleft()
            self._queued.discard(key)
            self._active.add(key)
            try:
                await self.handler(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a reconciler error must never kill the worker
                self.retries += 1
                st = self._states.setdefault(key, _State())
                st.failures += 1
                delay = min(self.max_delay, self.base_delay * 2 ** (st.failures - 1))
                delay *= 0.8 + 0.4 * random.random()  # jitter: many objects failing together spread out
                log.warning("Reconcile of %s failed (attempt %d), retrying in %.1fs: %s",
                            key, st.failures, delay, exc)
                self.enqueue(key, delay=delay)
            else:
                done = self._states.get(key)
                if done and done.failures:
                    done.failures = 0
            finally:
                self.processed += 1
                if key in self._forgotten:
                    self._forgotten.discard(key)
                else:
                    self._seen.add(key)
                self._active.discard(key)
                self._queue.task_done()
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.enqueue(key)

    def resync(self, keys: list[Hashable]) -> None:
        for k in keys:
            self.enqueue(k)

    def idle(self) -> bool:
        return not self._queued and not self._active
