"""A sandbox's lifecycle as pure functions of its spec, metadata and the clock.

Called by the sandbox reconciler (to decide what to do and when to wake up next) and by
`finplane render`. Nothing here is held in memory between passes: the expiry is recomputed from
the spec and `metadata.creationTimestamp` every time, so a restarted operator schedules the same
warning and teardown instants as the one before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from finplane.models.tenant_sandbox import SandboxPhase, TenantSandboxSpec
from finplane.names import APPROVAL_ANNOTATION
from finplane.settings import Settings

__all__ = ["APPROVAL_ANNOTATION", "Stage", "Timeline", "approval", "lifetime_problem", "parse_time",
           "phase_of", "timeline"]

#: Ready=False reasons that leave the sandbox Failed (the user must act); others are "not yet".
FAILED_REASONS = frozenset({"TTLTooLong", "NamespaceConflict", "InvalidSpec", "Rejected"})


class Stage(StrEnum):
    ACTIVE = "Active"
    EXPIRING = "Expiring"
    EXPIRED = "Expired"


@dataclass(frozen=True, slots=True)
class Timeline:
    created: datetime
    warn_at: datetime
    expires_at: datetime

    def stage(self, now: datetime) -> Stage:
        if now >= self.expires_at:
            return Stage.EXPIRED
        return Stage.EXPIRING if now >= self.warn_at else Stage.ACTIVE

    def seconds_to_next(self, now: datetime) -> float | None:
        """Seconds until the next transition (warning, then expiry); None once expired."""
        for instant in (self.warn_at, self.expires_at):
            if now < instant:
                return (instant - now).total_seconds()
        return None


def parse_time(value: str | None) -> datetime:
    """An RFC 3339 timestamp as an aware datetime (now when absent: a body not yet stored)."""
    if not value:
        return datetime.now(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def timeline(spec: TenantSandboxSpec, *, created: datetime, settings: Settings) -> Timeline:
    expires = spec.expiry(created=created)
    window = spec.expiry_warning_seconds
    if window is None:
        window = settings.sandbox_expiry_warning_seconds
    return Timeline(created=created, warn_at=expires - timedelta(seconds=window), expires_at=expires)


def lifetime_problem(tl: Timeline, settings: Settings) -> str | None:
    """Why the requested lifetime is refused (longer than the platform's maximum), or None."""
    lifetime = (tl.expires_at - tl.created).total_seconds()
    if lifetime > settings.sandbox_max_ttl_seconds:
        return (f"the sandbox would live {int(lifetime)}s, more than the platform maximum of "
                f"{settings.sandbox_max_ttl_seconds}s; shorten ttlSeconds or expiresAt")
    return None


def approval(annotations: dict[str, Any] | None) -> tuple[str, str] | None:
    """(reason, message) when four-eyes approval blocks provisioning; None when it may proceed."""
    value = (annotations or {}).get(APPROVAL_ANNOTATION)
    if value in (None, "approved"):
        return None
    if value == "rejected":
        return "Rejected", "the sandbox request was rejected by an approver; nothing is provisioned"
    return "AwaitingApproval", (f"annotation {APPROVAL_ANNOTATION}={value}: waiting for a second person to "
                                "approve (set it to approved); nothing is provisioned until then")


def phase_of(conditions: list[dict[str, Any]]) -> SandboxPhase:
    """The display phase derived from the conditions (never stored as the source of truth)."""
    by_type = {c.get("type"): c for c in conditions}
    if (by_type.get("Expired") or {}).get("status") == "True":
        return SandboxPhase.EXPIRED
    ready = by_type.get("Ready") or {}
    if ready.get("status") == "True":
        expiring = (by_type.get("Expiring") or {}).get("status") == "True"
        return SandboxPhase.EXPIRING if expiring else SandboxPhase.ACTIVE
    if ready.get("status") == "False" and ready.get("reason") in FAILED_REASONS:
        return SandboxPhase.FAILED
    return SandboxPhase.PROVISIONING
