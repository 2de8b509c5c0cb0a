"""kopf event handlers the ImageRegistry reconciler needs: Namespaces and Secrets.

Namespaces feed the runtime's "Namespace" store (selector targets; their changes re-enqueue the
registries). Secrets re-enqueue the registry whose pull Secret changed (drift) or whose static
source Secret changed (rotation), so nothing polls. Bodies of Secrets are not kept.
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
