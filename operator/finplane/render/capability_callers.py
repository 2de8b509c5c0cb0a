"""Which callers a BusinessCapability admits: the callee consents, a caller never takes.

Pure rules over parsed specs and the Teams' bodies. Called by the capability reconciler twice per pass:
for the callee's own ingress (which dependents and sandboxes it renders into its allow policy) and for the
caller's DependenciesReady condition (`CallerNotAllowed` when a dependency does not admit it), so the two
always agree.

The rule: a capability in the same namespace, or in a namespace of the same team, is admitted (a namespace's
team is the Team holding it; in migrate mode, for a namespace no Team holds, its `finplane.io/team` label);
anything else must be named in the callee's `spec.allowedCallers` (teams, namespaces, capabilities).
Approved, provisioned partner sandboxes are admitted when `allowedCallers.sandboxes` is true, or when it
is unset and the callee's data classification is not `restricted`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.models.common import DataClassification
from finplane.render.team_checks import team_of_namespace

__all__ = ["SANDBOX_CALLER_PHASES", "TEAM_LABEL", "admits_caller", "admits_sandboxes", "sandbox_may_call",
           "team_resolver"]

Obj = dict[str, Any]
Key = tuple[str, str]

#: Sandbox phases in which a sandbox is provisioned (approved, namespace in place, not torn down).
SANDBOX_CALLER_PHASES = frozenset({"Active", "Expiring"})


#: The namespace label platform engineers set by hand before Teams existed (read in migrate mode only).
TEAM_LABEL = "finplane.io/team"


def team_resolver(*, teams: Iterable[Obj], namespaces: Mapping[Key, Obj], migrate: bool) -> Callable[[str], str | None]:
    """namespace -> its team: the Team holding it; in migrate mode, for a namespace no Team holds, its
    `finplane.io/team` label (set by platform engineers, never by a team: namespaces are cluster-scoped)."""
    held = list(teams)

    def team_of(namespace: str) -> str | None:
        team = team_of_namespace(namespace, held)
        if team is None and migrate:
            labels = ((namespaces.get(("", namespace)) or {}).get("metadata") or {}).get("labels") or {}
            return labels.get(TEAM_LABEL) or None
        return team

    return team_of


def admits_caller(*, callee: Key, spec: BusinessCapabilitySpec, caller: Key,
                  team_of: Callable[[str], str | None]) -> bool:
    """Whether capability `callee` (with `spec`) admits calls from capability `caller`."""
    (callee_ns, _), (caller_ns, caller_name) = callee, caller
    if caller_ns == callee_ns:
        return True
    callee_team, caller_team = team_of(callee_ns), team_of(caller_ns)
    if callee_team is not None and caller_team == callee_team:
        return True
    allowed = spec.allowed_callers
    if allowed is None:
        return False
    if caller_team is not None and caller_team in allowed.teams:
        return True
    if caller_ns in allowed.namespaces:
        return True
    return any((ref.namespace or callee_ns, ref.name) == (caller_ns, caller_name) for ref in allowed.capabilities)


def admits_sandboxes(spec: BusinessCapabilitySpec) -> bool:
    """Whether the capability admits partner sandboxes that list it (restricted ones only when they say so)."""
    if spec.allowed_callers is not None and spec.allowed_callers.sandboxes is not None:
        return spec.allowed_callers.sandboxes
    return spec.data_classification != DataClassification.RESTRICTED


def sandbox_may_call(sandbox: Obj, *, approved: bool) -> bool:
    """A sandbox counts as a caller only once approved and provisioned, and never while torn down or deleted."""
    meta = sandbox.get("metadata") or {}
    phase = (sandbox.get("status") or {}).get("phase")
    return approved and phase in SANDBOX_CALLER_PHASES and not meta.get("deletionTimestamp")
