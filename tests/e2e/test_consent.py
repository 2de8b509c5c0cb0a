"""End-to-end: consent across the tenant boundary, with the real operator against the embedded API server.

Covers, written as team `cards` attacking team `payments`: a dependency on payments' capability renders the
attacker's egress but no ingress into payments, and the attacker sees DependenciesReady=False CallerNotAllowed
naming the callee; a partner sandbox awaiting approval that lists the capability opens nothing; naming payments'
ImageRegistry gets no pull Secret in cards and no Deployment (ImagePullAccess=False RegistryNotGranted) while
payments' own capability gets both; once payments admits cards in spec.allowedCallers, the ingress opens and the
condition clears by itself (watched, not polled).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Cluster, OperatorProcess, condition, wait_for

pytestmark = pytest.mark.e2e

API = "finplane.io/v1alpha1"
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def cluster(module_cluster: Cluster) -> Cluster:
    return module_cluster


@pytest.fixture(scope="module")
def operator(module_operator: OperatorProcess) -> OperatorProcess:
    return module_operator


def team(name: str) -> Obj:
    return {"apiVersion": API, "kind": "Team", "metadata": {"name": name},
            "spec": {"displayName": name.title(), "contact": {"email": f"{name}@bank.example"},
                     "owners": [{"kind": "Group", "name": f"{name}-leads"}], "namespaces": [name]}}


def capability(name: str, ns: str, **spec: Any) -> Obj:
    return {"apiVersion": API, "kind": "BusinessCapability", "metadata": {"name": name, "namespace": ns},
            "spec": {"owner": {"team": ns, "contact": f"{ns}@bank.example"}, "domain": "payments", "replicas": 1,
                     "image": f"registry.finplane.local/{ns}/{name}:1.0", **spec}}


def ingress_namespaces(cluster: Cluster, ns: str, name: str) -> set[str]:
    policy = cluster.get("networkpolicy", f"{name}-allow", ns) or {"spec": {}}
    return {(peer.get("namespaceSelector") or {}).get("matchLabels", {}).get("kubernetes.io/metadata.name", "")
            for rule in policy["spec"].get("ingress") or [] for peer in rule.get("from") or []}


def reason(cluster: Cluster, ns: str, name: str, type_: str) -> str | None:
    c = condition(cluster.get("businesscapability", name, ns), type_)
    return c.get("reason") if c else None


def test_another_teams_dependency_and_registry_use_open_nothing_until_consented(
        cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.apply([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "finplane-system"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "finplane-system"},
         "type": "kubernetes.io/basic-auth", "stringData": {"username": "puller", "password": "pw-Zq8"}},
        team("payments"), team("cards")])
    for name in ("payments", "cards"):
        wait_for(lambda name=name: (t := cluster.get("team", name)) and (condition(t, "Ready") or {}).get("status")
                 == "True", timeout=60, what=f"Team {name} Ready")
    cluster.apply([
        {"apiVersion": API, "kind": "ImageRegistry", "metadata": {"name": "internal"},
         "spec": {"kind": "static", "server": "registry.finplane.local", "allowedTeams": ["payments"],
                  "static": {"secretRef": {"name": "creds", "namespace": "finplane-system"}},
                  "allowedRepositories": ["payments/*", "cards/*"]}},
        capability("ledger", "payments", registryRef="internal"),
        capability("shop", "cards", dependencies=[{"namespace": "payments", "name": "ledger"}]),
        capability("thief", "cards", registryRef="internal"),
        {"apiVersion": API, "kind": "TenantSandbox",
         "metadata": {"name": "early", "annotations": {"finplane.io/approval": "pending"}},
         "spec": {"partner": {"name": "early", "organisation": "Early Ltd", "contact": "ops@early.example"},
                  "members": [{"kind": "User", "name": "dev@early.example"}], "ttlSeconds": 86400,
                  "allowedCapabilities": [{"namespace": "payments", "name": "ledger"}]}}])

    # the dependency: the attacker's egress only, no ingress into payments, and a reason naming the callee
    dep = wait_for(lambda: (c := condition(cluster.get("businesscapability", "shop", "cards"), "DependenciesReady"))
                   and c["reason"] == "CallerNotAllowed" and c, timeout=60, what="shop CallerNotAllowed")
    assert "payments/ledger" in dep["message"]
    wait_for(lambda: cluster.get("networkpolicy", "ledger-allow", "payments"), timeout=60, what="ledger policy")
    assert "cards" not in ingress_namespaces(cluster, "payments", "ledger")
    assert "sbx-early" not in ingress_namespaces(cluster, "payments", "ledger")  # awaiting approval: nothing

    # the registry: payments is granted, cards is not (no Secret, no workload)
    wait_for(lambda: cluster.get("secret", "internal-pull", "payments"), timeout=60, what="pull Secret in payments")
    wait_for(lambda: reason(cluster, "cards", "thief", "ImagePullAccess") == "RegistryNotGranted", timeout=60,
             what="thief RegistryNotGranted")
    assert cluster.get("secret", "internal-pull", "cards") is None
    assert cluster.get("deployment", "thief", "cards") is None
    assert cluster.get("deployment", "ledger", "payments") is not None

    # payments consents: its ingress opens and the caller's condition clears by itself
    cluster.kubectl("patch", "bcap", "ledger", "-n", "payments", "--type", "merge",
                    "-p", '{"spec": {"allowedCallers": {"teams": ["cards"]}}}')
    wait_for(lambda: "cards" in ingress_namespaces(cluster, "payments", "ledger"), timeout=60,
             what="ledger admits cards")
    wait_for(lambda: reason(cluster, "cards", "shop", "DependenciesReady") != "CallerNotAllowed", timeout=60,
             what="shop's CallerNotAllowed cleared")
    assert cluster.get("secret", "internal-pull", "cards") is None  # consent to call is no registry grant
