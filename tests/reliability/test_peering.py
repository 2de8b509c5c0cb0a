"""Two operator replicas with kopf peering (`--peering`, distinct FINPLANE_PEERING_PRIORITY).

Covers: with both running, only the higher-priority replica reconciles (the other logs that it pauses
in favour of it, and applies nothing); SIGKILLing the active replica hands over: once its peering
keep-alive expires (FINPLANE_PEERING_LIFETIME_SECONDS, 10 s here instead of kopf's 60 s) the standby
resumes and reconciles capabilities created after the kill, and those created before stay Ready.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.support import REPO, PeeredOperator, fault_cluster, free_port, wait_for
from tests.support.builders import capability, namespace
from tests.support.reliability import apply_many, ready_count

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PEERING = "finplane-rel"


def _replica(cluster, tmp: Path, name: str, priority: int) -> PeeredOperator:  # type: ignore[no-untyped-def]
    replica = PeeredOperator(cluster=cluster, log_path=tmp / f"{name}.log", liveness_port=free_port(),
                             metrics_port=free_port(), peering=PEERING, priority=priority,
                             extra_env={"FINPLANE_PEERING_LIFETIME_SECONDS": "10"})
    replica.start()
    return replica


def test_only_the_higher_priority_replica_reconciles_and_killing_it_hands_over(tmp_path: Path) -> None:
    cluster = fault_cluster(tmp_path)
    try:
        cluster.kubectl("apply", "--server-side", "-f", str(REPO / "charts/finplane/crds/kopf.dev_peerings.yaml"))
        apply_many(cluster, [namespace("peers"),
                             {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": PEERING}}])
        active = _replica(cluster, tmp_path, "active", 200)
        standby = _replica(cluster, tmp_path, "standby", 100)
        try:
            wait_for(lambda: "Pausing operations in favour of" in standby.logs(), timeout=60,
                     what="the lower-priority replica pausing")
            wait_for(lambda: "standby: reconciles paused" in standby.logs(), timeout=30,
                     what="Finplane's own workers pausing with kopf (queued work and the drift timer too)")
            apply_many(cluster, [capability(f"before-{i}", "peers") for i in range(10)])
            wait_for(lambda: ready_count(cluster) == 10, timeout=90, what="10 capabilities Ready")
            assert "Applied Deployment/peers/before-0" in active.logs()
            assert "Applied" not in standby.logs(), "the paused replica reconciled too"

            active.stop(signal.SIGKILL)
            killed = time.monotonic()
            apply_many(cluster, [capability(f"after-{i}", "peers") for i in range(5)])
            wait_for(lambda: ready_count(cluster) == 15, timeout=120,
                     what="capabilities created after the kill Ready (handed over)")
            print(f"handover: capabilities created after the kill Ready {time.monotonic() - killed:.1f}s later")
            assert "Applied Deployment/peers/after-0" in standby.logs()
            assert "active again" in standby.logs()
        finally:
            active.stop()
            standby.stop()
    finally:
        cluster.handle.stop()
