"""Who may waive what, and for how long: the pure checks behind the waiver routes.

Called by :mod:`platform_api.services.waivers`. A team may ask for waivers only over objects in its
own namespace (``team_namespace_template``), and only of namespaced kinds; a scope without a
namespace (every namespace) or over a cluster-scoped kind (Channel, TenantSandbox) is for admins.
Every waiver ends within ``waiver_max_days`` of its request. :func:`affects` says which teams'
objects a waiver covers, so that the affected team sees the waivers (pending or approved) on its objects.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

__all__ = ["NAMESPACED_KINDS", "affects", "duration_errors", "scope_errors"]

Obj = dict[str, Any]
Errors = list[dict[str, str]]

#: Kinds a policy selects that live in a team's namespace; the others are cluster-scoped.
NAMESPACED_KINDS = frozenset({"BusinessCapability"})


def scope_errors(resources: list[Obj], *, team_namespace: str) -> Errors:
    """A team's waiver covers only namespaced objects in the team's own namespace."""
    errors = []
    for i, ref in enumerate(resources):
        where = f"resources[{i}]"
        if ref.get("kind") not in NAMESPACED_KINDS:
            errors.append({"field": f"{where}.kind",
                           "message": f"{ref.get('kind')} objects are cluster-scoped; only an admin waives them"})
        elif ref.get("namespace") is None:
            errors.append({"field": f"{where}.namespace", "message": "a waiver over every namespace is for admins; "
                           f"name your team's namespace {team_namespace!r}"})
        elif ref.get("namespace") != team_namespace:
            errors.append({"field": f"{where}.namespace",
                           "message": f"a team waives only objects in its own namespace {team_namespace!r}"})
    return errors


def duration_errors(expires_at: datetime | None, *, now: datetime, max_days: int) -> Errors:
    """The waiver must end in the future and within ``max_days`` of now."""
    if expires_at is None:
        return [{"field": "expiresAt", "message": "not an RFC 3339 time with a time zone"}]
    if expires_at <= now:
        return [{"field": "expiresAt", "message": "must lie in the future"}]
    if expires_at > now + timedelta(days=max_days):
        return [{"field": "expiresAt", "message": f"a waiver lasts at most {max_days} days; ask again when it ends"}]
    return []


def affects(resources: list[Any], namespace: str) -> bool:
    """Whether a waiver over ``resources`` covers objects in ``namespace`` (a scope without one covers all)."""
    for ref in resources:
        if isinstance(ref, dict) and ref.get("kind") in NAMESPACED_KINDS and ref.get("namespace") in (None, namespace):
            return True
    return False
