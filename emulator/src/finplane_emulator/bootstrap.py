"""The objects kube-apiserver creates for itself at start, beyond the default namespaces.

Called once by `app.build_app` (through `_bootstrap`) after the namespaces exist: the
`default/kubernetes` Service (ClusterIP 10.96.0.1, port 443 named `https`, labels
`component=apiserver,provider=kubernetes`, as the controlplane's "kubernetes service"
controller keeps it) with its Endpoints, and the two system PriorityClasses
(`system-cluster-critical`, `system-node-critical`) the scheduling bootstrap hook makes.
Objects already present (loaded from a snapshot) are left as they are. Then everything written
so far counts as compacted and periodic compaction starts (`compaction.py`). Pods loaded from a
snapshot while terminating are finished (their simulated kubelet's timer did not survive the restart).
"""

from __future__ import annotations

from typing import Any

from finplane_emulator import compaction, kubelet
from finplane_emulator.core import Core
from finplane_emulator.writes import create

__all__ = ["KUBERNETES_SERVICE_IP", "create_builtin_objects", "start"]

KUBERNETES_SERVICE_IP = "10.96.0.1"
_LABELS = {"component": "apiserver", "provider": "kubernetes"}
_OBJECTS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("", "services", "default", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "labels": _LABELS},
        "spec": {"type": "ClusterIP", "clusterIP": KUBERNETES_SERVICE_IP, "clusterIPs": [KUBERNETES_SERVICE_IP],
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}}),
    ("", "endpoints", "default", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "kubernetes", "labels": {
            "endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                     "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]}),
    ("scheduling.k8s.io", "priorityclasses", "", {
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": "system-cluster-critical"}, "value": 2000000000, "preemptionPolicy": "PreemptLowerPriority",
        "description": "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."}),
    ("scheduling.k8s.io", "priorityclasses", "", {
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": "system-node-critical"}, "value": 2000001000, "preemptionPolicy": "PreemptLowerPriority",
        "description": "Used for system critical pods that must not be moved from their current node."}),
)


def start(core: Core) -> None:
    """What a kube-apiserver does at start after the namespaces: its own objects, then etcd compaction."""
    create_builtin_objects(core)
    _finish_terminating_pods(core)
    compaction.compact(core, core.store.rv)
    core.store.listeners.append(compaction.Compactor(core).on_event)


def _finish_terminating_pods(core: Core) -> None:
    """Pods loaded from a snapshot in their grace period: their kubelet finished while the server was down."""
    info = core.registry.get("", "v1", "pods")
    res = core.store.resources.get(("", "pods"))
    if info is None or res is None:
        return
    for pod in [p for p in res.iter() if p["metadata"].get("deletionTimestamp")]:
        md = pod["metadata"]
        kubelet.finish(core, info, md.get("namespace", ""), md["name"], md["uid"])


def create_builtin_objects(core: Core) -> None:
    """Create what a fresh kube-apiserver serves before anyone writes (idempotent)."""
    for group, plural, namespace, body in _OBJECTS:
        info = next(i for i in core.registry.all() if i.group == group and i.plural == plural)
        if core.store.get(info, namespace, body["metadata"]["name"]) is None:
            create(core, info, namespace or None, _copy(body), manager="kube-apiserver")


def _copy(body: dict[str, Any]) -> dict[str, Any]:
    import json

    copied: dict[str, Any] = json.loads(json.dumps(body))
    return copied
