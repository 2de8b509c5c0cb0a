"""Which namespaces need an ImageRegistry's pull Secret, and with which (per-tenant) role.

Pure; called by `reconcile.registry` with the runtime's watch-fed stores. A namespace needs the
Secret when the registry's namespaceSelector matches it, when a BusinessCapability in it names
the registry (spec.registryRef), or when it is the namespace of a TenantSandbox naming it.
For ECR, a namespace may get a token of its own IAM role: the sandbox's spec.awsRoleArn, or the
namespace annotation `finplane.io/aws-role-arn` (set by platform engineers for a team).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finplane.models.common import LabelSelector
from finplane.names import ROLE_ANNOTATION
from finplane.render.sandbox import sandbox_namespace  # the sandbox renderer owns the naming rule
from finplane.settings import Settings

__all__ = ["ROLE_ANNOTATION", "selector_matches", "target_namespaces"]

Obj = dict[str, Any]
Key = tuple[str, str]


def selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics; no selector selects nothing (an empty one selects all)."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.match_labels or {}).items()):
        return False
    for req in selector.match_expressions:
        present = req.key in labels
        if req.operator == "In" and not (present and labels[req.key] in req.values):
            return False
        if req.operator == "NotIn" and present and labels[req.key] in req.values:
            return False
        if req.operator == "Exists" and not present:
            return False
        if req.operator == "DoesNotExist" and present:
            return False
    return True


def target_namespaces(*, registry: str, selector: LabelSelector | None, namespaces: Mapping[Key, Obj],
                      capabilities: Mapping[Key, Obj], sandboxes: Mapping[Key, Obj],
                      settings: Settings) -> dict[str, str | None]:
    """namespace -> IAM role ARN for its token (None: the registry's own identity).

    Includes namespaces not (yet) in `namespaces` when a capability or sandbox needs them, so the
    caller can report them out of sync; excludes namespaces being deleted.
    """
    wanted: dict[str, str | None] = {}
    for (_, ns_name), ns in namespaces.items():
        labels = {**((ns.get("metadata") or {}).get("labels") or {}), "kubernetes.io/metadata.name": ns_name}
        if selector_matches(selector, labels):
            wanted[ns_name] = None
    for (cap_ns, _), cap in capabilities.items():
        if (cap.get("spec") or {}).get("registryRef") == registry and cap_ns:
            wanted.setdefault(cap_ns, None)
    for (_, sbx_name), sbx in sandboxes.items():
        spec = sbx.get("spec") or {}
        if spec.get("registryRef") == registry:
            wanted[sandbox_namespace(sbx_name, settings)] = spec.get("awsRoleArn") or None
    for ns_name in list(wanted):
        found = namespaces.get(("", ns_name))
        meta = (found or {}).get("metadata") or {}
        if meta.get("deletionTimestamp") or ((found or {}).get("status") or {}).get("phase") == "Terminating":
            del wanted[ns_name]
        elif wanted[ns_name] is None and (meta.get("annotations") or {}).get(ROLE_ANNOTATION):
            wanted[ns_name] = meta["annotations"][ROLE_ANNOTATION]
    return wanted
