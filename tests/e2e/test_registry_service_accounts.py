"""End-to-end: an ImageRegistry keeps the ServiceAccounts of spec.serviceAccounts wired, and only those.

Covers, with the real operator against the embedded API server (drift timer set to an hour, so only
watch events can explain what happens): a ServiceAccount created after its namespace was synced gets the
pull Secret in imagePullSecrets at once, next to another controller's entry; an account dropped from
spec.serviceAccounts loses Finplane's entry and keeps the other one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Cluster, OperatorProcess, condition, free_port, wait_for
from tests.support.builders import image_registry

pytestmark = pytest.mark.e2e
Obj = dict[str, Any]
SECRET = "local-pull"


@pytest.fixture
def registry_operator(cluster: Cluster, tmp_path: Path) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(cluster=cluster, log_path=tmp_path / "operator.log", liveness_port=free_port(),
                           metrics_port=free_port(),
                           extra_env={"FINPLANE_REGISTRY_PRUNE_GRACE_SECONDS": "0",
                                      "FINPLANE_DRIFT_CHECK_INTERVAL_SECONDS": "3600"})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def registry(service_accounts: list[str]) -> Obj:
    return image_registry("local", kind="static", server="registry.bank.example",
                          static={"secretRef": {"name": "harbor-bot", "namespace": "finplane"}},
                          namespaceSelector={"matchLabels": {"pulls": "yes"}}, serviceAccounts=service_accounts)


def service_account(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "payments"},
            "imagePullSecrets": [{"name": "someone-elses"}]}


def pull_secrets(cluster: Cluster, name: str) -> set[str]:
    sa = cluster.get("serviceaccount", name, "payments") or {}
    return {e["name"] for e in sa.get("imagePullSecrets") or []}


def namespaces(cluster: Cluster) -> None:
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "finplane"}},
                   {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments",
                                                                          "labels": {"pulls": "yes"}}},
                   {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "harbor-bot", "namespace": "finplane"},
                    "type": "Opaque", "stringData": {"username": "bot", "password": "pw-Xq7"}}])


def synced_registry(cluster: Cluster, service_accounts: list[str]) -> None:
    """A static registry whose pull Secret is in `payments` (the namespaces exist already)."""
    cluster.apply(registry(service_accounts))
    wait_for(lambda: (r := cluster.get("imageregistry", "local")) and
             (condition(r, "Ready") or {}).get("status") == "True" and
             r["status"].get("namespacesInSync") == ["payments"], timeout=30, what="registry synced")


def test_a_service_account_created_after_its_namespace_was_synced_is_wired_at_once(
        cluster: Cluster, registry_operator: OperatorProcess) -> None:
    namespaces(cluster)
    synced_registry(cluster, ["builder"])
    cluster.apply(service_account("builder"))
    wait_for(lambda: pull_secrets(cluster, "builder") == {"someone-elses", SECRET}, timeout=20,
             what="the new ServiceAccount wired without waiting for the drift timer")
    cluster.apply(service_account("unnamed"))  # not in spec.serviceAccounts: left alone
    assert pull_secrets(cluster, "unnamed") == {"someone-elses"}


def test_a_service_account_dropped_from_the_spec_loses_finplanes_entry_and_keeps_the_others(
        cluster: Cluster, registry_operator: OperatorProcess) -> None:
    namespaces(cluster)
    cluster.apply(service_account("builder"))
    cluster.apply(service_account("deployer"))
    synced_registry(cluster, ["builder", "deployer"])
    for name in ("builder", "deployer"):
        wait_for(lambda n=name: pull_secrets(cluster, n) == {"someone-elses", SECRET}, timeout=20,
                 what=f"{name} wired")

    cluster.apply(registry(["deployer"]))
    wait_for(lambda: pull_secrets(cluster, "builder") == {"someone-elses"}, timeout=20,
             what="Finplane's entry removed from the dropped ServiceAccount")
    assert pull_secrets(cluster, "deployer") == {"someone-elses", SECRET}
