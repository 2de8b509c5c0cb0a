"""The one reconcile loop, run for every kind: everything a `KindReconciler` does not do itself.

Created by `Runtime.add` for each reconciler (reconcile.shape). For each key a worker takes from the
kind's queue it: reads the newest body from the store; skips objects being deleted and passes older
than the operator's own last status write (reconcile.own_writes); skips an object refused terminally
until its generation changes; parses the spec (InvalidSpec on error); calls `reconcile`; reports what
the pass applied, drifted and pruned (finplane_child_writes_total, finplane_drift_corrections_total, a
log line each, a Warning `Drift` event each, an evidence entry naming the reverted writer each); writes the status when it changed; and requeues after
`Outcome.requeue_after`. API errors are classified for finplane_reconciles_total and left to the
queue's backoff; a 409 Conflict is requeued once soon (the next pass reads the newer state).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from finplane.kube.errors import Conflict, Forbidden, KubeError, NotFound
from finplane.kube.events import post_event
from finplane.metrics import DRIFT, RECONCILE_DURATION, RECONCILES, WRITES
from finplane.reconcile.children import SyncResult
from finplane.reconcile.failures import namespace_going, report_forbidden
from finplane.reconcile.own_writes import OwnWrites
from finplane.reconcile.queue import WorkQueue
from finplane.reconcile.shape import KindReconciler, Outcome, Pass, Refuse, invalid_spec
from finplane.reconcile.status_write import write_status
from finplane.status.kstatus import with_kstatus

if TYPE_CHECKING:
    from finplane.reconcile.runtime import Runtime

__all__ = ["Controller", "status_fields"]

log = logging.getLogger("finplane.controller")
Obj = dict[str, Any]
Key = tuple[str, str]


def status_fields(status: BaseModel | None) -> Obj:
    """The status model as status fields: camelCase, only the fields the reconciler set.

    A top-level field set to None is removed from the stored status (merge-patch null); inside
    nested values a None only means "not set" and is left out. Conditions and observedGeneration
    are the controller's (status_write)."""
    if status is None:
        return {}
    fields = status.model_dump(by_alias=True, exclude_unset=True, mode="json")
    fields.pop("conditions", None)
    fields.pop("observedGeneration", None)
    return {k: _without_none(v) for k, v in fields.items()}


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


class Controller:
    """One kind's queue, workers and loop around its reconciler."""

    def __init__(self, rt: Runtime, reconciler: KindReconciler[Any]) -> None:
        self.rt = rt
        self.reconciler = reconciler
        self.kind = reconciler.kind
        self.own_writes = OwnWrites()
        self._terminal: dict[Key, tuple[str, Any]] = {}  # key -> (uid, generation) refused for good
        self.queue = WorkQueue(self._run, workers=rt.workers, name=self.kind, base_delay=rt.settings.backoff_seconds,
                               max_delay=rt.settings.backoff_max_seconds)

    def forget(self, key: Key) -> None:
        self.queue.forget(key)
        self._terminal.pop(key, None)

    async def _run(self, raw_key: Hashable) -> None:
        key: Key = raw_key  # type: ignore[assignment]
        if self.rt.is_paused():
            return  # the active replica owns it; on resuming, kopf relists and everything is enqueued again
        started = time.perf_counter()
        outcome = "ok"
        try:
            await self.reconcile_once(key)
        except (NotFound, Forbidden) as exc:
            if namespace_going(exc, key):
                outcome = "gone"  # its namespace is being deleted: the object's DELETED event follows
                log.info("Stopped reconciling %s %s: %s", self.kind, key, exc.message)
                return
            if isinstance(exc, NotFound):
                outcome = "error"
                raise
            outcome = "forbidden"  # RBAC: surfaced in status after a few attempts (reconcile.failures)
            await report_forbidden(self.rt, self.kind, key, exc, attempt=self.queue.failures(key) + 1)
            raise
        except Conflict as exc:
            # Somebody wrote in between: the next pass reads the newer state, so one more cycle soon is
            # the cure. Growing the backoff instead left objects waiting a minute after a conflict storm.
            outcome = "conflict"
            log.info("Requeued %s %s after a conflict: %s", self.kind, key, exc.message)
            self.queue.enqueue(key, delay=self.rt.settings.backoff_seconds)
        except KubeError as exc:  # retried with backoff by the queue; the outcome says why, for dashboards
            outcome = "unavailable" if exc.retryable else "error"
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            RECONCILES.labels(self.kind, outcome).inc()
            RECONCILE_DURATION.labels(self.kind).observe(time.perf_counter() - started)

    async def reconcile_once(self, key: Key) -> None:
        """One pass over `key` (the workers call this; so do unit tests, without a queue)."""
        body = self.rt.get(self.kind, key)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return  # garbage collection removes the children through their owner references
        if self.own_writes.pending(body):
            return  # older than our own last status write: its echo will enqueue this object again
        meta = body["metadata"]
        version = (meta.get("uid", ""), meta.get("generation"))
        if self._terminal.get(key) == version:
            return  # refused for good: only a new spec (generation) can change the verdict
        self._terminal.pop(key, None)
        p: Pass[Any] | None = None
        try:
            try:
                spec = self.reconciler.parse(body)
            except ValidationError as exc:
                raise invalid_spec(exc) from None
            p = Pass(key=key, body=body, spec=spec, rt=self.rt)
            result = await self.reconciler.reconcile(p)
        except Refuse as refusal:
            log.warning("Refused %s %s/%s: %s: %s", self.kind, key[0] or "-", key[1], refusal.reason, refusal.message)
            result = self.reconciler.refused(body, refusal)
            result.requeue_after = result.requeue_after if result.requeue_after is not None else refusal.requeue_after
            if refusal.terminal and result.requeue_after is None:
                self._terminal[key] = version
        finally:
            if p is not None:
                await self.report(body, p.reports)
        await self.write(body, result)
        if result.requeue_after is not None:
            self.queue.enqueue(key, delay=max(0.0, result.requeue_after))

    async def write(self, body: Obj, result: Outcome) -> bool:
        if not result.writes_status:
            return False
        return await write_status(self.rt.kube, result.body or body, conditions=with_kstatus(result.conditions),
                                  fields=status_fields(result.status), keep_types=result.keep_types,
                                  on_written=self.own_writes.note)

    async def report(self, body: Obj, results: list[SyncResult]) -> None:
        """Metrics, log lines and Drift events for what the pass wrote: the same for every kind."""
        meta = body["metadata"]
        where = f"{meta.get('namespace') or '-'}/{meta['name']}"
        for res in results:
            for child, fields in res.drifted:
                DRIFT.labels(self.kind, child.split("/")[0]).inc()
                log.info("Drift on %s of %s %s: %s", child, self.kind, where, ", ".join(fields[:10]))
                await post_event(self.rt.kube, body, type_="Warning", reason="Drift",
                                 message=f"Reverted manual change to {child}: {', '.join(fields[:10])}")
                self.rt.recorder.drift(body, child, fields, res.before.get(child))
            for cid in res.applied:
                WRITES.labels(self.kind, "apply").inc()
                log.info("Applied %s for %s %s", cid, self.kind, where)
            for cid in res.pruned:
                WRITES.labels(self.kind, "prune").inc()
                log.info("Deleted %s for %s %s (no longer rendered)", cid, self.kind, where)
