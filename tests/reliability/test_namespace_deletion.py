"""Deleting a namespace that holds capabilities while the operator is still reconciling them.

Covers: the namespace and everything in it go away; no managed child anywhere is left without its
capability (no orphans); the operator stops working on the vanished capabilities (the namespace's
disappearance is no reconcile failure or Forbidden report, no warning or retry about them once it
is gone, no Traceback) and capabilities in other namespaces stay
Ready without error conditions; a namespace of the same name created again gets a capability of the
same name reconciled from scratch (no stale state or backoff carried over).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support import condition, fault_cluster, is_ready, start_operator, wait_for
from tests.support.builders import capability, namespace
from tests.support.reliability import CHILD_RESOURCES, apply_many, capabilities, children_of, ready_count

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N = 40


def test_deleting_a_namespace_mid_reconcile_leaves_no_orphans_and_no_errors_behind(tmp_path: Path) -> None:
    cluster = fault_cluster(tmp_path)
    try:
        apply_many(cluster, [namespace("doomed"), namespace("survivor")])
        apply_many(cluster, [capability(f"keep-{i}", "survivor") for i in range(3)])
        operator = start_operator(cluster, tmp_path)
        try:
            wait_for(lambda: ready_count(cluster, "survivor") == 3, timeout=60, what="the survivors Ready")
            cluster.handle.set_faults(latencySeconds=0.05)  # every request slower: the work stays in flight longer
            apply_many(cluster, [capability(f"svc-{i:02d}", "doomed") for i in range(N)])
            wait_for(lambda: ready_count(cluster, "doomed") >= 1, timeout=60, what="the first doomed capability Ready")
            in_flight = N - ready_count(cluster, "doomed")
            assert in_flight > 0, "every capability was Ready before the deletion: the test proves nothing"
            cluster.kubectl("delete", "namespace", "doomed", "--wait=false")
            wait_for(lambda: cluster.get("namespace", "doomed") is None, timeout=90, what="the namespace gone")
            cluster.handle.set_faults()
            print(f"deleted the namespace with {in_flight}/{N} capabilities not yet Ready")

            uids = {c["metadata"]["uid"] for c in capabilities(cluster)}
            for resource in CHILD_RESOURCES:
                owners = {o["metadata"]["labels"].get("finplane.io/owner-uid") for o in children_of(cluster, resource)}
                assert owners <= uids, f"orphaned {resource}"
            settled = len(operator.logs())
            time.sleep(5)  # long enough for several queued retries (backoff 0.5 s here) to show up
            later = operator.logs()[settled:]
            retried = [line for line in later.splitlines() if "doomed" in line and
                       (" WARNING " in line or " ERROR " in line or "Requeued" in line)]
            assert not retried, "the operator kept retrying the deleted namespace:\n" + "\n".join(retried[:10])
            failures = [line for line in operator.logs().splitlines() if "doomed" in line and
                        ("failed (attempt" in line or " ERROR " in line or "Forbidden" in line)]
            assert not failures, "the deletion showed up as reconcile failures:\n" + "\n".join(failures[:10])
            assert "Traceback" not in operator.logs()
            survivors = capabilities(cluster, "survivor")
            assert len(survivors) == 3
            for cap in survivors:
                assert is_ready(cap)
                assert all(c["status"] == "True" or c["type"] == "Progressing"
                           for c in cap["status"]["conditions"]), cap["status"]["conditions"]

            apply_many(cluster, [namespace("doomed"), capability("svc-00", "doomed")])
            wait_for(lambda: is_ready(cluster.get("businesscapability", "svc-00", "doomed")), timeout=60,
                     what="a capability in the recreated namespace Ready")
            assert condition(cluster.get("businesscapability", "svc-00", "doomed"), "DependenciesReady")
        finally:
            operator.stop()
    finally:
        cluster.handle.stop()
