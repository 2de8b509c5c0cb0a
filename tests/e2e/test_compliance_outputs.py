"""CompliancePolicy outputs a cluster may not take: the real operator process against the embedded API server.

Covers: with FINPLANE_POLICY_REPORTS_ENABLED and FINPLANE_ADMISSION_POLICIES_ENABLED false (what the chart
sets when features.policyReports / features.admissionPolicies are off and RBAC drops those grants), no
PolicyReport, ClusterPolicyReport or ValidatingAdmissionPolicy is written even though the CRDs exist, the
policy says ReportsWritten=False/Disabled, and everything else is still evaluated: counts, the Compliant
condition and the enforce-mode refusal of a violating capability. Without the PolicyReport CRDs, the
policy says ReportsWritten=False/CRDMissing and is otherwise Ready.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Cluster, OperatorProcess, condition, start_operator, wait_for
from tests.support.builders import capability, compliance_policy, namespace

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
Obj = dict[str, Any]

NAMESPACE: Obj = namespace("payments")
LATEST: Obj = capability("bad", image="docker.io/library/nginx:latest")


def policy(mode: str) -> Obj:
    return compliance_policy("baseline", [{"id": "no-latest-tag"}], mode=mode)


@pytest.fixture
def switched_off(cluster: Cluster, tmp_path: Path) -> Iterator[OperatorProcess]:
    """The operator told that reports and admission policies are off; the CRDs are there all the same."""
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds" / "extra"))
    proc = start_operator(cluster, tmp_path, env={"FINPLANE_POLICY_REPORTS_ENABLED": "false",
                                                  "FINPLANE_ADMISSION_POLICIES_ENABLED": "false"})
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def without_report_crds(cluster: Cluster, tmp_path: Path) -> Iterator[OperatorProcess]:
    """The operator with default settings on a cluster where nobody installed the PolicyReport CRDs."""
    proc = start_operator(cluster, tmp_path)
    try:
        yield proc
    finally:
        proc.stop()


def policy_condition(cluster: Cluster, type_: str, reason: str) -> Obj | None:
    c = condition(cluster.get("compliancepolicy", "baseline"), type_)
    return c if c and c["reason"] == reason else None


def test_switched_off_reports_and_admission_policies_are_not_written_but_everything_else_is_evaluated(
        cluster: Cluster, switched_off: OperatorProcess) -> None:
    cluster.apply([NAMESPACE])
    cluster.apply([LATEST, policy("enforce")])
    written = wait_for(lambda: policy_condition(cluster, "ReportsWritten", "Disabled"), timeout=40,
                       what="ReportsWritten=False/Disabled")
    assert written["status"] == "False" and "FINPLANE_POLICY_REPORTS_ENABLED" in written["message"]
    admission = condition(cluster.get("compliancepolicy", "baseline"), "AdmissionPoliciesWritten")
    assert admission is not None and (admission["status"], admission["reason"]) == ("False", "Disabled")

    status = wait_for(lambda: (p := cluster.get("compliancepolicy", "baseline")) and
                      p.get("status", {}).get("violating") == 1 and p["status"], timeout=20, what="policy counts")
    assert condition({"status": status}, "Ready")["status"] == "True"
    compliant = wait_for(lambda: (c := condition(cluster.get("businesscapability", "bad", "payments"), "Compliant"))
                         and c["status"] == "False" and c, timeout=20, what="Compliant=False on the capability")
    assert "no-latest-tag" in compliant["message"]
    refused = wait_for(lambda: (c := condition(cluster.get("businesscapability", "bad", "payments"), "Ready"))
                       and c["reason"] == "PolicyViolation" and c, timeout=20, what="the enforce-mode refusal")
    assert "no-latest-tag" in refused["message"]

    assert cluster.list("policyreport") == [] and cluster.list("clusterpolicyreport") == []
    assert cluster.list("validatingadmissionpolicy") == []
    assert cluster.list("validatingadmissionpolicybinding") == []


def test_missing_policyreport_crds_are_reported_as_crd_missing_with_how_to_install_them(
        cluster: Cluster, without_report_crds: OperatorProcess) -> None:
    cluster.apply([NAMESPACE])
    cluster.apply([LATEST, policy("audit")])
    missing = wait_for(lambda: policy_condition(cluster, "ReportsWritten", "CRDMissing"), timeout=40,
                       what="ReportsWritten=False/CRDMissing")
    assert missing["status"] == "False" and "install" in missing["message"]
    policy_now = cluster.get("compliancepolicy", "baseline")
    assert condition(policy_now, "Ready")["status"] == "True"
    assert policy_now["status"]["violating"] == 1
