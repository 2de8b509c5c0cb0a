"""Rules about the platform around workloads: network isolation, data classification, sandboxes.

Pure: `rule(subject, params, ctx) -> list[Finding]` (empty when the rule does not apply to the
kind). Live objects (NetworkPolicies, ResourceQuotas) come from `ctx.related`, gathered by the caller.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from finplane.policy.rules_workload import _int_param, _str_list
from finplane.policy.subject import Context, Finding, Obj, Subject, pod_specs

__all__ = ["data_classification_isolation", "default_deny_network", "sandbox_max_lifetime",
           "sandbox_quota_present"]

PUBLIC_CHANNELS = ["mobile", "web", "open-api", "iot"]


def _selects(pod_selector: Obj, pod_labels: dict[str, str]) -> bool:
    match = pod_selector.get("matchLabels") or {}
    if pod_selector.get("matchExpressions"):
        return False  # conservative: only label maps count as evidence of a default deny
    return all(pod_labels.get(k) == v for k, v in match.items())


def _denies_all(np: Obj, pod_labels: dict[str, str]) -> bool:
    spec = np.get("spec") or {}
    types = set(spec.get("policyTypes") or [])
    return {"Ingress", "Egress"} <= types and not spec.get("ingress") and not spec.get("egress") and \
        _selects(spec.get("podSelector") or {}, pod_labels)


def default_deny_network(subject: Subject, params: dict[str, Any], ctx: Context) -> list[Finding]:
    """A NetworkPolicy denies all ingress and egress to the subject's pods by default (allowances are extra)."""
    if subject.kind == "BusinessCapability":
        policies = [c for c in subject.children if c.get("kind") == "NetworkPolicy"]
        labels = next((c["spec"]["template"]["metadata"].get("labels") or {} for c in subject.children
                       if c.get("kind") == "Deployment"), {})
        where = f"the capability's namespace {subject.namespace}"
    elif subject.kind in ("Deployment", "Pod"):
        policies = [o for o in ctx.related.get(subject.namespace, []) if o.get("kind") == "NetworkPolicy"]
        labels = (subject.spec.get("template") or {}).get("metadata", {}).get("labels") or {} \
            if subject.kind == "Deployment" else subject.labels
        where = f"namespace {subject.namespace}"
    elif subject.kind == "TenantSandbox":
        ns = subject.sandbox_namespace
        if not ns:
            return [Finding("fail", "the sandbox has no namespace yet (status.namespace is empty)")]
        policies = [o for o in ctx.related.get(ns, []) if o.get("kind") == "NetworkPolicy"]
        labels, where = {}, f"sandbox namespace {ns}"
    else:
        return []
    deny = [p["metadata"]["name"] for p in policies if _denies_all(p, labels)]
    if deny:
        return [Finding("pass", f"default deny by NetworkPolicy {deny[0]}")]
    return [Finding("fail", f"no default-deny NetworkPolicy (Ingress and Egress, no rules) selects the pods in {where}")]


def _routes(channel: Obj) -> list[tuple[str, str]]:
    out = []
    for r in (channel.get("spec") or {}).get("routes") or []:
        for ref in (r.get("capability"), (r.get("canary") or {}).get("capability")):
            if ref:
                out.append((ref.get("namespace", ""), ref.get("name", "")))
    return out


def data_classification_isolation(subject: Subject, params: dict[str, Any], ctx: Context) -> list[Finding]:
    """Capabilities of isolated `classifications` (default restricted) are never on public channels
    (`publicChannelTypes`, default mobile, web, open-api, iot) and, when `nodeSelector` is given,
    run only on nodes with those labels."""
    public = _str_list(params, "publicChannelTypes", PUBLIC_CHANNELS)
    isolated = _str_list(params, "classifications", ["restricted"])
    node_selector = params.get("nodeSelector") or {}
    if isinstance(public, str) or isinstance(isolated, str) or not isinstance(node_selector, dict):
        return [Finding("error", public if isinstance(public, str) else
                        isolated if isinstance(isolated, str) else "parameter nodeSelector must be a map")]
    problems: list[str] = []
    if subject.kind == "Channel":
        if subject.spec.get("type") not in public:
            return [Finding("pass", f"channel type {subject.spec.get('type')} is not public")]
        for key in _routes(subject.body):
            cap = ctx.capabilities.get(key)
            cls = str(((cap or {}).get("spec") or {}).get("dataClassification") or "internal")
            if cap is not None and cls in isolated:
                problems.append(f"public {subject.spec.get('type')} channel routes to {cls} capability {key[0]}/{key[1]}")
        return _ok(problems, "no isolated capability on this public channel")
    if subject.kind not in ("BusinessCapability", "Deployment", "Pod"):
        return []
    level = subject.classification
    if level not in isolated:
        return [Finding("pass", f"classification {level or 'unset'} needs no isolation")]
    if subject.kind == "BusinessCapability":
        me = (subject.namespace, subject.name)
        for (_, cname), ch in sorted(ctx.channels.items()):
            if (ch.get("spec") or {}).get("type") in public and me in _routes(ch):
                problems.append(f"{level} capability is exposed on public {ch['spec']['type']} channel {cname}")
    for where, ps in pod_specs(subject):
        have = ps.get("nodeSelector") or {}
        missing = {k: v for k, v in node_selector.items() if have.get(k) != v}
        if missing:
            problems.append(f"{where} is not restricted to nodes labelled "
                            + ", ".join(f"{k}={v}" for k, v in sorted(missing.items())))
    return _ok(problems, f"{level} workload is isolated")


def _ok(problems: list[str], ok: str) -> list[Finding]:
    return [Finding("fail", "; ".join(problems[:10]))] if problems else [Finding("pass", ok)]


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def sandbox_max_lifetime(subject: Subject, params: dict[str, Any], ctx: Context) -> list[Finding]:
    """A sandbox lives at most `maxSeconds` (default 90 days) from its creation."""
    if subject.kind != "TenantSandbox":
        return []
    limit = _int_param(params, "maxSeconds", 90 * 24 * 3600)
    if isinstance(limit, str):
        return [Finding("error", limit)]
    created = _parse_time(subject.body.get("metadata", {}).get("creationTimestamp")) or datetime.now(UTC)
    if subject.spec.get("ttlSeconds") is not None:
        lifetime = int(subject.spec["ttlSeconds"])
    else:
        expires = _parse_time(subject.spec.get("expiresAt"))
        if expires is None:
            return [Finding("fail", "the sandbox has no expiry (ttlSeconds or expiresAt)")]
        lifetime = int((expires - created).total_seconds())
    if lifetime > limit:
        return [Finding("fail", f"lifetime {lifetime}s exceeds the maximum {limit}s")]
    return [Finding("pass", f"lifetime {lifetime}s within the maximum {limit}s")]


def sandbox_quota_present(subject: Subject, params: dict[str, Any], ctx: Context) -> list[Finding]:
    """The sandbox namespace has a ResourceQuota bounding each of `resources` (default cpu, memory, pods).

    `cpu` is satisfied by cpu, requests.cpu or limits.cpu (likewise memory); other names must match exactly.
    """
    if subject.kind != "TenantSandbox":
        return []
    wanted = _str_list(params, "resources", ["cpu", "memory", "pods"])
    if isinstance(wanted, str):
        return [Finding("error", wanted)]
    ns = subject.sandbox_namespace
    if not ns:
        return [Finding("fail", "the sandbox has no namespace yet (status.namespace is empty)")]
    quotas = [o for o in ctx.related.get(ns, []) if o.get("kind") == "ResourceQuota"]
    if not quotas:
        return [Finding("fail", f"no ResourceQuota in sandbox namespace {ns}")]
    hard = {k for q in quotas for k in ((q.get("spec") or {}).get("hard") or {})}
    missing = [r for r in wanted if not ({r, f"requests.{r}", f"limits.{r}"} & hard)]
    if missing:
        return [Finding("fail", f"ResourceQuota in {ns} does not bound {', '.join(missing)}")]
    return [Finding("pass", f"ResourceQuota {quotas[0]['metadata']['name']} bounds {', '.join(wanted)}")]
