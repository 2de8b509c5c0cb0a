"""What switching a CompliancePolicy to enforce would refuse (`finplane compliance preview`, the API's preview).

Pure: given the policy and the Finplane objects, renders each capability as the operator would and
runs the same `enforced_violations` hook the capability reconciler runs, with the policy treated as
enforced. `summary` is the answer as data (refused capabilities with their rules, the teams they
belong to and the channels that route to them), served by the platform API's preview route and
printed by `finplane.commands.compliance`, which reads the objects from the cluster.

`admission_preview` is the reach of the ValidatingAdmissionPolicy the policy would get in enforce mode,
taken from the very objects the compliance reconciler would apply (`render_admission_policy` with the
operator's settings): its failure policy, the rules admission checks, the namespaces it never covers, its
namespace and object selectors and, when the namespaces are given (the CLI lists them), which it reaches.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from finplane.models.compliance_policy import CompliancePolicySpec
from finplane.policy.admission import (
    ADMISSION_RULES,
    admission_options,
    protected_namespaces,
    render_admission_policy,
)
from finplane.policy.enforce import enforced_violations
from finplane.policy.engine import capability_subject
from finplane.policy.selection import matches_labels
from finplane.policy.subject import Context
from finplane.settings import get_settings

__all__ = ["admission_preview", "refusals", "routing_channels", "summary"]

Obj = dict[str, Any]


def refusals(policy: Obj, capabilities: list[Obj], channels: list[Obj]) -> list[tuple[Obj, list[tuple[str, str]]]]:
    """(capability, violations) for every capability the policy would refuse in enforce mode. Pure."""
    settings = get_settings()
    caps = {(c["metadata"].get("namespace", ""), c["metadata"]["name"]): c for c in capabilities}
    ctx = Context(capabilities=caps, channels={("", ch["metadata"]["name"]): ch for ch in channels})
    out = []
    for _, body in sorted(caps.items()):
        subject = capability_subject(body, settings)
        found = enforced_violations([policy], "BusinessCapability", body, subject.children, ctx=ctx,
                                    force_enforce=True)
        if found:
            out.append((body, found))
    return out


def routing_channels(capability: Obj, channels: list[Obj]) -> list[str]:
    """Names of the channels with a route (or a canary) to `capability`. Pure."""
    ns, name = capability["metadata"].get("namespace", ""), capability["metadata"]["name"]
    hit = set()
    for ch in channels:
        for r in (ch.get("spec") or {}).get("routes") or []:
            for ref in (r.get("capability"), (r.get("canary") or {}).get("capability")):
                if ref and (ref.get("namespace"), ref.get("name")) == (ns, name):
                    hit.add(ch["metadata"]["name"])
    return sorted(hit)


def _reached(match: Obj, namespaces: list[Obj]) -> list[str]:
    """Names of the namespaces the binding's namespace selector selects (the name label is implicit)."""
    out = []
    for ns in namespaces:
        name = ns["metadata"]["name"]
        labels = {**(ns["metadata"].get("labels") or {}), "kubernetes.io/metadata.name": name}
        if matches_labels(match.get("namespaceSelector"), labels):
            out.append(name)
    return sorted(out)


def admission_preview(policy: Obj, namespaces: list[Obj] | None = None, *, now: datetime | None = None) -> Obj:
    """The admission policy's reach in enforce mode, from the objects the reconciler would apply. Pure."""
    settings = get_settings()
    name = policy["metadata"]["name"]
    excluded = list(protected_namespaces(settings))
    out: Obj = {"name": f"finplane-{name}", "rendered": False, "failurePolicy": settings.admission_failure_policy,
                "rules": [], "resources": [], "excludedNamespaces": excluded, "namespaceSelector": None,
                "objectSelector": None, "namespaces": None, "note": ""}
    try:
        spec = CompliancePolicySpec.model_validate(policy.get("spec") or {})
    except ValidationError:
        return {**out, "note": "the policy's spec is invalid: no admission policy is rendered until it is fixed"}
    rendered = render_admission_policy(name, spec, now=now or datetime.now(UTC), **admission_options(settings))
    if not rendered:
        return {**out, "note": "no enabled rule is checkable at admission, or the policy selects only protected "
                               "namespaces: the operator's refusal is its only enforcement"}
    vap = rendered[0]["spec"]
    match = vap["matchConstraints"]
    return {**out, "rendered": True, "failurePolicy": vap["failurePolicy"],
            "rules": [str(r.id) for r in spec.rules if r.enabled and str(r.id) in ADMISSION_RULES],
            "resources": [r for rule in match["resourceRules"] for r in rule["resources"]],
            "namespaceSelector": match["namespaceSelector"], "objectSelector": match.get("objectSelector"),
            "namespaces": _reached(match, namespaces) if namespaces is not None else None,
            "note": "the namespaces listed are those the binding selects today; the object selector narrows "
                    "it to matching Pods and Deployments" if namespaces is not None else
                    "namespaces are not listed here: evaluate the namespace selector (finplane compliance "
                    "preview lists them)"}


def summary(policy: Obj, capabilities: list[Obj], channels: list[Obj], namespaces: list[Obj] | None = None) -> Obj:
    """The preview as data: refused capabilities with rules, team and channels; teams and channels hit; the
    admission policy's reach. Pure."""
    refused = []
    for cap, violations in refusals(policy, capabilities, channels):
        refused.append({"kind": "BusinessCapability", "namespace": cap["metadata"].get("namespace", ""),
                        "name": cap["metadata"]["name"],
                        "team": (cap.get("spec") or {}).get("owner", {}).get("team"),
                        "channels": routing_channels(cap, channels),
                        "violations": [{"rule": rule, "message": message} for rule, message in violations]})
    return {"policy": policy["metadata"]["name"], "mode": (policy.get("spec") or {}).get("mode", "audit"),
            "evaluated": len(capabilities), "refused": refused,
            "teams": sorted({r["team"] for r in refused if r["team"]}),
            "channels": sorted({c for r in refused for c in r["channels"]}),
            "admission": admission_preview(policy, namespaces)}
