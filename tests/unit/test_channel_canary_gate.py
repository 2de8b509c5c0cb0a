"""A Channel route's canary gated by its SLO burn rate, through the real channel reconciler and a fake metrics source.

Covers: the weight steps up by stepPercent once per interval while the burn rate stays within budget (and the
rendered HTTPRoute serves it), drops to 0 on a burn and stays there when the burn subsides; `paused` holds the
weight whatever the metrics say and unpausing re-arms a rolled-back canary; each change of weight is in the
evidence record; a new generation of the canary is judged from 0. As the tenant the gate keeps out: a spec cannot
carry a weight next to a gate (model and CRD CEL), a weight in a status written by hand is cut to maxWeight, a
gate with stepPercent above maxWeight is refused, and a canary without the named objective gets no traffic and
`CanaryGateInvalid`. The Prometheus implementation queries the recording rules and tells no data from failure.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import celpy
import httpx
import pytest
from pydantic import ValidationError

from finplane.crdgen import build_crd
from finplane.external.metrics_source import MetricsUnavailable, PrometheusSource
from finplane.handlers.registrations import register_all
from finplane.models.channel import Canary
from finplane.models.registry import kind_info
from finplane.policy.evidence_chain import read_entries
from finplane.reconcile.channel import ChannelReconciler
from finplane.reconcile.runtime import Key, Runtime
from finplane.settings import Settings
from tests.support import builders
from tests.support.fake_kube import FakeKube

Obj = dict[str, Any]
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GATE = {"slo": "availability", "stepPercent": 10, "maxWeight": 30, "intervalSeconds": 300}
READY = {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": ""}]}
SLO = {"availability": {"objectivePercent": "99.9"}}


class FakeSource:
    """Burn rates to answer, one per call (the last one repeats); counts the calls."""

    def __init__(self, *answers: Decimal | None | Exception) -> None:
        self.answers = list(answers) or [None]
        self.calls: list[tuple[str, str, str]] = []

    async def burn_rate(self, *, namespace: str, capability: str, slo: str) -> Decimal | None:
        self.calls.append((namespace, capability, slo))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class QuietRuntime(Runtime):
    """The real runtime and reconcilers; wake-ups by watches and requeues are dropped (one pass at a time)."""

    def __init__(self, kube: FakeKube, settings: Settings) -> None:
        super().__init__(kube=kube, settings=settings)  # type: ignore[arg-type]
        register_all(self)
        for controller in self.controllers.values():
            controller.queue.enqueue = lambda key, *, delay=0.0: None  # type: ignore[method-assign]

    def enqueue(self, kind: str, key: Key, *, delay: float = 0.0) -> None:
        pass


class Gate:
    """One gated channel `web` routing payments/pay with the canary payments/pay-next."""

    def __init__(self, tmp_path: Path, source: FakeSource, *, gate: Obj | None = None, canary_slo: Obj | None = SLO):
        self.kube = FakeKube()
        self.rt = QuietRuntime(self.kube, Settings(evidence_dir=str(tmp_path), team_ownership="migrate"))
        caps = self.rt.stores.setdefault("BusinessCapability", {})
        caps[("payments", "pay")] = builders.capability("pay", uid="pay-uid", status=READY)
        extra = {"slo": canary_slo} if canary_slo else {}
        self.canary = builders.capability("pay-next", uid="next-uid", status=READY, **extra)
        self.canary["metadata"]["generation"] = 1
        caps[("payments", "pay-next")] = self.canary
        canary = {"capability": {"namespace": "payments", "name": "pay-next"}, "gate": dict(gate or GATE)}
        self.body = builders.channel("web", [builders.route("pay", "payments", "pay", canary=canary)], type_="web",
                                     uid="web-uid")
        self.rt.stores.setdefault("Channel", {})[("", "web")] = self.body
        self.reconciler = self.rt.controllers["Channel"].reconciler
        assert isinstance(self.reconciler, ChannelReconciler)
        self.reconciler.metrics = source
        self.now = T0

    async def run(self, *, at_seconds: float) -> Obj:
        """One pass at T0 + `at_seconds`; the status it wrote is echoed into the stored body (as a watch would)."""
        self.reconciler.clock = lambda: T0 + timedelta(seconds=at_seconds)
        await self.rt.controllers["Channel"].reconcile_once(("", "web"))
        sent = self.kube.statuses("Channel")
        if sent:
            self.body["status"] = {**(self.body.get("status") or {}), **sent[-1]}
        return next(r for r in self.body["status"]["routes"] if r["name"] == "pay")

    def set_gate(self, **changes: Any) -> None:
        self.body["spec"]["routes"][0]["canary"]["gate"].update(changes)
        self.body["metadata"]["generation"] = self.body["metadata"].get("generation", 1) + 1

    def served_weights(self) -> dict[str, int]:
        route = self.kube.find("HTTPRoute", "web-pay", "payments")
        assert route is not None
        split = route["spec"]["rules"][-1]["backendRefs"]
        return {b["name"]: b["weight"] for b in split}

    def steps(self) -> list[tuple[int, int, str]]:
        entries = [e for _, e in read_entries(self.rt.recorder.log.path) if e.get("type") == "canary-step"]
        return [(e["fromWeight"], e["toWeight"], e["verdict"]) for e in entries]


async def test_the_weight_steps_up_each_interval_within_budget_and_drops_to_zero_on_a_burn(tmp_path: Path) -> None:
    source = FakeSource(None, Decimal("0.5"), Decimal("0.8"), Decimal("4.2"), Decimal("0.1"))
    gate = Gate(tmp_path, source)
    first = await gate.run(at_seconds=0)  # no traffic yet: the first step lets the canary be measured
    assert first["canaryWeight"] == 10 and first["canaryGate"]["state"] == "Stepping"
    assert gate.served_weights() == {"pay": 90, "pay-next": 10}
    assert (await gate.run(at_seconds=120))["canaryWeight"] == 10  # within the interval: no look, no step
    assert len(source.calls) == 1
    assert (await gate.run(at_seconds=300))["canaryWeight"] == 20
    top = await gate.run(at_seconds=600)
    assert top["canaryWeight"] == 30 and top["canaryGate"]["state"] == "AtMaxWeight"
    assert gate.served_weights() == {"pay": 70, "pay-next": 30}
    burnt = await gate.run(at_seconds=900)
    assert burnt["canaryWeight"] == 0 and burnt["canaryGate"]["state"] == "RolledBack"
    assert burnt["canaryGate"]["burnRate"] == "4.2"
    assert gate.served_weights() == {"pay": 100, "pay-next": 0}
    calm = await gate.run(at_seconds=1200)  # the burn subsided: a rolled-back canary does not climb back
    assert calm["canaryWeight"] == 0 and calm["canaryGate"]["state"] == "RolledBack"
    assert gate.steps() == [(0, 10, "Stepping"), (10, 20, "Stepping"), (20, 30, "AtMaxWeight"),
                            (30, 0, "RolledBack")]
    assert source.calls[0] == ("payments", "pay-next", "availability")


async def test_a_pause_holds_the_weight_through_a_burn_and_unpausing_rearms_a_rolled_back_canary(
        tmp_path: Path) -> None:
    source = FakeSource(None, Decimal("9"), Decimal("0.2"))
    gate = Gate(tmp_path, source)
    await gate.run(at_seconds=0)
    gate.set_gate(paused=True)
    held = await gate.run(at_seconds=600)
    assert held["canaryWeight"] == 10 and held["canaryGate"]["state"] == "Paused"
    assert len(source.calls) == 1  # paused: not even asked
    gate.set_gate(paused=False)
    burnt = await gate.run(at_seconds=900)
    assert burnt["canaryWeight"] == 0 and burnt["canaryGate"]["state"] == "RolledBack"
    gate.set_gate(paused=True)
    await gate.run(at_seconds=910)
    gate.set_gate(paused=False)
    again = await gate.run(at_seconds=920)  # a person looked and resumed: judged at once, from 0
    assert again["canaryWeight"] == 10 and again["canaryGate"]["state"] == "Stepping"
    assert gate.steps() == [(0, 10, "Stepping"), (10, 0, "RolledBack"), (0, 10, "Stepping")]


async def test_no_data_above_zero_and_an_unreachable_source_hold_the_weight(tmp_path: Path) -> None:
    source = FakeSource(None, None, MetricsUnavailable("Prometheus at prom did not answer (ConnectError)"))
    gate = Gate(tmp_path, source)
    await gate.run(at_seconds=0)
    no_data = await gate.run(at_seconds=300)
    assert no_data["canaryWeight"] == 10 and no_data["canaryGate"]["state"] == "NoData"
    down = await gate.run(at_seconds=600)
    assert down["canaryWeight"] == 10 and down["canaryGate"]["state"] == "MetricsUnavailable"
    assert "did not answer" in down["canaryGate"]["message"]


async def test_without_a_metrics_source_a_gated_canary_gets_no_traffic(tmp_path: Path) -> None:
    gate = Gate(tmp_path, FakeSource())
    gate.reconciler.metrics = None
    st = await gate.run(at_seconds=0)
    assert st["canaryWeight"] == 0 and "FINPLANE_PROMETHEUS_URL" in st["canaryGate"]["message"]
    assert gate.served_weights() == {"pay": 100, "pay-next": 0}


async def test_a_new_generation_of_the_canary_is_judged_from_zero(tmp_path: Path) -> None:
    gate = Gate(tmp_path, FakeSource(None, Decimal("0.1")))
    await gate.run(at_seconds=0)
    assert (await gate.run(at_seconds=300))["canaryWeight"] == 20
    gate.canary["metadata"]["generation"] = 2
    restarted = await gate.run(at_seconds=310)
    assert restarted["canaryWeight"] == 10 and restarted["canaryGate"]["canaryGeneration"] == 2
    assert gate.steps()[-1] == (0, 10, "Stepping")


async def test_a_weight_written_into_the_status_by_hand_is_cut_to_max_weight(tmp_path: Path) -> None:
    gate = Gate(tmp_path, FakeSource(Decimal("0.1")))
    await gate.run(at_seconds=0)
    gate.body["status"]["routes"][0]["canaryWeight"] = 100  # someone with /status access
    await gate.run(at_seconds=100)
    assert gate.served_weights()["pay-next"] <= 30


async def test_a_canary_without_the_named_objective_gets_no_traffic_and_says_why(tmp_path: Path) -> None:
    source = FakeSource(Decimal("0"))
    gate = Gate(tmp_path, source, canary_slo=None)
    st = await gate.run(at_seconds=0)
    assert st["ready"] == "False" and st["reason"] == "CanaryGateInvalid"
    assert "spec.slo.availability" in st["message"] and st["canaryWeight"] == 0
    assert gate.served_weights() == {"pay": 100, "pay-next": 0}
    assert source.calls == []


# -- as the tenant: the spec never sets the weight of a gated canary -------------------------------------
def _canary_schema() -> Obj:
    crd = build_crd(kind_info("Channel"))
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return spec["properties"]["routes"]["items"]["properties"]["canary"]


def _cel(schema: Obj, value: Obj) -> list[str]:
    env = celpy.Environment()
    failed = []
    for rule in schema.get("x-kubernetes-validations") or []:
        if not env.program(env.compile(rule["rule"])).evaluate({"self": celpy.json_to_cel(value)}):
            failed.append(rule["message"])
    return failed


def test_a_spec_with_a_weight_next_to_a_gate_is_refused_by_the_crd_and_the_model() -> None:
    attack = {"capability": {"namespace": "payments", "name": "pay-next"}, "weight": 100, "gate": GATE}
    assert any("exclusive" in m for m in _cel(_canary_schema(), attack))
    with pytest.raises(ValidationError, match="exclusive"):
        Canary.model_validate(attack)
    with pytest.raises(ValidationError):  # the status field is not a spec field either
        Canary.model_validate({**attack, "weight": None, "canaryWeight": 100})
    assert "canaryWeight" not in _canary_schema()["properties"]


def test_a_gate_stepping_past_its_maximum_is_refused_by_the_crd_and_the_model() -> None:
    gate_schema = _canary_schema()["properties"]["gate"]
    bad = {**GATE, "stepPercent": 50, "maxWeight": 20}
    assert _cel(gate_schema, bad) == ["stepPercent must not exceed maxWeight"]
    assert _cel(gate_schema, GATE) == []
    assert all("default" not in p for p in gate_schema["properties"].values())  # removable by server-side apply
    with pytest.raises(ValidationError, match="stepPercent must not exceed maxWeight"):
        Canary.model_validate({"capability": {"namespace": "p", "name": "n"}, "gate": bad})
    with pytest.raises(ValidationError):
        Canary.model_validate({"capability": {"namespace": "p", "name": "n"}, "gate": {**GATE, "slo": "vibes"}})


# -- the Prometheus implementation, against a fake HTTP Prometheus --------------------------------------
def _prometheus(answer: httpx.Response, seen: list[str]) -> PrometheusSource:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["query"])
        return answer
    return PrometheusSource("http://user:secret@prom.monitoring:9090", transport=httpx.MockTransport(handler))


def _vector(value: str) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"capability": "pay-next"}, "value": [1764590400, value]}]}})


async def test_prometheus_is_asked_for_the_error_ratio_over_the_budget_of_the_recording_rules() -> None:
    seen: list[str] = []
    assert await _prometheus(_vector("2.5"), seen).burn_rate(namespace="payments", capability="pay-next",
                                                             slo="availability") == Decimal("2.5")
    assert seen == ['finplane_slo:error:ratio_rate5m{namespace="payments",capability="pay-next",slo="availability"}'
                    ' / finplane_slo:error_budget:ratio{namespace="payments",capability="pay-next",slo="availability"}']
    assert await _prometheus(_vector("NaN"), []).burn_rate(namespace="p", capability="c", slo="latency") is None
    empty = httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": []}})
    assert await _prometheus(empty, []).burn_rate(namespace="p", capability="c", slo="latency") is None


@pytest.mark.parametrize("answer", [httpx.Response(503, text="down"), httpx.Response(200, text="<html>")],
                         ids=["http-503", "not-json"])
async def test_a_failing_prometheus_is_unavailable_and_the_reason_names_no_credentials(answer: httpx.Response) -> None:
    with pytest.raises(MetricsUnavailable) as caught:
        await _prometheus(answer, []).burn_rate(namespace="p", capability="c", slo="availability")
    assert "prom.monitoring" in str(caught.value) and "secret" not in str(caught.value)
