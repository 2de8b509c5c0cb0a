"""The same compliance reports as OpenReports objects: openreports.io/v1alpha1 Report and ClusterReport.

Pure; called by the compliance reconciler (`reconcile.compliance.openreports`) with the PolicyReports
`policy.report.render_reports` made, so both APIs carry the same results under the same bounds (at
most `max_results`, failures first, the summary counting all). OpenReports is the wgpolicyk8s.io API's
successor (Kyverno 1.15 writes it): the result fields are the same; the report also names its `source`
and states the bound it keeps in `configuration.limits.maxResults`. The CRDs are vendored in
crds/extra/openreports.io_*.yaml (release v0.2.1).
"""

from __future__ import annotations

import copy

from finplane.policy.subject import Obj

__all__ = ["API_VERSION", "KINDS", "to_openreports"]

API_VERSION = "openreports.io/v1alpha1"
#: wgpolicyk8s.io kind -> OpenReports kind.
KINDS = {"PolicyReport": "Report", "ClusterPolicyReport": "ClusterReport"}


def to_openreports(reports: list[Obj], *, max_results: int = 200) -> list[Obj]:
    """Each PolicyReport as a Report, each ClusterPolicyReport as a ClusterReport (same names, results, summary)."""
    out: list[Obj] = []
    for report in reports:
        converted = copy.deepcopy(report)
        converted["apiVersion"] = API_VERSION
        converted["kind"] = KINDS[report["kind"]]
        converted["source"] = "finplane"
        converted["configuration"] = {"limits": {"maxResults": max_results}}
        out.append(converted)
    return out
