"""Compliance for auditors, teams and admins: policies, results, waivers with four-eyes approval.

Called by routers/compliance.py. Results come from the standard ``wgpolicyk8s.io/v1alpha2``
PolicyReport / ClusterPolicyReport objects the compliance engine writes (read from the cache).
A waiver request is kept as an annotation ``waivers.finplane.io/<id>`` (JSON) on its
CompliancePolicy; an admin who is not the requester approves it, which moves it into the
policy's ``spec.waivers`` in the CRD's own shape (``finplane.models.compliance_policy.Waiver``:
name, ruleId, objects, justification, riskRating, requestedBy, approvedBy, ticket, expiresAt),
checked against that model before it is written, and removes the annotation.
"""

from __future__ import annotations

import copy
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from finplane.kube import errors as kerr
from finplane.models.compliance_policy import Waiver
from platform_api.auth.identity import Identity, Role, same_subject
from platform_api.authz import not_found, require_role
from platform_api.cache import CLUSTER_POLICY_REPORT, POLICY, POLICY_REPORT, ReadCache
from platform_api.problems import Problem
from platform_api.services.common import replace_annotations
from platform_api.state import Writer

__all__ = ["WAIVER_PREFIX", "approve_waiver", "get_policy", "list_policies", "list_waivers", "policy_public",
           "request_waiver", "results", "to_waiver"]

Obj = dict[str, Any]
WAIVER_PREFIX = "waivers.finplane.io/"


def policy_public(obj: Obj) -> Obj:
    meta, spec = obj.get("metadata", {}), obj.get("spec") or {}
    return {"name": meta.get("name"), "mode": spec.get("mode"), "resourceVersion": meta.get("resourceVersion", ""),
            "spec": spec, "status": obj.get("status") or {}}


def list_policies(*, identity: Identity, cache: ReadCache) -> list[Obj]:
    require_role(identity, Role.TEAM, Role.AUDITOR, Role.ADMIN)
    return cache.list(POLICY)


def get_policy(*, identity: Identity, cache: ReadCache, name: str) -> Obj:
    require_role(identity, Role.TEAM, Role.AUDITOR, Role.ADMIN)
    obj = cache.get(POLICY, name)
    if obj is None:
        raise not_found("CompliancePolicy", name)
    return obj


def results(*, identity: Identity, cache: ReadCache, team: str | None = None, policy: str | None = None,
            rule: str | None = None, severity: str | None = None, result: str | None = None) -> list[Obj]:
    """Flattened report results; a team sees only results about its own team's objects."""
    require_role(identity, Role.TEAM, Role.AUDITOR, Role.ADMIN)
    if identity.role is Role.TEAM:
        if team is not None and team != identity.team:
            return []
        team = identity.team
    out: list[Obj] = []
    for report in cache.list(POLICY_REPORT) + cache.list(CLUSTER_POLICY_REPORT):
        meta = report.get("metadata", {})
        ns = meta.get("namespace")
        report_team = (meta.get("labels") or {}).get("finplane.io/team")
        for r in report.get("results") or []:
            if not isinstance(r, dict):
                continue
            props = {str(k): str(v) for k, v in (r.get("properties") or {}).items()}
            r_team = props.get("team") or report_team or ns
            item = {"policy": r.get("policy"), "rule": r.get("rule"), "result": r.get("result"),
                    "severity": r.get("severity"), "category": r.get("category"), "message": r.get("message"),
                    "namespace": ns, "resources": [x for x in r.get("resources") or [] if isinstance(x, dict)],
                    "team": r_team, "timestamp": r.get("timestamp"), "properties": props}
            if ((team is None or r_team == team) and (policy is None or item["policy"] == policy)
                    and (rule is None or item["rule"] == rule) and (severity is None or item["severity"] == severity)
                    and (result is None or item["result"] == result)):
                out.append(item)
    return out


def _waivers_of(obj: Obj) -> list[Obj]:
    out = []
    name = obj.get("metadata", {}).get("name")
    for key, raw in (obj.get("metadata", {}).get("annotations") or {}).items():
        if key.startswith(WAIVER_PREFIX):
            try:
                w = json.loads(raw)
            except ValueError:
                continue
            out.append({"id": key[len(WAIVER_PREFIX):], "policy": name, "state": "pending", "rule": w.get("rule", ""),
                        "requestedBy": w.get("requestedBy", ""), "approver": None,
                        "expiresAt": w.get("expiresAt", ""), "details": w})
    for w in (obj.get("spec") or {}).get("waivers") or []:
        if isinstance(w, dict):
            out.append({"id": str(w.get("name", "")), "policy": name, "state": "approved",
                        "rule": str(w.get("ruleId", "")), "requestedBy": str(w.get("requestedBy", "")),
                        "approver": w.get("approvedBy"), "expiresAt": str(w.get("expiresAt", "")), "details": w})
    return out


def list_waivers(*, identity: Identity, cache: ReadCache) -> list[Obj]:
    require_role(identity, Role.TEAM, Role.AUDITOR, Role.ADMIN)
    waivers = [w for p in cache.list(POLICY) for w in _waivers_of(p)]
    if identity.role is Role.TEAM:
        # Pending requests carry the requesting team; approved ones are the team's when they cover its objects.
        waivers = [w for w in waivers if w["details"].get("team") == identity.team
                   or any(isinstance(o, dict) and o.get("namespace") == identity.team
                          for o in w["details"].get("objects") or [])]
    return waivers


async def request_waiver(*, identity: Identity, cache: ReadCache, writer: Writer, body: Obj) -> Obj:
    require_role(identity, Role.TEAM, Role.ADMIN)
    policy = cache.get(POLICY, body["policy"])
    if policy is None:
        raise not_found("CompliancePolicy", body["policy"])
    try:
        when = datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or when <= datetime.now(UTC):
        raise Problem(422, "expiresAt must be a future RFC 3339 time with a time zone.", slug="validation",
                      reason="ValidationFailed", errors=[{"field": "expiresAt", "message": "not a future RFC 3339 time"}])
    waiver_id = f"w-{secrets.token_hex(4)}"
    record = {**body, "expiresAt": when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
              "requestedBy": identity.subject, "team": identity.team,
              "requestedAt": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}
    record.pop("policy", None)
    written = await replace_annotations(writer=writer, cache=cache, obj=policy,
                                        set_={WAIVER_PREFIX + waiver_id: json.dumps(record, sort_keys=True)})
    return next(w for w in _waivers_of(written) if w["id"] == waiver_id)


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


async def approve_waiver(*, identity: Identity, cache: ReadCache, writer: Writer, policy_name: str,
                         waiver_id: str) -> Obj:
    """Four-eyes: an admin other than the requester turns a pending waiver into a policy exception."""
    require_role(identity, Role.ADMIN)
    policy = cache.get(POLICY, policy_name)
    key = WAIVER_PREFIX + waiver_id
    raw = ((policy or {}).get("metadata", {}).get("annotations") or {}).get(key)
    if policy is None or raw is None:
        raise not_found("Waiver request", waiver_id)
    record = json.loads(raw)
    if same_subject(identity, record.get("requestedBy")):
        raise Problem(403, "Four-eyes rule: the requester cannot approve its own waiver.", slug="forbidden",
                      reason="SelfApproval")
    body = copy.deepcopy(policy)
    body.pop("status", None)
    waiver = to_waiver(record, name=waiver_id, approver=identity.subject)
    body.setdefault("spec", {}).setdefault("waivers", []).append(waiver)
    body["metadata"]["annotations"].pop(key, None)
    try:
        written = await writer.replace(body)
    except kerr.Conflict:
        raise Problem(409, "The policy changed meanwhile; retry.", slug="conflict", reason="Conflict") from None
    cache.observe(written)
    return next(w for w in _waivers_of(written) if w["id"] == waiver_id)
