"""The built-in rule library: for every rule, a compliant and a violating object get pass and fail.

Covers capabilities (evaluated with their rendered Deployment and NetworkPolicies), plain
Deployments, sandboxes (with live NetworkPolicies and ResourceQuotas) and channels, plus rules
answering `error` for bad parameters and staying silent for kinds they do not apply to.
"""

from __future__ import annotations

from typing import Any

import pytest

from finplane.policy.library import RULES
from finplane.policy.subject import Context, Subject
from tests.support.policy_objects import (
    DIGEST,
    SAFE_SC,
    cap_subject,
    capability,
    channel,
    deny_all,
    deployment,
    quota,
    sandbox,
)


def run(rule: str, subject: Subject, params: dict[str, Any] | None = None, ctx: Context | None = None) -> str:
    findings = RULES[rule].check(subject, params or {}, ctx or Context())
    assert len(findings) == 1, findings
    return findings[0].result


def dep(**kw: Any) -> Subject:
    return Subject("Deployment", deployment(**kw))


REG = {"registries": ["registry.finplane.local"]}

CASES: list[tuple[str, Any, Any, dict[str, Any], Context | None]] = [
    ("allowed-registries", lambda: cap_subject(), lambda: cap_subject(image="docker.io/evil/miner:1.0"), REG, None),
    ("allowed-registries", lambda: Subject("TenantSandbox", sandbox()),
     lambda: Subject("TenantSandbox", sandbox(images=["*/anything:*"])), REG, None),
    ("image-digest-pinned", lambda: cap_subject(image=f"registry.finplane.local/p/a@{DIGEST}"),
     lambda: cap_subject(), {}, None),
    ("no-latest-tag", lambda: cap_subject(), lambda: cap_subject(image="registry.finplane.local/p/a:latest"),
     {}, None),
    ("no-latest-tag", lambda: dep(image=f"registry.finplane.local/p/a@{DIGEST}"),
     lambda: dep(image="registry.finplane.local/p/a"), {}, None),
    ("run-as-non-root", lambda: cap_subject(), lambda: dep(sc={}), {}, None),
    ("run-as-non-root", lambda: dep(pod_sc={"runAsNonRoot": True}),
     lambda: dep(sc={"runAsNonRoot": True, "runAsUser": 0}), {}, None),
    ("no-privilege-escalation", lambda: cap_subject(), lambda: dep(sc={"allowPrivilegeEscalation": True}), {}, None),
    ("no-privilege-escalation", lambda: dep(sc=SAFE_SC),
     lambda: dep(sc={**SAFE_SC, "privileged": True}), {}, None),
    ("read-only-root-filesystem", lambda: cap_subject(), lambda: dep(sc={"readOnlyRootFilesystem": False}), {}, None),
    ("resource-limits-set", lambda: cap_subject(), lambda: dep(limits={"cpu": "1"}), {}, None),
    ("resource-limits-set", lambda: cap_subject(resources={"limits": {"cpu": "1", "memory": "1Gi"}}),
     lambda: cap_subject(), {"requireExplicit": True}, None),
    ("default-deny-network", lambda: cap_subject(), lambda: dep(), {}, None),
    ("default-deny-network", lambda: dep(), lambda: dep(ns="legacy"),
     {}, Context(related={"payments": [deny_all("payments")]})),
    ("default-deny-network", lambda: Subject("TenantSandbox", sandbox()),
     lambda: Subject("TenantSandbox", sandbox(name="b", ns="sbx-b")), {},
     Context(related={"sbx-acme": [deny_all("sbx-acme")]})),
    ("data-classification-isolation", lambda: cap_subject(),
     lambda: cap_subject(dataClassification="restricted"), {},
     Context(channels={("", "mobile"): channel()})),
    ("data-classification-isolation", lambda: Subject("Channel", channel(type_="branch")),
     lambda: Subject("Channel", channel()), {},
     Context(capabilities={("payments", "payments-api"): capability(dataClassification="restricted")})),
    ("minimum-replicas", lambda: cap_subject(), lambda: cap_subject(replicas=1), {"minReplicas": 2}, None),
    ("minimum-replicas", lambda: cap_subject(criticality="low", replicas=1),
     lambda: cap_subject(autoscaling={"minReplicas": 2, "maxReplicas": 4}), {"minReplicas": 3}, None),
    ("owner-labels-present", lambda: cap_subject(), lambda: dep(), {}, None),
    ("owner-labels-present", lambda: Subject("Channel", channel(labels={"finplane.io/team": "digital"})),
     lambda: Subject("Channel", channel()), {}, None),
    ("sandbox-max-lifetime", lambda: Subject("TenantSandbox", sandbox(ttl=3600)),
     lambda: Subject("TenantSandbox", sandbox(ttl=None)), {"maxSeconds": 7776000}, None),
    ("sandbox-quota-present", lambda: Subject("TenantSandbox", sandbox()),
     lambda: Subject("TenantSandbox", sandbox(name="b", ns="sbx-b")), {},
     Context(related={"sbx-acme": [quota("sbx-acme", {"limits.cpu": "2", "requests.memory": "1Gi", "pods": "5"})],
                      "sbx-b": [quota("sbx-b", {"pods": "5"})]})),
]


@pytest.mark.parametrize(("rule", "good", "bad", "params", "ctx"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_rule_passes_a_compliant_object_and_fails_a_violating_one(
        rule: str, good: Any, bad: Any, params: dict[str, Any], ctx: Context | None) -> None:
    assert run(rule, good(), params, ctx) == "pass"
    assert run(rule, bad(), params, ctx) == "fail"


def test_every_rule_id_of_the_model_has_a_test_case_and_a_library_entry() -> None:
    from finplane.models.compliance_policy import RuleId

    assert {r.value for r in RuleId} == set(RULES) == {c[0] for c in CASES}


def test_allowed_registries_accepts_a_repository_prefix_and_refuses_a_lookalike_host() -> None:
    params = {"registries": ["registry.finplane.local/payments"]}
    assert run("allowed-registries", cap_subject(), params) == "pass"
    lookalike = cap_subject(image="registry.finplane.local.evil.example/payments/a:1")
    assert run("allowed-registries", lookalike, params) == "fail"
    other_team = cap_subject(image="registry.finplane.local/paymentsx/a:1")
    assert run("allowed-registries", other_team, params) == "fail"


def test_a_rule_with_bad_parameters_answers_error_with_the_parameter_name() -> None:
    findings = RULES["allowed-registries"].check(cap_subject(), {"registries": "oops"}, Context())
    assert findings[0].result == "error" and "registries" in findings[0].message
    findings = RULES["minimum-replicas"].check(cap_subject(), {"minReplicas": "two"}, Context())
    assert findings[0].result == "error" and "minReplicas" in findings[0].message


def test_rules_stay_silent_on_kinds_they_do_not_apply_to() -> None:
    assert RULES["sandbox-max-lifetime"].check(cap_subject(), {}, Context()) == []
    assert RULES["run-as-non-root"].check(Subject("Channel", channel()), {}, Context()) == []


def test_a_failure_message_names_the_offending_image() -> None:
    finding = RULES["no-latest-tag"].check(cap_subject(image="registry.finplane.local/p/a:latest"), {}, Context())[0]
    assert "registry.finplane.local/p/a:latest" in finding.message
