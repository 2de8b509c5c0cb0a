"""Helpers of the reliability suite: fault-injecting clusters, operators with peering, bulk objects, metrics.

Used by every test file in tests/reliability/. Builds on tests/helpers.py (Cluster, OperatorProcess).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from helpers import REPO, Cluster, OperatorProcess, condition, free_port, is_ready, wait_for

__all__ = ["PeeredOperator", "apply_many", "capabilities", "capability", "children_of", "fault_cluster",
           "healthz", "metric", "namespace", "operator_writes", "ready_count", "start_operator"]

OPERATOR_AGENT = "finplane-operator"
CHILD_RESOURCES = ("deployments", "services", "serviceaccounts", "networkpolicies", "poddisruptionbudgets")


def fault_cluster(tmp: Path, *, env: dict[str, str] | None = None) -> Cluster:
    """A fresh embedded API server with fault injection on and Finplane's CRDs installed."""
    from finplane_emulator.testing import start_apiserver

    handle = start_apiserver(tmp / "apiserver", faults=True, env=env)
    c = Cluster(kubeconfig=Path(handle.kubeconfig), url=handle.url, handle=handle)
    c.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    return c


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def capability(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments",
                     "image": "registry.finplane.local/payments/app:1.0.0", **spec}}


def apply_many(cluster: Cluster, objs: Iterable[dict[str, Any]], *, chunk: int = 100) -> None:
    """Create many objects with few kubectl calls (server-side apply, field manager `test`)."""
    items = list(objs)
    for i in range(0, len(items), chunk):
        cluster.apply(items[i:i + chunk])


def _get(cluster: Cluster, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(cluster.url + path, timeout=30) as r:
        return dict(json.loads(r.read()))


def capabilities(cluster: Cluster, ns: str | None = None) -> list[dict[str, Any]]:
    """Every BusinessCapability (straight from the API server: kubectl is too slow to poll 300 objects)."""
    where = f"/namespaces/{ns}" if ns else ""
    return list(_get(cluster, f"/apis/finplane.io/v1alpha1{where}/businesscapabilities").get("items", []))


def ready_count(cluster: Cluster, ns: str | None = None) -> int:
    return sum(1 for o in capabilities(cluster, ns) if is_ready(o) and
               o["status"].get("observedGeneration") == o["metadata"]["generation"])


def children_of(cluster: Cluster, resource: str, ns: str | None = None) -> list[dict[str, Any]]:
    """Managed children of one resource kind (label app.kubernetes.io/managed-by=finplane)."""
    group = {"deployments": "/apis/apps/v1", "networkpolicies": "/apis/networking.k8s.io/v1",
             "poddisruptionbudgets": "/apis/policy/v1"}.get(resource, "/api/v1")
    where = f"/namespaces/{ns}" if ns else ""
    return list(_get(cluster, f"{group}{where}/{resource}?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dfinplane")
                .get("items", []))


def operator_writes(cluster: Cluster) -> int:
    return cluster.writes_by(OPERATOR_AGENT)


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` (Prometheus text format)."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(name)}(?:{{(.*)}})? (\S+)$", line)
        if not m:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


def healthz(port: int) -> int:
    """The HTTP status of the operator's liveness endpoint (0 when it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


@dataclass
class PeeredOperator(OperatorProcess):
    """An operator replica with kopf peering (`--peering NAME`) and its own priority, instead of --standalone."""

    peering: str = "finplane"
    priority: int = 0

    def start(self) -> None:
        env = {**self.cluster.env, "FINPLANE_DRIFT_CHECK_INTERVAL_SECONDS": "3600", "FINPLANE_BACKOFF_SECONDS": "0.5",
               "PYTHONUNBUFFERED": "1", "FINPLANE_PEERING_PRIORITY": str(self.priority), **self.extra_env}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "finplane", "operator", "--peering", self.peering,
             "--liveness-port", str(self.liveness_port), "--metrics-port", str(self.metrics_port)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)
        wait_for(self._alive, timeout=30, what="operator liveness endpoint")


def start_operator(cluster: Cluster, tmp: Path, *, name: str = "operator", env: dict[str, str] | None = None
                   ) -> OperatorProcess:
    proc = OperatorProcess(cluster=cluster, log_path=tmp / f"{name}.log", liveness_port=free_port(),
                           metrics_port=free_port(), extra_env=env or {})
    proc.start()
    return proc


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


__all__ += ["condition", "load_yaml_docs"]
