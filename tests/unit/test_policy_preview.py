"""The preview and the roll-up: `refusals` lists exactly the capabilities the enforcement hook refuses
(an audit policy treated as enforced, waivers honoured), the `Compliant` condition names failing rules, and
the admission preview shows the reach of the ValidatingAdmissionPolicy enforce mode would apply.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from finplane.policy.engine import Result
from finplane.policy.preview import admission_preview, refusals
from finplane.reconcile.compliance.rollup import compliant_condition
from finplane.settings import get_settings
from tests.support.policy_objects import DIGEST, capability, channel

POLICY = {"metadata": {"name": "gate"}, "spec": {"mode": "audit", "rules": [
    {"id": "allowed-registries", "parameters": {"registries": ["registry.finplane.local"]}},
    {"id": "data-classification-isolation"}]}}


def test_the_preview_lists_only_the_capabilities_an_enforced_policy_would_refuse() -> None:
    caps = [capability("ok"), capability("foreign", image=f"docker.io/x/y@{DIGEST}"),
            capability("secret", dataClassification="restricted")]
    refused = refusals(POLICY, caps, [channel(targets=[("payments", "secret")])])
    assert {(c["metadata"]["name"], tuple(r for r, _ in v)) for c, v in refused} == {
        ("foreign", ("allowed-registries",)), ("secret", ("data-classification-isolation",))}


def _r(rule: str, result: str) -> Result:
    return Result(policy="gate", rule=rule, category="c", severity="high", kind="BusinessCapability",
                  namespace="payments", name="x", team="payments", result=result, message="m", resource=())


def test_the_compliant_condition_lists_failing_rules_and_mentions_waivers() -> None:
    bad = compliant_condition([_r("no-latest-tag", "fail"), _r("run-as-non-root", "pass")])
    assert (bad.status, bad.reason) == ("False", "RulesFailing") and "no-latest-tag (gate)" in bad.message
    waived = compliant_condition([_r("image-digest-pinned", "skip")])
    assert (waived.status, waived.reason) == ("True", "CompliantWithWaivers")


def _ns(name: str, **labels: str) -> dict[str, object]:
    return {"metadata": {"name": name, "labels": labels}}


NAMESPACES = [_ns("kube-system"), _ns("finplane-system"), _ns("payments", team="payments"), _ns("kyc", team="kyc")]


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FINPLANE_POD_NAMESPACE", "finplane-system")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("FINPLANE_POD_NAMESPACE")
    get_settings.cache_clear()


def test_the_preview_shows_an_unselective_policys_admission_reach_without_kube_system() -> None:
    """A policy selecting nothing (examples/50-compliance-policy.yaml) must not reach kube-system or Finplane's
    own namespace: the preview shows what the applied binding would cover, before anyone switches to enforce."""
    policy = {"metadata": {"name": "gate"}, "spec": {"mode": "audit", "rules": [
        {"id": "no-latest-tag"}, {"id": "data-classification-isolation"}]}}
    reach = admission_preview(policy, NAMESPACES)
    assert reach["rendered"] and reach["name"] == "finplane-gate" and reach["failurePolicy"] == "Fail"
    assert reach["rules"] == ["no-latest-tag"]  # the other rule is enforced by refusal only
    assert {"kube-system", "finplane-system"} <= set(reach["excludedNamespaces"])
    assert reach["namespaces"] == ["kyc", "payments"]
    assert reach["resources"] == ["pods", "deployments"]


def test_the_preview_reach_honours_the_policys_label_selector_and_classifications() -> None:
    policy = {"metadata": {"name": "gate"}, "spec": {"mode": "enforce", "selector": {
        "namespaceSelector": {"matchLabels": {"team": "payments"}}, "dataClassifications": ["restricted"]},
        "rules": [{"id": "no-latest-tag"}]}}
    reach = admission_preview(policy, NAMESPACES)
    assert reach["namespaces"] == ["payments"]
    assert reach["objectSelector"] == {"matchExpressions": [
        {"key": "finplane.io/data-classification", "operator": "In", "values": ["restricted"]}]}


def test_a_policy_without_admission_checkable_rules_says_it_renders_no_admission_policy() -> None:
    reach = admission_preview({"metadata": {"name": "net"}, "spec": {"rules": [
        {"id": "data-classification-isolation"}]}}, NAMESPACES)
    assert not reach["rendered"] and "refusal is its only enforcement" in reach["note"]
    assert reach["namespaces"] is None
