"""kopf event handlers for every watched kind: a few lines each, feeding `Runtime.observe`.

Finplane kinds go to their own store and queue; child kinds (managed by Finplane, found by
label) re-enqueue their owner, which is how drift and rollout progress reach the reconcilers.
Everything else that wakes a kind is declared by that kind's reconciler (`watches`).
"""

from __future__ import annotations

from typing import Any

import kopf

from finplane import GROUP, VERSION
from finplane.reconcile.capability import CapabilityReconciler
from finplane.reconcile.channel import ChannelReconciler
from finplane.reconcile.compliance import ComplianceReconciler
from finplane.reconcile.registry import RegistryReconciler
from finplane.reconcile.runtime import Runtime
from finplane.reconcile.sandbox import SandboxReconciler
from finplane.reconcile.team import TeamReconciler

__all__ = ["register_all"]

MANAGED = {"app.kubernetes.io/managed-by": "finplane"}
CHILD_KINDS = [
    ("apps", "v1", "deployments"), ("", "v1", "services"), ("", "v1", "serviceaccounts"),
    ("networking.k8s.io", "v1", "networkpolicies"), ("policy", "v1", "poddisruptionbudgets"),
    ("autoscaling", "v2", "horizontalpodautoscalers"),
    ("", "v1", "namespaces"), ("", "v1", "resourcequotas"), ("", "v1", "limitranges"),
    ("rbac.authorization.k8s.io", "v1", "roles"), ("rbac.authorization.k8s.io", "v1", "rolebindings"),
    ("networking.k8s.io", "v1", "ingresses"), ("gateway.networking.k8s.io", "v1", "httproutes"),
]
OWNER_KINDS = {"BusinessCapability": True, "Channel": False, "TenantSandbox": False, "ImageRegistry": False,
               "CompliancePolicy": False, "Team": False}  # kind -> namespaced


RECONCILERS = (CapabilityReconciler, SandboxReconciler, RegistryReconciler, ChannelReconciler, ComplianceReconciler,
               TeamReconciler)


def register_all(rt: Runtime) -> None:
    """Give every kind its reconciler (built once, at start-up; it declares its own watches)."""
    for reconciler in RECONCILERS:
        rt.add(reconciler(rt))


def _runtime(memo: kopf.Memo) -> Runtime | None:
    return memo.get("rt")


@kopf.on.event(GROUP, VERSION, "businesscapabilities")
@kopf.on.event(GROUP, VERSION, "channels")
@kopf.on.event(GROUP, VERSION, "tenantsandboxes")
@kopf.on.event(GROUP, VERSION, "imageregistries")
@kopf.on.event(GROUP, VERSION, "compliancepolicies")
@kopf.on.event(GROUP, VERSION, "teams")
async def finplane_object(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = _runtime(memo)
    if rt is not None:
        rt.observe(body["kind"], event.get("type"), body)


async def _child_event(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = _runtime(memo)
    if rt is None:
        return
    if not rt.child_cache.observe(event.get("type"), body):  # before the owner is enqueued: its pass reads this
        return  # a version already cached (the echo of our own apply, which that pass already saw)
    ns = body.get("metadata", {}).get("namespace") or ""
    for ref in body.get("metadata", {}).get("ownerReferences") or []:
        kind = ref.get("kind")
        if kind in OWNER_KINDS and ref.get("apiVersion", "").startswith(GROUP + "/"):
            rt.enqueue(kind, (ns if OWNER_KINDS[kind] else "", ref.get("name", "")))


for _group, _version, _plural in CHILD_KINDS:
    kopf.on.event(_group, _version, _plural, labels=MANAGED)(_child_event)

from finplane.handlers import registry_watch  # noqa: E402,F401  (Namespace and Secret watches of ImageRegistry)
