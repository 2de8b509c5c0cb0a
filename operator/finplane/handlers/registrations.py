"""The reconcilers of every kind, registered once at start-up; and the kopf handlers that remain.

Finplane's kinds and the children it manages are watched by Finplane's own informers
(`finplane.reconcile.kind_watch`, `finplane.reconcile.child_watch`, started by `handlers.main`): a Finplane
object goes to its store and queue, a child re-enqueues its owner (how drift and rollout progress reach the
reconcilers). Namespaces, ServiceAccounts and Secrets (for ImageRegistry) are watched by `handlers.registry_watch`. Everything else that wakes a kind is declared by that kind's reconciler (`watches`).
"""

from __future__ import annotations

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


from finplane.handlers import registry_watch  # noqa: E402,F401  (Namespace and Secret watches of ImageRegistry)
