"""What a CompliancePolicy writes when the cluster cannot take PolicyReports or admission policies.

Covers, with a double at Finplane's gateway seam (finplane.kube.client.Kube): with
FINPLANE_POLICY_REPORTS_ENABLED / FINPLANE_ADMISSION_POLICIES_ENABLED off (the chart's
features.policyReports / features.admissionPolicies), nothing of those kinds is read or written and
the policy's status says Disabled while results and Compliant conditions are still produced; without the
PolicyReport CRDs (a 404 on the resource) the status says CRDMissing and how to fix it, admission policies
are still written, the pass ends normally (no retry) and a second pass writes no status again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finplane.kube.errors import NotFound
from finplane.reconcile.compliance import KIND, reconcile_policy
from finplane.reconcile.runtime import Runtime
from finplane.settings import Settings

Obj = dict[str, Any]
API = "finplane.io/v1alpha1"


class FakeKube:
    """Records every call by group; answers 404 for the resources of `missing_groups` (CRD not installed)."""

    def __init__(self, *, missing_groups: tuple[str, ...] = ()) -> None:
        self.missing_groups = missing_groups
        self.calls: list[tuple[str, str]] = []  # (verb, apiVersion)
        self.applied: list[Obj] = []
        self.statuses: list[tuple[str, Obj]] = []  # (kind, status patch)

    def _touch(self, verb: str, api_version: str) -> None:
        self.calls.append((verb, api_version))
        if api_version.split("/")[0] in self.missing_groups:
            # What an API server answers for a resource it does not serve: no object name in the details.
            raise NotFound("the server could not find the requested resource", status=404, reason="NotFound",
                           body={"details": {}})

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj:
        self._touch("get", api_version)
        raise NotFound(f"{kind} {name} not found", status=404, body={"details": {"name": name}})

    async def get_or_none(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return await self.get(api_version, kind, name, namespace)
        except NotFound:
            return None  # the real gateway hides a missing resource's 404 here too

    async def list(self, api_version: str, kind: str, namespace: str | None = None, **_: Any) -> list[Obj]:
        self._touch("list", api_version)
        return []

    async def apply(self, body: Obj, **_: Any) -> Obj:
        self._touch("apply", body["apiVersion"])
        self.applied.append(body)
        return body

    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        self._touch("delete", api_version)

    async def patch_status(self, api_version: str, kind: str, name: str, status: Obj,
                           namespace: str | None = None) -> Obj:
        self.statuses.append((kind, status))
        return {}

    async def patch_merge(self, api_version: str, kind: str, name: str, patch: Obj, namespace: str | None = None,
                          subresource: str | None = None) -> Obj:
        self.statuses.append((kind, patch.get("status") or {}))
        return {}

    async def create(self, body: Obj) -> Obj:
        return body  # events


def runtime(kube: FakeKube, tmp_path: Path, **settings: Any) -> Runtime:
    rt = Runtime(kube=kube, settings=Settings(evidence_dir=str(tmp_path / "evidence"), **settings))  # type: ignore[arg-type]
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


def conditions_of_policy(kube: FakeKube) -> dict[str, Obj]:
    status = [s for kind, s in kube.statuses if kind == KIND][-1]
    return {c["type"]: c for c in status["conditions"]}


def groups_touched(kube: FakeKube) -> set[str]:
    return {api.split("/")[0] for _, api in kube.calls}


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
    policy_status = [s for kind, s in kube.statuses if kind == KIND][-1]
    assert policy_status["violating"] == 1
    compliant = [c for kind, s in kube.statuses if kind == "BusinessCapability" for c in s["conditions"]]
    assert [(c["type"], c["status"]) for c in compliant] == [("Compliant", "False")]
    assert "no-latest-tag" in compliant[0]["message"]


async def test_with_only_reports_off_the_admission_policy_is_still_written(tmp_path: Path) -> None:
    kube = FakeKube()
    rt = runtime(kube, tmp_path, policy_reports_enabled=False)
    await reconcile_policy(rt, ("", "baseline"))
    assert "wgpolicyk8s.io" not in groups_touched(kube)
    assert {o["kind"] for o in kube.applied} == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    assert conditions_of_policy(kube)["AdmissionPoliciesWritten"]["status"] == "True"


async def test_missing_policyreport_crds_say_crd_missing_once_and_do_not_block_enforcement(tmp_path: Path) -> None:
    kube = FakeKube(missing_groups=("wgpolicyk8s.io",))
    rt = runtime(kube, tmp_path)
    await reconcile_policy(rt, ("", "baseline"))  # returns normally: no error for the queue to retry
    written = conditions_of_policy(kube)["ReportsWritten"]
    assert (written["status"], written["reason"]) == ("False", "CRDMissing")
    assert "install" in written["message"] and "crds/extra" in written["message"]
    assert {o["kind"] for o in kube.applied} == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}

    # The next pass (an event, the drift timer) finds the same status and writes nothing new.
    rt.stores[KIND][("", "baseline")]["status"] = [s for kind, s in kube.statuses if kind == KIND][-1]
    before = len([1 for kind, _ in kube.statuses if kind == KIND])
    await reconcile_policy(rt, ("", "baseline"))
    assert len([1 for kind, _ in kube.statuses if kind == KIND]) == before


async def test_reports_are_written_when_enabled_and_the_crds_exist(tmp_path: Path) -> None:
    kube = FakeKube()
    rt = runtime(kube, tmp_path)
    await reconcile_policy(rt, ("", "baseline"))
    assert "PolicyReport" in {o["kind"] for o in kube.applied}
    written = conditions_of_policy(kube)["ReportsWritten"]
    assert (written["status"], written["reason"]) == ("True", "ReportsWritten")
