"""The evidence log's completeness and corruption, end to end: the real operator on the embedded API server.

Covers, as someone with kubectl: a capability whose spec is patched with kubectl (outside the platform API)
gives a `changed-outside-api` entry naming the `kubectl-patch` field manager; a hand edit of its Deployment is
reverted and gives a `drift-corrected` entry naming that manager; truncating the log under the running
operator turns the CompliancePolicy `Ready=False` / `EvidenceCorrupt` on its next pass while it goes on
evaluating (the capability turns compliant), and its recorded head stays the one before the truncation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import Cluster, OperatorProcess, builders, condition, free_port, wait_for
from tests.support.builders import namespace

pytestmark = pytest.mark.e2e
Obj = dict[str, Any]


def entries(log: Path, type_: str) -> list[Obj]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("type") == type_:
            out.append(e)
    return out


def test_kubectl_changes_and_drift_are_recorded_and_a_truncated_log_is_reported(
        cluster: Cluster, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    log = evidence / "evidence.jsonl"
    proc = OperatorProcess(cluster=cluster, log_path=tmp_path / "operator.log", liveness_port=free_port(),
                           metrics_port=free_port(), extra_env={"FINPLANE_EVIDENCE_DIR": str(evidence),
                                                                "FINPLANE_POLICY_REPORTS_ENABLED": "false"})
    proc.start()
    try:
        cluster.apply([namespace("payments"),
                       builders.capability("pay", image="docker.io/library/nginx:latest", replicas=1),
                       builders.compliance_policy("latest", [{"id": "no-latest-tag"}], mode="audit", selector={},
                                                  waivers=[])])
        wait_for(lambda: (c := condition(cluster.get("compliancepolicy", "latest"), "Ready")) and
                 c["status"] == "True", timeout=40, what="the policy Ready")
        wait_for(lambda: cluster.get("deployment", "pay", "payments"), timeout=30, what="the Deployment")

        cluster.kubectl("patch", "businesscapability", "pay", "-n", "payments", "--type=merge",
                        "-p", json.dumps({"spec": {"replicas": 2}}))
        [outside] = wait_for(lambda: [e for e in entries(log, "changed-outside-api")
                                      if e["object"]["name"] == "pay" and e["generation"] == 2],
                             timeout=30, what="the kubectl change recorded")
        assert outside["writer"]["manager"] == "kubectl-patch"

        cluster.kubectl("patch", "deployment", "pay", "-n", "payments", "--type=merge",
                        "-p", json.dumps({"spec": {"revisionHistoryLimit": 42}}))
        [drift] = wait_for(lambda: entries(log, "drift-corrected"), timeout=60, what="the drift correction recorded")
        assert drift["child"] == "Deployment/payments/pay" and drift["writer"]["manager"] == "kubectl-patch"

        wait_for(lambda: (p := cluster.get("compliancepolicy", "latest")) and
                 (p.get("status") or {}).get("evidence", {}).get("headHash"), timeout=30, what="a recorded head")
        head = cluster.get("compliancepolicy", "latest")["status"]["evidence"]["headHash"]  # type: ignore[index]
        log.write_text(log.read_text().splitlines(keepends=True)[0])  # the attacker keeps only the first line
        cluster.kubectl("patch", "businesscapability", "pay", "-n", "payments", "--type=merge",
                        "-p", json.dumps({"spec": {"image": "registry.finplane.local/payments/pay:1.0.0"}}))
        policy = wait_for(lambda: (p := cluster.get("compliancepolicy", "latest")) and
                          (c := condition(p, "Ready")) and c["reason"] == "EvidenceCorrupt" and p,
                          timeout=40, what="the policy EvidenceCorrupt")
        assert condition(policy, "Ready")["status"] == "False"  # type: ignore[index]
        wait_for(lambda: (c := condition(cluster.get("businesscapability", "pay", "payments"), "Compliant")) and
                 c["status"] == "True", timeout=40, what="evaluation going on: the capability compliant")
        assert cluster.get("compliancepolicy", "latest")["status"]["evidence"]["headHash"] == head  # type: ignore[index]
        assert len(log.read_text().splitlines()) == 1  # nothing chained onto the truncated log
    finally:
        proc.stop()
