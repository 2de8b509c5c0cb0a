"""OpenReports (openreports.io/v1alpha1 Report / ClusterReport) beside or instead of wgpolicyk8s.io PolicyReports.

Covers, through the real compliance reconciler and the one fake gateway: by default (`both`) the same results
go to both APIs and the Reports validate against the vendored OpenReports CRDs (crds/extra, release v0.2.1);
the bound is the same (at most 200 results, failures first, the summary counting every result, the bound
stated in configuration.limits.maxResults); without the OpenReports CRDs the PolicyReports are still written
and the condition says no OpenReports were; `openreports` writes no PolicyReport and says CRDMissing when
the API is not served; `wgpolicyk8s` never touches openreports.io; a Report of another owner under our name is
left alone and reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from finplane.reconcile.compliance import KIND, ComplianceReconciler
from finplane.reconcile.runtime import Runtime
from finplane.settings import Settings
from tests.support.fake_kube import FakeKube

Obj = dict[str, Any]
API = "finplane.io/v1alpha1"
REPO = Path(__file__).resolve().parents[2]


def schema(plural: str) -> Obj:
    crd = yaml.safe_load((REPO / "crds" / "extra" / f"openreports.io_{plural}.yaml").read_text())
    assert crd["spec"]["group"] == "openreports.io"
    (version,) = crd["spec"]["versions"]
    assert version["name"] == "v1alpha1"
    out: Obj = version["schema"]["openAPIV3Schema"]
    return out


def capability(name: str, image: str = "docker.io/library/nginx:latest") -> Obj:
    return {"apiVersion": API, "kind": "BusinessCapability",
            "metadata": {"name": name, "namespace": "payments", "uid": f"{name}-uid", "generation": 1},
            "spec": {"owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments", "image": image}}


def runtime(kube: FakeKube, tmp_path: Path, *, capabilities: int = 1, **settings: Any) -> Runtime:
    rt = Runtime(kube=kube, settings=Settings(evidence_dir=str(tmp_path / "evidence"), **settings))  # type: ignore[arg-type]
    rt.add(ComplianceReconciler(rt))
    rt.stores["CompliancePolicy"] = {("", "baseline"): {
        "apiVersion": API, "kind": "CompliancePolicy", "metadata": {"name": "baseline", "uid": "pol-uid",
                                                                   "generation": 1},
        "spec": {"mode": "audit", "rules": [{"id": "no-latest-tag"}]}}}
    rt.stores["BusinessCapability"] = {("payments", f"c{i:03}"): capability(f"c{i:03}") for i in range(capabilities)}
    rt.stores["Channel"] = {("", "web"): {
        "apiVersion": API, "kind": "Channel", "metadata": {"name": "web", "uid": "web-uid", "generation": 1},
        "spec": {"type": "web", "hostnames": ["www.bank.example"], "routes": []}}}
    return rt


async def reconcile(rt: Runtime) -> None:
    await rt.controllers[KIND].reconcile_once(("", "baseline"))


def written(kube: FakeKube) -> Obj:
    return kube.last_conditions(KIND)["ReportsWritten"]


async def test_both_apis_carry_the_same_results_and_the_reports_validate_against_the_openreports_crds(
        tmp_path: Path) -> None:
    kube = FakeKube()
    await reconcile(runtime(kube, tmp_path))
    report, policy_report = kube.find("Report", "finplane-baseline", "payments"), \
        kube.find("PolicyReport", "finplane-baseline", "payments")
    assert report is not None and policy_report is not None
    assert report["results"] == policy_report["results"] and report["summary"] == policy_report["summary"]
    assert report["results"][0]["result"] == "fail" and report["source"] == "finplane"
    jsonschema.validate(report, schema("reports"))
    for cluster_report in kube.of_kind("ClusterReport"):
        jsonschema.validate(cluster_report, schema("clusterreports"))
    cond = written(kube)
    assert cond["status"] == "True"
    assert "PolicyReport(s) written" in cond["message"] and "OpenReports report(s) written" in cond["message"]


def test_the_schema_check_refuses_a_report_openreports_does_not_define() -> None:
    """The validation is not a rubber stamp: a result value outside the enum fails it."""
    bad = {"apiVersion": "openreports.io/v1alpha1", "kind": "Report", "metadata": {"name": "x"},
           "results": [{"policy": "p", "result": "passed"}]}
    try:
        jsonschema.validate(bad, schema("reports"))
    except jsonschema.ValidationError as exc:
        assert "passed" in exc.message
    else:
        raise AssertionError("an invalid result value was accepted")


async def test_openreports_keep_the_same_bound(tmp_path: Path) -> None:
    kube = FakeKube()
    await reconcile(runtime(kube, tmp_path, capabilities=230))
    report = kube.find("Report", "finplane-baseline", "payments")
    assert report is not None
    assert len(report["results"]) == 200 and report["summary"]["fail"] == 230
    assert report["configuration"] == {"limits": {"maxResults": 200}}
    assert "showing 200 of 230" in report["metadata"]["annotations"]["finplane.io/results-truncated"]
    jsonschema.validate(report, schema("reports"))


async def test_without_the_openreports_crds_policy_reports_are_still_written_and_the_condition_says_so(
        tmp_path: Path) -> None:
    kube = FakeKube(missing_groups=("openreports.io",))
    await reconcile(runtime(kube, tmp_path))
    assert kube.find("PolicyReport", "finplane-baseline", "payments") is not None
    cond = written(kube)
    assert cond["status"] == "True"
    assert "no OpenReports" in cond["message"] and "openreports.io" in cond["message"]


async def test_instead_of_wgpolicyk8s_no_policy_report_is_written(tmp_path: Path) -> None:
    kube = FakeKube()
    await reconcile(runtime(kube, tmp_path, policy_report_api="openreports"))
    assert [c for c in kube.calls if c.api_version.startswith("wgpolicyk8s.io")] == []
    assert kube.find("Report", "finplane-baseline", "payments") is not None
    assert written(kube)["status"] == "True"


async def test_instead_of_wgpolicyk8s_on_a_cluster_without_openreports_says_crd_missing(tmp_path: Path) -> None:
    kube = FakeKube(missing_groups=("openreports.io",))
    await reconcile(runtime(kube, tmp_path, policy_report_api="openreports"))
    cond = written(kube)
    assert (cond["status"], cond["reason"]) == ("False", "CRDMissing")
    assert "FINPLANE_POLICY_REPORT_API" in cond["message"]
    assert kube.last_conditions(KIND)["Ready"]["status"] == "True"  # evaluation goes on


async def test_wgpolicyk8s_only_never_touches_openreports(tmp_path: Path) -> None:
    kube = FakeKube()
    await reconcile(runtime(kube, tmp_path, policy_report_api="wgpolicyk8s"))
    assert [c for c in kube.calls if c.api_version.startswith("openreports.io")] == []
    assert "OpenReports" not in written(kube)["message"]


async def test_a_report_of_another_owner_under_our_name_is_left_alone(tmp_path: Path) -> None:
    kube = FakeKube()
    kube.put({"apiVersion": "openreports.io/v1alpha1", "kind": "Report",
              "metadata": {"name": "finplane-baseline", "namespace": "payments", "labels": {"owner": "kyverno"}},
              "results": []})
    await reconcile(runtime(kube, tmp_path, policy_report_api="openreports"))
    assert kube.find("Report", "finplane-baseline", "payments")["results"] == []  # type: ignore[index]
    cond = written(kube)
    assert (cond["status"], cond["reason"]) == ("False", "NameConflict")
