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

from typing import Any

from finplane import API_VERSION
from finplane.kube.client import KubeClient
from finplane.reconcile.child_watch import OWNER_KINDS
from finplane.reconcile.runtime import Runtime
from finplane.reconcile.watches import Listener, Watches

__all__ = ["kind_watches"]


def kind_watches(rt: Runtime, kube: KubeClient, **options: Any) -> Watches:
    """One informer per Finplane kind, its first list told as LISTED (`Watches` options: namespaces, heartbeat…)."""
    def listener_for(kind: str) -> Listener:
        return lambda event, obj: rt.observe(kind, None if event == "LISTED" else event, obj)
    return Watches(kube, ((API_VERSION, kind) for kind in OWNER_KINDS), listener_for=listener_for,
                   what=f"{len(OWNER_KINDS)} Finplane kinds", initial_event="LISTED", **options)
