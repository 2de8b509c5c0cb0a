"""Object metadata rules and the per-kind touches the kube-apiserver applies on writes.

Called by `writes.py` on create, update and patch: timestamps, uids, generateName, name
validation, when `generation` moves, and the small built-in "strategies" (Secret `stringData`,
Namespace phase and finalizer, Service cluster IP, Deployment defaults).
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import re
import uuid
from typing import Any

from finplane_emulator.errors import invalid
from finplane_emulator.initial_status import initial_status
from finplane_emulator.resources import ResourceInfo

__all__ = ["fold_secret", "generate_name", "new_uid", "now", "on_create", "spec_changed", "validate_name"]

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# The alphabet apimachinery's utilrand.String uses for generateName suffixes (no vowels, no confusables).
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Kinds whose names must be DNS-1123 labels rather than subdomains.
_LABEL_NAMED = {"Namespace"}
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# apimachinery's validation messages (k8s.io/apimachinery/pkg/util/validation), worded as kubectl shows them.
_RULE_TEXT = {
    "a lowercase RFC 1123 label": "must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    "a DNS-1035 label": "must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation "
    "is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    "subdomain": "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
}
_rng = random.Random()
_service_ips = iter(range(2, 1 << 16))  # 10.96.0.1 is the default/kubernetes Service's (bootstrap.py)


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def generate_name(prefix: str) -> str:
    return prefix[:58] + "".join(_rng.choice(_ALPHABET) for _ in range(5))


def validate_name(info: ResourceInfo, name: str) -> None:
    """422 for names the real server refuses (it validates names per kind; we apply the two common rules)."""
    if info.crd or info.kind in ("CustomResourceDefinition",):
        ok = len(name) <= 253 and _DNS1123_SUBDOMAIN.match(name) is not None
        rule = "a lowercase RFC 1123 subdomain"
    elif info.group == "" and info.kind == "Service":  # ValidateServiceName: a DNS-1035 label
        ok = len(name) <= 63 and _DNS1035_LABEL.match(name) is not None
        rule = "a DNS-1035 label"
    elif info.kind in _LABEL_NAMED:
        ok = len(name) <= 63 and _DNS1123_LABEL.match(name) is not None
        rule = "a lowercase RFC 1123 label"
    elif info.group == "rbac.authorization.k8s.io":
        ok = bool(name) and "/" not in name and "%" not in name and name not in (".", "..")
        rule = "a valid path segment name"
    else:
        ok = len(name) <= 253 and _DNS1123_SUBDOMAIN.match(name) is not None
        rule = "a lowercase RFC 1123 subdomain"
    if not ok:
        if rule == "a valid path segment name":  # apimachinery's path.ValidatePathSegmentName wording
            why = (f"may not be '{name}'" if name in (".", "..") else "may not contain '/'" if "/" in name
                   else "may not contain '%'" if "%" in name else "Required value")
            msg = f"Invalid value: \"{name}\": {why}"
        else:
            msg = f"Invalid value: \"{name}\": {rule} {_RULE_TEXT.get(rule, _RULE_TEXT['subdomain'])}"
        raise invalid(kind=info.kind, group=info.group, name=name, causes=[("FieldValueInvalid", "metadata.name", msg)])


# Kinds whose registry strategy never sets metadata.generation on a real server (their objects have
# none): every core/v1 kind (Pods only from 1.33's PodObservedGenerationTracking), RBAC, Leases, Events.
_NO_GENERATION_GROUPS = frozenset({"", "rbac.authorization.k8s.io", "coordination.k8s.io", "events.k8s.io"})


def tracks_generation(info: ResourceInfo) -> bool:
    """Whether objects of this kind carry `metadata.generation` (CRs, workloads, policies...)."""
    return info.crd or info.group not in _NO_GENERATION_GROUPS


def spec_changed(info: ResourceInfo, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether `generation` must move: anything outside metadata and status changed."""
    skip = {"metadata", "status", "apiVersion", "kind"}
    keys = (set(old) | set(new)) - skip
    return any(old.get(k) != new.get(k) for k in keys)


def fold_secret(obj: dict[str, Any]) -> None:
    """Secrets: `stringData` is write-only, merged into base64 `data` (stringData wins), as the API server does."""
    string_data = obj.pop("stringData", None)
    if string_data:
        data = dict(obj.get("data") or {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data
    obj.setdefault("type", "Opaque")


def on_write(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """Per-kind normalisation on every write (create, update, patch)."""
    if info.group == "" and info.kind == "Secret":
        fold_secret(obj)


def on_create(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """Per-kind defaults set once at creation (a small part of the real defaulting strategies)."""
    on_write(info, obj)
    kind, group = info.kind, info.group
    if not info.crd and "status" not in obj:
        status = initial_status(group, kind, obj)
        if status is not None:
            obj["status"] = status
    if group == "" and kind == "Namespace":
        name = obj["metadata"]["name"]
        labels = dict(obj["metadata"].get("labels") or {})
        labels["kubernetes.io/metadata.name"] = name
        obj["metadata"]["labels"] = labels
        obj["spec"] = {"finalizers": ["kubernetes"], **(obj.get("spec") or {})}
        obj["status"] = {"phase": "Active"}
    elif group == "" and kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec.get("clusterIP") != "None" and not spec.get("clusterIP"):
            n = next(_service_ips)
            spec["clusterIP"] = f"10.96.{n >> 8}.{n & 255}"
        if spec.get("clusterIP"):
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        for port in spec.get("ports") or ():
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif group == "apps" and kind == "Deployment":
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    elif group == "" and kind == "Pod" and isinstance(obj.get("spec"), dict):
        spec = obj["spec"]  # SetDefaults_PodSpec (the part clients read back)
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("schedulerName", "default-scheduler")
