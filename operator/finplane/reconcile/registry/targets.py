"""Which namespaces need an ImageRegistry's pull Secret, and with which (per-tenant) role.

Pure; called by `reconcile.registry` with the runtime's watch-fed stores. A namespace needs the
Secret when the registry's namespaceSelector matches it, when a BusinessCapability in it names
the registry (spec.registryRef) AND may use it (its image passes the registry's server and
allowedRepositories, the registry grants its team and the Team allows the registry: the rules of
`registry.access`, the capability's own ImagePullAccess), or when it is the namespace of an
approved, live TenantSandbox naming a registry that allows sandboxes.
For ECR, a namespace may get a token of its own IAM role: the sandbox's spec.awsRoleArn, or the
namespace annotation `finplane.io/aws-role-arn` (set by platform engineers for a team).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finplane.names import NAMESPACE, ROLE_ANNOTATION, TEAM
from finplane.reconcile.registry.access import image_allowed, registry_grants, selected, selector_matches
from finplane.render.sandbox import sandbox_namespace  # the sandbox renderer owns the naming rule
from finplane.settings import Settings

__all__ = ["ROLE_ANNOTATION", "sandbox_may_pull", "selector_matches", "target_namespaces"]

Obj = dict[str, Any]
Key = tuple[str, str]


def sandbox_may_pull(sandbox: Obj) -> bool:
    """An approved sandbox that is not torn down, failed or being deleted (it may hold a pull Secret)."""
    from finplane.render.sandbox_lifecycle import approval  # the sandbox module owns the approval rule

    meta = sandbox.get("metadata") or {}
    return approval(meta.get("annotations")) is None and not meta.get("deletionTimestamp") and \
        (sandbox.get("status") or {}).get("phase") not in ("Expired", "Failed")


def target_namespaces(*, registry: Obj, namespaces: Mapping[Key, Obj], capabilities: Mapping[Key, Obj],
                      sandboxes: Mapping[Key, Obj], teams: Mapping[Key, Obj],
                      settings: Settings) -> dict[str, str | None]:
    """namespace -> IAM role ARN for its token (None: the registry's own identity).

    Includes namespaces not (yet) in `namespaces` when a capability or sandbox needs them, so the
    caller can report them out of sync; excludes namespaces being deleted. A capability or sandbox
    the registry does not grant adds nothing.
    """
    name, rspec = registry["metadata"]["name"], registry.get("spec") or {}
    stores = {NAMESPACE: namespaces, TEAM: teams}
    wanted: dict[str, str | None] = {ns_name: None for (_, ns_name) in namespaces if selected(registry, ns_name, namespaces)}
    for (cap_ns, _), cap in capabilities.items():
        cspec = cap.get("spec") or {}
        if cspec.get("registryRef") != name or not cap_ns or (cap.get("metadata") or {}).get("deletionTimestamp"):
            continue
        if image_allowed(registry, str(cspec.get("image") or ""))[0] and \
                registry_grants(registry, namespace=cap_ns, stores=stores,
                                migrate=settings.team_ownership == "migrate")[0]:
            wanted.setdefault(cap_ns, None)
    for (_, sbx_name), sbx in sandboxes.items():
        spec = sbx.get("spec") or {}
        if spec.get("registryRef") == name and rspec.get("allowSandboxes") is True and sandbox_may_pull(sbx):
            wanted[sandbox_namespace(sbx_name, settings)] = spec.get("awsRoleArn") or None
    for ns_name in list(wanted):
        found = namespaces.get(("", ns_name))
        meta = (found or {}).get("metadata") or {}
        if meta.get("deletionTimestamp") or ((found or {}).get("status") or {}).get("phase") == "Terminating":
            del wanted[ns_name]
        elif wanted[ns_name] is None and (meta.get("annotations") or {}).get(ROLE_ANNOTATION):
            wanted[ns_name] = meta["annotations"][ROLE_ANNOTATION]
    return wanted
