"""Render results as standard wgpolicyk8s.io/v1alpha2 PolicyReport / ClusterPolicyReport objects.

Pure; called by the compliance reconciler. One PolicyReport per policy and namespace, one
ClusterPolicyReport per policy for cluster-scoped objects (sandboxes, channels), so that existing
tools (Policy Reporter, kubectl) read them. Reports stay bounded: at most `max_results` results
(failures first); the summary still counts every result and an annotation says how many are shown.
Result timestamps are when the result last changed, so an unchanged evaluation renders the same report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from finplane.policy.engine import Result
from finplane.policy.subject import Obj

__all__ = ["API_VERSION", "TRUNCATED_ANNOTATION", "render_reports", "report_name"]

API_VERSION = "wgpolicyk8s.io/v1alpha2"
TRUNCATED_ANNOTATION = "finplane.io/results-truncated"
_ORDER = {"fail": 0, "error": 1, "warn": 2, "skip": 3, "pass": 4}


def report_name(policy: str) -> str:
    return f"finplane-{policy}"[:253]


def _result(r: Result, *, mode: str, since: dict[str, int]) -> Obj:
    props = {"team": r.team or "-", "mode": mode, "object": r.object}
    if r.waiver:
        props.update({"waived": "true", "waiver": r.waiver, "ticket": r.waiver_ticket or "",
                      "waiverExpires": r.waiver_expires or ""})
    return {
        "policy": r.policy, "rule": r.rule, "category": r.category, "severity": r.severity,
        "result": r.result, "message": r.message[:1024], "source": "finplane", "scored": True,
        "resources": [dict(r.resource)], "timestamp": {"seconds": int(since.get(r.key, 0)), "nanos": 0},
        "properties": props,
    }


def _report(kind: str, policy: str, namespace: str | None, results: list[Result], *, mode: str,
            since: dict[str, int], max_results: int) -> Obj:
    summary = {k: 0 for k in ("pass", "fail", "warn", "error", "skip")}
    for r in results:
        summary[r.result] += 1
    ordered = sorted(results, key=lambda r: (_ORDER.get(r.result, 9), r.object, r.rule))
    shown = ordered[:max_results]
    meta: Obj = {"name": report_name(policy),
                 "labels": {"app.kubernetes.io/managed-by": "finplane", "finplane.io/policy": policy}}
    if namespace:
        meta["namespace"] = namespace
    if len(shown) < len(ordered):
        meta["annotations"] = {TRUNCATED_ANNOTATION: f"showing {len(shown)} of {len(ordered)} results "
                                                     "(failures first); the summary counts all of them"}
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": meta, "summary": summary,
            "results": [_result(r, mode=mode, since=since) for r in shown]}


def render_reports(policy: str, results: Iterable[Result], *, mode: str, since: dict[str, int] | None = None,
                   max_results: int = 200) -> list[Obj]:
    """PolicyReports (one per namespace) then at most one ClusterPolicyReport, in a stable order."""
    by_ns: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_ns[r.namespace].append(r)
    since = since or {}
    out = [_report("PolicyReport", policy, ns, rs, mode=mode, since=since, max_results=max_results)
           for ns, rs in sorted(by_ns.items()) if ns]
    if by_ns.get(""):
        out.append(_report("ClusterPolicyReport", policy, None, by_ns[""], mode=mode, since=since,
                           max_results=max_results))
    return out
