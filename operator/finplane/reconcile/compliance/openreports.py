"""Write a policy's results as OpenReports (openreports.io/v1alpha1 Report / ClusterReport) when that API is served.

Called by `reconcile.compliance.reconciler._write_reports` with the PolicyReports it rendered, when
FINPLANE_POLICY_REPORT_API is `both` (beside wgpolicyk8s.io) or `openreports` (instead of it). Like the
PolicyReports, the reports are applied and the policy's stale ones pruned in one pass; a missing CRD or a
refusal is reported in the `ReportsWritten` condition, never retried in a loop (retrying cannot install a
CRD). `combine` folds this outcome into the wgpolicyk8s.io one when both are written.
"""

from __future__ import annotations

from finplane.kube.errors import KubeError, NotFound
from finplane.kube.resources import register
from finplane.models.compliance_policy import CompliancePolicySpec
from finplane.policy.openreports import API_VERSION, to_openreports
from finplane.policy.subject import Obj
from finplane.reconcile.shape import Pass
from finplane.status.conditions import Cond
from finplane.status.vocabulary import ConditionType, Reason

__all__ = ["OPENREPORT_KINDS", "combine", "write_openreports"]

OPENREPORT_KINDS = ((API_VERSION, "Report"), (API_VERSION, "ClusterReport"))
register("openreports.io", "v1alpha1", "reports", "Report", namespaced=True)
register("openreports.io", "v1alpha1", "clusterreports", "ClusterReport", namespaced=False)
T = ConditionType


async def write_openreports(p: Pass[CompliancePolicySpec], reports: list[Obj], *, max_results: int) -> Cond:
    """Apply the OpenReports twins of `reports`; the ReportsWritten condition this part would state."""
    converted = to_openreports(reports, max_results=max_results)
    try:
        result = await p.apply(converted, prune_kinds=OPENREPORT_KINDS, refuse=False, cached=False)
    except KubeError as exc:
        if isinstance(exc, NotFound) and not (exc.body.get("details") or {}).get("name"):
            return Cond(T.REPORTS_WRITTEN, "False", Reason.CRD_MISSING,
                        "the openreports.io Report/ClusterReport CRDs are not installed: install them (crds/extra/, "
                        "or the chart with features.policyReportCRDs=true), or set FINPLANE_POLICY_REPORT_API="
                        "wgpolicyk8s")
        return Cond(T.REPORTS_WRITTEN, "False", Reason.REPORT_WRITE_FAILED, exc.message[:512])
    if result.conflicts:
        return Cond(T.REPORTS_WRITTEN, "False", Reason.NAME_CONFLICT,
                    f"{', '.join(result.conflicts)} already exists and is not managed by this policy; nothing was "
                    "written: remove or rename that object")
    if result.refused is not None:
        return Cond(T.REPORTS_WRITTEN, "False", result.refused.reason,
                    f"the API server refused {result.refused.child}: {result.refused.message}"[:512])
    return Cond(T.REPORTS_WRITTEN, "True", Reason.REPORTS_WRITTEN,
                f"{len(converted)} OpenReports report(s) written")


def combine(wgpolicy: Cond, openreports: Cond) -> Cond:
    """Both APIs: wgpolicyk8s.io decides the status (it is what the readers of this condition expect); the
    message says what became of the OpenReports."""
    said = openreports.message if openreports.status == "True" else f"no OpenReports: {openreports.message}"
    return Cond(wgpolicy.type, wgpolicy.status, wgpolicy.reason, f"{wgpolicy.message}; {said}"[:1024])
