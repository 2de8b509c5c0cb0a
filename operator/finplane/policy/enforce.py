"""The enforcement hook the reconcilers call before applying children: which enforced rules refuse this object.

Pure. `enforced_violations` evaluates every CompliancePolicy in enforce mode that selects the
object (with its rendered children) and returns the failing, unwaived rules. The capability
reconciler refuses with `PolicyViolation` when the list is not empty; `finplane compliance
preview` calls the same function with the policy switched to enforce, so the preview lists
exactly what enforce would refuse.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import ValidationError

from finplane.models.compliance_policy import CompliancePolicySpec, Mode
from finplane.policy.engine import evaluate
from finplane.policy.subject import Context, Obj, Subject

__all__ = ["enforced_violations"]


def enforced_violations(policies: Iterable[Obj], kind: str, body: Obj, rendered_children: list[Obj], *,
                        ctx: Context | None = None, now: datetime | None = None,
                        force_enforce: bool = False) -> list[tuple[str, str]]:
    """(rule id, message) of every enforced rule the object fails, in policy then rule order.

    `force_enforce` treats audit policies as enforced (the preview). Policies whose spec does not
    parse are ignored here (their own reconcile reports them).
    """
    moment = now or datetime.now(UTC)
    subject = Subject(kind, body, list(rendered_children))
    out: list[tuple[str, str]] = []
    for policy in sorted(policies, key=lambda p: p.get("metadata", {}).get("name", "")):
        try:
            spec = CompliancePolicySpec.model_validate(policy.get("spec") or {})
        except ValidationError:
            continue
        if spec.mode != Mode.ENFORCE and not force_enforce:
            continue
        name = policy.get("metadata", {}).get("name", "")
        for r in evaluate(spec, name, [subject], ctx or Context(), now=moment):
            if r.result == "fail":
                out.append((r.rule, f"{r.message} (policy {name})"))
    return out
