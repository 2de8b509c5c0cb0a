"""Who is asking: the identity derived from a verified token's claims.

Built by :mod:`platform_api.auth.tokens`; read by the authorisation checks in
:mod:`platform_api.authz`, the rate limiter and the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Identity", "Role", "identity_from_claims"]


class Role(StrEnum):
    """The four roles of the platform (DESIGN.md, "Who uses it")."""

    TEAM = "team"
    PARTNER = "partner"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Identity:
    """A caller: subject, role and the team or partner it belongs to."""

    subject: str
    role: Role
    team: str | None = None
    partner: str | None = None
    issuer: str = ""
    #: The token's `groups` claim (IdP groups); platform_api.services.teams maps them to a team and role.
    groups: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """A stable key for per-identity limits (issuer and subject)."""
        return f"{self.issuer}|{self.subject}"

    def describe(self) -> dict[str, str | None]:
        """What the audit log records about the caller (no token, no secret)."""
        return {"subject": self.subject, "role": self.role.value, "team": self.team, "partner": self.partner}


class ClaimsError(ValueError):
    """The token is valid but its claims do not make an identity."""


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    """Turn verified claims into an :class:`Identity`; raise :class:`ClaimsError` when they cannot."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise ClaimsError("the token has no subject (sub)")
    raw_role = claims.get("role")
    if raw_role is None and isinstance(claims.get("roles"), list) and claims["roles"]:
        raw_role = claims["roles"][0]
    groups = tuple(g for g in claims.get("groups") or () if isinstance(g, str)) \
        if isinstance(claims.get("groups"), list) else ()
    if raw_role is None and groups:
        raw_role = Role.TEAM  # an IdP token: team and role come from the groups (platform_api.services.teams)
    try:
        role = Role(str(raw_role))
    except ValueError:
        raise ClaimsError("the token has no valid role claim (team, partner, auditor or admin)") from None
    team = claims.get("team") if isinstance(claims.get("team"), str) else None
    partner = claims.get("partner") if isinstance(claims.get("partner"), str) else None
    # A team or partner token without its scope would otherwise see nothing or, worse, everything.
    if role is Role.TEAM and not team and not groups:
        raise ClaimsError("a team token needs a team claim")
    if role is Role.PARTNER and not partner:
        raise ClaimsError("a partner token needs a partner claim")
    return Identity(subject=subject, role=role, team=team if role is Role.TEAM else None,
                    partner=partner if role is Role.PARTNER else None, issuer=str(claims.get("iss", "")),
                    groups=groups)
