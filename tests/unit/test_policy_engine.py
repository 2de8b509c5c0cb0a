"""Policy evaluation: selection, waivers (fail -> skip, expiry, four-eyes), PolicyReports, the enforcement hook.

Reports are checked against the wgpolicyk8s.io v1alpha2 schema shipped in crds/extra and must
stay bounded; the enforcement hook refuses only for enforce-mode policies and unwaived failures.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from finplane.models.compliance_policy import CompliancePolicySpec
from finplane.policy.enforce import enforced_violations
from finplane.policy.engine import capability_subject, evaluate
from finplane.policy.report import TRUNCATED_ANNOTATION, render_reports
from finplane.policy.subject import Context, Subject
from finplane.settings import Settings
from tests.support.policy_objects import cap_subject, capability, channel, sandbox

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def waiver(**kw: Any) -> dict[str, Any]:
    return {"name": "tags-ok", "ruleId": "image-digest-pinned",
            "objects": [{"kind": "BusinessCapability", "namespace": "payments"}],
            "justification": "Digest pinning arrives with the new pipeline.", "riskRating": "low",
            "requestedBy": "lead@bank.example", "approvedBy": "ciso@bank.example", "ticket": "RISK-1",
            "expiresAt": "2026-07-01T00:00:00Z", **kw}


def policy(mode: str = "audit", waivers: list[dict[str, Any]] | None = None, **selector: Any) -> dict[str, Any]:
    return {"mode": mode, "selector": selector, "waivers": waivers or [],
            "rules": [{"id": "image-digest-pinned"}, {"id": "no-latest-tag"}]}


def results(spec: dict[str, Any], subjects: list[Subject], now: datetime = NOW) -> dict[tuple[str, str], str]:
    out = evaluate(CompliancePolicySpec.model_validate(spec), "baseline", subjects, Context(), now=now)
    return {(r.object, r.rule): r.result for r in out}


def test_an_active_waiver_turns_fail_into_skip_and_its_expiry_turns_it_back() -> None:
    spec = policy(waivers=[waiver()])
    assert results(spec, [cap_subject()])[("BusinessCapability/payments/payments-api", "image-digest-pinned")] == "skip"
    after = NOW + timedelta(days=31)
    assert results(spec, [cap_subject()], after)[
        ("BusinessCapability/payments/payments-api", "image-digest-pinned")] == "fail"


def test_a_waiver_covers_only_its_rule_and_its_objects() -> None:
    spec = policy(waivers=[waiver(objects=[{"kind": "BusinessCapability", "namespace": "kyc"}])])
    res = results(spec, [cap_subject()])
    assert res[("BusinessCapability/payments/payments-api", "image-digest-pinned")] == "fail"
    assert res[("BusinessCapability/payments/payments-api", "no-latest-tag")] == "pass"


def test_a_self_approved_waiver_is_refused_by_the_model() -> None:
    with pytest.raises(ValidationError, match="someone other than its requester"):
        CompliancePolicySpec.model_validate(policy(waivers=[waiver(approvedBy="lead@bank.example")]))


def test_the_selector_narrows_by_namespace_kind_and_classification() -> None:
    subjects = [cap_subject(), capability_subject(capability("kyc-check", "kyc"), Settings()),
                Subject("TenantSandbox", sandbox())]
    assert {o for o, _ in results(policy(namespaces=["kyc"]), subjects)} == {"BusinessCapability/kyc/kyc-check"}
    assert not results(policy(kinds=["Channel"]), subjects)
    assert not results(policy(dataClassifications=["restricted"]), subjects)


def test_a_waived_result_carries_waived_true_and_the_ticket_in_the_report() -> None:
    spec = CompliancePolicySpec.model_validate(policy(waivers=[waiver()]))
    reports = render_reports("baseline", evaluate(spec, "baseline", [cap_subject()], Context(), now=NOW),
                             mode="audit")
    skipped = [r for r in reports[0]["results"] if r["result"] == "skip"]
    assert skipped[0]["properties"]["waived"] == "true" and skipped[0]["properties"]["ticket"] == "RISK-1"
    assert reports[0]["summary"] == {"pass": 1, "fail": 0, "warn": 0, "error": 0, "skip": 1}


def _schema(plural: str) -> dict[str, Any]:
    crd = yaml.safe_load((REPO / "crds/extra" / f"wgpolicyk8s.io_{plural}.yaml").read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def test_reports_match_the_v1alpha2_schema_per_namespace_and_cluster_wide() -> None:
    spec = CompliancePolicySpec.model_validate({"rules": [{"id": "owner-labels-present"}, {"id": "no-latest-tag"}]})
    subjects = [cap_subject(), Subject("Channel", channel())]
    reports = render_reports("baseline", evaluate(spec, "baseline", subjects, Context(), now=NOW), mode="audit")
    assert [(r["kind"], r["metadata"].get("namespace")) for r in reports] == [
        ("PolicyReport", "payments"), ("ClusterPolicyReport", None)]
    for r in reports:
        jsonschema.validate(r, _schema("policyreports" if r["kind"] == "PolicyReport" else "clusterpolicyreports"))
    assert reports[1]["results"][0]["result"] == "fail"  # the channel has no finplane.io/team label


def test_a_report_is_capped_with_failures_first_and_says_so_while_the_summary_counts_all() -> None:
    spec = CompliancePolicySpec.model_validate(policy())
    subjects = [capability_subject(capability(f"cap-{i}", "payments"), Settings()) for i in range(30)]
    report = render_reports("baseline", evaluate(spec, "baseline", subjects, Context(), now=NOW),
                            mode="audit", max_results=10)[0]
    assert len(report["results"]) == 10 and {r["result"] for r in report["results"]} == {"fail"}
    assert report["summary"]["fail"] == 30 and report["summary"]["pass"] == 30
    assert "10 of 60" in report["metadata"]["annotations"][TRUNCATED_ANNOTATION]


def test_rendering_the_same_results_twice_gives_identical_reports() -> None:
    spec = CompliancePolicySpec.model_validate(policy())
    one = render_reports("p", evaluate(spec, "p", [cap_subject()], Context(), now=NOW), mode="audit")
    two = render_reports("p", evaluate(spec, "p", [cap_subject()], Context(), now=NOW + timedelta(hours=1)),
                         mode="audit")
    assert one == two


def _body(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": spec}


def test_the_enforcement_hook_refuses_only_for_enforce_mode_policies_with_the_rule_id() -> None:
    subject = cap_subject()
    body, children = subject.body, subject.children
    assert enforced_violations([_body("a", policy("audit"))], "BusinessCapability", body, children, now=NOW) == []
    found = enforced_violations([_body("e", policy("enforce"))], "BusinessCapability", body, children, now=NOW)
    assert [rule for rule, _ in found] == ["image-digest-pinned"]
    waived = enforced_violations([_body("e", policy("enforce", [waiver()]))], "BusinessCapability", body,
                                 children, now=NOW)
    assert waived == []
