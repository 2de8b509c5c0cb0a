"""Gather what a policy evaluation needs: subjects and context from the operator's stores, live
Deployments, Pods, NetworkPolicies, ResourceQuotas and namespace labels through the gateway.

Called by the compliance reconciler (and the preview). Lists only what the policy's kinds and
enabled rules need, so a policy on Finplane kinds costs no API reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finplane.kube.client import Kube
from finplane.kube.errors import KubeError
from finplane.models.compliance_policy import CompliancePolicySpec
from finplane.policy.engine import capability_subject
from finplane.policy.selection import selected_kinds
from finplane.policy.subject import Context, Subject
from finplane.settings import Settings

__all__ = ["gather"]

Obj = dict[str, Any]
Key = tuple[str, str]


def _dependents(caps: Mapping[Key, Obj]) -> dict[Key, tuple[Key, ...]]:
    out: dict[Key, list[Key]] = {}
    for key, body in caps.items():
        for dep in (body.get("spec") or {}).get("dependencies") or []:
            out.setdefault((dep.get("namespace") or key[0], dep.get("name", "")), []).append(key)
    return {k: tuple(sorted(v)) for k, v in out.items()}


async def gather(kube: Kube, settings: Settings, spec: CompliancePolicySpec, stores: Mapping[str, Mapping[Key, Obj]]
                 ) -> tuple[list[Subject], Context]:
    """The subjects of the policy's kinds and the context its enabled rules read."""
    kinds = selected_kinds(spec.selector)
    caps = dict(stores.get("BusinessCapability", {}))
    ctx = Context(capabilities=caps, channels=dict(stores.get("Channel", {})),
                  sandbox_namespace_prefix=settings.sandbox_namespace_prefix)
    subjects: list[Subject] = []
    if "BusinessCapability" in kinds:
        deps = _dependents(caps)
        subjects += [capability_subject(b, settings, dependents=deps.get(k, ())) for k, b in sorted(caps.items())]
    for kind in ("TenantSandbox", "Channel"):
        if kind in kinds:
            subjects += [Subject(kind, b) for _, b in sorted(stores.get(kind, {}).items())]
    namespaces: list[str | None] = [*spec.selector.namespaces] or [None]
    for kind, api in (("Deployment", "apps/v1"), ("Pod", "v1")):
        if kind in kinds:
            for ns in namespaces:
                subjects += [Subject(kind, o) for o in await kube.list(api, kind, ns)]
    rules = {str(r.id) for r in spec.rules if r.enabled}
    wanted_ns = {s.namespace for s in subjects if s.kind in ("Deployment", "Pod")} | \
        {s.sandbox_namespace for s in subjects if s.kind == "TenantSandbox"}
    wanted_ns.discard("")
    for ns in sorted(wanted_ns):
        related: list[Obj] = []
        for rule, api, kind in (("default-deny-network", "networking.k8s.io/v1", "NetworkPolicy"),
                                ("sandbox-quota-present", "v1", "ResourceQuota")):
            if rule in rules:
                try:
                    related += await kube.list(api, kind, ns)
                except KubeError:
                    pass  # the namespace is not there (yet): the rule reports the absence
        ctx.related[ns] = related
    if spec.selector.namespace_selector is not None:
        for ns_obj in await kube.list("v1", "Namespace"):
            ctx.namespace_labels[ns_obj["metadata"]["name"]] = dict(ns_obj["metadata"].get("labels") or {})
    return subjects, ctx
