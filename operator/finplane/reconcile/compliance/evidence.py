"""Record what changed since the last evaluation of a policy in the evidence log.

Called by the compliance reconciler after each evaluation. Compares the new results, active
waivers and mode with the last recorded state (replayed from the log at start, so a restart
records nothing new for an unchanged cluster) and appends one chained entry per change.
Returns the waiver changes so that the reconciler posts events for them.
"""

from __future__ import annotations

from datetime import datetime

from finplane.models.compliance_policy import CompliancePolicySpec
from finplane.policy.engine import Result
from finplane.policy.evidence import EvidenceLog, parse_time

__all__ = ["record_changes", "since_map"]


def record_changes(log: EvidenceLog, policy: str, spec: CompliancePolicySpec, results: list[Result], *,
                   now: datetime) -> list[tuple[str, str]]:
    """Append entries for changed results, waivers and mode; returns [(event, waiver name)]."""
    if log.modes.get(policy) != str(spec.mode):
        log.append({"type": "mode", "policy": policy, "mode": str(spec.mode),
                    "previous": log.modes.get(policy)}, now=now)
    current = {r.key: r for r in results}
    for key, r in sorted(current.items()):
        before = log.results.get(key)
        if before is None or before.get("result") != r.result or before.get("waiver") != r.waiver:
            log.append({"type": "result", "key": key, "policy": policy, "rule": r.rule, "severity": r.severity,
                        "object": r.object, "kind": r.kind, "namespace": r.namespace, "name": r.name,
                        "team": r.team or None, "result": r.result,
                        "previous": before.get("result") if before else None,
                        "message": r.message[:512], "waiver": r.waiver, "ticket": r.waiver_ticket}, now=now)
    for key, before in sorted(log.results.items()):
        if before.get("policy") == policy and key not in current:
            log.append({"type": "result", "key": key, "policy": policy, "rule": before.get("rule"),
                        "object": before.get("object"), "team": before.get("team"), "result": "removed",
                        "previous": before.get("result"), "message": "no longer selected or evaluated"}, now=now)
    changes: list[tuple[str, str]] = []
    active = {w.name: w for w in spec.waivers if w.active(now=now)}
    for w in spec.waivers:
        state = log.waivers.get(f"{policy}/{w.name}")
        if w.name in active and state != "granted":
            log.append({"type": "waiver-granted", "policy": policy, "waiver": w.name, "rule": str(w.rule_id),
                        "ticket": w.ticket, "approvedBy": w.approved_by, "requestedBy": w.requested_by,
                        "riskRating": str(w.risk_rating), "expiresAt": w.expires_at.isoformat(),
                        "justification": w.justification}, now=now)
            changes.append(("WaiverGranted", w.name))
        elif w.name not in active and state != "expired":
            log.append({"type": "waiver-expired", "policy": policy, "waiver": w.name, "rule": str(w.rule_id),
                        "ticket": w.ticket, "expiresAt": w.expires_at.isoformat()}, now=now)
            changes.append(("WaiverExpired", w.name))
    return changes


def since_map(log: EvidenceLog, results: list[Result]) -> dict[str, int]:
    """When each result last changed (epoch seconds), for stable PolicyReport timestamps."""
    out = {}
    for r in results:
        entry = log.results.get(r.key)
        if entry is not None:
            out[r.key] = int(parse_time(entry["time"]).timestamp())
    return out
