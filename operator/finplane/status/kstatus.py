"""kstatus-compatible conditions (`Reconciling`, `Stalled`) derived from a kind's own conditions.

Pure. Flux (its kustomize-controller health checks), `kubectl wait` users and cli-utils' `kstatus` read a
custom resource's readiness from two "abnormal-true" conditions: `Reconciling=True` while the controller
is still working towards the spec (InProgress), `Stalled=True` when it cannot get there without a
person (Failed); neither True (with `observedGeneration` current) is Current. As Flux's own controllers
do, a condition is present only while True and removed when it stops being so. Finplane's reconcilers
state Ready (and often Progressing); `with_kstatus` adds the derived one, and is called once by
`reconcile.controller` on every status write, so every kind carries it and none states it itself.

The rule: Ready=True -> neither. Ready=Unknown, or Ready=False while Progressing=True or for a reason
that only means "not there yet" (`IN_PROGRESS_REASONS`) -> Reconciling=True. Any other Ready=False (a
refused spec, a missing dependency, a name conflict, a forbidden write) -> Stalled=True, with Ready's
reason and message, so the GitOps tool shows why.
"""

from __future__ import annotations

from finplane.status.conditions import Cond
from finplane.status.vocabulary import ConditionType, Reason

__all__ = ["IN_PROGRESS_REASONS", "RECONCILING", "STALLED", "kstatus_conditions", "with_kstatus"]

RECONCILING = "Reconciling"
STALLED = "Stalled"
#: Ready=False reasons that mean "still on the way", not "stuck".
IN_PROGRESS_REASONS = frozenset({Reason.RECONCILING, Reason.ROLLING_OUT, Reason.REPLICAS_NOT_READY,
                                 Reason.DEPENDENCIES_NOT_READY, "Provisioning", "Pending", "Progressing"})


def kstatus_conditions(conditions: list[Cond]) -> list[Cond]:
    """`Reconciling=True` or `Stalled=True` for these conditions; [] when Ready is True or absent."""
    by_type = {c.type: c for c in conditions}
    ready = by_type.get(ConditionType.READY)
    if ready is None or ready.status == "True":
        return []
    progressing = by_type.get(ConditionType.PROGRESSING)
    moving = ready.status != "False" or ready.reason in IN_PROGRESS_REASONS or \
        (progressing is not None and progressing.status == "True")
    if moving:
        return [Cond(RECONCILING, "True", ready.reason, ready.message)]
    return [Cond(STALLED, "True", ready.reason, ready.message)]


def with_kstatus(conditions: list[Cond]) -> list[Cond]:
    """`conditions` plus the derived kstatus pair (replacing any the reconciler stated itself)."""
    own = [c for c in conditions if c.type not in (RECONCILING, STALLED)]
    return own + kstatus_conditions(own)
