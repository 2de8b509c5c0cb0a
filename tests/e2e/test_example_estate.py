"""End-to-end: the whole example estate, all at once, settles and then stays quiet.

Covers (issue 14, "done when"): every object of examples/ (registry, capabilities, channels, the
partner sandbox, the compliance policy) becomes Ready on the embedded API server with the real
operator; once settled, no `Drift` event has been posted anywhere (no two writers fighting over a
field) and the operator writes nothing over 60 s, counted by user agent at the API server; the
finplane_objects gauge is filled without waiting for the drift timer.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.support import Cluster, OperatorProcess, is_ready, wait_for

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]
OPERATOR_AGENTS = ("finplane-operator", "kopf")
KINDS = ("team", "imageregistry", "businesscapability", "channel", "tenantsandbox", "compliancepolicy")


def operator_writes(cluster: Cluster) -> int:
    return sum(cluster.writes_by(agent) for agent in OPERATOR_AGENTS)


def not_ready(cluster: Cluster) -> list[str]:
    out = []
    for kind in KINDS:
        for obj in cluster.list(kind):
            if not is_ready(obj) or obj["status"].get("observedGeneration") != obj["metadata"]["generation"]:
                out.append(f"{kind}/{obj['metadata'].get('namespace', '-')}/{obj['metadata']['name']}")
    return out


def settled(cluster: Cluster, *, quiet: float = 3.0, timeout: float = 120.0) -> int:
    """Wait until the operator has sent no write for `quiet` seconds; return its write count then.

    Measuring from there (and not from the moment everything turned Ready) keeps the quiet period honest
    under load: the last status writes and their echoes are over before the window opens."""
    deadline = time.monotonic() + timeout
    last = operator_writes(cluster)
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = operator_writes(cluster)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    raise AssertionError(f"the operator kept writing for {timeout}s after the estate was Ready")


def test_the_example_estate_becomes_ready_and_then_costs_no_write_and_no_drift(cluster: Cluster,
                                                                              operator: OperatorProcess) -> None:
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "examples"))
    counted = {kind: len(cluster.list(kind)) for kind in KINDS}
    assert all(counted.values()), counted  # every kind of the estate is there
    wait_for(lambda: not not_ready(cluster) or None, timeout=180, what="every example object Ready")
    assert not not_ready(cluster)

    before = settled(cluster)
    time.sleep(60.0)
    assert operator_writes(cluster) - before == 0
    drift = [f"{e['involvedObject'].get('kind')}/{e['involvedObject'].get('name')}: {e['message']}"
             for e in cluster.list("event") if e.get("reason") == "Drift"]
    assert drift == []

    ready_caps = re.search(r'finplane_objects\{kind="BusinessCapability",ready="True"\} (\d+)', operator.metrics())
    assert ready_caps is not None and int(float(ready_caps.group(1))) == counted["businesscapability"]
