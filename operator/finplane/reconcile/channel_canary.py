"""Judge one gated canary per pass: read its burn rate when an interval is due, step or roll back, record it.

Called by `reconcile.channel` for every route whose canary has a `gate`, before the route is rendered
(the rendering serves the weight this returns). The weight lives in the Channel's status
(`status.routes[].canaryWeight`, the channel reconciler its one writer), so a restart resumes where the
gate stood; a status weight above the gate's `maxWeight` (written by hand through /status) is cut back
to it. The verdict is `render.canary_gate`'s; the burn rate comes from `external.metrics_source`. Every
change of weight is appended to the evidence record (`canary-step`: from, to, verdict, burn rate),
once per judgement (a `mark`, so a repeated pass records nothing twice).

A gate whose canary capability declares no objective of the gate's `slo` cannot be judged: the weight is
0 and the route reports `CanaryGateInvalid` (the primary keeps all the traffic).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from finplane.external.metrics_source import MetricsSource, MetricsUnavailable
from finplane.models.channel import CanaryGate, Route
from finplane.reconcile.recorder import EvidenceRecorder, subject_of
from finplane.render.canary_gate import Reading, Step, next_step

__all__ = ["GateResult", "judge_canary"]

Obj = dict[str, Any]


@dataclass(frozen=True)
class GateResult:
    """The weight to render, the route's `canaryGate` status, when to look again, and a refusal if any."""

    weight: int
    status: Obj
    requeue_after: float | None
    invalid: str | None = None


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _rfc3339(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


async def judge_canary(*, channel: Obj, route: Route, gate: CanaryGate, previous: Obj, canary: Obj | None,
                       source: MetricsSource | None, now: datetime, recorder: EvidenceRecorder) -> GateResult:
    """The gated canary's weight for this pass; `previous` is the route's entry in the current status."""
    assert route.canary is not None
    ref = route.canary.capability
    before = previous.get("canaryGate") or {}
    raw_weight = previous.get("canaryWeight")
    weight = min(max(raw_weight, 0), gate.max_weight) if isinstance(raw_weight, int) else 0
    generation = ((canary or {}).get("metadata") or {}).get("generation")
    objective = (((canary or {}).get("spec") or {}).get("slo") or {}).get(str(gate.slo))
    if canary is None or not objective:
        message = (f"the canary capability {ref.namespace}/{ref.name} declares no spec.slo.{gate.slo} objective, so "
                   "the gate cannot judge it: the canary gets no traffic")
        return GateResult(0, {"state": "GateInvalid", "message": message, "canaryGeneration": generation},
                          None, invalid=message)
    state = before.get("state")
    last = _parse_time(before.get("lastStepTime"))
    restarted = before.get("canaryGeneration") is not None and before.get("canaryGeneration") != generation
    if restarted:
        weight, state, last = 0, None, None  # a new version of the canary is judged from scratch
    interval = float(gate.interval_seconds)
    if gate.paused:
        step = next_step(gate=gate, weight=weight, previous_state=state, reading=Reading())
        return GateResult(weight, _status(step, before.get("lastStepTime"), before.get("burnRate"), generation), None)
    waited = (now - last).total_seconds() if last is not None else interval
    if waited < interval and state not in (None, "Paused", "GateInvalid"):
        kept = {**before, "canaryGeneration": generation}
        return GateResult(weight, kept, interval - waited)
    reading = await _read(source, ref.namespace, ref.name, str(gate.slo))
    step = next_step(gate=gate, weight=weight, previous_state=state, reading=reading)
    stamp_time = _rfc3339(now)
    burn = None if reading.burn_rate is None else format(reading.burn_rate.normalize(), "f")[:32]
    if step.weight != weight or restarted:
        meta = channel.get("metadata") or {}
        recorder.record({"type": "canary-step", "object": subject_of(channel), "route": route.name,
                         "canary": f"{ref.namespace}/{ref.name}", "canaryGeneration": generation, "slo": str(gate.slo),
                         "fromWeight": weight, "toWeight": step.weight, "verdict": step.state, "burnRate": burn,
                         "maxBurnRate": gate.max_burn_rate, "message": step.message},
                        mark=f"canary/{meta.get('uid')}/{route.name}", value=f"{stamp_time}/{step.weight}")
    return GateResult(step.weight, _status(step, stamp_time, burn, generation),
                      None if step.state == "RolledBack" else interval)


async def _read(source: MetricsSource | None, namespace: str, name: str, slo: str) -> Reading:
    if source is None:
        return Reading(error="no metrics source: set FINPLANE_PROMETHEUS_URL")
    try:
        value: Decimal | None = await source.burn_rate(namespace=namespace, capability=name, slo=slo)
    except MetricsUnavailable as exc:
        return Reading(error=str(exc))
    return Reading(burn_rate=value)


def _status(step: Step, last: object, burn: object, generation: object) -> Obj:
    out: Obj = {"state": step.state, "message": step.message}
    if isinstance(last, str):
        out["lastStepTime"] = last
    if isinstance(burn, str):
        out["burnRate"] = burn
    if isinstance(generation, int):
        out["canaryGeneration"] = generation
    return out
