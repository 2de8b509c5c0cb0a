"""Helpers of the reliability suite: bulk objects, reading hundreds of them fast, metrics, the liveness probe.

Used by every test file in tests/reliability/, next to the clusters (`fault_cluster`), operators
(`start_operator`, `PeeredOperator`) and builders of tests/support.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tests.support.cluster import Cluster, is_ready

__all__ = ["CHILD_RESOURCES", "OPERATOR_AGENT", "apply_many", "capabilities", "children_of", "healthz",
           "load_yaml_docs", "metric", "operator_writes", "ready_count"]

OPERATOR_AGENT = "finplane-operator"
CHILD_RESOURCES = ("deployments", "services", "serviceaccounts", "networkpolicies", "poddisruptionbudgets")


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


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]

