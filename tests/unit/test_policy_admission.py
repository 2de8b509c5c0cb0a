"""Native enforcement renderers: the ValidatingAdmissionPolicy validates against the Kubernetes schema,
its CEL compiles and, evaluated with celpy, admits compliant Pods and Deployments and denies
violating ones; waivers become exemptions; Pod Security labels only in enforce mode.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import celpy
import kubernetes_validate
import pytest

from finplane.models.compliance_policy import CompliancePolicySpec
from finplane.policy.admission import psa_labels, render_admission_policy
from tests.support.policy_objects import DIGEST, SAFE_SC, deployment

NOW = datetime(2026, 6, 1, tzinfo=UTC)
RULES = [{"id": "allowed-registries", "parameters": {"registries": ["registry.finplane.local"]}},
         {"id": "image-digest-pinned"}, {"id": "no-latest-tag"}, {"id": "run-as-non-root"},
         {"id": "no-privilege-escalation"}, {"id": "read-only-root-filesystem"}, {"id": "resource-limits-set"},
         {"id": "owner-labels-present"}, {"id": "sandbox-max-lifetime"}]


def rendered(mode: str = "enforce", waivers: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    spec = CompliancePolicySpec.model_validate({"mode": mode, "rules": RULES, "waivers": waivers or [],
                                                "selector": {"namespaces": ["payments"]}})
    return render_admission_policy("baseline", spec, now=NOW)


def test_the_policy_and_binding_validate_against_the_kubernetes_schema() -> None:
    objects = rendered()
    assert sorted(o["kind"] for o in objects) == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    for obj in objects:
        kubernetes_validate.validate(obj, "1.33", strict=True)


def test_only_admission_checkable_rules_become_validations() -> None:
    messages = [v["message"] for v in rendered()[0]["spec"]["validations"]]
    assert len(messages) == 8 and not any("sandbox" in m for m in messages)


def to_cel(value: Any) -> Any:
    """JSON to CEL values (celpy's json_to_cel turns booleans into ints, as bool subclasses int)."""
    t = celpy.celtypes
    if isinstance(value, bool):
        return t.BoolType(value)
    if isinstance(value, int):
        return t.IntType(value)
    if isinstance(value, str):
        return t.StringType(value)
    if isinstance(value, dict):
        return t.MapType({t.StringType(k): to_cel(v) for k, v in value.items()})
    if isinstance(value, list):
        return t.ListType([to_cel(v) for v in value])
    return value


def _denied(obj: dict[str, Any], policy: dict[str, Any], namespace: str = "payments") -> list[str]:
    env = celpy.Environment()
    act: dict[str, Any] = {"object": to_cel(obj), "request": to_cel({"namespace": namespace})}
    variables: dict[str, Any] = {}
    for var in policy["spec"]["variables"]:
        act["variables"] = celpy.celtypes.MapType({celpy.celtypes.StringType(k): v for k, v in variables.items()})
        variables[var["name"]] = env.program(env.compile(var["expression"])).evaluate(act)
    act["variables"] = celpy.celtypes.MapType({celpy.celtypes.StringType(k): v for k, v in variables.items()})
    assert set(variables) == {"podSpec", "containers"}
    out = []
    for v in policy["spec"]["validations"]:
        if not bool(env.program(env.compile(v["expression"])).evaluate(act)):
            out.append(v["message"].split("rule ")[1].split(":")[0])
    return out


GOOD_IMAGE = f"registry.finplane.local/payments/api@{DIGEST}"


def good(**kw: Any) -> dict[str, Any]:
    base = {"image": GOOD_IMAGE, "sc": SAFE_SC, "limits": {"cpu": "1", "memory": "1Gi"},
            "labels": {"finplane.io/team": "payments"}}
    return deployment(**{**base, **kw})


@pytest.mark.parametrize(("change", "rule"), [
    ({"image": "docker.io/library/nginx@" + DIGEST}, "allowed-registries"),
    ({"image": "registry.finplane.local/payments/api:1.0"}, "image-digest-pinned"),
    ({"sc": {**SAFE_SC, "runAsNonRoot": False}}, "run-as-non-root"),
    ({"sc": {**SAFE_SC, "allowPrivilegeEscalation": True}}, "no-privilege-escalation"),
    ({"sc": {"runAsNonRoot": True, "allowPrivilegeEscalation": False}}, "read-only-root-filesystem"),
    ({"limits": {"cpu": "1"}}, "resource-limits-set"),
    ({"labels": {}}, "owner-labels-present"),
])
def test_the_cel_admits_a_compliant_deployment_and_denies_each_violation_by_rule(
        change: dict[str, Any], rule: str) -> None:
    policy = rendered()[0]
    assert _denied(good(), policy) == []
    assert rule in _denied(good(**change), policy)


def test_the_cel_denies_latest_and_untagged_images_but_not_version_tags() -> None:
    policy = rendered()[0]
    assert "no-latest-tag" in _denied(good(image="registry.finplane.local/p/a:latest"), policy)
    assert "no-latest-tag" in _denied(good(image="registry.finplane.local:5000/p/a"), policy)
    assert "no-latest-tag" not in _denied(good(image="registry.finplane.local/p/a:1.2"), policy)


def test_the_cel_reads_a_pods_spec_and_the_pod_level_run_as_non_root() -> None:
    dep = good(sc={"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
               pod_sc={"runAsNonRoot": True})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": dep["metadata"], "spec": dep["spec"]["template"]["spec"]}
    assert _denied(pod, rendered()[0]) == []


def test_an_active_waiver_exempts_the_waived_capability_at_admission() -> None:
    w = {"name": "tags", "ruleId": "image-digest-pinned",
         "objects": [{"kind": "BusinessCapability", "namespace": "payments", "name": "api"}],
         "justification": "pinned digests come with the pipeline", "riskRating": "low",
         "requestedBy": "a@bank.example", "approvedBy": "b@bank.example", "ticket": "RISK-2",
         "expiresAt": "2026-07-01T00:00:00Z"}
    tagged = good(image="registry.finplane.local/payments/api:1.0", labels={"finplane.io/team": "payments",
                                                                            "finplane.io/capability": "api"})
    assert "image-digest-pinned" not in _denied(tagged, rendered(waivers=[w])[0])
    assert "image-digest-pinned" in _denied(tagged, rendered(waivers=[w])[0], namespace="kyc")
    expired = {**w, "expiresAt": "2026-05-01T00:00:00Z"}
    assert "image-digest-pinned" in _denied(tagged, rendered(waivers=[expired])[0])


def test_pod_security_labels_are_rendered_only_in_enforce_mode() -> None:
    enforce = CompliancePolicySpec.model_validate({"mode": "enforce", "rules": RULES})
    audit = CompliancePolicySpec.model_validate({"mode": "audit", "rules": RULES})
    assert psa_labels(enforce)["pod-security.kubernetes.io/enforce"] == "restricted"
    assert psa_labels(audit) == {}
