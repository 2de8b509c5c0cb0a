"""Finplane's own watches of the children it manages: one informer per child kind, feeding the child cache.

Started by `finplane.handlers.main` at start-up, beside kopf's watches of Finplane's own kinds, and stopped at
clean-up. Children were watched through kopf before; kopf's per-object machinery (a worker task per object, its
per-object records and copies on every event) cost about a third of the operator's CPU, and 6 of a new
capability's 10 watch events are child events (issue 19). A child event needs none of it: it updates the
child cache and wakes the owner (`on_child_event`).

The informers (`finplane.kube.informer.Informer`: list, then watch from the list's resourceVersion, relist on
410 Gone, jittered backoff on errors) select the managed-by label, so objects Finplane does not manage are
never seen. Their own stores keep a projection (identity, version, labels, owner references: what a relist
needs to tell a deletion missed while disconnected, and what waking the owner of a deleted child needs); the
child cache keeps the rest, once. With `namespaces` given (the operator restricted to some namespaces, where
its RBAC is a Role per namespace) namespaced kinds are watched per namespace; cluster-scoped kinds always
cluster-wide.

While this replica is a peering standby the events still update the cache (so a takeover starts from a true
picture of the children); the owners they wake wait in the queues, which do not run while paused
(`Runtime.is_paused`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finplane import GROUP
from finplane.kube.client import KubeClient
from finplane.reconcile.runtime import Runtime
from finplane.reconcile.watches import Watches

__all__ = ["CHILD_KINDS", "MANAGED_SELECTOR", "OWNER_KINDS", "child_watches", "on_child_event"]

Obj = dict[str, Any]

MANAGED_SELECTOR = "app.kubernetes.io/managed-by=finplane"
#: (apiVersion, kind) of every child kind Finplane applies and repairs.
CHILD_KINDS = (
    ("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "ServiceAccount"),
    ("networking.k8s.io/v1", "NetworkPolicy"), ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("v1", "Namespace"), ("v1", "ResourceQuota"), ("v1", "LimitRange"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("networking.k8s.io/v1", "Ingress"), ("gateway.networking.k8s.io/v1", "HTTPRoute"),
)
OWNER_KINDS = {"BusinessCapability": True, "Channel": False, "TenantSandbox": False, "ImageRegistry": False,
               "CompliancePolicy": False, "Team": False}  # kind -> namespaced


def on_child_event(rt: Runtime, event_type: str | None, body: Mapping[str, Any]) -> None:
    """A managed child changed: update the cache first (the owner's pass reads it), then wake its owners."""
    if not rt.child_cache.observe(event_type, body):
        return  # a version already cached (the echo of our own apply, which that pass already saw)
    meta = body.get("metadata") or {}
    ns = meta.get("namespace") or ""
    for ref in meta.get("ownerReferences") or []:
        kind = ref.get("kind")
        if kind in OWNER_KINDS and str(ref.get("apiVersion", "")).startswith(GROUP + "/"):
            rt.enqueue(kind, (ns if OWNER_KINDS[kind] else "", ref.get("name", "")))


def child_watches(rt: Runtime, kube: KubeClient, **options: Any) -> Watches:
    """One label-selected informer per child kind (`Watches` options: namespaces, heartbeat, inactivity)."""
    return Watches(kube, CHILD_KINDS, listener_for=lambda _kind: lambda event, obj: on_child_event(rt, event, obj),
                   what=f"{len(CHILD_KINDS)} child kinds (label {MANAGED_SELECTOR})", label_selector=MANAGED_SELECTOR,
                   **options)
