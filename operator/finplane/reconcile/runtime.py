"""The operator's shared state: the gateway, the watch-fed stores, the child cache, one controller per kind.

Created once at operator start-up (`handlers.main`) and kept in kopf's memo. kopf's watch events
reach `observe`, which updates a store and tells the watches declared by the reconcilers
(reconcile.shape.Watch) which keys to enqueue; each kind's `Controller` (reconcile.controller) runs
its reconciler against the newest body it has seen (level-based). Nothing kind-specific lives here:
per-kind state is on the reconciler objects. The process's one evidence writer is `recorder`
(reconcile.recorder): reconcilers record through it, and `observe` records changes to Finplane
objects made outside the platform API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finplane.jsondata import copy_json
from finplane.kube.client import Kube
from finplane.metrics import READY
from finplane.policy.evidence import LOG_NAME
from finplane.reconcile.child_cache import ChildCache
from finplane.reconcile.controller import Controller
from finplane.reconcile.queue import WorkQueue
from finplane.reconcile.recorder import EvidenceRecorder
from finplane.reconcile.shape import KindReconciler, Watch
from finplane.settings import Settings
from finplane.status.vocabulary import ready_status

__all__ = ["Key", "Runtime", "key_of", "stored_copy"]

Key = tuple[str, str]  # (namespace or "", name)
Obj = dict[str, Any]


def stored_copy(body: Mapping[str, Any]) -> Obj:
    """The copy of a watched body the store keeps: everything but managedFields' field sets.

    An applied object's managedFields are most of its size (6.7 of a capability's 11.5 KiB, issue 19)
    and nothing reads their field sets beyond the top level: evidence names the newest writer of
    `f:spec` (reconcile.recorder.spec_writer), so each entry keeps its manager, operation, time,
    subresource and the top-level keys of its fieldsV1."""
    out: Obj = {k: copy_json(v) for k, v in body.items() if k != "metadata"}
    meta = body.get("metadata") or {}
    slim: Obj = {k: copy_json(v) for k, v in meta.items() if k != "managedFields"}
    if "managedFields" in meta:
        slim["managedFields"] = [
            {**{k: m[k] for k in ("manager", "operation", "time", "subresource") if k in m},
             **({"fieldsV1": {f: {} for f in m["fieldsV1"]}} if isinstance(m.get("fieldsV1"), dict) else {})}
            for m in meta.get("managedFields") or [] if isinstance(m, dict)]
    out["metadata"] = slim
    return out


def key_of(body: Mapping[str, Any]) -> Key:
    meta = body.get("metadata", {})
    return (meta.get("namespace") or "", meta.get("name", ""))


@dataclass
class Runtime:
    kube: Kube
    settings: Settings
    workers: int = 4
    stores: dict[str, dict[Key, Obj]] = field(default_factory=dict)
    controllers: dict[str, Controller] = field(default_factory=dict)
    child_cache: ChildCache = field(default_factory=ChildCache)
    _watches: dict[str, list[tuple[str, Watch]]] = field(default_factory=dict)
    # True while another replica is active (kopf peering). kopf pauses only its watches; queued keys,
    # retries and the drift timer are ours to hold back, or a standby would reconcile beside the leader.
    is_paused: Callable[[], bool] = lambda: False
    recorder: EvidenceRecorder = field(init=False)  # the one evidence writer of this process

    def __post_init__(self) -> None:
        self.recorder = EvidenceRecorder(Path(self.settings.evidence_dir) / LOG_NAME,
                                         own_manager=self.settings.field_manager)

    @property
    def queues(self) -> dict[str, WorkQueue]:
        return {kind: c.queue for kind, c in self.controllers.items()}

    def add(self, reconciler: KindReconciler[Any]) -> Controller:
        """Give `reconciler`'s kind a store, a controller, and hook up the watches it declares."""
        kind = reconciler.kind
        self.stores.setdefault(kind, {})
        controller = self.controllers[kind] = Controller(self, reconciler)
        for watch in reconciler.watches():
            if watch.stored:
                self.stores.setdefault(watch.kind, {})
            self._watches.setdefault(watch.kind, []).append((kind, watch))
        return controller

    def start(self) -> None:
        for c in self.controllers.values():
            c.queue.start()

    async def stop(self) -> None:
        await asyncio.gather(*(c.queue.stop() for c in self.controllers.values()))
        self.recorder.flush()  # what the last group commit has not synced yet

    def observe(self, kind: str, event_type: str | None, body: Mapping[str, Any]) -> None:
        """A watch event: update the store (kinds kept there), enqueue the object itself, run the watches."""
        key = key_of(body)
        store = self.stores.get(kind)
        old = store.get(key) if store is not None else None
        # A deletion found by a relist carries only the informer's projection of the object: its last state
        # is the stored one.
        new: Obj = old if event_type == "DELETED" and old is not None and "spec" not in body else stored_copy(body)
        recording = not self.is_paused()  # a standby observes, the active replica records
        if store is not None:
            if event_type == "DELETED":
                store.pop(key, None)
                if kind in self.controllers:
                    self.controllers[kind].forget(key)
                    if recording:
                        self.recorder.deleted(kind, new)
            else:
                store[key] = new
                if kind in self.controllers:
                    self.controllers[kind].queue.enqueue(key)
                    if event_type in ("ADDED", "MODIFIED") and recording:  # not the listing at start
                        self.recorder.observed(kind, event_type, new, old)
        event = event_type or "LISTED"
        for target, watch in self._watches.get(kind, ()):
            for wake in watch.keys(event, new, old):
                self.enqueue(target, wake)

    def enqueue(self, kind: str, key: Key, *, delay: float = 0.0) -> None:
        """Wake `key` of `kind` (after `delay` seconds) if the object is known."""
        if kind in self.controllers and key in self.stores.get(kind, {}):
            self.controllers[kind].queue.enqueue(key, delay=delay)

    def get(self, kind: str, key: Key) -> Obj | None:
        return self.stores.get(kind, {}).get(key)

    def replay(self) -> None:
        """Wake every known object and run the watches as for a fresh listing (a standby that became active:
        what it observed while paused was neither reconciled nor acted on)."""
        for kind, store in list(self.stores.items()):
            for key, obj in list(store.items()):
                if kind in self.controllers:
                    self.controllers[kind].queue.enqueue(key)
                for target, watch in self._watches.get(kind, ()):
                    for wake in watch.keys("LISTED", obj, None):
                        self.enqueue(target, wake)

    def resync(self) -> None:
        """Re-enqueue every known object (the drift timer)."""
        for kind, c in self.controllers.items():
            c.queue.resync(list(self.stores.get(kind, {})))

    def idle(self) -> bool:
        return all(c.queue.idle() for c in self.controllers.values())

    def count_ready(self, kind: str) -> None:
        """Refresh the objects-by-Ready gauge (at start-up and on the drift timer, not per event: O(n))."""
        counts = {"True": 0, "False": 0, "Unknown": 0}
        for body in self.stores.get(kind, {}).values():
            counts[str(ready_status(body))] += 1
        for state, n in counts.items():
            READY.labels(kind, state).set(n)
