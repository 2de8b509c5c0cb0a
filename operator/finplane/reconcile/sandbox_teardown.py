"""Tear a sandbox down at expiry: delete its namespace (and so its credential), keep the CR as Expired.

Called by the sandbox reconciler (its outcome is the pass's) whenever the sandbox's timeline says it has expired (or a
teardown is already recorded). Idempotent: a second pass, or a pass after an operator restart,
finds the namespace gone or terminating and the report already in status, and writes nothing.
A namespace that does not belong to this sandbox (a NamespaceConflict) is never deleted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from finplane.kube.errors import KubeError
from finplane.kube.events import post_event
from finplane.models.tenant_sandbox import SandboxPhase, TeardownReport, TenantSandboxStatus
from finplane.reconcile.shape import Outcome
from finplane.status.conditions import Cond, now_iso
from finplane.status.vocabulary import ConditionType, Reason

if TYPE_CHECKING:
    from finplane.reconcile.runtime import Runtime

__all__ = ["INVENTORY", "expire"]

log = logging.getLogger("finplane.sandbox")
Obj = dict[str, Any]

#: What the teardown report lists (names only: a Secret's name is not a secret, its data never leaves).
INVENTORY = (
    ("v1", "Secret"), ("v1", "ServiceAccount"), ("v1", "ConfigMap"), ("v1", "Service"), ("v1", "Pod"),
    ("apps/v1", "Deployment"), ("v1", "ResourceQuota"), ("v1", "LimitRange"),
    ("networking.k8s.io/v1", "NetworkPolicy"), ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
)


async def _inventory(rt: Runtime, namespace: str) -> list[str]:
    out: list[str] = []
    for api_version, kind in INVENTORY:
        try:
            items = await rt.kube.list(api_version, kind, namespace)
        except KubeError:
            continue  # a kind this cluster does not serve: the report is best effort, the deletion is not
        out.extend(f"{kind}/{namespace}/{o['metadata']['name']}" for o in items)
    return out


async def expire(rt: Runtime, body: Obj, *, namespace: str, expires_at: str) -> Outcome:
    """Delete the namespace if it is still ours, record the teardown report once; the outcome marks it Expired."""
    # The watch-fed body may predate our own last status write (a namespace event can re-enqueue us
    # first): read the CR fresh so the teardown report is written once, never overwritten.
    body = await rt.kube.get_or_none(body["apiVersion"], body["kind"], body["metadata"]["name"]) or body
    meta = body["metadata"]
    status = body.get("status") or {}
    live = await rt.kube.get_or_none("v1", "Namespace", namespace)
    ours = live is not None and any(r.get("uid") == meta["uid"] for r in live["metadata"].get("ownerReferences") or [])
    removed: list[str] = []
    if live is not None and ours:
        removed = [f"Namespace/{namespace}"]
        if not live["metadata"].get("deletionTimestamp"):
            removed += await _inventory(rt, namespace)
            await rt.kube.delete("v1", "Namespace", namespace)
    report = status.get("teardown")
    if report is None:
        report = {"time": now_iso(), "reason": "Expired", "removed": removed[:256]}
        listing = ", ".join(removed) or "nothing (it was never provisioned)"
        log.info("Tore down sandbox %s at expiry (%s): removed %s", meta["name"], expires_at, listing)
        await post_event(rt.kube, body, type_="Normal", reason="TornDown",
                         message=f"Expired at {expires_at}; removed {listing}")
        rt.recorder.sandbox_torn_down(body, reason="Expired", report=report)
    conds = [
        Cond(ConditionType.READY, "False", Reason.EXPIRED, f"the sandbox expired at {expires_at}: its namespace and credential "
             "were removed; an expired sandbox cannot be extended, create a new one"),
        Cond(ConditionType.EXPIRING, "False", Reason.EXPIRED, "the sandbox has expired"),
        Cond(ConditionType.EXPIRED, "True", Reason.TTL_ELAPSED, f"expired at {expires_at}"),
    ]
    status = TenantSandboxStatus(
        phase=SandboxPhase.EXPIRED, namespace=namespace, expires_at=expires_at,
        teardown=TeardownReport.model_validate(report),  # as recorded the first time, never rewritten
        credential_secret_ref=None, credential_hash=None, credential_fingerprint=None, credential_rotation=None)
    return Outcome(conds, status=status, body=body)
