"""The Namespace, ServiceAccount and Secret watches, feeding `Runtime.observe`: Finplane's own informers.

Namespaces feed the runtime's "Namespace" store (an ImageRegistry's selector targets). Secrets and
ServiceAccounts are not stored (Runtime keeps no store for them): the watches the ImageRegistry and
TenantSandbox reconcilers declare see each event and say which objects it wakes. Namespaces and
ServiceAccounts were kopf event handlers: every capability creates a ServiceAccount, and kopf's per-event
processing of its events was ~7 % of the operator's CPU (py-spy, issue 19). Like the kinds' and the
children's watches (`reconcile.watches`), these are scoped to the operator's namespaces when it has some,
tell their first list as LISTED, beat the liveness heartbeat and re-open a silent stream.

Secrets are not watched by kopf (that would be a cluster-wide list/watch, CIS 5.1.2): an informer watches
them in Finplane's own namespace only (`settings.pod_namespace`), where static registries' source Secrets
live; the chart grants list/watch of Secrets there and nowhere else. Pull Secrets in managed namespaces are
read by name. Without a pod namespace (`finplane dev`, the embedded API server) the watch is cluster-wide.
Started and stopped by the kopf startup and cleanup handlers below, once `handlers.main` built the runtime.
"""

from __future__ import annotations

from typing import Any

import kopf

from finplane.kube.informer import informer_for
from finplane.kube.resources import resource_for
from finplane.reconcile.runtime import Runtime
from finplane.reconcile.watches import Listener, Watches

__all__ = ["namespace_watches"]


def namespace_watches(rt: Runtime, *, namespaces: tuple[str, ...] = (), on_delivery: Any = None,
                      inactivity_timeout: float | None = None) -> Watches:
    """Namespaces (cluster-wide) and ServiceAccounts (in `namespaces`, or everywhere) into `rt.observe`."""

    def listener_for(kind: str) -> Listener:
        return lambda event_type, obj: rt.observe(kind, event_type, obj)

    return Watches(rt.kube, [("v1", "Namespace"), ("v1", "ServiceAccount")], listener_for=listener_for,
                   what="namespaces and service accounts", namespaces=namespaces, initial_event="LISTED",
                   on_delivery=on_delivery, inactivity_timeout=inactivity_timeout)


@kopf.on.startup()
async def start_secret_watch(memo: kopf.Memo, **_: Any) -> None:
    rt = memo.get("rt")
    if rt is None:  # handlers.main's start-up handler has not built the runtime yet
        raise kopf.TemporaryError("waiting for the runtime", delay=0.1)

    def observe(event_type: str, obj: dict[str, Any]) -> None:
        rt.observe("Secret", event_type, obj)  # not stored: the reconcilers' watches see it

    informer = informer_for(rt.kube, resource_for("v1", "Secret"), namespace=rt.settings.pod_namespace)
    informer.subscribe(observe)
    informer.start()
    memo["secret_watch"] = informer


@kopf.on.cleanup()
async def stop_secret_watch(memo: kopf.Memo, **_: Any) -> None:
    informer = memo.get("secret_watch")
    if informer is not None:
        await informer.stop()
