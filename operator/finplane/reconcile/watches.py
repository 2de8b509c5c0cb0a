"""A set of informers, one per (kind, namespace), started and stopped together: the operator's own watches.

Used by `reconcile.kind_watch` (Finplane's kinds, feeding `Runtime.observe`) and `reconcile.child_watch` (the
children it manages, feeding the child cache); built by `handlers.main` at start-up. With `namespaces` given (the
operator restricted to some namespaces, where its RBAC is a Role per namespace) namespaced kinds are watched per
namespace, cluster-scoped kinds cluster-wide. Each informer's own store keeps only `projection` of an object (what
a relist needs to tell a deletion missed while disconnected); its subscriber keeps the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from finplane.kube.client import KubeClient
from finplane.kube.informer import Informer, informer_for
from finplane.kube.resources import resource_for

__all__ = ["Listener", "Watches", "projection"]

log = logging.getLogger("finplane.watches")
Obj = dict[str, Any]
Listener = Callable[[str, Obj], None]


def projection(obj: Obj) -> Obj:
    """What an informer's own store keeps of an object: identity, version, labels and owners."""
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "labels",
                                              "ownerReferences") if k in meta}}


class Watches:
    """Informers for `kinds` ((apiVersion, kind) pairs), each subscribed to `listener_for(kind)`."""

    def __init__(self, kube: KubeClient, kinds: Iterable[tuple[str, str]], *, listener_for: Callable[[str], Listener],
                 what: str, namespaces: tuple[str, ...] = (), label_selector: str | None = None,
                 initial_event: str = "ADDED", on_delivery: Callable[[], None] | None = None,
                 inactivity_timeout: float | None = None) -> None:
        self.what = what
        self.informers: list[Informer] = []
        for api_version, kind in kinds:
            res = resource_for(api_version, kind)
            listener = listener_for(kind)
            for ns in (namespaces if res.namespaced and namespaces else (None,)):
                informer = informer_for(kube, res, namespace=ns, label_selector=label_selector, project=projection,
                                        initial_event=initial_event, on_delivery=on_delivery,
                                        inactivity_timeout=inactivity_timeout)
                informer.subscribe(listener)
                self.informers.append(informer)

    def start(self) -> None:
        for informer in self.informers:
            informer.start()
        log.info("Watching %s (%d streams)", self.what, len(self.informers))

    async def stop(self) -> None:
        for informer in self.informers:
            await informer.stop()
