"""Teams in the platform API: who belongs to which team (IdP users and groups), where a team may write, and the
`GET /teams` views (routes in routers/teams.py).

Called by `deps.current_identity` (`resolve`: every verified identity passes here once per request), by the
capabilities service (`namespace_of`: the one namespace a team's path reads and writes) and by the teams router.
All reads come from the watch-fed cache; the ownership rules are the operator's own (`finplane.render.team_checks`).

Trust: a token's `team` claim is never trusted on its own. A team identity's team is a Team whose owners or
members name the token's subject (User) or one of its `groups` (Group); a claim naming another team is dropped
(the identity then sees no team). Admin and auditor roles also come from the API's `admin_groups` and
`auditor_groups`. Only in `migrate` mode, a claim naming a team that has no Team object still works, as before
Teams (hand-labelled namespaces); a reserved namespace (default, kube-*, Finplane's own) is never a team's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from finplane.render.team_checks import reserved_problem, team_of_namespace
from platform_api.auth.identity import Identity, Role
from platform_api.authz import not_found, require_role
from platform_api.cache import CAPABILITY, TEAM, ReadCache
from platform_api.problems import Problem
from platform_api.services.common import is_true
from platform_api.settings import ApiSettings

__all__ = ["detail", "list_teams", "memberships", "namespace_of", "resolve"]

Obj = dict[str, Any]


def _listed(identity: Identity, members: list[Obj]) -> bool:
    groups = set(identity.groups)
    users = {identity.subject, getattr(identity, "token_subject", "") or identity.subject}
    return any((m.get("kind") == "Group" and m.get("name") in groups) or
               (m.get("kind") == "User" and m.get("name") in users) for m in members)


def memberships(identity: Identity, teams: list[Obj]) -> dict[str, str]:
    """Team name -> "owner" or "member" for every Team listing the caller (by subject or group)."""
    out: dict[str, str] = {}
    for t in teams:
        spec = t.get("spec") or {}
        name = str((t.get("metadata") or {}).get("name"))
        if _listed(identity, spec.get("owners") or []):
            out[name] = "owner"
        elif _listed(identity, spec.get("members") or []):
            out[name] = "member"
    return out


def _reserved(team: str, settings: ApiSettings) -> bool:
    ns = settings.team_namespace_template.format(team=team)
    return reserved_problem(ns, own_namespace=settings.pod_namespace) is not None


def resolve(identity: Identity, cache: ReadCache | None, settings: ApiSettings) -> Identity:
    """The identity with its role and team as the Teams and the API's settings say (see the module docstring)."""
    groups = set(identity.groups)
    if groups & set(settings.admin_groups):
        return replace(identity, role=Role.ADMIN, team=None, partner=None)
    if groups & set(settings.auditor_groups):
        return replace(identity, role=Role.AUDITOR, team=None, partner=None)
    if identity.role is not Role.TEAM:
        return identity
    teams = cache.list(TEAM) if cache is not None and cache.ready else []
    mine = memberships(identity, teams)
    claimed = identity.team
    team: str | None
    if claimed is not None:
        named = any((t.get("metadata") or {}).get("name") == claimed for t in teams)
        legacy = settings.team_ownership == "migrate" and not named
        team = claimed if claimed in mine or legacy else None
    else:
        team = sorted(mine)[0] if mine else None  # several Teams: the token's team claim picks one
    if team is not None and _reserved(team, settings):
        team = None
    return replace(identity, team=team)


def namespace_of(*, cache: ReadCache, settings: ApiSettings, team: str) -> str:
    """The namespace of `team`'s path, if the team may use it; else 404 TeamNotOnboarded.

    It must be held by that team's Team; without a Team (migrate mode only) it must be free of every Team.
    """
    ns = settings.team_namespace_template.format(team=team)
    teams = cache.list(TEAM)
    holder = team_of_namespace(ns, teams)
    named = any((t.get("metadata") or {}).get("name") == team for t in teams)
    ok = holder == team or (holder is None and not named and settings.team_ownership == "migrate")
    if not ok or reserved_problem(ns, own_namespace=settings.pod_namespace) is not None:
        raise Problem(404, f"Team {team!r} owns no namespace {ns!r} on this cluster; ask the platform team to "
                           "onboard it (a Team listing that namespace).", slug="not-found", reason="TeamNotOnboarded")
    return ns


def _visible(identity: Identity, cache: ReadCache) -> list[Obj]:
    require_role(identity, Role.TEAM, Role.ADMIN, Role.AUDITOR)
    teams = cache.list(TEAM)
    if identity.role in (Role.ADMIN, Role.AUDITOR):
        return teams
    mine = memberships(identity, teams)
    return [t for t in teams if (t.get("metadata") or {}).get("name") in mine]


def _summary(team: Obj, cache: ReadCache, identity: Identity) -> Obj:
    meta, spec, status = team.get("metadata") or {}, team.get("spec") or {}, team.get("status") or {}
    held = [n for n in status.get("namespaces") or [] if n.get("state") in ("Created", "Adopted")]
    return {"name": meta.get("name"), "displayName": spec.get("displayName"), "contact": spec.get("contact") or {},
            "namespaces": [n.get("name") for n in held], "ready": is_true(team, "Ready"),
            "yourRole": memberships(identity, [team]).get(str(meta.get("name"))),
            "capabilityCount": int((status.get("usage") or {}).get("capabilities") or 0)}


def list_teams(*, identity: Identity, cache: ReadCache) -> list[Obj]:
    """The Teams the caller may see (admins and auditors: all; a team identity: its own), as summaries."""
    return [_summary(t, cache, identity) for t in sorted(_visible(identity, cache),
                                                        key=lambda t: str(t["metadata"]["name"]))]


def detail(*, identity: Identity, cache: ReadCache, team: str) -> Obj:
    """One Team: namespaces, members, quota used and total, its capabilities and readiness; 404 if hidden."""
    found = next((t for t in _visible(identity, cache) if (t.get("metadata") or {}).get("name") == team), None)
    if found is None:
        raise not_found("Team", team)
    spec, status = found.get("spec") or {}, found.get("status") or {}
    out = _summary(found, cache, identity)
    held = set(out["namespaces"])
    caps = sorted((c for c in cache.list(CAPABILITY) if (c.get("metadata") or {}).get("namespace") in held),
                  key=lambda c: (c["metadata"]["namespace"], c["metadata"]["name"]))
    out.update({
        "owners": spec.get("owners") or [], "members": spec.get("members") or [],
        "namespaceStates": status.get("namespaces") or [],
        "quota": {"total": spec.get("quota") or {}, "used": status.get("usage") or {}},
        "allowedRegistries": spec.get("allowedRegistries"), "allowedClassifications": spec.get("allowedClassifications"),
        "capabilities": [{"name": c["metadata"]["name"], "namespace": c["metadata"]["namespace"],
                          "ready": is_true(c, "Ready"), "reason": _reason(c)} for c in caps],
        "conditions": status.get("conditions") or [],
    })
    return out


def _reason(obj: Obj) -> str | None:
    return next((c.get("reason") for c in (obj.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Ready"), None)
