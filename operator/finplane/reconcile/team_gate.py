"""A capability's team and whether the team admits it, from the operator's stores (no API calls).

Called by the capability reconciler before anything is applied (`gate`, whose refusals are not terminal: the
watches of `capability_watches` re-evaluate them) and by the Team reconciler for the usage it reports
(`team_admission`); both read the same stores through the same pure rules
(`render.team_checks`), so a capability's condition and its Team's status always agree.

The Team status records which namespaces it holds; a capability's team is that Team, never `owner.team`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.models.team import TeamSpec
from finplane.names import BUSINESS_CAPABILITY, TEAM
from finplane.reconcile.runtime import Key, Runtime
from finplane.reconcile.shape import Watch
from finplane.render.team_checks import (
    Admission,
    Problem,
    admit,
    check_allowed,
    reserved_problem,
    team_of_namespace,
    use_of,
)

__all__ = ["CAPABILITY", "PENDING", "REFUSAL_REASONS", "TEAM", "capability_watches", "gate", "team_admission", "team_namespaces",
           "team_spec"]

CAPABILITY = BUSINESS_CAPABILITY
Obj = dict[str, Any]


def team_spec(rt: Runtime, team: str) -> TeamSpec | None:
    body = rt.get(TEAM, ("", team))
    if body is None:
        return None
    try:
        return TeamSpec.model_validate(body.get("spec") or {})
    except ValidationError:
        return None


def team_namespaces(rt: Runtime, team: str) -> set[str]:
    """The namespaces Team `team` holds (its status records them and its spec still lists them)."""
    body = rt.get(TEAM, ("", team))
    if body is None:
        return set()
    teams = list(rt.stores.get(TEAM, {}).values())
    return {ns for ns in (body.get("spec") or {}).get("namespaces") or [] if team_of_namespace(ns, teams) == team}


def _candidate(team: str, spec: TeamSpec, body: Obj) -> BusinessCapabilitySpec | None:
    """The capability's spec when it takes part in the quota: it parses, names this team and passes the allow-lists."""
    try:
        cap = BusinessCapabilitySpec.model_validate(body.get("spec") or {})
    except ValidationError:
        return None
    if cap.owner.team != team or check_allowed(team=team, spec=spec, capability=cap) is not None:
        return None
    return cap


def team_admission(rt: Runtime, team: str, spec: TeamSpec) -> Admission:
    """Usage and refusals of the team quota over every capability in the team's namespaces."""
    held = team_namespaces(rt, team)
    d = rt.settings.default_resources
    uses = []
    for key, body in rt.stores.get(CAPABILITY, {}).items():
        if key[0] not in held or body["metadata"].get("deletionTimestamp"):
            continue
        cap = _candidate(team, spec, body)
        if cap is not None:
            uses.append(use_of(key=key, created=str(body["metadata"].get("creationTimestamp") or ""), spec=cap,
                               default_cpu=d.cpu_request, default_memory=d.memory_request,
                               incumbent=_admitted_last_pass(body)))
    return admit(team=team, quota=spec.quota, uses=uses)


#: Not a refusal: the namespace's Team has not written its status yet (the capability waits, silently).
PENDING = Problem("TeamPending", "the Team listing this namespace has not provisioned it yet")


def _listed_not_yet_held(rt: Runtime, ns: str) -> bool:
    """Some Team lists `ns` and has not reconciled its current spec yet (it is about to provision it)."""
    for body in rt.stores.get(TEAM, {}).values():
        meta, status = body["metadata"], body.get("status") or {}
        if ns in ((body.get("spec") or {}).get("namespaces") or []) and not meta.get("deletionTimestamp") \
                and status.get("observedGeneration") != meta.get("generation"):
            return True
    return False


def gate(rt: Runtime, key: Key, spec: BusinessCapabilitySpec) -> Problem | None:
    """Why the capability may not be applied on its team's behalf, `PENDING` (not yet), or None (it may)."""
    ns = key[0]
    reserved = reserved_problem(ns, own_namespace=rt.settings.pod_namespace,
                                extra=rt.settings.admission_protected_namespaces)
    team = team_of_namespace(ns, rt.stores.get(TEAM, {}).values())
    if team is None and not reserved and _listed_not_yet_held(rt, ns):
        return PENDING  # a Team lists it but has not recorded it yet: its status change wakes this capability
    if team is None:
        if reserved or rt.settings.team_ownership == "enforce":
            return Problem("TeamNotFound", f"no Team owns namespace {ns}" + (f" ({reserved})" if reserved else "")
                           + "; create a Team that lists it in spec.namespaces (docs/teams.md); nothing is applied")
        return None  # migrate mode: a namespace labelled by hand keeps working until a Team adopts it
    if spec.owner.team != team:
        return Problem("TeamMismatch", f"namespace {ns} belongs to team {team}, but spec.owner.team says "
                                       f"{spec.owner.team}; a capability's team is its namespace's team: set "
                                       f"spec.owner.team to {team}")
    tspec = team_spec(rt, team)
    if tspec is None:
        return Problem("TeamNotFound", f"Team {team} has an invalid spec; nothing is applied until it is fixed")
    problem = check_allowed(team=team, spec=tspec, capability=spec)
    if problem is not None:
        return problem
    return team_admission(rt, team, tspec).refused.get(key)



def capability_watches(rt: Runtime) -> list[Watch]:
    """What wakes a capability on its team's behalf (declared by the capability reconciler): its Team changing
    (spec, or the namespaces its status holds), and another capability of the team going or changing its spec
    (a refused one may fit now, and becomes Ready by itself)."""

    def in_namespaces(namespaces: set[str], *, refused_only: bool) -> list[Key]:
        return [key for key, body in rt.stores.get(CAPABILITY, {}).items()
                if key[0] in namespaces and (not refused_only or _refused_by_team(body))]

    def team_changed(event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        if old is not None and event != "DELETED" and new.get("spec") == old.get("spec") and \
                (new.get("status") or {}).get("namespaces") == (old.get("status") or {}).get("namespaces"):
            return []
        listed = {*((new.get("spec") or {}).get("namespaces") or []),
                  *(((old or {}).get("spec") or {}).get("namespaces") or [])}
        return in_namespaces(listed, refused_only=False)

    def capability_changed(event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        if old is None or event in ("ADDED", "LISTED") or (event != "DELETED" and new.get("spec") == old.get("spec")):
            return []  # a new capability cannot displace older ones (oldest first): nothing else changes
        team = team_of_namespace(new["metadata"].get("namespace", ""), rt.stores.get(TEAM, {}).values())
        return in_namespaces(team_namespaces(rt, team), refused_only=False) if team else []

    return [Watch(TEAM, team_changed), Watch(CAPABILITY, capability_changed)]


#: The reasons `gate` refuses with.
REFUSAL_REASONS = frozenset({"TeamNotFound", "TeamMismatch", "QuotaExceeded", "RegistryNotAllowed",
                             "ClassificationNotAllowed"})


def _admitted_last_pass(body: Obj) -> bool:
    """The capability has been through a pass and the team quota did not refuse it."""
    ready: Obj | None = next((c for c in (body.get("status") or {}).get("conditions") or []
                              if c.get("type") == "Ready"), None)
    return ready is not None and ready.get("reason") != "QuotaExceeded"


def _refused_by_team(body: Obj) -> bool:
    ready: Obj = next((c for c in (body.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), {})
    return ready.get("reason") in REFUSAL_REASONS
