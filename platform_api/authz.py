"""Authorisation: which role may call which route, and which objects each caller may see.

Called by the services. Role checks answer 403 (the caller may know the route exists);
object checks answer 404 so that nobody learns whether another team's capability or another
partner's sandbox exists (OWASP API1, broken object-level authorisation).
"""

from __future__ import annotations

from typing import Any

from platform_api.auth.identity import Identity, Role, same_subject
from platform_api.problems import Problem

__all__ = ["require_role", "not_found", "may_see_sandbox", "may_see_team", "team_of_capability"]


def require_role(identity: Identity, *roles: Role) -> None:
    """403 unless the caller has one of ``roles``."""
    if identity.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Problem(403, f"This route is for the role(s) {allowed}; the token has role {identity.role.value}.",
                      slug="forbidden", reason="RoleNotAllowed")


def not_found(what: str, name: str) -> Problem:
    """The one 404 shape, identical whether the object is absent or hidden from the caller."""
    return Problem(404, f"{what} {name!r} was not found.", slug="not-found", reason="NotFound")


def may_see_team(identity: Identity, team: str | None) -> bool:
    """Admins and auditors see every team; a team sees only itself; partners see no team."""
    if identity.role in (Role.ADMIN, Role.AUDITOR):
        return True
    return identity.role is Role.TEAM and team is not None and identity.team == team


def team_of_capability(obj: dict[str, Any]) -> str | None:
    spec = obj.get("spec") or {}
    owner = spec.get("owner") or {}
    team = owner.get("team") if isinstance(owner, dict) else None
    return team or (obj.get("metadata", {}).get("labels") or {}).get("finplane.io/team")


def may_see_sandbox(identity: Identity, obj: dict[str, Any]) -> bool:
    """A partner sees its own sandboxes; a requester sees what it asked for; admins and auditors all."""
    if identity.role in (Role.ADMIN, Role.AUDITOR):
        return True
    meta = obj.get("metadata", {})
    if identity.role is Role.PARTNER:
        partner = ((obj.get("spec") or {}).get("partner") or {}).get("name")
        return partner is not None and partner == identity.partner
    return same_subject(identity, (meta.get("annotations") or {}).get("finplane.io/requested-by"))
