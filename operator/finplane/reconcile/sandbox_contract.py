"""Hold a provisioned sandbox to its last valid expiry when its spec turns invalid.

Called by the sandbox reconciler when a pass finds the spec refused (InvalidSpec, TTLTooLong): a partner
admin who `kubectl edit`s `spec.expiresAt` to 2099 (or `ttlSeconds` beyond the platform's maximum) gets
nothing of the new spec applied, and the sandbox is torn down at the expiry recorded in
`status.expiresAt` by the last valid pass, not left running until the new date. A sandbox that was never
provisioned has nothing running, so it is simply refused. The recorded expiry is only ever written by a
pass that accepted the spec (the refusal below writes back the same value), so an invalid edit cannot move it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from finplane.models.tenant_sandbox import TenantSandboxStatus
from finplane.reconcile.shape import Refuse
from finplane.render.sandbox_lifecycle import parse_time

__all__ = ["HeldToContract", "SpecError", "hold_to_contract", "iso", "recorded_expiry"]

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SpecError:
    """A spec the model refused (the sandbox reconciler's lenient parse): why, as one line naming the fields."""

    message: str


class HeldToContract(Refuse):  # noqa: N818 - a Refuse, named for what it does
    """A refused spec of a provisioned sandbox: nothing of it applied, teardown at `expires_at` (recorded)."""

    def __init__(self, reason: str, message: str, *, expires_at: str, requeue_after: float) -> None:
        super().__init__(reason, message, status=TenantSandboxStatus(expires_at=expires_at),
                         requeue_after=requeue_after)
        self.expires_at = expires_at


def iso(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def recorded_expiry(body: Obj) -> datetime | None:
    """The expiry the last accepted pass recorded, when the sandbox was provisioned (and not yet torn down)."""
    status = body.get("status") or {}
    if status.get("teardown") or not status.get("credentialHash") or not status.get("expiresAt"):
        return None
    try:
        return parse_time(str(status["expiresAt"]))
    except ValueError:
        return None


def hold_to_contract(body: Obj, *, reason: str, problem: str, now: datetime) -> datetime | None:
    """Raise `HeldToContract` (teardown scheduled at the recorded expiry) or return the recorded expiry when it
    has passed (the caller tears down now); None when the sandbox was never provisioned."""
    recorded = recorded_expiry(body)
    if recorded is None or now >= recorded:
        return recorded
    when = iso(recorded)
    raise HeldToContract(reason, f"{problem}. Nothing of this spec is applied: the sandbox keeps its last valid "
                         f"expiry {when} and is torn down then, not at the date the spec now asks for",
                         expires_at=when, requeue_after=(recorded - now).total_seconds() + 0.05)
