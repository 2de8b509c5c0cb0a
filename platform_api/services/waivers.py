"""Compliance waivers: request (scoped, bounded, capped), four-eyes approval, rejection, withdrawal, listing.

Called by routers/compliance.py. A pending request is one ConfigMap (services/waiver_store.py); an
admin who is not the requester approves it, which moves it into the policy's ``spec.waivers`` in the
CRD's own shape (``finplane.models.compliance_policy.Waiver``: name, ruleId, objects, justification,
riskRating, requestedBy, approvedBy, ticket, expiresAt), checked against that model before it is written.
An admin rejects a request, its requester (or the requester's team) withdraws it. The rules: a team asks
only over objects in its own namespace (services/waiver_rules.py), a waiver ends within
``waiver_max_days``, a team has at most ``waiver_max_pending_per_team`` requests pending. A team lists the
waivers it asked for and every waiver (pending or approved) that covers objects in its namespace.
"""

from __future__ import annotations

import copy
import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from finplane import API_VERSION
from finplane.kube import errors as kerr
from finplane.models.compliance_policy import Waiver
from platform_api.auth.identity import Identity, Role, same_subject
from platform_api.authz import not_found, require_role
from platform_api.cache import POLICY, ReadCache
from platform_api.problems import Problem
from platform_api.services import waiver_rules as rules
from platform_api.services import waiver_store as store
from platform_api.services.sandbox_rules import parse_time
from platform_api.settings import ApiSettings
from platform_api.state import Writer

__all__ = ["approve_waiver", "list_waivers", "reject_waiver", "request_waiver", "to_waiver", "withdraw_waiver"]

Obj = dict[str, Any]


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _pending_view(record: Obj, state: str = "pending") -> Obj:
    return {"id": record["id"], "policy": str(record.get("policy", "")), "state": state,
            "rule": str(record.get("rule", "")), "requestedBy": str(record.get("requestedBy", "")),
            "team": record.get("team"), "approver": None, "expiresAt": str(record.get("expiresAt", "")),
            "details": {k: v for k, v in record.items() if k != "id"}}


def _approved(policy: Obj) -> list[Obj]:
    name = policy.get("metadata", {}).get("name")
    return [{"id": str(w.get("name", "")), "policy": name, "state": "approved", "rule": str(w.get("ruleId", "")),
             "requestedBy": str(w.get("requestedBy", "")), "team": None, "approver": w.get("approvedBy"),
             "expiresAt": str(w.get("expiresAt", "")), "details": w}
            for w in (policy.get("spec") or {}).get("waivers") or [] if isinstance(w, dict)]


def _team_namespace(settings: ApiSettings, team: str | None) -> str:
    return settings.team_namespace_template.format(team=team or "")


def list_waivers(*, identity: Identity, cache: ReadCache, settings: ApiSettings) -> list[Obj]:
    require_role(identity, Role.TEAM, Role.AUDITOR, Role.ADMIN)
    waivers = [_pending_view(r) for _, r in store.pending(cache, namespace=settings.waiver_namespace)]
    waivers += [w for p in cache.list(POLICY) for w in _approved(p)]
    if identity.role is Role.TEAM:
        ns = _team_namespace(settings, identity.team)
        waivers = [w for w in waivers if (w["state"] == "pending" and w["team"] == identity.team)
                   or rules.affects(w["details"].get("resources") or w["details"].get("objects") or [], ns)]
    return waivers


def _refuse(errors: list[dict[str, str]], detail: str, reason: str = "ValidationFailed") -> None:
    if errors:
        raise Problem(422, detail, slug="validation", reason=reason, errors=errors)


async def request_waiver(*, identity: Identity, cache: ReadCache, writer: Writer, settings: ApiSettings,
                         body: Obj) -> Obj:
    require_role(identity, Role.TEAM, Role.ADMIN)
    if cache.get(POLICY, body["policy"]) is None:
        raise not_found("CompliancePolicy", body["policy"])
    now = datetime.now(UTC)
    when = parse_time(body["expiresAt"])
    _refuse(rules.duration_errors(when, now=now, max_days=settings.waiver_max_days),
            "expiresAt must be a future RFC 3339 time within the longest waiver.")
    if identity.role is Role.TEAM:
        _refuse(rules.scope_errors(body["resources"], team_namespace=_team_namespace(settings, identity.team)),
                "A team may ask for waivers only over objects in its own namespace.", reason="OutOfScope")
    owner = identity.team if identity.role is Role.TEAM else None
    mine = [r for _, r in store.pending(cache, namespace=settings.waiver_namespace)
            if (r.get("team") == owner if owner else same_subject(identity, r.get("requestedBy")))]
    if len(mine) >= settings.waiver_max_pending_per_team:
        raise Problem(409, f"{len(mine)} waiver requests are already pending (at most "
                      f"{settings.waiver_max_pending_per_team}); withdraw one or wait for decisions.",
                      slug="conflict", reason="TooManyPending")
    assert when is not None  # duration_errors refused anything else
    waiver_id = f"w-{secrets.token_hex(4)}"
    record = {**body, "expiresAt": _stamp(when), "requestedBy": identity.subject, "team": owner,
              "requestedAt": _stamp(now)}
    cm = store.config_map(waiver_id=waiver_id, namespace=settings.waiver_namespace, record=record)
    try:
        created = await writer.create(cm)
    except kerr.NotFound:
        raise Problem(503, f"The waiver namespace {settings.waiver_namespace!r} does not exist; "
                      "an admin must create it (FINPLANE_API_WAIVER_NAMESPACE).", slug="not-ready",
                      reason="WaiverNamespaceMissing") from None
    cache.observe(created)
    return _pending_view({**record, "id": waiver_id})


def to_waiver(record: Obj, *, name: str, approver: str) -> Obj:
    """A pending request as an entry of ``spec.waivers``, validated by the CRD's Waiver model (422 if not)."""
    waiver = {"name": name, "ruleId": record.get("rule"), "objects": record.get("resources"),
              "justification": record.get("justification"), "riskRating": record.get("risk"),
              "requestedBy": record.get("requestedBy"), "approvedBy": approver, "ticket": record.get("ticket"),
              "expiresAt": record.get("expiresAt")}
    try:
        checked = Waiver.model_validate(waiver)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise Problem(422, "The waiver request does not make a valid policy waiver.", slug="validation",
                      reason="ValidationFailed", errors=errors) from None
    if not checked.active(now=datetime.now(UTC)):
        raise Problem(422, "The waiver request has expired; request it again with a later expiresAt.",
                      slug="validation", reason="Expired", errors=[{"field": "expiresAt", "message": "expired"}])
    return waiver


def _find(cache: ReadCache, settings: ApiSettings, policy_name: str, waiver_id: str) -> tuple[Obj, Obj]:
    for cm, record in store.pending(cache, namespace=settings.waiver_namespace):
        if record["id"] == waiver_id and record.get("policy") == policy_name:
            return cm, record
    raise not_found("Waiver request", waiver_id)


async def approve_waiver(*, identity: Identity, cache: ReadCache, writer: Writer, settings: ApiSettings,
                         policy_name: str, waiver_id: str) -> Obj:
    """Four-eyes: an admin other than the requester turns a pending waiver into a policy exception."""
    require_role(identity, Role.ADMIN)
    cm, record = _find(cache, settings, policy_name, waiver_id)
    policy = cache.get(POLICY, policy_name)
    if policy is None:
        raise not_found("CompliancePolicy", policy_name)
    if same_subject(identity, record.get("requestedBy")):
        raise Problem(403, "Four-eyes rule: the requester cannot approve its own waiver.", slug="forbidden",
                      reason="SelfApproval")
    waiver = to_waiver(record, name=waiver_id, approver=identity.subject)
    claimed = await store.claim(writer=writer, cache=cache, cm=cm)
    # The request is claimed, so no other decision can race this one; a conflict on the policy means that
    # something else wrote it (the operator's status, another waiver): append to a fresh copy, a few times.
    for attempt in range(3):
        body = copy.deepcopy(policy)
        body.pop("status", None)
        body.setdefault("spec", {}).setdefault("waivers", []).append(waiver)
        try:
            written = await writer.replace(body)
            break
        except kerr.KubeError as exc:
            if isinstance(exc, kerr.Conflict) and attempt < 2:
                try:
                    policy = await writer.get(API_VERSION, "CompliancePolicy", policy_name)
                    continue
                except kerr.KubeError:
                    pass
            await store.release(writer=writer, cache=cache, cm=claimed)  # still pending: nothing was approved
            if isinstance(exc, kerr.Conflict):
                raise Problem(409, "The policy changed meanwhile; retry.", slug="conflict", reason="Conflict") from None
            raise
    cache.observe(written)
    await store.remove(writer=writer, cache=cache, cm=claimed)
    return next(w for w in _approved(written) if w["id"] == waiver_id)


async def reject_waiver(*, identity: Identity, cache: ReadCache, writer: Writer, settings: ApiSettings,
                        policy_name: str, waiver_id: str) -> Obj:
    """An admin refuses a pending request; it is gone (the audit log and evidence chain keep the decision)."""
    require_role(identity, Role.ADMIN)
    cm, record = _find(cache, settings, policy_name, waiver_id)
    claimed = await store.claim(writer=writer, cache=cache, cm=cm)
    await store.remove(writer=writer, cache=cache, cm=claimed)
    return _pending_view(record, "rejected")


async def withdraw_waiver(*, identity: Identity, cache: ReadCache, writer: Writer, settings: ApiSettings,
                          policy_name: str, waiver_id: str) -> Obj:
    """The requester, or a member of the requesting team, takes a pending request back."""
    require_role(identity, Role.TEAM, Role.ADMIN)
    cm, record = _find(cache, settings, policy_name, waiver_id)
    own_team = identity.role is Role.TEAM and record.get("team") == identity.team
    if not own_team and not same_subject(identity, record.get("requestedBy")):
        if identity.role is Role.TEAM and not rules.affects(record.get("resources") or [],
                                                            _team_namespace(settings, identity.team)):
            raise not_found("Waiver request", waiver_id)  # not visible to this team at all
        raise Problem(403, "Only the requester or its team withdraws a waiver request (an admin rejects it).",
                      slug="forbidden", reason="NotRequester")
    claimed = await store.claim(writer=writer, cache=cache, cm=cm)
    await store.remove(writer=writer, cache=cache, cm=claimed)
    return _pending_view(record, "withdrawn")
