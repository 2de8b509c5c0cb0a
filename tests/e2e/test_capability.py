"""BusinessCapability end to end: the real operator process against the embedded API server over HTTP.

Covers (issue 4's "done when"): the examples' capabilities become Ready with every child, and the live
children validate against the Kubernetes schemas; an unchanged capability costs zero writes over a quiet
period; drift (an edited or deleted child) is reverted with a Drift event; an image change rolls
(Progressing, then Ready at the new observedGeneration); deleting the capability leaves no orphans;
bad input (name conflict, cycle, self dependency, bad image, limits below requests) gets its reason and
touches nothing; DependenciesReady flips by itself when a missing dependency appears.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from helpers import Cluster, OperatorProcess, condition, free_port, is_ready, wait_for

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e

CHILD_KINDS = ("deployment", "service", "serviceaccount", "networkpolicy", "poddisruptionbudget",
               "horizontalpodautoscaler")


@pytest.fixture(scope="module")
def cluster(module_cluster: Cluster) -> Cluster:
    return module_cluster


@pytest.fixture(scope="module")
def operator(module_operator: OperatorProcess) -> OperatorProcess:
    return module_operator


def capability(name: str, ns: str = "payments", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments",
                     "image": "registry.finplane.local/payments/app:1.0.0", **spec}}


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def ready(cluster: Cluster, name: str, ns: str = "payments", *, timeout: float = 30) -> dict[str, Any]:
    return wait_for(lambda: (o := cluster.get("businesscapability", name, ns)) and is_ready(o) and
                    (o["status"].get("observedGeneration") == o["metadata"]["generation"]) and o,
                    timeout=timeout, what=f"{ns}/{name} Ready")


def reason(cluster: Cluster, name: str, ns: str = "payments", type_: str = "Ready") -> str | None:
    c = condition(cluster.get("businesscapability", name, ns), type_)
    return c.get("reason") if c else None


def test_the_examples_capabilities_become_ready_with_every_child_valid(cluster: Cluster, operator: OperatorProcess) -> None:
    for f in ("00-namespaces.yaml", "10-image-registry.yaml", "20-capabilities.yaml"):
        cluster.kubectl("apply", "--server-side", "-f", str(REPO / "examples" / f))
    for ns, name in [("kyc", "kyc-check"), ("payments", "payments-api"), ("onboarding", "account-opening")]:
        obj = ready(cluster, name, ns)
        assert obj["status"]["endpoint"].startswith(f"http://{name}.{ns}.svc:")
        assert condition(obj, "DependenciesReady")["status"] == "True"
    kinds = {o["kind"] for kind in CHILD_KINDS for o in cluster.list(kind, "payments",
                                                                      "finplane.io/capability=payments-api")}
    assert kinds == {"Deployment", "Service", "ServiceAccount", "NetworkPolicy", "PodDisruptionBudget",
                     "HorizontalPodAutoscaler"}
    for kind in CHILD_KINDS:
        for obj in cluster.list(kind, "kyc", "app.kubernetes.io/managed-by=finplane"):
            for k in ("status", "managedFields"):
                obj.pop(k, None) if k == "status" else obj["metadata"].pop(k, None)
            kubernetes_validate.validate(obj, "1.31", strict=False)
    out = cluster.kubectl("get", "bcap", "-n", "kyc").stdout
    assert "kyc-check" in out and "True" in out


def _settled_writes(cluster: Cluster, *, quiet: float = 2.0, timeout: float = 60.0) -> int:
    """The operator's write count at the API server once it has sent nothing for `quiet` seconds."""
    def count() -> int:
        return cluster.writes_by("finplane-operator") + cluster.writes_by("kopf")
    deadline, last, since = time.monotonic() + timeout, count(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    raise AssertionError(f"the operator kept writing for {timeout}s after the capability was Ready")


def test_an_unchanged_capability_costs_zero_writes_over_a_quiet_period(cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.apply([namespace("payments"), capability("quiet", replicas=2)])
    ready(cluster, "quiet")
    before = _settled_writes(cluster)  # under load the last status write's echo may still be in flight
    time.sleep(5.0)
    after = cluster.writes_by("finplane-operator") + cluster.writes_by("kopf")
    assert after - before == 0
    annotations = cluster.get("businesscapability", "quiet", "payments")["metadata"].get("annotations") or {}
    assert not [a for a in annotations if "kopf" in a or "last-handled" in a]


def test_drift_is_reverted_with_an_event_naming_the_child(cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.apply([namespace("payments"), capability("drifty", replicas=2)])
    ready(cluster, "drifty")
    cluster.kubectl("patch", "deployment", "drifty", "-n", "payments", "--type=json",
                    "-p", '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"evil/x:1"}]')
    cluster.kubectl("delete", "service", "drifty", "-n", "payments")
    wait_for(lambda: (d := cluster.get("deployment", "drifty", "payments")) and
             d["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.finplane.local/payments/app:1.0.0",
             what="the image put back")
    wait_for(lambda: cluster.get("service", "drifty", "payments"), what="the deleted Service put back")
    events = wait_for(lambda: [e for e in cluster.list("event", "payments") if e["reason"] == "Drift"
                               and e["involvedObject"]["name"] == "drifty"], what="Drift events")
    text = " ".join(e["message"] for e in events)
    assert "Deployment/payments/drifty" in text and "containers[0].image" in text
    assert "Service/payments/drifty" in text
    assert 'finplane_drift_corrections_total{child_kind="Deployment",kind="BusinessCapability"}' in operator.metrics()


def test_an_image_change_rolls_out_with_progressing_then_ready_at_the_new_generation(tmp_path: Path) -> None:
    from finplane.apiserver.testing import start_apiserver

    handle = start_apiserver(tmp_path / "slow", env={"FINPLANE_SIMULATOR_DELAY_SECONDS": "1.5"})
    cluster = Cluster(kubeconfig=Path(handle.kubeconfig), url=handle.url, handle=handle)
    op = OperatorProcess(cluster=cluster, log_path=tmp_path / "op.log", liveness_port=free_port(),
                         metrics_port=free_port())
    try:
        cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        op.start()
        cluster.apply([namespace("payments"), capability("roll", replicas=2)])
        first = ready(cluster, "roll")
        seen: list[dict[str, Any]] = []
        watcher = subprocess.Popen(["kubectl", "get", "bcap", "roll", "-n", "payments", "-w", "-o", "json",
                                    "--request-timeout=30s"], stdout=subprocess.PIPE, text=True, env=cluster.env)
        reader = threading.Thread(target=lambda: _read_json_stream(watcher.stdout, seen), daemon=True)
        reader.start()
        cluster.apply(capability("roll", replicas=2, image="registry.finplane.local/payments/app:1.1.0"))
        second = ready(cluster, "roll")
        watcher.terminate()
        assert second["metadata"]["generation"] == first["metadata"]["generation"] + 1
        assert second["status"]["observedGeneration"] == second["metadata"]["generation"]
        assert second["status"]["image"].endswith(":1.1.0")
        progressing = [condition(o, "Progressing") for o in seen]
        assert any(c and c["status"] == "True" and c["reason"] == "RollingOut" for c in progressing)
        dep = cluster.get("deployment", "roll", "payments")
        assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.1.0")
    finally:
        op.stop()
        handle.stop()


def _read_json_stream(stream: Any, out: list[dict[str, Any]]) -> None:
    decoder, buf = json.JSONDecoder(), ""
    for line in stream:
        buf += line
        try:
            obj, end = decoder.raw_decode(buf.strip())
        except ValueError:
            continue
        out.append(obj)
        buf = ""


def test_deleting_a_capability_leaves_no_orphans(cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.apply([namespace("payments"), capability("gone", replicas=2)])
    ready(cluster, "gone")
    cluster.kubectl("delete", "bcap", "gone", "-n", "payments")
    for kind in CHILD_KINDS:
        wait_for(lambda k=kind: not cluster.list(k, "payments", "finplane.io/capability=gone"),
                 what=f"no {kind} left")


def test_an_object_finplane_does_not_own_is_never_adopted(cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.apply([namespace("payments"), {"apiVersion": "v1", "kind": "Service",
                                           "metadata": {"name": "taken", "namespace": "payments"},
                                           "spec": {"ports": [{"port": 1234}]}}])
    cluster.apply(capability("taken"))
    wait_for(lambda: reason(cluster, "taken") == "NameConflict", what="NameConflict")
    assert "Service/payments/taken" in condition(cluster.get("bcap", "taken", "payments"), "Ready")["message"]
    svc = cluster.get("service", "taken", "payments")
    assert svc["spec"]["ports"][0]["port"] == 1234 and not svc["metadata"].get("ownerReferences")
    assert cluster.get("deployment", "taken", "payments") is None  # nothing half-applied


@pytest.mark.parametrize(("spec", "expected"), [
    ({"dependencies": [{"name": "bad-selfdependency"}]}, "SelfDependency"),
    ({"image": "registry.finplane.local/payments/app::1"}, "InvalidImage"),
    ({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}, "LimitsBelowRequests"),
    ({"port": 80}, "PrivilegedPort"),
])
def test_bad_input_gets_a_precise_reason_and_no_children(cluster: Cluster, operator: OperatorProcess,
                                                          spec: dict[str, Any], expected: str) -> None:
    name = f"bad-{expected.lower()}"
    cluster.apply([namespace("payments"), capability(name, **spec)])
    wait_for(lambda: reason(cluster, name) == expected, what=expected)
    assert cluster.get("deployment", name, "payments") is None
    assert [e for e in cluster.list("event", "payments") if e["reason"] == expected and e["type"] == "Warning"]


def test_a_dependency_cycle_is_refused_and_running_children_stay_untouched(cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.apply([namespace("payments"), capability("a", replicas=1), capability("b", replicas=1,
                                                                                  dependencies=[{"name": "a"}])])
    ready(cluster, "a")
    before = cluster.get("deployment", "a", "payments")["metadata"]["resourceVersion"]
    cluster.apply(capability("a", replicas=3, dependencies=[{"name": "b"}]))
    wait_for(lambda: reason(cluster, "a") == "DependencyCycle", what="DependencyCycle")
    assert cluster.get("deployment", "a", "payments")["metadata"]["resourceVersion"] == before


def test_dependencies_ready_turns_true_by_itself_when_the_dependency_appears(cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.apply([namespace("payments"), capability("caller", replicas=1, dependencies=[{"name": "callee"}])])
    wait_for(lambda: reason(cluster, "caller", type_="DependenciesReady") == "DependenciesMissing",
             what="DependenciesMissing")
    assert "payments/callee" in condition(cluster.get("bcap", "caller", "payments"), "DependenciesReady")["message"]
    cluster.apply(capability("callee", replicas=1, port=9000))
    wait_for(lambda: reason(cluster, "caller", type_="DependenciesReady") == "DependenciesReady",
             what="DependenciesReady=True")
    allow = cluster.get("networkpolicy", "callee-allow", "payments")
    peers = allow["spec"]["ingress"][0]["from"]
    assert peers[0]["podSelector"]["matchLabels"] == {"finplane.io/capability": "caller"}
    egress = cluster.get("networkpolicy", "caller-allow", "payments")["spec"]["egress"]
    assert {"protocol": "TCP", "port": 9000} in egress[-1]["ports"]
