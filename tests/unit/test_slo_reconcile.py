"""A capability's `spec.slo` through the real reconciler and the one fake gateway (tests/support/fake_kube.py).

Covers: with the Prometheus Operator's CRDs served, the ServiceMonitor and the PrometheusRule are written,
`SLORulesWritten=True` says how many alerts go to which team, and the capability's NetworkPolicy admits the
Prometheus namespace on its port; without those CRDs nothing of them is written (no ServiceMonitor without its
alerts) and the condition says what to install, while the workload still runs; removing `spec.slo` prunes both;
a capability without an SLO sends no monitoring request at all; an SLO the schema cannot express (an objective
of 100%, none at all) is refused by the model and by the CRD's CEL rule, with a clear reason.
"""

from __future__ import annotations

from typing import Any

import celpy
import pytest
from pydantic import ValidationError

from finplane.crdgen import build_crd
from finplane.handlers.registrations import register_all
from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.models.registry import kind_info
from finplane.models.slo import ServiceLevelObjectives
from finplane.reconcile.runtime import Key, Runtime
from finplane.render.offline import render_documents
from finplane.settings import Settings
from tests.support.fake_kube import FakeKube

Obj = dict[str, Any]
CAP = "BusinessCapability"
KEY = ("payments", "pay")
SLO = {"availability": {"objectivePercent": "99.9"}, "latency": {"objectivePercent": "99", "thresholdMilliseconds": 250}}


class QuietRuntime(Runtime):
    """The real runtime and reconcilers; wake-ups by watches and requeues are dropped (one pass at a time)."""

    def __init__(self, kube: FakeKube, settings: Settings) -> None:
        super().__init__(kube=kube, settings=settings)  # type: ignore[arg-type]
        register_all(self)
        for controller in self.controllers.values():
            controller.queue.enqueue = lambda key, *, delay=0.0: None  # type: ignore[method-assign]

    def enqueue(self, kind: str, key: Key, *, delay: float = 0.0) -> None:
        pass


def setup(kube: FakeKube, **spec: Any) -> QuietRuntime:
    rt = QuietRuntime(kube, Settings(team_ownership="migrate", prometheus_namespace="observability"))
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments", "uid": "ns-uid",
                                                                 "labels": {"finplane.io/team": "payments"}}}
    rt.stores.setdefault("Namespace", {})[("", "payments")] = ns
    body = {"apiVersion": "finplane.io/v1alpha1", "kind": CAP,
            "metadata": {"name": "pay", "namespace": "payments", "uid": "pay-uid", "generation": 1,
                         "resourceVersion": "1"},
            "spec": {"owner": {"team": "payments", "contact": "#payments-oncall"}, "domain": "payments",
                     "image": "registry.finplane.local/payments/app:1.0.0", **spec}}
    rt.stores.setdefault(CAP, {})[KEY] = body
    return rt


async def run(rt: Runtime) -> None:
    await rt.controllers[CAP].reconcile_once(KEY)


def echo(rt: Runtime, kube: FakeKube) -> Obj:
    body = rt.stores[CAP][KEY]
    body["status"] = {k: v for k, v in {**(body.get("status") or {}), **kube.statuses(CAP)[-1]}.items()
                      if v is not None}
    return body


async def test_served_monitoring_crds_get_the_service_monitor_and_the_rule_routed_to_the_team() -> None:
    kube = FakeKube()
    rt = setup(kube, slo=SLO)
    await run(rt)
    monitor, rule = kube.find("ServiceMonitor", "pay", "payments"), kube.find("PrometheusRule", "pay", "payments")
    assert monitor is not None and rule is not None
    assert monitor["metadata"]["ownerReferences"][0]["uid"] == "pay-uid"  # garbage-collected with the capability
    alerts = [r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert {(a["labels"]["team"], a["labels"]["contact"]) for a in alerts} == {("payments", "#payments-oncall")}
    cond = kube.last_conditions(CAP)["SLORulesWritten"]
    assert (cond["status"], cond["reason"]) == ("True", "Written")
    assert "4 burn-rate alert(s) routed to team payments" in cond["message"]
    allow = kube.find("NetworkPolicy", "pay-allow", "payments")
    assert {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}],
            "ports": [{"protocol": "TCP", "port": 8080}]} in allow["spec"]["ingress"]


async def test_without_the_monitoring_crds_nothing_half_built_is_written_and_the_condition_says_so() -> None:
    kube = FakeKube(missing_groups=("monitoring.coreos.com",))
    rt = setup(kube, slo=SLO)
    await run(rt)
    assert kube.writes("ServiceMonitor") == [] and kube.writes("PrometheusRule") == []
    assert kube.find("Deployment", "pay", "payments") is not None  # the workload runs regardless
    cond = kube.last_conditions(CAP)["SLORulesWritten"]
    assert (cond["status"], cond["reason"]) == ("False", "CRDMissing")
    assert "Prometheus Operator" in cond["message"]
    assert kube.last_conditions(CAP)["Ready"]["reason"] != "CRDMissing"  # SLOs never gate Ready


async def test_removing_the_slo_prunes_the_monitor_and_the_rule() -> None:
    kube = FakeKube()
    rt = setup(kube, slo=SLO)
    await run(rt)
    body = echo(rt, kube)
    del body["spec"]["slo"]
    body["metadata"]["generation"] = 2
    await run(rt)
    assert kube.find("ServiceMonitor", "pay", "payments") is None
    assert kube.find("PrometheusRule", "pay", "payments") is None
    assert "SLORulesWritten" not in kube.last_conditions(CAP)


async def test_a_capability_without_an_slo_costs_no_monitoring_request() -> None:
    kube = FakeKube()
    rt = setup(kube)
    await run(rt)
    assert [c for c in kube.calls if c.api_version.startswith("monitoring.coreos.com")] == []
    assert "SLORulesWritten" not in kube.last_conditions(CAP)


@pytest.mark.parametrize("slo", [{"availability": {"objectivePercent": "100"}},
                                 {"availability": {"objectivePercent": "99.99999"}},
                                 {"latency": {"objectivePercent": "99", "thresholdMilliseconds": 0}},
                                 {"windowDays": 365, "availability": {"objectivePercent": "99.9"}},
                                 {"windowDays": 30}],
                         ids=["no-budget", "too-precise", "zero-threshold", "window-too-long", "no-objective"])
async def test_an_slo_without_a_budget_or_an_objective_is_refused_with_invalid_spec(slo: Obj) -> None:
    kube = FakeKube()
    rt = setup(kube, slo=slo)
    await run(rt)
    ready = kube.last_conditions(CAP)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "slo" in ready["message"]
    assert kube.writes("Deployment") == []


def test_the_crd_refuses_an_slo_with_no_objective_by_cel() -> None:
    schema = build_crd(kind_info(CAP))["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    slo = schema["properties"]["spec"]["properties"]["slo"]
    (rule,) = slo["x-kubernetes-validations"]
    env = celpy.Environment()
    program = env.program(env.compile(rule["rule"]))
    assert not program.evaluate({"self": celpy.json_to_cel({"windowDays": 30})})
    assert program.evaluate({"self": celpy.json_to_cel({"availability": {"objectivePercent": "99.9"}})})
    pattern = slo["properties"]["availability"]["properties"]["objectivePercent"]["pattern"]
    assert pattern == r"^[5-9][0-9](\.[0-9]{1,4})?$"  # 100 and 49.9 do not match: no SLO without a budget


def test_the_model_says_why_an_slo_is_refused() -> None:
    base = {"owner": {"team": "t", "contact": "c"}, "domain": "d", "image": "r/i:1"}
    with pytest.raises(ValidationError, match="availability or a latency objective"):
        BusinessCapabilitySpec.model_validate({**base, "slo": {}})


def test_finplane_render_shows_the_slo_children_next_to_the_workload() -> None:
    doc = {"apiVersion": "finplane.io/v1alpha1", "kind": CAP, "metadata": {"name": "pay", "namespace": "payments"},
           "spec": {"owner": {"team": "payments", "contact": "#payments-oncall"}, "domain": "payments",
                    "image": "registry.finplane.local/payments/app:1.0.0", "slo": SLO}}
    kinds = [o["kind"] for o in render_documents([doc], settings=Settings())]
    assert kinds[-2:] == ["ServiceMonitor", "PrometheusRule"] and "Deployment" in kinds
    del doc["spec"]["slo"]
    assert "PrometheusRule" not in [o["kind"] for o in render_documents([doc], settings=Settings())]


def test_the_crd_stores_no_slo_defaults_so_removing_spec_slo_by_server_side_apply_works() -> None:
    """A default the API server stores is owned by no field manager: a server-side apply that drops spec.slo
    would leave `slo` holding only those defaults, which its CEL rule refuses. The model applies them instead.
    (tests/chart/manifests/rbac-e2e/2-changes.yaml removes an SLO by apply against the embedded API server.)"""
    import yaml

    from tests.support.paths import REPO

    crd = yaml.safe_load((REPO / "crds" / "finplane.io_businesscapabilities.yaml").read_text())
    slo = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["slo"]

    def defaults(node: object) -> list[object]:
        if isinstance(node, dict):
            return ([node["default"]] if "default" in node else []) + [d for v in node.values() for d in defaults(v)]
        return [d for v in node for d in defaults(v)] if isinstance(node, list) else []

    assert defaults(slo) == []
    assert ServiceLevelObjectives.model_validate({"availability": {"objectivePercent": "99.9"}}).window_days == 30
