"""Who is asking: the identity derived from a verified token's claims, and how subjects compare.

Built by :mod:`platform_api.auth.tokens`; read by the authorisation checks in
:mod:`platform_api.authz`, the rate limiter, the audit log and the four-eyes checks of the
services (:func:`same_subject`). A subject is compared as (issuer, NFKC-casefolded subject):
``Ada`` and ``ada`` are one person. Subjects with whitespace, control, format (zero-width,
bidirectional) or unassigned characters are refused at authentication, so ``ada `` or ``ada``
followed by a zero-width space never become a second identity of ``ada``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["MAX_SUBJECT_LENGTH", "ClaimsError", "Identity", "Role", "SubjectError", "canonical_subject",
           "identity_from_claims", "same_subject", "subject_problem"]

MAX_SUBJECT_LENGTH = 255
# Unicode categories a subject may not contain: separators (spaces, line and paragraph separators),
# controls, format characters (zero-width space, bidi overrides...), surrogates, private use, unassigned.
_REFUSED_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"})


class Role(StrEnum):
    """The four roles of the platform (DESIGN.md, "Who uses it")."""

    TEAM = "team"
    PARTNER = "partner"
    AUDITOR = "auditor"
    ADMIN = "admin"


def canonical_subject(subject: str) -> str:
    """The form subjects are compared in: NFKC, case-folded, NFKC again (Unicode's NFKC_Casefold idea)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", subject).casefold())


def subject_problem(subject: str) -> str | None:
    """Why ``subject`` cannot name a caller, or None when it can."""
    if not subject:
        return "the token's subject (sub) is empty"
    if len(subject) > MAX_SUBJECT_LENGTH:
        return f"the token's subject (sub) is longer than {MAX_SUBJECT_LENGTH} characters"
    for form in (subject, canonical_subject(subject)):
        for ch in form:
            if unicodedata.category(ch) in _REFUSED_CATEGORIES:
                return (f"the token's subject (sub) contains U+{ord(ch):04X} ({unicodedata.category(ch)}): "
                        f"whitespace, control and format characters are not allowed")
    return None


@dataclass(frozen=True, slots=True)
class Identity:
    """A caller: subject, role and the team or partner it belongs to.

    ``subject`` is the canonical form (:func:`canonical_subject`) so that every comparison and every
    record (``requested-by``, ``decided-by``, the audit log) uses one spelling per person;
    ``token_subject`` keeps the spelling the token carried.
    """

    subject: str
    role: Role
    team: str | None = None
    partner: str | None = None
    issuer: str = ""
    #: The token's `groups` claim (IdP groups); platform_api.services.teams maps them to a team and role.
    groups: tuple[str, ...] = ()
    token_subject: str = ""

    @property
    def principal(self) -> tuple[str, str]:
        """(issuer, canonical subject): what tells two callers apart."""
        return self.issuer, self.subject

    @property
    def key(self) -> str:
        """A stable key for per-identity limits (issuer and canonical subject)."""
        return f"{self.issuer}|{self.subject}"

    def describe(self) -> dict[str, str | None]:
        """What the audit log records about the caller (no token, no secret)."""
        return {"subject": self.subject, "role": self.role.value, "team": self.team, "partner": self.partner}


def same_subject(identity: Identity, recorded: object, *, recorded_issuer: str | None = None) -> bool:
    """True when ``recorded`` (a subject stored on an object, e.g. ``requested-by``) names ``identity``.

    Both sides are compared canonically, so a record written before subjects were canonical
    (``Ada``) still matches ``ada``. Records carry no issuer today; when one is given it must match too.
    A record that is not a string matches nobody.
    """
    if not isinstance(recorded, str) or not recorded:
        return False
    if recorded_issuer is not None and recorded_issuer != identity.issuer:
        return False
    return canonical_subject(recorded) == identity.subject


class ClaimsError(ValueError):
    """The token is valid but its claims do not make an identity."""


class SubjectError(ClaimsError):
    """The token's subject cannot name a caller (whitespace, control or format characters, too long)."""


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    """Turn verified claims into an :class:`Identity`; raise :class:`ClaimsError` when they cannot."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise ClaimsError("the token has no subject (sub)")
    problem = subject_problem(subject)
    if problem is not None:
        raise SubjectError(problem)
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
    return Identity(subject=canonical_subject(subject), token_subject=subject, role=role,
                    team=team if role is Role.TEAM else None, partner=partner if role is Role.PARTNER else None,
                    issuer=str(claims.get("iss", "")), groups=groups)
