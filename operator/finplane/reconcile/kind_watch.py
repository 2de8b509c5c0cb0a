"""Finplane's own watches of its own kinds (one informer per kind), feeding `Runtime.observe`.

Started by `finplane.handlers.main` at start-up beside the child informers (`reconcile.child_watch`) and
stopped at clean-up. kopf watched these kinds before; its per-object processing of every event (a worker task
per object, causes, its diff-base essence, handler invocation) was about a sixth of the operator's CPU after
the children had left it (issue 19), for what is one call: the event goes to `Runtime.observe`, which keeps
the store, enqueues the key and runs the reconcilers' declared watches. kopf still provides peering, the
liveness endpoint, start-up and clean-up, and the ImageRegistry's Namespace and Secret watches.

The first list of each kind is told as "LISTED" (objects that existed before this process started: nothing
new happened, no evidence is recorded), later relists (after 410 Gone) as what they are. The informers' own
stores keep a projection; the runtime's stores keep the objects (without managedFields' field sets).

Standby replicas (kopf peering) keep watching, so a takeover starts from full stores instead of filling them
object by object (the lag a new leader had to guard against in compliance); what they observe while paused is
neither reconciled nor recorded (`Runtime.is_paused`), and on resuming `Runtime.replay` wakes every object, as
kopf's relist at resumption did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from finplane import API_VERSION
from finplane.kube.client import KubeClient
from finplane.kube.informer import Informer, informer_for
from finplane.kube.resources import resource_for
from finplane.reconcile.child_watch import OWNER_KINDS, projection
from finplane.reconcile.runtime import Runtime

__all__ = ["KindWatches"]

log = logging.getLogger("finplane.watches")
Obj = dict[str, object]


class KindWatches:
    """The informers of every Finplane kind, each feeding `Runtime.observe`."""

    def __init__(self, rt: Runtime, kube: KubeClient, *, namespaces: tuple[str, ...] = (),
                 on_delivery: Callable[[], None] | None = None, inactivity_timeout: float | None = None) -> None:
        self.rt = rt
        self.informers: list[Informer] = []
        for kind in OWNER_KINDS:
            res = resource_for(API_VERSION, kind)
            for ns in (namespaces if res.namespaced and namespaces else (None,)):
                informer = informer_for(kube, res, namespace=ns, project=projection, initial_event="LISTED",
                                        on_delivery=on_delivery,
                                        inactivity_timeout=inactivity_timeout)
                informer.subscribe(self._listener(kind))
                self.informers.append(informer)

    def _listener(self, kind: str) -> Callable[[str, dict[str, object]], None]:
        def observe(event_type: str, obj: dict[str, object]) -> None:
            self.rt.observe(kind, None if event_type == "LISTED" else event_type, obj)
        return observe

    def start(self) -> None:
        for informer in self.informers:
            informer.start()
        log.info("Watching %d Finplane kinds (%d streams)", len(OWNER_KINDS), len(self.informers))

    async def stop(self) -> None:
        for informer in self.informers:
            await informer.stop()
