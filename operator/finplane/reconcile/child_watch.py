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

import logging
from collections.abc import Callable, Mapping
from typing import Any

from finplane import GROUP
from finplane.kube.client import KubeClient
from finplane.kube.informer import Informer, informer_for
from finplane.kube.resources import Resource, resource_for
from finplane.reconcile.runtime import Runtime

__all__ = ["CHILD_KINDS", "MANAGED_SELECTOR", "OWNER_KINDS", "ChildWatches", "on_child_event", "projection"]

log = logging.getLogger("finplane.children")
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


def projection(obj: Obj) -> Obj:
    """What an informer's own store keeps of a child (the child cache has the rest)."""
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "labels",
                                              "ownerReferences") if k in meta}}


class ChildWatches:
    """The informers of every child kind, subscribed to `on_child_event`."""

    def __init__(self, rt: Runtime, kube: KubeClient, *, namespaces: tuple[str, ...] = (),
                 on_delivery: Callable[[], None] | None = None, inactivity_timeout: float | None = None) -> None:
        self.rt = rt
        self.informers: list[Informer] = []
        for api_version, kind in CHILD_KINDS:
            res: Resource = resource_for(api_version, kind)
            for ns in (namespaces if res.namespaced and namespaces else (None,)):
                informer = informer_for(kube, res, namespace=ns, label_selector=MANAGED_SELECTOR, project=projection,
                                        on_delivery=on_delivery,
                                        inactivity_timeout=inactivity_timeout)
                informer.subscribe(self._listener)
                self.informers.append(informer)

    def _listener(self, event_type: str, obj: Obj) -> None:
        on_child_event(self.rt, event_type, obj)

    def start(self) -> None:
        for informer in self.informers:
            informer.start()
        log.info("Watching %d child kinds (%d streams, label %s)", len(CHILD_KINDS), len(self.informers),
                 MANAGED_SELECTOR)

    async def stop(self) -> None:
        for informer in self.informers:
            await informer.stop()

    def synced(self) -> bool:
        """Has every stream had its first list (or found its kind not served)?"""
        return all(i.ready.is_set() for i in self.informers)
