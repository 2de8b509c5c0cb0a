"""403 Forbidden after the operator's RBAC is revoked (simulated: the embedded server has no RBAC, so fault
injection answers 403 to the operator's writes of Deployments, worded like the real API server's refusal).

Covers: after a few refused attempts the capability says so in its status (Ready=False, reason
Forbidden, naming the verb and resource the operator lacks); the refusals are counted in
`finplane_reconciles_total{outcome="forbidden"}`; retries go on with backoff, never in a hot loop (few
attempts over a quiet period); once the permission is back the capability heals to Ready by itself.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support import condition, fault_cluster, start_operator, wait_for
from tests.support.builders import capability, namespace
from tests.support.reliability import apply_many, metric

pytestmark = [pytest.mark.e2e]


def _deployment_applies(cluster, ns: str = "rbac") -> int:  # type: ignore[no-untyped-def]
    return sum(int(r["count"]) for r in cluster.stats()["by"]
               if r["userAgent"].startswith("finplane-operator") and r["resource"] == "deployments"
               and r["verb"] == "apply")


def test_a_revoked_permission_is_reported_as_forbidden_retried_with_backoff_and_heals_when_granted(
        tmp_path: Path) -> None:
    cluster = fault_cluster(tmp_path)
    try:
        apply_many(cluster, [namespace("rbac")])
        operator = start_operator(cluster, tmp_path, env={"FINPLANE_BACKOFF_MAX_SECONDS": "4"})
        try:
            cluster.handle.set_faults(code=403, verb="apply", resource="deployments", userAgent="finplane-operator")
            cluster.apply(capability("locked", "rbac"))

            def forbidden() -> dict[str, str] | None:
                c = condition(cluster.get("businesscapability", "locked", "rbac"), "Ready")
                return c if c and c.get("reason") == "Forbidden" else None

            ready = wait_for(forbidden, timeout=60, what="Ready=False reason Forbidden")
            assert ready["status"] == "False"
            assert "patch deployments.apps in namespace rbac" in ready["message"]
            assert 'cannot patch resource "deployments"' in ready["message"]
            assert metric(operator.metrics(), "finplane_reconciles_total", kind="BusinessCapability",
                          outcome="forbidden") >= 3

            before = _deployment_applies(cluster)
            time.sleep(8)  # backoff capped at 4 s here: a hot loop would make hundreds of attempts
            attempts = _deployment_applies(cluster) - before
            print(f"refused attempts in 8 s of backoff (cap 4 s): {attempts}")
            assert 1 <= attempts <= 5

            cluster.handle.set_faults()  # the permission is granted again
            wait_for(lambda: (c := condition(cluster.get("businesscapability", "locked", "rbac"), "Ready"))
                     and c["status"] == "True", timeout=60, what="the capability Ready once the 403s stop")
            assert cluster.get("deployment", "locked", "rbac") is not None
        finally:
            operator.stop()
    finally:
        cluster.handle.stop()
