"""Write an object's status only when it changed, and post events only when a condition turns bad.

Called by every reconciler at the end of its pass. Comparing before writing is what makes an
unchanged object cost zero writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from finplane.kube.client import Kube
from finplane.kube.errors import NotFound
from finplane.kube.events import post_event
from finplane.status.conditions import Cond, merge_conditions
from finplane.status.vocabulary import ConditionType, Reason

__all__ = ["write_status"]

log = logging.getLogger("finplane.status")
# Reasons every healthy object passes through (a new Deployment is not available yet): not worth a Warning.
TRANSIENT_REASONS = frozenset({Reason.REPLICAS_NOT_READY, Reason.ROLLING_OUT, Reason.RECONCILING,
                               Reason.DEPENDENCIES_NOT_READY})
#: Conditions whose turning False (for a new reason) is worth a Warning event.
ANNOUNCED = (ConditionType.READY, ConditionType.DEPENDENCIES_READY, ConditionType.IMAGE_PULL_ACCESS)
Obj = dict[str, Any]


async def write_status(kube: Kube, body: Obj, *, conditions: list[Cond], fields: Obj,
                       keep_types: tuple[str, ...] = (ConditionType.COMPLIANT,),
                       on_written: Callable[[Obj], None] | None = None) -> bool:
    """Merge `conditions` and `fields` into the status; patch only if something differs. Returns whether it wrote.

    Conditions of `keep_types` are owned by other controllers (compliance) and carried over as they are.
    A condition turning False with a new reason produces one Warning event. `on_written` receives the
    object the server returned after a write (reconcile.own_writes).
    """
    meta = body["metadata"]
    current: Obj = dict(body.get("status") or {})
    generation = meta.get("generation")
    old_conds = current.get("conditions") or []
    merged = merge_conditions(old_conds, conditions, generation=generation)
    kept = [c for c in old_conds if c.get("type") in keep_types and c.get("type") not in {d.type for d in conditions}]
    new_status: Obj = {**current, **fields, "observedGeneration": generation, "conditions": merged + kept}
    new_status = {k: v for k, v in new_status.items() if v is not None}
    if _same(current, new_status):
        return False
    old_by_type = {c.get("type"): c for c in old_conds}
    posted: set[str] = set()
    for c in conditions:
        before = old_by_type.get(c.type)
        bad = c.status == "False" and c.type in ANNOUNCED \
            and c.reason not in TRANSIENT_REASONS and c.reason not in posted
        if bad and (before is None or before.get("status") != "False" or before.get("reason") != c.reason):
            posted.add(c.reason)  # Ready often repeats the failing gate's reason: one event, not two
            await post_event(kube, body, type_="Warning", reason=c.reason, message=c.message)
    patch: Obj = {**new_status}
    for k in current:  # fields we no longer report are removed (merge patch null)
        if k not in new_status:
            patch[k] = None
    try:
        updated = await kube.patch_status(body["apiVersion"], body["kind"], meta["name"], patch, meta.get("namespace"))
    except NotFound:
        return False  # deleted meanwhile
    if on_written is not None and isinstance(updated, dict):
        on_written(updated)
    log.info("Updated status of %s %s/%s", body["kind"], meta.get("namespace") or "-", meta["name"])
    return True


def _same(a: Obj, b: Obj) -> bool:
    return _norm(a) == _norm(b)


def _norm(status: Obj) -> Obj:
    out = dict(status)
    out["conditions"] = sorted(status.get("conditions") or [], key=lambda c: c.get("type", ""))
    return out
