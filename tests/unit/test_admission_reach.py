"""Enforce mode cannot take the cluster down: the reach of a rendered ValidatingAdmissionPolicy.

Written from the side of the cluster it could brick: a policy that selects no namespaces (as
`examples/50-compliance-policy.yaml` does) must never cover kube-system, the other kube-*
namespaces or Finplane's own namespace; a policy's label selector and data classifications narrow
what it covers; the failure policy is a setting. Matching is evaluated with the same label-selector
semantics the API server applies to `namespaceSelector` and `objectSelector`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kubernetes_validate
import pytest

from finplane.models.compliance_policy import CompliancePolicySpec
from finplane.policy.admission import admission_options, render_admission_policy
from finplane.policy.selection import matches_labels
from finplane.settings import Settings

NOW = datetime(2026, 6, 1, tzinfo=UTC)
RULES = [{"id": "image-digest-pinned"}, {"id": "run-as-non-root"}]


def policy(selector: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    spec = CompliancePolicySpec.model_validate({"mode": "enforce", "rules": RULES, "selector": selector or {}})
    out = render_admission_policy("baseline", spec, now=NOW, **kw)
    assert out, "an enforce-mode policy with admission-checkable rules renders a policy"
    return out[0]


def covers(vap: dict[str, Any], namespace: str, *, ns_labels: dict[str, str] | None = None,
           obj_labels: dict[str, str] | None = None) -> bool:
    """Whether the API server would send a Pod in `namespace` with `obj_labels` to this policy."""
    match = vap["spec"]["matchConstraints"]
    labels = {"kubernetes.io/metadata.name": namespace, **(ns_labels or {})}
    return matches_labels(match.get("namespaceSelector"), labels) and \
        matches_labels(match.get("objectSelector"), obj_labels or {})


def test_a_policy_selecting_no_namespaces_never_covers_the_system_namespaces() -> None:
    vap = policy(protected_namespaces=("finplane-system",))
    for ns in ("kube-system", "kube-public", "kube-node-lease", "finplane-system"):
        assert not covers(vap, ns), ns
    assert covers(vap, "payments")


def test_naming_kube_system_in_the_selector_does_not_bring_it_into_reach() -> None:
    vap = policy({"namespaces": ["payments", "kube-system"]})
    assert covers(vap, "payments") and not covers(vap, "kube-system") and not covers(vap, "kyc")


def test_a_policy_selecting_only_protected_namespaces_renders_no_admission_policy() -> None:
    spec = CompliancePolicySpec.model_validate({"mode": "enforce", "rules": RULES,
                                                "selector": {"namespaces": ["kube-system"]}})
    assert render_admission_policy("p", spec, now=NOW) == []


def test_a_namespace_selector_narrows_and_keeps_the_exclusions() -> None:
    vap = policy({"namespaceSelector": {"matchLabels": {"finplane.io/team": "payments"}}},
                 protected_namespaces=("finplane-system",))
    assert covers(vap, "payments", ns_labels={"finplane.io/team": "payments"})
    assert not covers(vap, "kyc", ns_labels={"finplane.io/team": "kyc"})
    assert not covers(vap, "finplane-system", ns_labels={"finplane.io/team": "payments"})


def test_label_and_classification_selectors_become_an_object_selector() -> None:
    vap = policy({"labelSelector": {"matchLabels": {"finplane.io/team": "payments"}},
                  "dataClassifications": ["restricted"]})
    restricted = {"finplane.io/team": "payments", "finplane.io/data-classification": "restricted"}
    assert covers(vap, "payments", obj_labels=restricted)
    assert not covers(vap, "payments", obj_labels={**restricted, "finplane.io/data-classification": "internal"})
    assert not covers(vap, "payments", obj_labels={**restricted, "finplane.io/team": "kyc"})


@pytest.mark.parametrize("failure", ["Fail", "Ignore"])
def test_the_failure_policy_comes_from_the_settings_and_the_operator_namespace_is_protected(failure: str) -> None:
    settings = Settings(pod_namespace="bank-platform", admission_failure_policy=failure,
                        admission_protected_namespaces=["monitoring"])
    vap = policy(**admission_options(settings))
    assert vap["spec"]["failurePolicy"] == failure
    assert not covers(vap, "bank-platform") and not covers(vap, "monitoring") and covers(vap, "payments")


def test_the_bounded_policy_validates_against_the_kubernetes_schema() -> None:
    vap = policy({"namespaces": ["payments"], "labelSelector": {"matchExpressions": [
        {"key": "tier", "operator": "Exists"}]}, "dataClassifications": ["confidential"]},
        protected_namespaces=("finplane-system",))
    kubernetes_validate.validate(vap, "1.33", strict=True)


def test_pod_security_labels_are_never_put_on_a_protected_namespace() -> None:
    from finplane.policy.admission import outside_protected, protected_namespaces

    settings = Settings(pod_namespace="finplane-system")
    chosen = outside_protected({"payments", "kube-system", "finplane-system", "kyc"}, protected_namespaces(settings))
    assert chosen == ["kyc", "payments"]
