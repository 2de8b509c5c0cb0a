"""How the lists of built-in kinds merge: the patchMergeKey / listType table of the real types.

Strategic merge patch (patching.py) and server-side apply (ssa.py) both need to know, for a
field path inside a built-in object, whether a list is atomic, a set of scalars, or a map keyed
by some fields. The real server reads this from the Go struct tags (`patchStrategy`,
`patchMergeKey`, `+listType`, `+listMapKey`); here it is a small hand-written tree covering the
kinds Finplane creates or reads. For custom resources the same tree is derived from the CRD
schema (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`) by `node_from_schema`.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "BUILTIN_GROUPS",
    "ListRule",
    "Node",
    "is_builtin",
    "node_for_kind",
    "node_from_schema",
]


@dataclass(frozen=True)
class ListRule:
    """How one list field merges.

    `kind`: "map" (items are objects identified by `keys`), "set" (scalars, union) or "atomic".
    `patch_key`: the strategic-merge-patch merge key (None: no SMP merge strategy; for a "set"
    with `smp_merge`, scalars are unioned). `item`: the node describing the items.
    """

    kind: Literal["map", "set", "atomic"]
    keys: tuple[str, ...] = ()
    patch_key: str | None = None
    smp_merge: bool = False
    item: Node | None = None


@dataclass(frozen=True)
class Node:
    """An object type: the rules of its list fields and the nodes of its object fields.

    `values` describes the values of a map-typed object (additionalProperties in a schema).
    """

    fields: Mapping[str, Node | ListRule] = field(default_factory=dict)
    values: Node | None = None

    def child(self, name: str) -> Node | ListRule | None:
        found = self.fields.get(name)
        if found is None and self.values is not None:
            return self.values
        return found


EMPTY = Node()


def _keyed(key: str, item: Node | None = None, *, keys: tuple[str, ...] | None = None) -> ListRule:
    return ListRule("map", keys or (key,), patch_key=key, smp_merge=True, item=item)


def _ssa_map(keys: tuple[str, ...], item: Node | None = None) -> ListRule:
    # A list SSA merges by key but strategic merge patch replaces (no patchStrategy tag).
    return ListRule("map", keys, patch_key=None, smp_merge=False, item=item)


_ATOMIC = ListRule("atomic")
_CONDITIONS = _keyed("type")

OBJECT_META = Node({
    "ownerReferences": _keyed("uid"),
    "finalizers": ListRule("set", smp_merge=True),
    "managedFields": _ATOMIC,
})

_CONTAINER = Node({
    "ports": _keyed("containerPort", keys=("containerPort", "protocol")),
    "env": _keyed("name"),
    "envFrom": _ATOMIC,
    "volumeMounts": _keyed("mountPath"),
    "volumeDevices": _keyed("devicePath"),
    "resizePolicy": ListRule("atomic"),
    "args": _ATOMIC,
    "command": _ATOMIC,
})

POD_SPEC = Node({
    "containers": _keyed("name", _CONTAINER),
    "initContainers": _keyed("name", _CONTAINER),
    "ephemeralContainers": _keyed("name", _CONTAINER),
    "volumes": _keyed("name"),
    "imagePullSecrets": _keyed("name"),
    "hostAliases": _keyed("ip"),
    "tolerations": _ATOMIC,
    "topologySpreadConstraints": _keyed("topologyKey", keys=("topologyKey", "whenUnsatisfiable")),
    "resourceClaims": _keyed("name"),
    "schedulingGates": _keyed("name"),
    "readinessGates": _ATOMIC,
})

POD_TEMPLATE = Node({"metadata": OBJECT_META, "spec": POD_SPEC})
_WORKLOAD_STATUS = Node({"conditions": _CONDITIONS})
_WORKLOAD = Node({"spec": Node({"template": POD_TEMPLATE}), "status": _WORKLOAD_STATUS})

_KINDS: dict[tuple[str, str], Node] = {
    ("", "Pod"): Node({"spec": POD_SPEC, "status": Node({"conditions": _CONDITIONS})}),
    ("", "PodTemplate"): Node({"template": POD_TEMPLATE}),
    ("", "ReplicationController"): _WORKLOAD,
    ("", "Service"): Node({"spec": Node({"ports": _keyed("port", keys=("port", "protocol"))}),
                          "status": Node({"conditions": _CONDITIONS})}),
    # ServiceAccount.imagePullSecrets carries no patch strategy: a strategic patch replaces it.
    ("", "ServiceAccount"): Node({"secrets": _keyed("name"), "imagePullSecrets": _ATOMIC}),
    ("", "Namespace"): Node({"spec": Node({"finalizers": _ATOMIC}),
                            "status": Node({"conditions": _CONDITIONS})}),
    ("", "Node"): Node({"status": Node({"conditions": _CONDITIONS, "addresses": _keyed("type")})}),
    ("", "Endpoints"): Node({"subsets": _ATOMIC}),
    ("", "ResourceQuota"): Node({"spec": Node({"scopes": _ATOMIC})}),
    ("", "LimitRange"): Node({"spec": Node({"limits": _ATOMIC})}),
    ("apps", "Deployment"): _WORKLOAD,
    ("apps", "ReplicaSet"): _WORKLOAD,
    ("apps", "StatefulSet"): Node({"spec": Node({"template": POD_TEMPLATE, "volumeClaimTemplates": _ATOMIC}),
                                   "status": _WORKLOAD_STATUS}),
    ("apps", "DaemonSet"): _WORKLOAD,
    ("batch", "Job"): _WORKLOAD,
    ("batch", "CronJob"): Node({"spec": Node({"jobTemplate": Node({"spec": Node({"template": POD_TEMPLATE})})})}),
    ("autoscaling", "HorizontalPodAutoscaler"): Node({
        "spec": Node({"metrics": _ATOMIC}),
        "status": Node({"conditions": _ssa_map(("type",)), "currentMetrics": _ATOMIC}),
    }),
    ("policy", "PodDisruptionBudget"): Node({"status": Node({"conditions": _keyed("type")})}),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): Node({
        "spec": Node({"versions": _ATOMIC}),
        "status": Node({"conditions": _ssa_map(("type",))}),
    }),
}

# Groups served by the kube-apiserver itself: strategic merge patch works for their kinds.
BUILTIN_GROUPS: frozenset[str] = frozenset({
    "", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
    "coordination.k8s.io", "events.k8s.io", "apiextensions.k8s.io", "admissionregistration.k8s.io",
    "storage.k8s.io", "scheduling.k8s.io", "discovery.k8s.io", "certificates.k8s.io", "node.k8s.io",
    "apiregistration.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "flowcontrol.apiserver.k8s.io",
})


def is_builtin(group: str) -> bool:
    return group in BUILTIN_GROUPS


def node_for_kind(group: str, kind: str) -> Node:
    """The merge-rule tree of a built-in kind (metadata included); unknown kinds get metadata only."""
    base = _KINDS.get((group, kind), EMPTY)
    return Node({**base.fields, "metadata": OBJECT_META}, base.values)


_SCHEMA_CACHE: dict[int, tuple[Mapping[str, Any], Node]] = {}


def node_from_schema(schema: Mapping[str, Any] | None) -> Node:
    """Derive merge rules from a CRD structural schema (x-kubernetes-list-type / map-keys).

    Lists without `x-kubernetes-list-type` are atomic, as on the real server. Cached per
    schema object (the cache keeps the schema alive so its id cannot be reused).
    """
    if not schema:
        return node_for_kind("", "")
    cached = _SCHEMA_CACHE.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    node = _convert_object(schema)
    node = Node({**node.fields, "metadata": OBJECT_META}, node.values)
    if len(_SCHEMA_CACHE) > 512:
        _SCHEMA_CACHE.clear()
    _SCHEMA_CACHE[id(schema)] = (schema, node)
    return node


def _convert_object(schema: Mapping[str, Any]) -> Node:
    fields: dict[str, Node | ListRule] = {}
    for name, sub in (schema.get("properties") or {}).items():
        converted = _convert(sub)
        if converted is not None:
            fields[name] = converted
    values = None
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        conv = _convert(extra)
        values = conv if isinstance(conv, Node) else None
    return Node(fields, values)


def _convert(schema: Mapping[str, Any]) -> Node | ListRule | None:
    if schema.get("type") == "array":
        items = schema.get("items") or {}
        item = _convert_object(items) if items.get("type") == "object" else None
        list_type = schema.get("x-kubernetes-list-type", "atomic")
        if list_type == "map":
            keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
            return ListRule("map", keys, patch_key=None, item=item)
        if list_type == "set":
            return ListRule("set")
        return ListRule("atomic", item=item)
    if schema.get("type") == "object" or "properties" in schema:
        return _convert_object(schema)
    return None
