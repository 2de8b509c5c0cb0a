"""Kubernetes-shaped conditions: set one, keep lastTransitionTime unless the status flips.

Pure; called by every reconciler to build the status it will compare with what is stored. The
vocabulary (condition types, reasons) and the one Ready reader are in `status.vocabulary`.
Follows the API conventions: conditions keyed by `type`, a CamelCase `reason`, a message
that says what to do, `observedGeneration`, and `lastTransitionTime` moving only on flips.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["Cond", "merge_conditions", "now_iso", "summarize_ready"]


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Cond:
    """One desired condition before it is merged with the stored ones."""

    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str = ""


def merge_conditions(current: list[dict[str, Any]] | None, desired: list[Cond], *, generation: int | None,
                     now: str | None = None) -> list[dict[str, Any]]:
    """The new conditions list; a condition whose status did not change keeps its transition time.

    Conditions not in `desired` are dropped: each reconciler states the whole set it owns.
    """
    stamp = now or now_iso()
    by_type = {c.get("type"): c for c in current or []}
    out: list[dict[str, Any]] = []
    for want in desired:
        old = by_type.get(want.type)
        keep_time = old is not None and old.get("status") == want.status and old.get("lastTransitionTime")
        out.append({
            "type": want.type,
            "status": want.status,
            "reason": want.reason,
            "message": want.message,
            "lastTransitionTime": old["lastTransitionTime"] if keep_time and old else stamp,
            **({"observedGeneration": generation} if generation is not None else {}),
        })
    return out


def summarize_ready(conds: list[Cond], *, gates: tuple[str, ...]) -> Cond:
    """Ready is True only when every gate condition is True; else the first failing one explains."""
    by_type = {c.type: c for c in conds}
    for gate in gates:
        c = by_type.get(gate)
        if c is None or c.status != "True":
            if c is None:
                return Cond("Ready", "Unknown", "Reconciling", f"{gate} not evaluated yet")
            status = "Unknown" if c.status == "Unknown" else "False"
            return Cond("Ready", status, c.reason, c.message)
    return Cond("Ready", "True", "Ready", "All conditions are met")

