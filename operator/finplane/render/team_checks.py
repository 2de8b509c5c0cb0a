"""The rules of team ownership, pure: which namespaces a Team may hold, a capability's team, the team quota.

Called by the Team reconciler (namespace plan, usage in status), the capability reconciler (a capability's
team is its namespace's team; quota and allow-lists before anything is applied) and the platform API
(`platform_api.services.teams`: the same reserved-namespace and ownership rules). No I/O: callers pass the
Team bodies and namespace labels they have in their caches.

Ownership is derived, never claimed: the team of namespace N is the Team whose status records N as
Created or Adopted (and whose spec still lists it). A Team adopts an existing namespace only when it lists
it and no other team holds it (another Team's status or a `finplane.io/team` label naming another team);
`default`, `kube-*` and Finplane's own namespace are never a team's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.models.team import TeamQuota, TeamSpec
from finplane.render.quantity import parse_quantity

__all__ = ["FIXED_RESERVED", "Admission", "CapabilityUse", "NamespaceDecision", "Problem", "admit", "check_allowed",
           "format_cpu", "format_memory", "namespace_plan", "reserved_problem", "team_of_namespace", "use_of"]

Obj = dict[str, Any]
Key = tuple[str, str]
TEAM_LABEL = "finplane.io/team"
FIXED_RESERVED = ("default", "kube-system", "kube-public", "kube-node-lease")
#: Finplane's namespace when the operator does not know its own (`finplane dev`, the examples).
DEFAULT_OWN_NAMESPACE = "finplane-system"


@dataclass(frozen=True, slots=True)
class Problem:
    reason: str
    message: str


def reserved_problem(namespace: str, *, own_namespace: str | None, extra: Iterable[str] = ()) -> str | None:
    """Why `namespace` can never be a team's, or None."""
    own = own_namespace or DEFAULT_OWN_NAMESPACE
    if namespace in FIXED_RESERVED or namespace.startswith("kube-"):
        return f"namespace {namespace} belongs to Kubernetes and is never a team's"
    if namespace == own or namespace in set(extra):
        return f"namespace {namespace} is Finplane's own and is never a team's"
    return None


def _held(team: Obj) -> set[str]:
    """Namespaces a Team body's status records as Created or Adopted and its spec still lists."""
    listed = set((team.get("spec") or {}).get("namespaces") or [])
    return {n.get("name", "") for n in (team.get("status") or {}).get("namespaces") or []
            if n.get("state") in ("Created", "Adopted") and n.get("name") in listed}


def _age(team: Obj) -> tuple[str, str]:
    meta = team.get("metadata") or {}
    return (str(meta.get("creationTimestamp") or ""), str(meta.get("name") or ""))


def team_of_namespace(namespace: str, teams: Iterable[Obj]) -> str | None:
    """The team that holds `namespace` (oldest first should two statuses ever claim it), or None."""
    holders = sorted((t for t in teams if not (t.get("metadata") or {}).get("deletionTimestamp")
                      and namespace in _held(t)), key=_age)
    return str(holders[0]["metadata"]["name"]) if holders else None


@dataclass(frozen=True, slots=True)
class NamespaceDecision:
    namespace: str
    state: str  # Created | Adopted | Refused
    message: str | None = None


def namespace_plan(*, name: str, spec: TeamSpec, teams: Iterable[Obj], live_labels: Mapping[str, dict[str, str] | None],
                   own_namespace: str | None, extra_reserved: Iterable[str] = (),
                   created_before: Iterable[str] = ()) -> list[NamespaceDecision]:
    """For each namespace the Team lists: create it, adopt it, or refuse it (with why).

    `live_labels` maps each listed namespace to its labels, or None when it does not exist. Another Team
    holds a namespace when its status says so, or when it is older, lists the namespace and the namespace
    is not labelled for this team (first come, first served while neither status is written yet).
    `created_before` names the namespaces this Team created earlier (they stay Created, not Adopted).
    """
    created = set(created_before)
    teams = list(teams)
    me = next((t for t in teams if (t.get("metadata") or {}).get("name") == name), None)
    my_age = _age(me) if me is not None else ("~", name)
    others = [t for t in teams if (t.get("metadata") or {}).get("name") != name
              and not (t.get("metadata") or {}).get("deletionTimestamp")]
    out: list[NamespaceDecision] = []
    for ns in spec.namespaces:
        problem = reserved_problem(ns, own_namespace=own_namespace, extra=extra_reserved)
        labels = live_labels.get(ns)
        label = (labels or {}).get(TEAM_LABEL)
        holder = next((str(t["metadata"]["name"]) for t in sorted(others, key=_age) if ns in _held(t)), None)
        if holder is None and label != name:
            holder = next((str(t["metadata"]["name"]) for t in sorted(others, key=_age)
                           if ns in ((t.get("spec") or {}).get("namespaces") or []) and _age(t) < my_age), None)
        if problem:
            out.append(NamespaceDecision(ns, "Refused", problem))
        elif holder is not None:
            out.append(NamespaceDecision(ns, "Refused", f"namespace {ns} is owned by team {holder}; it is not adopted"))
        elif labels is not None and label not in (None, name):
            out.append(NamespaceDecision(ns, "Refused", f"namespace {ns} is labelled {TEAM_LABEL}={label}: only a "
                                         f"Team named {label} adopts it (or remove the label first)"))
        elif labels is not None and "finplane.io/sandbox" in labels:
            out.append(NamespaceDecision(ns, "Refused", f"namespace {ns} belongs to a partner sandbox"))
        elif labels is None or ns in created:
            out.append(NamespaceDecision(ns, "Created"))
        else:
            out.append(NamespaceDecision(ns, "Adopted"))
    return out


@dataclass(frozen=True, slots=True)
class CapabilityUse:
    """What one capability takes from its team's quota (requests times its largest replica count)."""

    key: Key
    created: str
    cpu: Decimal
    memory: Decimal
    pods: int
    #: It was admitted on its last pass: among capabilities created in the same second (creationTimestamp has
    #: whole seconds) it keeps its place ahead of a newcomer, so a new capability never displaces a running one.
    incumbent: bool = False


def use_of(*, key: Key, created: str, spec: BusinessCapabilitySpec, default_cpu: str,
           default_memory: str, incumbent: bool = False) -> CapabilityUse:
    """The capability's use; an autoscaled one counts at maxReplicas (it may scale there without asking)."""
    replicas = spec.autoscaling.max_replicas if spec.autoscaling else spec.replicas
    req = spec.resources.requests if spec.resources and spec.resources.requests else None
    cpu = parse_quantity(req.cpu if req and req.cpu is not None else default_cpu)
    memory = parse_quantity(req.memory if req and req.memory is not None else default_memory)
    return CapabilityUse(key=key, created=created, cpu=cpu * replicas, memory=memory * replicas, pods=replicas,
                         incumbent=incumbent)


def format_cpu(cores: Decimal) -> str:
    """Cores as a quantity: whole cores plainly, else millicores (1.5 -> 1500m)."""
    if cores == cores.to_integral_value():
        return str(int(cores))
    return f"{int(cores * 1000)}m"


def format_memory(size: Decimal) -> str:
    """Bytes as the largest binary unit that divides them exactly (805306368 -> 768Mi)."""
    value = int(size)
    for unit, factor in (("Ti", 2 ** 40), ("Gi", 2 ** 30), ("Mi", 2 ** 20), ("Ki", 2 ** 10)):
        if value and value % factor == 0:
            return f"{value // factor}{unit}"
    return str(value)


@dataclass
class Admission:
    """Which capabilities fit the team quota, in creation order, and the usage of those admitted."""

    cpu: Decimal = Decimal(0)
    memory: Decimal = Decimal(0)
    pods: int = 0
    capabilities: int = 0
    refused: dict[Key, Problem] = field(default_factory=dict)

    def usage(self) -> dict[str, object]:
        return {"cpu": format_cpu(self.cpu), "memory": format_memory(self.memory), "pods": self.pods,
                "capabilities": self.capabilities}


def admit(*, team: str, quota: TeamQuota | None, uses: Iterable[CapabilityUse]) -> Admission:
    """Admit capabilities oldest first while they fit; each refused one says what it would exceed and by how much.

    Creation times have whole seconds: within one second an incumbent (admitted on its last pass) goes first,
    then names decide.

    Deterministic, so the Team's status and every capability's own pass agree; deleting an admitted
    capability frees room and the oldest refused ones that now fit are admitted on their next pass.
    """
    out = Admission()
    limits = _limits(quota)
    for use in sorted(uses, key=lambda u: (u.created, not u.incumbent, u.key)):
        after = {"cpu": out.cpu + use.cpu, "memory": out.memory + use.memory, "pods": Decimal(out.pods + use.pods),
                 "capabilities": Decimal(out.capabilities + 1)}
        over = [(what, after[what], limit) for what, limit in limits.items() if after[what] > limit]
        if over:
            out.refused[use.key] = Problem("QuotaExceeded", "; ".join(
                f"team {team} would use {_show(what, total)} {what} of its quota of {_show(what, limit)} "
                f"(over by {_show(what, total - limit)})" for what, total, limit in over)
                + "; remove or shrink another capability of the team, or raise the Team's spec.quota")
            continue
        out.cpu, out.memory = after["cpu"], after["memory"]
        out.pods, out.capabilities = out.pods + use.pods, out.capabilities + 1
    return out


def _limits(quota: TeamQuota | None) -> dict[str, Decimal]:
    if quota is None:
        return {}
    out: dict[str, Decimal] = {}
    if quota.cpu is not None:
        out["cpu"] = parse_quantity(quota.cpu)
    if quota.memory is not None:
        out["memory"] = parse_quantity(quota.memory)
    if quota.pods is not None:
        out["pods"] = Decimal(quota.pods)
    if quota.capabilities is not None:
        out["capabilities"] = Decimal(quota.capabilities)
    return out


def _show(what: str, value: Decimal) -> str:
    if what == "cpu":
        return format_cpu(value)
    if what == "memory":
        return format_memory(value)
    return str(int(value))


def check_allowed(*, team: str, spec: TeamSpec, capability: BusinessCapabilitySpec) -> Problem | None:
    """The team's allow-lists: the registry a capability names and the classification it holds."""
    if spec.allowed_registries is not None and capability.registry_ref is not None \
            and capability.registry_ref not in spec.allowed_registries:
        allowed = ", ".join(spec.allowed_registries) or "none"
        return Problem("RegistryNotAllowed", f"team {team} may not use ImageRegistry {capability.registry_ref} "
                                             f"(allowed: {allowed}); change spec.registryRef or the Team's "
                                             "spec.allowedRegistries")
    if spec.allowed_classifications is not None \
            and capability.data_classification not in spec.allowed_classifications:
        allowed = ", ".join(str(c) for c in spec.allowed_classifications) or "none"
        return Problem("ClassificationNotAllowed",
                       f"team {team} may not hold {capability.data_classification} data (allowed: {allowed}); change "
                       "spec.dataClassification or the Team's spec.allowedClassifications")
    return None
