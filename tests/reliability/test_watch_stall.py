"""A watch that silently stalls: the API server keeps every stream open but sends nothing, not even bookmarks.

Covers: the operator's informers (finplane.reconcile.kind_watch) notice the silence after the inactivity timeout (FINPLANE_WATCH_INACTIVITY_SECONDS, set
to 3 s here; bookmarks come every second) and opens new streams (the server counts new watch
requests while the stall lasts); the liveness probe /healthz fails while no stream delivers anything
(FINPLANE_WATCH_LIVENESS_SECONDS, 6 s here), so Kubernetes would restart a blind operator; once the
streams flow again, the probe recovers and a capability created during the stall is reconciled.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support import fault_cluster, is_ready, start_operator, wait_for
from tests.support.builders import capability, namespace
from tests.support.reliability import apply_many, healthz

pytestmark = [pytest.mark.e2e]


def _capability_watches(cluster) -> int:  # type: ignore[no-untyped-def]
    return sum(int(r["count"]) for r in cluster.stats()["by"]
               if r["userAgent"].startswith("finplane-operator") and r["verb"] == "watch"
               and r["resource"] == "businesscapabilities")


def test_a_stalled_watch_is_reestablished_and_fails_the_liveness_probe_while_it_lasts(tmp_path: Path) -> None:
    cluster = fault_cluster(tmp_path, env={"FINPLANE_APISERVER_BOOKMARK_SECONDS": "1"})
    try:
        apply_many(cluster, [namespace("stall")])
        operator = start_operator(cluster, tmp_path, env={"FINPLANE_WATCH_INACTIVITY_SECONDS": "3",
                                                          "FINPLANE_WATCH_LIVENESS_SECONDS": "6"})
        try:
            cluster.apply(capability("before", "stall"))
            wait_for(lambda: is_ready(cluster.get("businesscapability", "before", "stall")), timeout=60,
                     what="a capability Ready before the stall")
            assert healthz(operator.liveness_port) == 200

            cluster.handle.set_faults(stallWatches=True)
            stalled_at = time.monotonic()
            watches_before = _capability_watches(cluster)
            wait_for(lambda: healthz(operator.liveness_port) == 500, timeout=60,
                     what="/healthz failing while no watch delivers anything")
            failed_after = time.monotonic() - stalled_at
            cluster.apply(capability("during", "stall"))
            wait_for(lambda: _capability_watches(cluster) >= watches_before + 2, timeout=30,
                     what="the operator's informer re-opening the silent watch stream")
            assert not is_ready(cluster.get("businesscapability", "during", "stall"))

            cluster.handle.set_faults()
            resumed_at = time.monotonic()
            wait_for(lambda: is_ready(cluster.get("businesscapability", "during", "stall")), timeout=60,
                     what="the capability created during the stall Ready once streams flow")
            seen_after = time.monotonic() - resumed_at
            wait_for(lambda: healthz(operator.liveness_port) == 200, timeout=30, what="/healthz healthy again")
            print(f"/healthz failed {failed_after:.1f}s into the stall; watches re-opened during it: "
                  f"{_capability_watches(cluster) - watches_before}; capability Ready {seen_after:.1f}s after")
            assert operator.proc is not None and operator.proc.poll() is None
        finally:
            operator.stop()
    finally:
        cluster.handle.stop()
