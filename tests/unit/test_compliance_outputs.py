"""What a CompliancePolicy writes when the cluster cannot take PolicyReports or admission policies.

Covers, with the one double of Finplane's gateway seam (tests/support/fake_kube.py): with
FINPLANE_POLICY_REPORTS_ENABLED / FINPLANE_ADMISSION_POLICIES_ENABLED off (the chart's
features.policyReports / features.admissionPolicies), nothing of those kinds is read or written and
the policy's status says Disabled while results and Compliant conditions are still produced; without the
PolicyReport CRDs (a 404 on the resource) the status says CRDMissing and how to fix it, admission policies
are still written, the pass ends normally (no retry) and a second pass writes no status again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finplane.reconcile.compliance import KIND, ComplianceReconciler
from finplane.reconcile.runtime import Key, Runtime
from finplane.settings import Settings
from tests.support.fake_kube import FakeKube

Obj = dict[str, Any]
API = "finplane.io/v1alpha1"


def runtime(kube: FakeKube, tmp_path: Path, **settings: Any) -> Runtime:
    rt = Runtime(kube=kube, settings=Settings(evidence_dir=str(tmp_path / "evidence"), **settings))  # type: ignore[arg-type]
    rt.add(ComplianceReconciler(rt))
    rt.stores["CompliancePolicy"] = {("", "baseline"): {
        "apiVersion": API, "kind": "CompliancePolicy",
        "metadata": {"name": "baseline", "uid": "pol-uid", "generation": 1},
        "spec": {"mode": "enforce", "rules": [{"id": "no-latest-tag"}]}}}
    rt.stores["BusinessCapability"] = {("payments", "pay"): {
        "apiVersion": API, "kind": "BusinessCapability",
        "metadata": {"name": "pay", "namespace": "payments", "uid": "cap-uid", "generation": 1},
        "spec": {"owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments",
                 "image": "docker.io/library/nginx:latest"}}}
    return rt


async def reconcile_policy(rt: Runtime, key: Key) -> None:
    await rt.controllers[KIND].reconcile_once(key)


def conditions_of_policy(kube: FakeKube) -> dict[str, Obj]:
    return kube.last_conditions(KIND)


def groups_touched(kube: FakeKube) -> set[str]:
    return {c.api_version.split("/")[0] for c in kube.calls if "/" in c.api_version}


def applied_kinds(kube: FakeKube) -> set[str]:
    """Kinds of the objects the pass wrote successfully (the fake holds only those)."""
    return {o["kind"] for o in kube.objects.values()}


async def test_switched_off_reports_and_admission_policies_are_never_touched_and_the_status_says_disabled(
        tmp_path: Path) -> None:
    kube = FakeKube()
    rt = runtime(kube, tmp_path, policy_reports_enabled=False, admission_policies_enabled=False)
    await reconcile_policy(rt, ("", "baseline"))
    assert groups_touched(kube) & {"wgpolicyk8s.io", "admissionregistration.k8s.io"} == set()
    conds = conditions_of_policy(kube)
    assert (conds["ReportsWritten"]["status"], conds["ReportsWritten"]["reason"]) == ("False", "Disabled")
    assert "FINPLANE_POLICY_REPORTS_ENABLED" in conds["ReportsWritten"]["message"]
    assert (conds["AdmissionPoliciesWritten"]["status"],
            conds["AdmissionPoliciesWritten"]["reason"]) == ("False", "Disabled")
    # Everything else is still evaluated: the policy is Ready with its counts, the capability is not Compliant.
    assert conds["Ready"]["status"] == "True"
    policy_status = kube.statuses(KIND)[-1]
    assert policy_status["violating"] == 1
    compliant = [c for s in kube.statuses("BusinessCapability") for c in s["conditions"]]
    assert [(c["type"], c["status"]) for c in compliant] == [("Compliant", "False")]
    assert "no-latest-tag" in compliant[0]["message"]


async def test_with_only_reports_off_the_admission_policy_is_still_written(tmp_path: Path) -> None:
    kube = FakeKube()
    rt = runtime(kube, tmp_path, policy_reports_enabled=False)
    await reconcile_policy(rt, ("", "baseline"))
    assert "wgpolicyk8s.io" not in groups_touched(kube)
    assert applied_kinds(kube) == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    assert conditions_of_policy(kube)["AdmissionPoliciesWritten"]["status"] == "True"


async def test_missing_policyreport_crds_say_crd_missing_once_and_do_not_block_enforcement(tmp_path: Path) -> None:
    kube = FakeKube(missing_groups=("wgpolicyk8s.io", "openreports.io"))  # neither report API is served
    rt = runtime(kube, tmp_path)
    await reconcile_policy(rt, ("", "baseline"))  # returns normally: no error for the queue to retry
    written = conditions_of_policy(kube)["ReportsWritten"]
    assert (written["status"], written["reason"]) == ("False", "CRDMissing")
    assert "install" in written["message"] and "crds/extra" in written["message"]
    assert applied_kinds(kube) == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}

    # The next pass (an event, the drift timer) finds the same status and writes nothing new.
    rt.stores[KIND][("", "baseline")]["status"] = kube.statuses(KIND)[-1]
    before = len(kube.statuses(KIND))
    await reconcile_policy(rt, ("", "baseline"))
    assert len(kube.statuses(KIND)) == before


async def test_reports_are_written_when_enabled_and_the_crds_exist(tmp_path: Path) -> None:
    kube = FakeKube()
    rt = runtime(kube, tmp_path)
    await reconcile_policy(rt, ("", "baseline"))
    assert "PolicyReport" in applied_kinds(kube)
    written = conditions_of_policy(kube)["ReportsWritten"]
    assert (written["status"], written["reason"]) == ("True", "ReportsWritten")
