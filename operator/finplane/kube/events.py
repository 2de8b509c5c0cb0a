"""Post Kubernetes Events about Finplane objects (core/v1), with specific reasons.

Called by reconcilers on meaningful happenings only (a condition turning bad, a drift corrected,
a teardown), never on every reconcile, so that a steady state writes nothing. Messages must never
carry secrets.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from finplane.kube.errors import KubeError
from finplane.kube.protocol import Kube
from finplane.status.conditions import now_iso

__all__ = ["post_event"]

log = logging.getLogger("finplane.events")


async def post_event(kube: Kube, obj: dict[str, Any], *, type_: str, reason: str, message: str) -> None:
    """Record an event on `obj`; failures are logged, never raised (events are best effort)."""
    meta = obj.get("metadata", {})
    namespace = meta.get("namespace") or "default"
    now = now_iso()
    body = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{meta.get('name', 'object')}.{uuid.uuid4().hex[:12]}", "namespace": namespace},
        "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta.get("name"),
                           "namespace": meta.get("namespace"), "uid": meta.get("uid")},
        "reason": reason, "message": message[:1024], "type": type_,
        "source": {"component": "finplane-operator"}, "reportingComponent": "finplane-operator",
        "reportingInstance": "finplane-operator", "action": "Reconcile",
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
    }
    try:
        await kube.create(body)
    except KubeError as exc:
        log.warning("Could not post event %s on %s/%s: %s", reason, namespace, meta.get("name"), exc.message)
