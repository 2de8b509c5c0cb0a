"""kopf event handlers for Namespaces, Secrets and ServiceAccounts, feeding `Runtime.observe`.

Namespaces feed the runtime's "Namespace" store (an ImageRegistry's selector targets). Secrets and
ServiceAccounts are not stored (Runtime keeps no store for them): the watches the ImageRegistry and
TenantSandbox reconcilers declare see each event and say which objects it wakes. ServiceAccounts share
the watch stream of the managed-children handler (kopf opens one per resource).
"""

from __future__ import annotations

from typing import Any

import kopf

__all__: list[str] = []


@kopf.on.event("", "v1", "namespaces")
async def namespace_event(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = memo.get("rt")
    if rt is not None:
        rt.observe("Namespace", event.get("type"), body)


@kopf.on.event("", "v1", "secrets")
async def secret_event(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = memo.get("rt")
    if rt is not None:
        rt.observe("Secret", event.get("type"), body)  # not stored: the reconcilers' watches see it


@kopf.on.event("", "v1", "serviceaccounts")
async def service_account_event(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = memo.get("rt")
    if rt is not None:
        rt.observe("ServiceAccount", event.get("type"), body)  # not stored: the reconcilers' watches see it
