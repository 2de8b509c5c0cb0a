"""kopf event handlers for Namespaces and ServiceAccounts, and the Secret watch, feeding `Runtime.observe`.

Namespaces feed the runtime's "Namespace" store (an ImageRegistry's selector targets). Secrets and
ServiceAccounts are not stored (Runtime keeps no store for them): the watches the ImageRegistry and
TenantSandbox reconcilers declare see each event and say which objects it wakes. ServiceAccounts share
the watch stream of the managed-children handler (kopf opens one per resource).

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

__all__: list[str] = []


@kopf.on.event("", "v1", "namespaces")
async def namespace_event(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = memo.get("rt")
    if rt is not None:
        rt.observe("Namespace", event.get("type"), body)


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


@kopf.on.event("", "v1", "serviceaccounts")
async def service_account_event(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = memo.get("rt")
    if rt is not None:
        rt.observe("ServiceAccount", event.get("type"), body)  # not stored: the reconcilers' watches see it
