"""The `status` a built-in object has right after creation, as kube-apiserver returns it.

Called by `meta.on_create`. Two sources on a real server: the registry strategies'
`PrepareForCreate` (a Pod is `Pending` with the QoS class computed from its containers'
requests and limits, pkg/apis/core/helper/qos; Pod defaulting copies limits into missing
requests), and Go serialisation of non-pointer status structs (a Service's
`status.loadBalancer: {}`, a Deployment's `status: {}`, the integer counters of StatefulSets
and DaemonSets that have no `omitempty`). Pure: no I/O.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["initial_status", "pod_qos_class", "quantity"]

Obj = dict[str, Any]

# What Go's JSON encoding of a zero-valued status struct gives, per (group, kind).
_EMPTY_STATUS: dict[tuple[str, str], Obj] = {
    ("", "Service"): {"loadBalancer": {}},
    ("", "PersistentVolumeClaim"): {"phase": "Pending"},
    ("", "ResourceQuota"): {},
    ("", "ReplicationController"): {"replicas": 0},
    ("apps", "Deployment"): {},
    ("apps", "ReplicaSet"): {"replicas": 0},
    ("apps", "StatefulSet"): {"replicas": 0, "availableReplicas": 0},
    ("apps", "DaemonSet"): {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                            "numberReady": 0},
    ("batch", "Job"): {},
    ("batch", "CronJob"): {},
    ("networking.k8s.io", "Ingress"): {"loadBalancer": {}},
    ("policy", "PodDisruptionBudget"): {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                                        "expectedPods": 0},
    ("autoscaling", "HorizontalPodAutoscaler"): {"desiredReplicas": 0},
    ("certificates.k8s.io", "CertificateSigningRequest"): {},
}
_SUFFIXES = {"": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
             "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
             "n": Decimal("1e-9"), "u": Decimal("1e-6")}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$")


def quantity(value: Any) -> Decimal | None:
    """A resource.Quantity's numeric value ("500m" -> 0.5, "1Gi" -> 1073741824); None if malformed."""
    m = _QUANTITY.match(str(value).strip())
    if not m:
        return None
    try:
        return Decimal(m[1]) * Decimal(_SUFFIXES[m[2]])
    except InvalidOperation:
        return None


def _nonzero(resources: Any, key: str) -> dict[str, Decimal]:
    values = (resources or {}).get(key) or {}
    out: dict[str, Decimal] = {}
    for name in ("cpu", "memory"):
        q = quantity(values[name]) if name in values else None
        if q:
            out[name] = q
    return out


def pod_qos_class(spec: Obj) -> str:
    """qos.GetPodQOS: BestEffort without any cpu/memory request or limit; Guaranteed when every container
    limits both and requests equal limits; Burstable otherwise."""
    containers = [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for container in containers:
        resources = container.get("resources") if isinstance(container, dict) else None
        lim = _nonzero(resources, "limits")
        req = {**lim, **_nonzero(resources, "requests")}  # as defaulted: a limit without a request requests it
        for name, q in req.items():
            requests[name] = requests.get(name, Decimal(0)) + q
        for name, q in lim.items():
            limits[name] = limits.get(name, Decimal(0)) + q
        if set(lim) != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


def default_pod_requests(spec: Obj) -> None:
    """SetDefaults_Pod: a container with a limit and no request for a resource requests its limit."""
    for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        if not isinstance(container, dict) or not isinstance(container.get("resources"), dict):
            continue
        resources = container["resources"]
        limits = resources.get("limits")
        if not isinstance(limits, dict) or not limits:
            continue
        requests = dict(resources.get("requests") or {})
        for name, value in limits.items():
            requests.setdefault(name, value)
        resources["requests"] = requests


def initial_status(group: str, kind: str, obj: Obj) -> Obj | None:
    """The status a newly created object of this kind has (None: the kind shows none)."""
    if group == "" and kind == "Pod":
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        default_pod_requests(spec)
        return {"phase": "Pending", "qosClass": pod_qos_class(spec)}
    empty = _EMPTY_STATUS.get((group, kind))
    return None if empty is None else dict(empty)
