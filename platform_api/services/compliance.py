"""Compliance for auditors, teams and admins: policies and results (waivers: services/waivers.py).

Called by routers/compliance.py. Results come from the standard ``wgpolicyk8s.io/v1alpha2``
PolicyReport / ClusterPolicyReport objects the compliance engine writes (read from the cache).
"""

from __future__ import annotations

from typing import Any

from platform_api.auth.identity import Identity, Role
from platform_api.authz import not_found, require_role
from platform_api.cache import CLUSTER_POLICY_REPORT, POLICY, POLICY_REPORT, ReadCache

__all__ = ["get_policy", "list_policies", "policy_public", "results"]

Obj = dict[str, Any]


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
