"""OpenReports on a cluster that serves both report APIs: the real operator against the embedded API server.

Covers: with crds/extra installed (what `finplane dev` installs: the wgpolicyk8s.io and the vendored OpenReports
CRDs), a policy's results reach both a PolicyReport and an openreports.io Report that the API server accepted
under the OpenReports CRD's schema, with the same results, and the policy's ReportsWritten condition says both
were written. One operator process; no sleeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import Cluster, condition, start_operator, wait_for
from tests.support.builders import capability, compliance_policy, namespace

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
Obj = dict[str, Any]


def test_both_report_apis_get_the_same_results(cluster: Cluster, tmp_path: Path) -> None:
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds" / "extra"))
    proc = start_operator(cluster, tmp_path)
    try:
        cluster.apply([namespace("payments")])
        cluster.apply([capability("bad", image="docker.io/library/nginx:latest"),
                       compliance_policy("baseline", [{"id": "no-latest-tag"}], mode="audit")])
        written = wait_for(lambda: (c := condition(cluster.get("compliancepolicy", "baseline"), "ReportsWritten"))
                           and "OpenReports report(s) written" in c["message"] and c, timeout=40,
                           what="ReportsWritten naming the OpenReports")
        assert written["status"] == "True" and "PolicyReport(s) written" in written["message"]
        report = cluster.get("reports.openreports.io", "finplane-baseline", "payments")
        policy_report = cluster.get("policyreport", "finplane-baseline", "payments")
        assert report is not None and policy_report is not None
        assert report["results"] == policy_report["results"]
        assert [r["result"] for r in report["results"]] == ["fail"]
        assert report["summary"]["fail"] == 1
    finally:
        proc.stop()
