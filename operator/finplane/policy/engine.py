"""Evaluate one CompliancePolicy over its selected objects: rules, then waivers, giving results.

Pure: called by the compliance reconciler, the enforcement hook and the preview. Capabilities are
evaluated together with their rendered children (the Deployment and NetworkPolicies the platform
would apply), so a result speaks about what actually runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.models.compliance_policy import CompliancePolicySpec
from finplane.policy.library import RULES
from finplane.policy.selection import selected, waiver_for
from finplane.policy.subject import Context, Obj, Subject
from finplane.render.capability import CapabilityContext, render_capability
from finplane.settings import Settings

__all__ = ["Result", "capability_subject", "evaluate", "object_key"]


@dataclass(frozen=True)
class Result:
    """One rule's outcome for one object under one policy, after waivers."""

    policy: str
    rule: str
    category: str
    severity: str
    kind: str
    namespace: str
    name: str
    team: str
    result: str  # pass | fail | skip | error
    message: str
    resource: tuple[tuple[str, str], ...]  # the subject's ObjectReference, hashable
    waiver: str | None = None
    waiver_ticket: str | None = None
    waiver_expires: str | None = None

    @property
    def object(self) -> str:
        return f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"

    @property
    def key(self) -> str:
        """Stable identity of the result across evaluations (the evidence log's key)."""
        return f"{self.policy}|{self.rule}|{self.object}"


def object_key(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace + '/' if namespace else ''}{name}"


def capability_subject(body: Obj, settings: Settings, *, dependents: tuple[tuple[str, str], ...] = ()) -> Subject:
    """A capability with its rendered children; a spec that does not parse gets no children."""
    meta = body.get("metadata", {})
    try:
        spec = BusinessCapabilitySpec.model_validate(body.get("spec") or {})
        children = render_capability(name=meta.get("name", ""), namespace=meta.get("namespace", ""), spec=spec,
                                     settings=settings, ctx=CapabilityContext(dependents=dependents))
    except (ValidationError, ValueError):
        children = []
    return Subject("BusinessCapability", body, children)


def evaluate(spec: CompliancePolicySpec, policy: str, subjects: Iterable[Subject], ctx: Context, *,
             now: datetime) -> list[Result]:
    """Every enabled rule on every selected subject it applies to; active waivers turn fail into skip."""
    out: list[Result] = []
    for subject in subjects:
        if not selected(spec.selector, subject, ctx):
            continue
        ref = tuple(sorted(subject.ref().items()))
        for rule in spec.rules:
            info = RULES[str(rule.id)]
            if not rule.enabled or subject.kind not in info.kinds:
                continue
            for finding in info.check(subject, dict(rule.parameters), ctx):
                severity = str(rule.severity) if rule.severity else info.severity
                result, message, waiver = finding.result, finding.message, None
                if result == "fail":
                    waiver = waiver_for(spec.waivers, info.id, subject, now=now)
                    if waiver is not None:
                        result = "skip"
                        message = f"waived by {waiver.name} ({waiver.ticket}) until " \
                                  f"{waiver.expires_at.isoformat()}: {finding.message}"
                out.append(Result(
                    policy=policy, rule=info.id, category=info.category, severity=severity,
                    kind=subject.kind, namespace=subject.namespace, name=subject.name, team=subject.team,
                    result=result, message=message, resource=ref,
                    waiver=waiver.name if waiver else None, waiver_ticket=waiver.ticket if waiver else None,
                    waiver_expires=waiver.expires_at.isoformat() if waiver else None))
    return out
