"""Decide a gated canary's next weight from its burn rate: step up within budget, drop to 0 over it.

Pure: (gate, current weight, previous state, reading) -> `Step`, no I/O and no clock. Called by
`reconcile.channel_canary` once an interval has passed since the last judgement. The rules:

- `paused` holds the weight, whatever the metrics say (a person's pause; unpausing a rolled-back canary
  arms it again, from 0).
- A rolled-back canary stays at 0 (no flapping back up when the burn subsides) until it is paused and
  unpaused, or its capability gets a new generation (the reconciler restarts the gate then).
- A burn rate above `maxBurnRate` drops the weight to 0 (`RolledBack`).
- Within budget, the weight grows by `stepPercent` up to `maxWeight` (`Stepping`, then `AtMaxWeight`, where
  the gate keeps watching and still rolls back on a burn).
- No data (no request reached the canary over 5 minutes): at weight 0 the first step is taken (the canary
  must receive traffic to be measured); above 0 the weight is held (`NoData`), never raised blind.
- The metrics source failing holds the weight (`MetricsUnavailable`) and says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from finplane.models.channel import CanaryGate

__all__ = ["Reading", "Step", "next_step"]


@dataclass(frozen=True)
class Reading:
    """One look at the canary's burn rate: a value, None (no data), or the source's error."""

    burn_rate: Decimal | None = None
    error: str | None = None


@dataclass(frozen=True)
class Step:
    """The weight to serve, the state to report and the verdict behind it."""

    weight: int
    state: str
    message: str


def next_step(*, gate: CanaryGate, weight: int, previous_state: str | None, reading: Reading) -> Step:
    """The next weight of a gated canary now serving `weight`, judged on `reading`."""
    limit = Decimal(gate.max_burn_rate)
    if gate.paused:
        return Step(weight, "Paused", f"paused by spec.routes[].canary.gate.paused: the weight stays at {weight}%")
    if previous_state == "RolledBack":
        return Step(0, "RolledBack", "rolled back after a burn: pause and unpause the gate, or deploy a new "
                                     "generation of the canary capability, to start again")
    if reading.error is not None:
        return Step(weight, "MetricsUnavailable", f"no verdict, the weight stays at {weight}%: {reading.error}")
    if reading.burn_rate is None:
        if weight == 0:
            return _up(gate, 0, "no traffic measured yet: first step so that the canary can be judged")
        return Step(weight, "NoData", f"no request reached the canary over 5 minutes: the weight stays at {weight}%")
    if reading.burn_rate > limit:
        return Step(0, "RolledBack", f"burn rate {reading.burn_rate} is above {limit}: the weight dropped from "
                                     f"{weight}% to 0")
    return _up(gate, weight, f"burn rate {reading.burn_rate} is within {limit}")


def _up(gate: CanaryGate, weight: int, why: str) -> Step:
    new = min(weight + gate.step_percent, gate.max_weight)
    if new >= gate.max_weight:
        return Step(new, "AtMaxWeight", f"{why}: at the maximum weight {new}%, still watched")
    return Step(new, "Stepping", f"{why}: the weight went from {weight}% to {new}%")
