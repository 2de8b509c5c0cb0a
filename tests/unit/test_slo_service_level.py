"""The `ServiceLevel` condition: a capability's error budget left, read from a fake HTTP Prometheus.

Covers: with FINPLANE_PROMETHEUS_URL set, a capability with `spec.slo` reports `ServiceLevel=True` with the budget
left of each objective (from `finplane_slo:error_budget_remaining:ratio`, asked with its namespace, capability and
objective), `False` / `BudgetExhausted` once one objective has spent it, `Unknown` when Prometheus has no series or
does not answer; the condition never changes Ready; without the URL no condition and no query.
"""

from __future__ import annotations

from typing import Any

import httpx

from finplane.external.metrics_source import PrometheusSource
from finplane.reconcile.capability import CapabilityReconciler
from tests.support.fake_kube import FakeKube
from tests.unit.test_slo_reconcile import SLO, echo, run
from tests.unit.test_slo_reconcile import setup as capability_with

Obj = dict[str, Any]


def prometheus(answers: dict[str, str | None] | int, asked: list[str]) -> PrometheusSource:
    """A fake Prometheus answering the budget left per `slo` label (None: no series), or an HTTP status."""
    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        asked.append(query)
        if isinstance(answers, int):
            return httpx.Response(answers, text="unavailable")
        value = next((v for slo, v in answers.items() if f'slo="{slo}"' in query), None)
        result = [] if value is None else [{"metric": {}, "value": [1764590400, value]}]
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": result}})
    return PrometheusSource("http://prometheus.monitoring:9090", transport=httpx.MockTransport(handler))


async def level_of(answers: dict[str, str | None] | int, asked: list[str] | None = None) -> tuple[Obj, Obj]:
    kube = FakeKube()
    rt = capability_with(kube, slo=SLO)
    reconciler = rt.controllers["BusinessCapability"].reconciler
    assert isinstance(reconciler, CapabilityReconciler)
    reconciler.budgets = prometheus(answers, asked if asked is not None else [])
    await run(rt)
    conds = {c["type"]: c for c in echo(rt, kube)["status"]["conditions"]}
    return conds["ServiceLevel"], conds["Ready"]


async def test_the_budget_left_of_each_objective_is_the_service_level() -> None:
    asked: list[str] = []
    level, _ = await level_of({"availability": "0.62", "latency": "0.975"}, asked)
    assert (level["status"], level["reason"]) == ("True", "BudgetLeft")
    assert "availability 62.0% of the 30-day error budget left" in level["message"]
    assert "latency 97.5%" in level["message"]
    assert 'finplane_slo:error_budget_remaining:ratio{namespace="payments",capability="pay",slo="availability"}' \
        in asked


async def test_a_spent_budget_is_false_and_leaves_ready_alone() -> None:
    level, ready = await level_of({"availability": "-0.25", "latency": "0.9"})
    assert (level["status"], level["reason"]) == ("False", "BudgetExhausted")
    assert "availability -25.0%" in level["message"]
    _, healthy_ready = await level_of({"availability": "0.5", "latency": "0.9"})
    assert (ready["status"], ready["reason"]) == (healthy_ready["status"], healthy_ready["reason"])


async def test_no_series_or_no_answer_is_unknown() -> None:
    no_data, _ = await level_of({"availability": "0.5", "latency": None})
    assert (no_data["status"], no_data["reason"]) == ("Unknown", "NoData")
    down, _ = await level_of(503)
    assert (down["status"], down["reason"]) == ("Unknown", "MetricsUnavailable")
    assert "HTTP 503" in down["message"]


async def test_without_a_prometheus_url_there_is_no_service_level_condition() -> None:
    kube = FakeKube()
    rt = capability_with(kube, slo=SLO)
    await run(rt)
    assert "ServiceLevel" not in {c["type"] for c in echo(rt, kube)["status"]["conditions"]}
