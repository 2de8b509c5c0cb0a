"""The chart's RBAC is derived from reality: the rendered chart applies cleanly to the embedded API server
(CRDs first, the chart's optional PolicyReport CRDs included, plus a minimal Gateway API HTTPRoute CRD), then
the real operator, started the way the chart starts it (`--peering`, and the settings of the chart's operator
ConfigMap, so sandbox members are bound to the chart's ClusterRole), reconciles every example and the
manifests of tests/chart/manifests/rbac-e2e/ (an enforce-mode CompliancePolicy, a Gateway API channel, a
registry patching ServiceAccounts, a sandbox that expires during the run), then a second set of spec changes
that make it remove children it no longer renders. The API server's request counters (by verb, group,
resource, user agent) show what it did. Every (group, resource, verb) it used must be granted by the
operator's rendered roles (its ClusterRole, the `-namespaced` ClusterRole it binds to itself in the team and
sandbox namespaces it manages, and its Roles), and everything they grant must have been used, except the rules
listed in NOT_EXERCISED, each with the reason the run cannot reach it. The counters carry no namespace: where
each rule holds is checked on the rendered chart (test_chart_least_privilege.py) and, here, by the operator's
own RoleBindings, found in every managed namespace and in no other.

Skips, saying why, while the operator or the embedded API server does not exist yet, or when the examples
are missing; runs against the embedded server only (it needs the request counters)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.chart import CHART, NAMESPACE, REPO, find, render

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Rule = tuple[str, str, str]  # (api group, resource[/subresource], verb)

# Granted but not reached by the run, each with the reason it is still needed. Keep this list short: a rule
# that a run can reach belongs in tests/chart/manifests/rbac-e2e/, where the run exercises it for real.
NOT_EXERCISED: dict[Rule, str] = {
    ("rbac.authorization.k8s.io", "clusterroles", "bind"):
        "binding members to the sandbox-member and team-member ClusterRoles, and the operator to its namespaced "
        "ClusterRole in each managed namespace; `bind` is an authorisation check, not a request",
}
for _kind in ("businesscapabilities", "channels"):
    NOT_EXERCISED[("finplane.io", _kind, "get")] = (
        "the compliance roll-up re-reads the object after a 409 Conflict on its status patch (another writer came "
        "first); whether a run meets such a conflict depends on timing")

EXTRA = REPO / "tests" / "chart" / "manifests" / "rbac-e2e"
HTTPROUTE_CRD = REPO / "tests" / "e2e" / "manifests" / "gateway-api-httproute-crd.yaml"
ENVOY_GATEWAY_CRDS = REPO / "tests" / "e2e" / "manifests" / "envoy-gateway-policy-crds.yaml"
MONITORING_CRDS = REPO / "tests" / "e2e" / "manifests" / "prometheus-operator-crds.yaml"
CERT_MANAGER_CRDS = REPO / "tests" / "e2e" / "manifests" / "cert-manager-crds.yaml"


def granted(objects: list[dict[str, Any]], name: str) -> set[Rule]:
    """Everything the chart grants the operator `name`: its ClusterRole, the `-namespaced` ClusterRole (bound by
    RoleBindings only: the chart's, and the ones the operator creates in the namespaces it manages) and its Roles.
    The request counters carry no namespace, so where each rule holds is checked by test_chart_least_privilege."""
    roles = [*find(objects, "ClusterRole", name), *find(objects, "ClusterRole", f"{name}-namespaced"),
             *(r for r in find(objects, "Role") if r["metadata"]["name"].startswith(f"{name}"))]
    return {(g, r, v) for role in roles for rule in role["rules"] for g in rule["apiGroups"]
            for r in rule["resources"] for v in rule["verbs"]}


@pytest.fixture(scope="module")
def reconciled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Chart objects applied, operator run over examples/ to readiness, the request counters collected."""
    if os.environ.get("FINPLANE_TEST_KUBE") == "real":
        pytest.skip("needs the embedded API server's request counters")
    examples = sorted((REPO / "examples").glob("*.yaml"))
    assert examples, "examples/ holds no example CRs"
    from finplane_emulator.testing import start_apiserver
    from tests.support import Cluster, free_port, wait_for

    tmp = tmp_path_factory.mktemp("rbac-e2e")
    handle = start_apiserver(tmp / "apiserver")
    cluster = Cluster(kubeconfig=Path(handle.kubeconfig), url=handle.url, handle=handle)
    operator: subprocess.Popen[bytes] | None = None
    log = tmp / "operator.log"
    try:
        cluster.kubectl("apply", "--server-side", "-f", str(CHART / "crds"))
        cluster.kubectl("apply", "--server-side", "-f", str(HTTPROUTE_CRD))
        cluster.kubectl("apply", "--server-side", "-f", str(ENVOY_GATEWAY_CRDS))
        cluster.kubectl("apply", "--server-side", "-f", str(MONITORING_CRDS))
        cluster.kubectl("apply", "--server-side", "-f", str(CERT_MANAGER_CRDS))
        objects = render({})
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        # the platform Gateway's namespace (Envoy Gateway's install makes it), where the chart grants partner mTLS
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "envoy-gateway-system"}})
        # CRDs first (the chart's optional PolicyReport CRDs are templates), as Helm orders them.
        for obj in sorted(objects, key=lambda o: o["kind"] != "CustomResourceDefinition"):
            if obj["metadata"]["annotations"].get("helm.sh/hook"):
                continue  # test hooks run only on `helm test`
            cluster.apply(obj)
        for example in [*examples, EXTRA / "1-more-features.yaml"]:
            cluster.kubectl("apply", "--server-side", "--field-manager=examples", "-f", str(example))
        settings = dict(find(objects, "ConfigMap", "finplane-operator")[0]["data"])
        settings["FINPLANE_EVIDENCE_DIR"] = str(tmp / "evidence")  # the chart's path is the pod's volume
        liveness = free_port()
        with open(log, "wb") as out:
            operator = subprocess.Popen(
                [sys.executable, "-m", "finplane", "operator", "--peering=finplane",
                 f"--liveness-port={liveness}", f"--metrics-port={free_port()}"],
                env={**cluster.env, **settings, "PYTHONUNBUFFERED": "1", "FINPLANE_POD_IP": "10.0.0.7",
                     "FINPLANE_POD_NAMESPACE": NAMESPACE},  # as the chart's Deployment sets it
                stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        crs = [doc for path in examples for doc in yaml.safe_load_all(path.read_text())
               if doc and doc.get("apiVersion", "").startswith("finplane.io/")]

        def observed() -> int:
            assert operator is not None and operator.poll() is None, log.read_text()[-3000:]
            return sum(1 for cr in crs if ((cluster.get(cr["kind"], cr["metadata"]["name"],
                                                       cr["metadata"].get("namespace")) or {}).get("status") or {})
                       .get("conditions"))

        # Kinds whose reconciler is not written yet never get a status: wait for the first, then for the
        # operator's requests to settle (unchanged over three polls), which covers whatever it reconciles.
        wait_for(observed, timeout=60, what="status conditions on an example")
        history: list[int] = []

        def settled() -> bool:
            history.append(sum(int(r["count"]) for r in handle.stats()["by"]
                               if not str(r.get("userAgent", "")).startswith(("kubectl", "finplane-simulator"))))
            return len(history) >= 3 and history[-1] == history[-2] == history[-3]

        wait_for(settled, timeout=90, interval=1.0, what="the operator's requests to settle")
        assert observed() > 0
        wait_for(lambda: cluster.get("validatingadmissionpolicybinding", "finplane-rbac-gate"), timeout=30,
                 what="the enforce-mode policy's admission binding")
        wait_for(lambda: cluster.get("secret", "rbac-static-pull", "rbac-extra"), timeout=30,
                 what="the pull Secret in rbac-extra")
        wait_for(lambda: (cluster.get("horizontalpodautoscaler", "rbac-cap", "rbac-extra")), timeout=30,
                 what="the autoscaler of rbac-cap")

        # Second pass: spec changes that make the operator remove what it no longer renders.
        cluster.kubectl("apply", "--server-side", "--field-manager=examples", "-f", str(EXTRA / "2-changes.yaml"))
        wait_for(lambda: cluster.get("validatingadmissionpolicybinding", "finplane-rbac-gate") is None, timeout=30,
                 what="the admission binding removed in audit mode")
        wait_for(lambda: cluster.get("horizontalpodautoscaler", "rbac-cap", "rbac-extra") is None, timeout=30,
                 what="the autoscaler removed")
        wait_for(lambda: cluster.get("secret", "rbac-static-pull", "rbac-extra") is None, timeout=60,
                 what="the pull Secret removed from a namespace that left the selector")
        wait_for(lambda: ((cluster.get("tenantsandbox", "brief") or {}).get("status") or {}).get("phase") == "Expired",
                 timeout=90, what="the short sandbox expired and torn down")
        history.clear()
        wait_for(settled, timeout=90, interval=1.0, what="the operator's requests to settle again")
        bindings = json.loads(cluster.kubectl("get", "rolebindings", "-A", "-o", "json").stdout)["items"]
        namespaces = {n["metadata"]["name"]: n for n in
                      json.loads(cluster.kubectl("get", "namespaces", "-o", "json").stdout)["items"]}
        operator.send_signal(signal.SIGTERM)  # a clean stop leaves the peering: that request counts too
        operator.wait(timeout=30)
        stats = handle.stats()
        (tmp / "used.json").write_text(json.dumps(sorted(operator_requests(stats))))
        yield {"stats": stats, "objects": objects, "log": log, "bindings": bindings, "namespaces": namespaces}
    finally:
        if operator and operator.poll() is None:
            operator.kill()
            operator.wait()
        handle.stop()


def operator_requests(stats: dict[str, Any]) -> set[Rule]:
    """What the operator process asked for: every client but kubectl and the simulated controllers."""
    used: set[Rule] = set()
    for row in stats["by"]:
        agent = str(row.get("userAgent", ""))
        if agent.startswith("kubectl") or agent.startswith("finplane-simulator"):
            continue
        resource = row["resource"] + (f"/{row['subresource']}" if row.get("subresource") else "")
        if not row["resource"]:
            continue  # discovery and health endpoints are not RBAC resources
        if row["verb"] == "apply":
            # Server-side apply is a PATCH to RBAC, and a real API server authorises an apply that creates
            # the object as `create` too: the operator's first apply of each child creates it.
            used.add((row["group"], resource, "patch"))
            if "/" not in resource:
                used.add((row["group"], resource, "create"))
        else:
            used.add((row["group"], resource, row["verb"]))
    return used


def test_the_rendered_chart_applies_cleanly_to_the_api_server(reconciled: dict[str, Any]) -> None:
    kinds = {o["kind"] for o in reconciled["objects"]}
    assert {"Deployment", "ClusterRole", "ClusterKopfPeering", "NetworkPolicy", "PodDisruptionBudget"} <= kinds


def test_every_request_the_operator_makes_is_granted_by_its_cluster_role(reconciled: dict[str, Any]) -> None:
    used = operator_requests(reconciled["stats"])
    assert used, "no operator requests were counted"
    missing = sorted(used - granted(reconciled["objects"], "finplane-operator"))
    assert missing == [], (
        "the operator used these (group, resource, verb) that charts/finplane/templates/_rbac.tpl does not grant: "
        + json.dumps(missing))


def test_the_cluster_role_grants_nothing_the_operator_did_not_use(reconciled: dict[str, Any]) -> None:
    used = operator_requests(reconciled["stats"])
    unused = sorted(granted(reconciled["objects"], "finplane-operator") - used - set(NOT_EXERCISED))
    assert unused == [], (
        "granted but never used: remove from _rbac.tpl, or add to NOT_EXERCISED with the reason: " + json.dumps(unused))


def test_every_documented_exception_is_really_granted() -> None:
    stale = sorted(set(NOT_EXERCISED) - granted(render({}), "finplane-operator"))
    assert stale == [], f"NOT_EXERCISED lists rules the chart no longer grants: {stale}"


def test_the_operator_binds_its_namespaced_role_in_the_namespaces_it_manages_and_nowhere_else(
        reconciled: dict[str, Any]) -> None:
    def of_operator(b: dict[str, Any]) -> bool:
        return b["roleRef"]["name"] == "finplane-operator-namespaced" and any(
            s.get("name") == "finplane-operator" and s.get("namespace") == NAMESPACE for s in b.get("subjects") or [])

    where = {b["metadata"]["namespace"] for b in reconciled["bindings"] if of_operator(b)}
    managed = {name for name, ns in reconciled["namespaces"].items()
               if (ns["metadata"].get("labels") or {}).get("finplane.io/team")
               or name.startswith("sbx-")}
    assert {"payments", "kyc", "onboarding", "rbac-extra"} <= where, where
    assert where <= managed | {NAMESPACE}, where - managed
    assert not where & {"kube-system", "default", "kube-public"}
