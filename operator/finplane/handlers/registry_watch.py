"""kopf event handlers the ImageRegistry reconciler needs: Namespaces, Secrets and ServiceAccounts.

Namespaces feed the runtime's "Namespace" store (selector targets; their changes re-enqueue the
registries). Secrets re-enqueue the registry whose pull Secret changed (drift) or whose static
source Secret changed (rotation), so nothing polls. Bodies of Secrets are not kept.
ServiceAccounts (the same watch stream as the managed-children handler: kopf opens one per resource)
re-enqueue the registries naming an account that lacks their entry, and feed a small index of which
accounts reference which pull Secret, so an account dropped from spec.serviceAccounts is unwired.
"""

from __future__ import annotations

from typing import Any

import kopf

from finplane.reconcile import registry

__all__: list[str] = []


@kopf.on.event("", "v1", "namespaces")
async def namespace_event(event: dict[str, Any], body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = memo.get("rt")
    if rt is not None:
        rt.observe("Namespace", event.get("type"), body)


@kopf.on.event("", "v1", "secrets")
async def secret_event(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = memo.get("rt")
    if rt is not None:
        registry.secret_event(rt, dict(body))


@kopf.on.event("", "v1", "serviceaccounts")
async def service_account_event(event: dict[str, Any], body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = memo.get("rt")
    if rt is not None:
        registry.service_account_event(rt, event.get("type"), body)
