"""The rolled-up `Compliant` condition on BusinessCapability, TenantSandbox and Channel objects.

Called by the compliance reconciler after each policy evaluation. The condition belongs to
compliance while the kind's own reconciler owns the rest of the conditions list (and carries
`Compliant` over), so this module merges one condition into the live list: read, modify, write
with the object's resourceVersion as a precondition, and retry on a conflict. It writes only when
the condition's status, reason or message changes.
"""

from __future__ import annotations

import logging
from typing import Any

from finplane.kube.client import Kube
from finplane.kube.errors import Conflict, NotFound
from finplane.policy.engine import Result
from finplane.status.conditions import Cond, merge_conditions
from finplane.status.vocabulary import ConditionType, Reason

__all__ = ["ROLLUP_KINDS", "compliant_condition", "write_compliant"]

log = logging.getLogger("finplane.compliance")
ROLLUP_KINDS = ("BusinessCapability", "TenantSandbox", "Channel")
Obj = dict[str, Any]


def compliant_condition(results: list[Result]) -> Cond:
    """True when no result fails; the failing rule ids (and policies) in the message otherwise."""
    if not results:
        return Cond(ConditionType.COMPLIANT, "True", Reason.NO_POLICY_SELECTS, "no CompliancePolicy selects this object")
    failing = sorted({f"{r.rule} ({r.policy})" for r in results if r.result in ("fail", "error")})
    waived = sorted({r.rule for r in results if r.result == "skip"})
    if failing:
        return Cond(ConditionType.COMPLIANT, "False", Reason.RULES_FAILING, f"failing rules: {', '.join(failing)}")
    if waived:
        return Cond(ConditionType.COMPLIANT, "True", Reason.COMPLIANT_WITH_WAIVERS, f"compliant; waived rules: {', '.join(waived)}")
    return Cond(ConditionType.COMPLIANT, "True", Reason.COMPLIANT, f"all {len(results)} evaluated rules pass")


def _same(old: Obj | None, want: Cond) -> bool:
    return old is not None and (old.get("status"), old.get("reason"), old.get("message")) == \
        (want.status, want.reason, want.message)


async def write_compliant(kube: Kube, body: Obj, want: Cond) -> bool:
    """Merge `want` into the object's conditions if it differs; returns whether it wrote."""
    meta = body["metadata"]
    for _ in range(3):
        conds = list((body.get("status") or {}).get("conditions") or [])
        old = next((c for c in conds if c.get("type") == "Compliant"), None)
        if _same(old, want):
            return False
        merged = merge_conditions([old] if old else [], [want], generation=meta.get("generation"))[0]
        new = [c for c in conds if c.get("type") != "Compliant"] + [merged]
        patch = {"metadata": {"resourceVersion": meta.get("resourceVersion")}, "status": {"conditions": new}}
        try:
            await kube.patch_merge(body["apiVersion"], body["kind"], meta["name"], patch, meta.get("namespace"),
                                   subresource="status")
            log.info("Set Compliant=%s on %s %s/%s", want.status, body["kind"], meta.get("namespace") or "-",
                     meta["name"])
            return True
        except NotFound:
            return False
        except Conflict:
            try:
                body = await kube.get(body["apiVersion"], body["kind"], meta["name"], meta.get("namespace"))
            except NotFound:
                return False
            meta = body["metadata"]
    return False
