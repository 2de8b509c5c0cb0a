"""The resource types the embedded API server serves: built-in kinds and those added by CRDs.

`Registry` answers "which resource is /apis/GROUP/VERSION/PLURAL?" for the HTTP layer,
discovery, tables and OpenAPI. Built-in kinds are the ones Finplane and its clients use;
CRDs add and remove entries at run time (see `crds.py`). Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BUILTINS", "Registry", "ResourceInfo"]

_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
_CLUSTER_VERBS = _ALL_VERBS


@dataclass(frozen=True)
class ResourceInfo:
    """One resource (group, version, plural) with what discovery and the handlers need."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status: bool = False  # has the /status subresource
    crd: bool = False
    singular: str = ""
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    storage_version: str = ""  # for CRDs with several versions: the one stored
    verbs: tuple[str, ...] = _ALL_VERBS

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: every version of a resource shares one store, as in etcd."""
        return (self.group, self.plural)

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()


def _r(group: str, version: str, plural: str, kind: str, *, namespaced: bool = True,
       short: tuple[str, ...] = (), status: bool = False, all_: bool = False) -> ResourceInfo:
    return ResourceInfo(group=group, version=version, plural=plural, kind=kind, namespaced=namespaced,
                        short_names=short, status=status, categories=("all",) if all_ else ())


BUILTINS: tuple[ResourceInfo, ...] = (
    _r("", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",), status=True),
    _r("", "v1", "pods", "Pod", short=("po",), status=True, all_=True),
    _r("", "v1", "services", "Service", short=("svc",), status=True, all_=True),
    _r("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _r("", "v1", "secrets", "Secret"),
    _r("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _r("", "v1", "events", "Event", short=("ev",)),
    _r("", "v1", "resourcequotas", "ResourceQuota", short=("quota",), status=True),
    _r("", "v1", "limitranges", "LimitRange", short=("limits",)),
    _r("", "v1", "endpoints", "Endpoints", short=("ep",)),
    _r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), status=True),
    _r("", "v1", "nodes", "Node", namespaced=False, short=("no",), status=True),
    _r("", "v1", "replicationcontrollers", "ReplicationController", short=("rc",), status=True, all_=True),
    _r("", "v1", "persistentvolumes", "PersistentVolume", namespaced=False, short=("pv",), status=True),
    _r("", "v1", "podtemplates", "PodTemplate"),
    _r("apps", "v1", "deployments", "Deployment", short=("deploy",), status=True, all_=True),
    _r("apps", "v1", "replicasets", "ReplicaSet", short=("rs",), status=True, all_=True),
    _r("apps", "v1", "statefulsets", "StatefulSet", short=("sts",), status=True, all_=True),
    _r("apps", "v1", "daemonsets", "DaemonSet", short=("ds",), status=True, all_=True),
    _r("batch", "v1", "jobs", "Job", status=True, all_=True),
    _r("batch", "v1", "cronjobs", "CronJob", short=("cj",), status=True, all_=True),
    _r("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=("netpol",)),
    _r("networking.k8s.io", "v1", "ingresses", "Ingress", short=("ing",), status=True),
    _r("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    _r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=("pdb",), status=True),
    _r("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=("hpa",),
       status=True, all_=True),
    _r("coordination.k8s.io", "v1", "leases", "Lease"),
    _r("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", namespaced=False,
       short=("csr",), status=True),
    _r("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False, short=("sc",)),
    _r("storage.k8s.io", "v1", "csidrivers", "CSIDriver", namespaced=False),
    _r("storage.k8s.io", "v1", "csinodes", "CSINode", namespaced=False),
    _r("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", namespaced=False, status=True),
    _r("storage.k8s.io", "v1", "csistoragecapacities", "CSIStorageCapacity"),
    _r("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    _r("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", namespaced=False, short=("pc",)),
    _r("events.k8s.io", "v1", "events", "Event", short=("ev",)),
    _r("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
       namespaced=False, short=("crd", "crds"), status=True),
    _r("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy",
       namespaced=False, status=True),
    _r("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings",
       "ValidatingAdmissionPolicyBinding", namespaced=False),
    _r("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
       "ValidatingWebhookConfiguration", namespaced=False),
    _r("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
       "MutatingWebhookConfiguration", namespaced=False),
)


class Registry:
    """Lookup tables over built-in and CRD-defined resources, rebuilt cheaply on CRD changes."""

    def __init__(self) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceInfo] = {}
        self._crd_owned: dict[str, list[ResourceInfo]] = {}  # CRD name -> its versions
        self.generation = 0  # bumped on every change, so caches (OpenAPI, discovery) can key on it
        for info in BUILTINS:
            self._by_gvr[(info.group, info.version, info.plural)] = info

    def get(self, group: str, version: str, plural: str) -> ResourceInfo | None:
        return self._by_gvr.get((group, version, plural))

    def add_builtin(self, info: ResourceInfo) -> None:
        """Serve one more built-in resource (the authorization/authentication reviews register this way)."""
        self._by_gvr[(info.group, info.version, info.plural)] = info
        self.generation += 1

    def all(self) -> list[ResourceInfo]:
        return list(self._by_gvr.values())

    def by_kind(self, api_version: str, kind: str) -> ResourceInfo | None:
        group, _, version = api_version.rpartition("/")
        for info in self._by_gvr.values():
            if info.group == group and info.version == version and info.kind == kind:
                return info
        return None

    def versions_of(self, group: str, plural: str) -> list[ResourceInfo]:
        return [i for i in self._by_gvr.values() if i.group == group and i.plural == plural]

    def groups(self) -> dict[str, list[str]]:
        """Group name -> its versions, preferred (first) version first, core group under ''."""
        out: dict[str, list[str]] = {}
        for info in self._by_gvr.values():
            versions = out.setdefault(info.group, [])
            if info.version not in versions:
                versions.append(info.version)
        for versions in out.values():
            versions.sort(key=_version_priority)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceInfo]:
        return [i for i in self._by_gvr.values() if i.group == group and i.version == version]

    def set_crd(self, crd_name: str, infos: list[ResourceInfo]) -> None:
        self.remove_crd(crd_name)
        for info in infos:
            self._by_gvr[(info.group, info.version, info.plural)] = info
        self._crd_owned[crd_name] = infos
        self.generation += 1

    def remove_crd(self, crd_name: str) -> None:
        for info in self._crd_owned.pop(crd_name, []):
            self._by_gvr.pop((info.group, info.version, info.plural), None)
        self.generation += 1


def _version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes version priority: GA before beta before alpha, higher numbers first."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0, version)
    major, stage, minor = int(m[1]), m[2], int(m[3] or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, version)
