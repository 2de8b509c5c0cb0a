"""kopf event handlers for every watched kind: a few lines each, feeding `Runtime.observe`.

Finplane kinds go to their own store and queue. Child kinds (managed by Finplane, found by label) are not
watched through kopf but by Finplane's own informers (`finplane.reconcile.child_watch`, started by
`handlers.main`): they re-enqueue their owner, which is how drift and rollout progress reach the reconcilers.
Everything else that wakes a kind is declared by that kind's reconciler (`watches`).
"""

from __future__ import annotations

from typing import Any

import kopf

from finplane import GROUP, VERSION
from finplane.reconcile.capability import CapabilityReconciler
from finplane.reconcile.channel import ChannelReconciler
from finplane.reconcile.compliance import ComplianceReconciler
from finplane.reconcile.registry import RegistryReconciler
from finplane.reconcile.runtime import Runtime
from finplane.reconcile.sandbox import SandboxReconciler
from finplane.reconcile.team import TeamReconciler

__all__ = ["register_all"]


RECONCILERS = (CapabilityReconciler, SandboxReconciler, RegistryReconciler, ChannelReconciler, ComplianceReconciler,
               TeamReconciler)


def register_all(rt: Runtime) -> None:
    """Give every kind its reconciler (built once, at start-up; it declares its own watches)."""
    for reconciler in RECONCILERS:
        rt.add(reconciler(rt))


def _runtime(memo: kopf.Memo) -> Runtime | None:
    return memo.get("rt")


@kopf.on.event(GROUP, VERSION, "businesscapabilities")
@kopf.on.event(GROUP, VERSION, "channels")
@kopf.on.event(GROUP, VERSION, "tenantsandboxes")
@kopf.on.event(GROUP, VERSION, "imageregistries")
@kopf.on.event(GROUP, VERSION, "compliancepolicies")
@kopf.on.event(GROUP, VERSION, "teams")
async def finplane_object(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = _runtime(memo)
    if rt is not None:
        rt.observe(body["kind"], event.get("type"), body)


from finplane.handlers import registry_watch  # noqa: E402,F401  (Namespace and Secret watches of ImageRegistry)
