"""A conflict storm: 70 % of the operator's writes (server-side applies and status patches) answered 409.

Covers: while the storm lasts the capabilities still make progress and conflicts are counted in
`finplane_reconciles_total{outcome="conflict"}`; a conflict requeues the object for one more pass
instead of escalating its backoff (the log shows no growing "attempt N" retries for conflicts), so once
the storm stops every capability is Ready within about one extra reconcile cycle (waited for with a
generous bound that is still far below an escalated backoff); afterwards the operator writes nothing.
Scaled to 20 capabilities and a 12 s storm to keep the suite short.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.support import fault_cluster, start_operator, wait_for
from tests.support.builders import capability, namespace
from tests.support.reliability import apply_many, metric, operator_writes, ready_count

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N = 20
STORM = [{"code": 409, "share": 0.7, "userAgent": "finplane-operator", "verb": "apply"},
         {"code": 409, "share": 0.7, "userAgent": "finplane-operator", "verb": "patch"}]


def test_capabilities_converge_within_one_extra_cycle_after_a_conflict_storm(tmp_path: Path) -> None:
    cluster = fault_cluster(tmp_path)
    try:
        apply_many(cluster, [namespace("storm")])
        operator = start_operator(cluster, tmp_path)
        try:
            cluster.handle.set_faults(errors=STORM, seed=7)
            apply_many(cluster, [capability(f"svc-{i:02d}", "storm") for i in range(N)])
            time.sleep(12)  # the storm lasts a while; the operator keeps trying meanwhile
            during = ready_count(cluster)
            injected = int(cluster.handle._call("GET", "/_finplane/faults")["injected"])
            cluster.handle.set_faults()
            stopped = time.monotonic()
            wait_for(lambda: ready_count(cluster) == N, timeout=20, what=f"all {N} Ready after the storm")
            after = time.monotonic() - stopped
            text = operator.metrics()
            conflicts = metric(text, "finplane_reconciles_total", kind="BusinessCapability", outcome="conflict")
            escalated = [m for m in re.findall(r"failed \(attempt (\d+)\).*Conflict", operator.logs()) if int(m) > 2]
            print(f"storm: {injected} writes answered 409, {during}/{N} Ready during it, {conflicts:.0f} reconciles "
                  f"ended in a conflict; all Ready {after:.1f}s after it stopped")
            assert injected > 0 and conflicts + metric(text, "finplane_api_retries_total", code="409") > 0
            assert not escalated, f"conflicts escalated the backoff: attempts {escalated}"

            quiet_from = operator_writes(cluster)
            time.sleep(3)
            assert operator_writes(cluster) == quiet_from
        finally:
            operator.stop()
    finally:
        cluster.handle.stop()
