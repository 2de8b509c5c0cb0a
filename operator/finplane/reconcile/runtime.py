"""The operator's shared state: the gateway, the watch-fed stores of Finplane objects, the work queues.

Created once at operator start-up (`handlers.main`) and kept in kopf's memo. kopf's watch events
update the stores and enqueue keys; each kind's reconciler reads its object from the store, so a
worker always acts on the newest body it has seen (level-based).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from finplane.jsondata import copy_json
from finplane.kube.client import Kube
from finplane.kube.errors import Conflict, Forbidden, KubeError, NotFound
from finplane.metrics import READY, RECONCILE_DURATION, RECONCILES
from finplane.reconcile.failures import namespace_going, report_forbidden
from finplane.reconcile.queue import Retry, WorkQueue
from finplane.settings import Settings

__all__ = ["Key", "Runtime", "key_of"]

log = logging.getLogger("finplane.runtime")
Key = tuple[str, str]  # (namespace or "", name)
Obj = dict[str, Any]
Reconciler = Callable[["Runtime", Key], Awaitable[None]]


def key_of(body: Mapping[str, Any]) -> Key:
    meta = body.get("metadata", {})
    return (meta.get("namespace") or "", meta.get("name", ""))


@dataclass
class Runtime:
    kube: Kube
    settings: Settings
    workers: int = 4
    stores: dict[str, dict[Key, Obj]] = field(default_factory=dict)
    queues: dict[str, WorkQueue] = field(default_factory=dict)
    _observers: dict[str, list[Callable[[str, Obj, Obj | None], None]]] = field(default_factory=dict)
    # True while another replica is active (kopf peering). kopf pauses only its watches; queued keys,
    # retries and the drift timer are ours to hold back, or a standby would reconcile beside the leader.
    is_paused: Callable[[], bool] = lambda: False

    def register(self, kind: str, reconciler: Reconciler) -> None:
        """Give `kind` a store and a queue whose workers run `reconciler(runtime, key)`."""
        self.stores.setdefault(kind, {})

        async def run(key: Hashable) -> None:
            if self.is_paused():
                return  # the active replica owns it; on resuming, kopf relists and everything is enqueued again
            started = time.perf_counter()
            outcome = "ok"
            try:
                await reconciler(self, key)  # type: ignore[arg-type]
            except Retry:
                outcome = "retry"
                raise
            except (NotFound, Forbidden) as exc:
                if namespace_going(exc, key):  # type: ignore[arg-type]
                    outcome = "gone"  # its namespace is being deleted: the object's DELETED event follows
                    log.info("Stopped reconciling %s %s: %s", kind, key, exc.message)
                    return
                if isinstance(exc, NotFound):
                    outcome = "error"
                    raise
                outcome = "forbidden"  # RBAC: surfaced in status after a few attempts (reconcile.failures)
                await report_forbidden(self, kind, key, exc, attempt=self.queues[kind].failures(key) + 1)  # type: ignore[arg-type]
                raise
            except Conflict as exc:
                # Somebody wrote in between: the next pass reads the newer state, so one more cycle soon is
                # the cure. Growing the backoff instead left objects waiting a minute after a conflict storm.
                outcome = "conflict"
                raise Retry(f"conflict: {exc.message}", delay=self.settings.backoff_seconds) from exc
            except KubeError as exc:  # retried with backoff by the queue; the outcome says why, for dashboards
                outcome = "unavailable" if exc.retryable else "error"
                raise
            except Exception:
                outcome = "error"
                raise
            finally:
                RECONCILES.labels(kind, outcome).inc()
                RECONCILE_DURATION.labels(kind).observe(time.perf_counter() - started)

        self.queues[kind] = WorkQueue(run, workers=self.workers, name=kind,
                                      base_delay=self.settings.backoff_seconds,
                                      max_delay=self.settings.backoff_max_seconds)

    def on_change(self, kind: str, callback: Callable[[str, Obj, Obj | None], None]) -> None:
        """Call `callback(event_type, new_body, old_body)` on every watch event of `kind` (cross-kind wiring)."""
        self._observers.setdefault(kind, []).append(callback)

    def start(self) -> None:
        for q in self.queues.values():
            q.start()

    async def stop(self) -> None:
        await asyncio.gather(*(q.stop() for q in self.queues.values()))

    def observe(self, kind: str, event_type: str | None, body: Mapping[str, Any]) -> None:
        """A watch event: update the store, enqueue the key, tell observers."""
        store = self.stores.setdefault(kind, {})
        key = key_of(body)
        old = store.get(key)
        if event_type == "DELETED":
            store.pop(key, None)
            if kind in self.queues:
                self.queues[kind].forget(key)
            new: Obj = copy_json(dict(body))
        else:
            new = copy_json(dict(body))
            store[key] = new
            if kind in self.queues:
                self.queues[kind].enqueue(key)
        for cb in self._observers.get(kind, []):
            cb(event_type or "LISTED", new, old)

    def enqueue(self, kind: str, key: Key, *, delay: float = 0.0) -> None:
        if kind in self.queues and key in self.stores.get(kind, {}):
            self.queues[kind].enqueue(key, delay=delay)

    def get(self, kind: str, key: Key) -> Obj | None:
        return self.stores.get(kind, {}).get(key)

    def resync(self) -> None:
        """Re-enqueue every known object (the drift timer)."""
        for kind, q in self.queues.items():
            q.resync(list(self.stores.get(kind, {})))

    def idle(self) -> bool:
        return all(q.idle() for q in self.queues.values())

    def count_ready(self, kind: str) -> None:
        """Refresh the objects-by-Ready gauge (called periodically, not per event: O(n))."""
        counts = {"True": 0, "False": 0, "Unknown": 0}
        for body in self.stores.get(kind, {}).values():
            ready = next((c.get("status") for c in (body.get("status") or {}).get("conditions", []) or []
                          if c.get("type") == "Ready"), "Unknown")
            counts[ready if ready in counts else "Unknown"] += 1
        for state, n in counts.items():
            READY.labels(kind, state).set(n)
