"""Capabilities of one team: list, read, create, update, delete (routes in routers/capabilities.py).

Authorisation: a team acts only on its own team's path; another team's path answers 404 as if
it did not exist. Auditors read; partners have no access. Writes go to the BusinessCapability CR
in the team's namespace; the operator does the rest.
"""

from __future__ import annotations

import copy
from typing import Any

from finplane import API_VERSION
from finplane.kube import errors as kerr
from platform_api.auth.identity import Identity, Role
from platform_api.authz import may_see_team, not_found, require_role, team_of_capability
from platform_api.cache import CAPABILITY, ReadCache
from platform_api.problems import Problem
from platform_api.services import teams
from platform_api.services.common import check_if_match, is_true, stale, validate_spec
from platform_api.services.models import spec_model
from platform_api.settings import ApiSettings
from platform_api.state import Writer

__all__ = ["create", "delete", "get", "list_team", "public", "update"]

Obj = dict[str, Any]


def _namespace(settings: ApiSettings, team: str, cache: ReadCache) -> str:
    return teams.namespace_of(cache=cache, settings=settings, team=team)  # 404 TeamNotOnboarded unless its Team's


def _check_team(identity: Identity, team: str, *, write: bool) -> None:
    if write:
        require_role(identity, Role.TEAM, Role.ADMIN)
    else:
        require_role(identity, Role.TEAM, Role.ADMIN, Role.AUDITOR)
    if not may_see_team(identity, team):
        raise Problem(404, f"Team {team!r} was not found.", slug="not-found", reason="NotFound")


def public(obj: Obj) -> Obj:
    meta = obj.get("metadata", {})
    return {"name": meta.get("name"), "namespace": meta.get("namespace"), "team": team_of_capability(obj),
            "resourceVersion": meta.get("resourceVersion", ""), "spec": obj.get("spec") or {},
            "status": obj.get("status") or {}, "ready": is_true(obj, "Ready")}


def list_team(*, identity: Identity, cache: ReadCache, settings: ApiSettings, team: str) -> list[Obj]:
    _check_team(identity, team, write=False)
    ns = _namespace(settings, team, cache)
    return [o for o in cache.list(CAPABILITY)
            if o.get("metadata", {}).get("namespace") == ns and team_of_capability(o) == team]


def get(*, identity: Identity, cache: ReadCache, settings: ApiSettings, team: str, name: str) -> Obj:
    _check_team(identity, team, write=False)
    obj = cache.get(CAPABILITY, name, _namespace(settings, team, cache))
    if obj is None or team_of_capability(obj) != team:
        raise not_found("Capability", name)
    return obj


def _checked_spec(team: str, spec: Obj) -> Obj:
    spec = copy.deepcopy(spec)
    owner = spec.setdefault("owner", {})
    if not isinstance(owner, dict):
        raise Problem(422, "spec.owner must be an object.", slug="validation", reason="ValidationFailed",
                      errors=[{"field": "spec.owner", "message": "must be an object"}])
    owner.setdefault("team", team)
    if owner.get("team") != team:
        raise Problem(422, "spec.owner.team must be the team of the path.", slug="validation",
                      reason="ValidationFailed", errors=[{"field": "spec.owner.team", "message": f"must be {team!r}"}])
    return validate_spec(spec_model("BusinessCapability"), spec)


async def create(*, identity: Identity, cache: ReadCache, writer: Writer, settings: ApiSettings, team: str,
                 name: str, spec: Obj) -> Obj:
    _check_team(identity, team, write=True)
    body = {"apiVersion": API_VERSION, "kind": "BusinessCapability",
            "metadata": {"name": name, "namespace": _namespace(settings, team, cache),
                         "labels": {"finplane.io/team": team},
                         "annotations": {"finplane.io/created-by": identity.subject}},
            "spec": _checked_spec(team, spec)}
    try:
        created = await writer.create(body)
    except kerr.NotFound:
        # The namespace is missing: the team has not been onboarded on this cluster.
        raise Problem(404, f"Team {team!r} has no namespace on this cluster; ask the platform team to onboard it.",
                      slug="not-found", reason="TeamNotOnboarded") from None
    cache.observe(created)
    return created


async def update(*, identity: Identity, cache: ReadCache, writer: Writer, settings: ApiSettings, team: str,
                 name: str, spec: Obj, if_match: str | None) -> Obj:
    _check_team(identity, team, write=True)
    current = get(identity=identity, cache=cache, settings=settings, team=team, name=name)
    asked = check_if_match(if_match, current)
    body = copy.deepcopy(current)
    body.pop("status", None)
    body["spec"] = _checked_spec(team, spec)
    if asked is not None:
        body["metadata"]["resourceVersion"] = asked
    try:
        written = await writer.replace(body)
    except kerr.Conflict:
        # The cache was behind the cluster, or someone wrote in between: the caller must re-read.
        raise stale(current.get("metadata", {}).get("resourceVersion", "")) from None
    cache.observe(written)
    return written


async def delete(*, identity: Identity, cache: ReadCache, writer: Writer, settings: ApiSettings, team: str,
                 name: str, if_match: str | None) -> None:
    _check_team(identity, team, write=True)
    current = get(identity=identity, cache=cache, settings=settings, team=team, name=name)
    check_if_match(if_match, current)
    await writer.delete(API_VERSION, "BusinessCapability", name, current["metadata"]["namespace"])
    cache.forget(current)
