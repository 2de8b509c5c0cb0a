"""Which objects a CompliancePolicy selects, and which waiver covers a result.

Pure; called by the engine. Kinds default to the Finplane kinds (BusinessCapability, TenantSandbox,
Channel); Deployments and Pods are evaluated only when named, since they are many.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from finplane.models.compliance_policy import PolicySelector, Waiver
from finplane.policy.subject import Context, Subject

__all__ = ["DEFAULT_KINDS", "matches_labels", "selected", "selected_kinds", "waiver_for"]

DEFAULT_KINDS = ("BusinessCapability", "TenantSandbox", "Channel")


def selected_kinds(selector: PolicySelector) -> tuple[str, ...]:
    return tuple(str(k) for k in selector.kinds) or DEFAULT_KINDS


def matches_labels(selector: Any, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector (model or dict) against a label map."""
    if selector is None:
        return True
    sel = selector if isinstance(selector, dict) else selector.model_dump(by_alias=True, exclude_none=True)
    if any(labels.get(k) != v for k, v in (sel.get("matchLabels") or {}).items()):
        return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        ok = {"In": key in labels and labels[key] in values, "NotIn": labels.get(key) not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}.get(op, False)
        if not ok:
            return False
    return True


def _namespaces(subject: Subject, ctx: Context) -> list[str]:
    if subject.kind == "TenantSandbox":
        return [subject.sandbox_namespace] if subject.sandbox_namespace else []
    if subject.kind == "Channel":
        return sorted({r["capability"]["namespace"] for r in subject.spec.get("routes") or []
                       if (r.get("capability") or {}).get("namespace")})
    return [subject.namespace]


def _classifications(subject: Subject, ctx: Context) -> set[str]:
    if subject.kind == "Channel":
        out = set()
        for r in subject.spec.get("routes") or []:
            ref = r.get("capability") or {}
            cap = ctx.capabilities.get((ref.get("namespace", ""), ref.get("name", "")))
            if cap is not None:
                out.add(str((cap.get("spec") or {}).get("dataClassification") or "internal"))
        return out
    return {subject.classification} if subject.classification else set()


def selected(selector: PolicySelector, subject: Subject, ctx: Context) -> bool:
    """Every part of the selector that is given must match; empty parts match everything."""
    if subject.kind not in selected_kinds(selector):
        return False
    namespaces = _namespaces(subject, ctx)
    if selector.namespaces and not set(namespaces) & set(selector.namespaces):
        return False
    if selector.namespace_selector is not None and not any(
            matches_labels(selector.namespace_selector, ctx.namespace_labels.get(ns, {})) for ns in namespaces):
        return False
    if selector.label_selector is not None and not matches_labels(selector.label_selector, subject.labels):
        return False
    wanted = {str(c) for c in selector.data_classifications}
    return not wanted or bool(wanted & _classifications(subject, ctx))


def waiver_for(waivers: list[Waiver], rule_id: str, subject: Subject, *, now: datetime) -> Waiver | None:
    """The first active waiver of `rule_id` covering the subject (expired waivers never apply)."""
    for w in waivers:
        if str(w.rule_id) != rule_id or not w.active(now=now):
            continue
        for ref in w.objects:
            if str(ref.kind) == subject.kind and ref.namespace in (None, subject.namespace or None) \
                    and ref.name in (None, subject.name):
                return w
    return None
