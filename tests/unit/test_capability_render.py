"""BusinessCapability rendering: the children, their security posture, labels, and validity against Kubernetes schemas.

Covers: every child kind is rendered; pods follow the restricted profile; requests/limits always set
(platform defaults fill gaps); PDB only with more than one replica; HPA only with autoscaling (and then the
Deployment leaves replicas to it); NetworkPolicies deny by default and allow dependents, dependencies and DNS;
labels on every child; every manifest validates against the Kubernetes 1.31 schemas.
"""

from __future__ import annotations

import kubernetes_validate
import pytest

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.render.capability import CapabilityContext, render_capability
from finplane.settings import Settings

BASE = {
    "owner": {"team": "payments", "contact": "payments@bank.example"},
    "domain": "payments",
    "image": "registry.finplane.local/payments/payments-api:1.4.2",
    "dependencies": [{"namespace": "kyc", "name": "kyc-check"}],
    "registryRef": "bank-registry",
}


def render(**overrides: object) -> dict[str, dict]:
    spec = BusinessCapabilitySpec.model_validate({**BASE, **overrides})
    ctx = CapabilityContext(dependents=(("web", "portal"),), dependency_ports={("kyc", "kyc-check"): 9000})
    out = render_capability(name="payments-api", namespace="payments", spec=spec, settings=Settings(), ctx=ctx)
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in out}


def test_a_capability_becomes_service_account_deployment_service_pdb_and_network_policies() -> None:
    assert sorted(render()) == [
        "Deployment/payments-api", "NetworkPolicy/payments-api-allow", "NetworkPolicy/payments-api-default-deny",
        "PodDisruptionBudget/payments-api", "Service/payments-api", "ServiceAccount/payments-api"]


def test_every_child_validates_against_the_kubernetes_schemas() -> None:
    children = render(autoscaling={"minReplicas": 2, "maxReplicas": 5})
    assert len(children) == 7  # the six children of the first test, and the HorizontalPodAutoscaler
    for obj in children.values():
        kubernetes_validate.validate(obj, "1.31", strict=True)


def test_pods_run_under_the_restricted_profile_with_probes_and_limits() -> None:
    dep = render()["Deployment/payments-api"]
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["automountServiceAccountToken"] is False
    assert pod["imagePullSecrets"] == [{"name": "bank-registry-pull"}]


def test_explicit_resources_override_the_platform_defaults_only_where_given() -> None:
    c = render(resources={"limits": {"memory": "1Gi"}})["Deployment/payments-api"]["spec"]["template"]["spec"][
        "containers"][0]
    assert c["resources"]["limits"]["memory"] == "1Gi"
    assert c["resources"]["limits"]["cpu"] == Settings().default_resources.cpu_limit


def test_a_single_replica_gets_no_disruption_budget() -> None:
    assert "PodDisruptionBudget/payments-api" not in render(replicas=1)


def test_autoscaling_adds_an_hpa_and_leaves_replicas_to_it() -> None:
    out = render(autoscaling={"minReplicas": 3, "maxReplicas": 9})
    hpa = out["HorizontalPodAutoscaler/payments-api"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 9)
    assert "replicas" not in out["Deployment/payments-api"]["spec"]


def test_network_policies_deny_by_default_and_allow_only_dependents_dependencies_and_dns() -> None:
    out = render()
    deny = out["NetworkPolicy/payments-api-default-deny"]["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny and "egress" not in deny
    allow = out["NetworkPolicy/payments-api-allow"]["spec"]
    sources = [p["podSelector"]["matchLabels"]["finplane.io/capability"] for p in allow["ingress"][0]["from"]]
    assert sources == ["portal"]
    targets = [r["to"][0] for r in allow["egress"]]
    assert targets[0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
    assert targets[1]["podSelector"]["matchLabels"] == {"finplane.io/capability": "kyc-check"}
    assert allow["egress"][1]["ports"] == [{"protocol": "TCP", "port": 9000}]


@pytest.mark.parametrize("label", ["finplane.io/capability", "finplane.io/team", "finplane.io/domain",
                                   "finplane.io/data-classification", "app.kubernetes.io/managed-by",
                                   "app.kubernetes.io/version"])
def test_every_child_carries_the_selection_labels(label: str) -> None:
    children = render()
    assert len(children) == 6
    for obj in children.values():
        assert label in obj["metadata"]["labels"], obj["kind"]


def test_rendering_is_deterministic() -> None:
    assert render() == render()


def test_partner_sandboxes_allowed_to_call_the_capability_are_admitted_on_its_port_only() -> None:
    spec = BusinessCapabilitySpec.model_validate(BASE)
    out = render_capability(name="payments-api", namespace="payments", spec=spec, settings=Settings(),
                            ctx=CapabilityContext(sandbox_namespaces=("sbx-acmepay",)))
    allow = next(o for o in out if o["metadata"]["name"] == "payments-api-allow")["spec"]["ingress"]
    assert allow == [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "sbx-acmepay"}}}],
                      "ports": [{"protocol": "TCP", "port": 8080}]}]
