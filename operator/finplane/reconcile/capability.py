"""Reconcile one BusinessCapability: check -> render -> apply -> observe -> status (one `KindReconciler`).

Registered by `handlers.registrations` (`Runtime.add(CapabilityReconciler(rt))`). What wakes a
capability is declared here (`watches`): a related capability appearing, changing readiness, port or
dependencies (their NetworkPolicies and DependenciesReady conditions speak of it), its registry's spec,
a sandbox listing it, a channel routing to it (`status.exposedOn`), an enforce-mode CompliancePolicy
changing (the enforcement hook reads the policies), and the instant an enforce-mode waiver expires
(`requeue_after`). Nothing polls. The runtime's controller does the
rest (reconcile.controller).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from finplane.external.metrics_source import BudgetSource, PrometheusSource
from finplane.models.business_capability import BusinessCapabilitySpec, BusinessCapabilityStatus
from finplane.names import (
    BUSINESS_CAPABILITY,
    CHANNEL,
    COMPLIANCE_POLICY,
    IMAGE_REGISTRY,
    NAMESPACE,
    TEAM,
    TENANT_SANDBOX,
)
from finplane.policy.enforce import enforced_violations
from finplane.policy.subject import Context
from finplane.reconcile.capability_slo import apply_slo, service_level
from finplane.reconcile.registry.access import image_allowed, pull_secret_for, registry_grants
from finplane.reconcile.runtime import Key, Runtime
from finplane.reconcile.shape import KindReconciler, Outcome, Pass, Refuse, Watch
from finplane.reconcile.team_gate import PENDING, capability_watches, gate
from finplane.render.capability import CapabilityContext, render_capability
from finplane.render.capability_callers import (
    TEAM_LABEL,
    admits_caller,
    admits_sandboxes,
    sandbox_may_call,
    team_resolver,
)
from finplane.render.capability_checks import check_capability
from finplane.render.sandbox_lifecycle import approval
from finplane.status.conditions import Cond, summarize_ready
from finplane.status.vocabulary import ConditionType, Reason, is_ready

__all__ = ["CALLER_NOT_ALLOWED", "KIND", "PULL_REFUSALS", "CapabilityReconciler", "deps_of"]

log = logging.getLogger("finplane.capability")
KIND = BUSINESS_CAPABILITY
Obj = dict[str, Any]
PRUNE = (("policy/v1", "PodDisruptionBudget"), ("autoscaling/v2", "HorizontalPodAutoscaler"))
T = ConditionType
#: DependenciesReady=False: a dependency does not admit this capability as a caller (its spec.allowedCallers).
CALLER_NOT_ALLOWED = "CallerNotAllowed"
#: ImagePullAccess reasons that refuse the capability: nothing of the workload is applied.
PULL_REFUSALS = frozenset({Reason.REGISTRY_NOT_FOUND, "RegistryMismatch", "RepositoryNotAllowed", "InvalidImage",
                           "RegistryNotGranted"})


def deps_of(body: Obj) -> list[Key]:
    ns = body["metadata"].get("namespace", "")
    return [(d.get("namespace") or ns, d.get("name", "")) for d in (body.get("spec") or {}).get("dependencies") or []]


def _index_deps(index: dict[Key, set[Key]], key: Key, before: list[Key], after: list[Key]) -> None:
    for dep in set(before) - set(after):
        users = index.get(dep)
        if users is not None:
            users.discard(key)
            if not users:
                del index[dep]
    for dep in after:
        index.setdefault(dep, set()).add(key)


def _dep_graph(store: dict[Key, Obj], start: Key) -> dict[Key, list[Key]]:
    """The dependency graph reachable from `start` (all a cycle through `start` can use), not the whole store."""
    graph: dict[Key, list[Key]] = {}
    todo = [start]
    while todo:
        node = todo.pop()
        if node in graph or node not in store:
            continue
        graph[node] = deps_of(store[node])
        todo.extend(graph[node])
    return graph


def _channel_refs(body: Obj | None) -> set[Key]:
    out: set[Key] = set()
    for r in ((body or {}).get("spec") or {}).get("routes") or []:
        for ref in ((r or {}).get("capability") or {}, ((r or {}).get("canary") or {}).get("capability") or {}):
            if ref.get("namespace") and ref.get("name"):
                out.add((ref["namespace"], ref["name"]))
    return out


def _allowed_by(sandbox: Obj | None) -> list[Key]:
    caps = ((sandbox or {}).get("spec") or {}).get("allowedCapabilities") or []
    return [(c.get("namespace", ""), c.get("name", "")) for c in caps]


def _sandbox_live(sandbox: Obj) -> bool:
    """An approved, provisioned sandbox (Active or Expiring, not deleted): only such a sandbox may be a caller."""
    return sandbox_may_call(sandbox, approved=approval((sandbox.get("metadata") or {}).get("annotations")) is None)


def sandbox_callers(rt: Runtime, key: Key, spec: BusinessCapabilitySpec) -> tuple[str, ...]:
    """Namespaces of approved, provisioned sandboxes listing this capability, when the capability admits sandboxes."""
    from finplane.render.sandbox import sandbox_namespace

    if not admits_sandboxes(spec):
        return ()
    return tuple(sorted(
        (b.get("status") or {}).get("namespace") or sandbox_namespace(b["metadata"]["name"], rt.settings)
        for b in rt.stores.get(TENANT_SANDBOX, {}).values() if key in _allowed_by(b) and _sandbox_live(b)))


def _consent_changed(new: Obj, old: Obj) -> bool:
    """The callee's consent (who it admits) changed: its callers' DependenciesReady and policies follow."""
    n, o = new.get("spec") or {}, old.get("spec") or {}
    return n.get("allowedCallers") != o.get("allowedCallers") or \
        n.get("dataClassification") != o.get("dataClassification")


def _next_enforced_waiver_expiry(policies: Iterable[Obj]) -> float | None:
    """Seconds until the next active waiver of an enforce-mode CompliancePolicy expires (its verdict changes)."""
    now = datetime.now(UTC)
    upcoming: list[float] = []
    for body in policies:
        spec = body.get("spec") or {}
        if spec.get("mode") != "enforce":
            continue
        for waiver in spec.get("waivers") or []:
            try:
                expires = datetime.fromisoformat(str(waiver.get("expiresAt", "")).replace("Z", "+00:00"))
                left = (expires - now).total_seconds()
            except (TypeError, ValueError, OverflowError):
                continue  # the policy's own pass reports an invalid waiver
            if left > 0:
                upcoming.append(left + 0.05)
    return min(upcoming) if upcoming else None


class CapabilityReconciler(KindReconciler[BusinessCapabilitySpec]):
    kind = KIND
    spec_model = BusinessCapabilitySpec

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt)
        #: The budget left of spec.slo objectives (FINPLANE_PROMETHEUS_URL; tests put a fake here): ServiceLevel.
        self.budgets: BudgetSource | None = PrometheusSource(rt.settings.prometheus_url) \
            if rt.settings.prometheus_url else None
        # Capability -> the capabilities whose spec.dependencies name it. Why an index: finding dependents by
        # scanning every capability on every event made the operator quadratic (bench/memory.py, 10,000).
        self.dependents: dict[Key, set[Key]] = {}

    def watches(self) -> list[Watch]:
        return [Watch(KIND, self._related), Watch(IMAGE_REGISTRY, self._registry_changed),
                Watch(TENANT_SANDBOX, self._sandbox_changed), Watch(CHANNEL, self._channel_changed),
                Watch(COMPLIANCE_POLICY, self._policy_changed), Watch(TEAM, self._consent_team_changed),
                Watch(NAMESPACE, self._namespace_changed), *capability_watches(self.rt)]

    # -- what wakes a capability ------------------------------------------------------------------
    def _related(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        key = (new["metadata"].get("namespace", ""), new["metadata"]["name"])
        _index_deps(self.dependents, key, deps_of(old) if old else [], [] if event == "DELETED" else deps_of(new))
        relevant = event in ("ADDED", "DELETED", "LISTED") or old is None or \
            is_ready(new) != is_ready(old) or deps_of(new) != deps_of(old) or \
            (new.get("spec") or {}).get("port") != (old.get("spec") or {}).get("port") or _consent_changed(new, old)
        if not relevant:
            return []
        return [*self.dependents.get(key, ()), *deps_of(new), *(deps_of(old) if old else [])]

    def _registry_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        if old is not None and event != "DELETED" and new.get("spec") == old.get("spec"):
            return []  # only a status change of the registry: the capabilities' pull access is unaffected
        name = new["metadata"]["name"]
        return [k for k, b in self.rt.stores.get(KIND, {}).items() if (b.get("spec") or {}).get("registryRef") == name]

    def _sandbox_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        if old is not None and event != "DELETED" and _allowed_by(new) == _allowed_by(old) and \
                _sandbox_live(new) == _sandbox_live(old):
            return []
        return set(_allowed_by(new)) | set(_allowed_by(old))

    def _around(self, namespaces: set[str]) -> set[Key]:
        """Capabilities in `namespaces` and those they call or are called by: whose consent depends on their team."""
        inside = [k for k in self.rt.stores.get(KIND, {}) if k[0] in namespaces]
        out = set(inside)
        for k in inside:
            out.update(self.dependents.get(k, ()))
            out.update(deps_of(self.rt.stores[KIND][k]))
        return out

    def _consent_team_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        """A Team's namespaces (or its allow-lists) decide callers' teams: wake the callees and callers across it."""
        if old is not None and event != "DELETED" and new.get("spec") == old.get("spec") and \
                (new.get("status") or {}).get("namespaces") == (old.get("status") or {}).get("namespaces"):
            return []
        listed = {*((new.get("spec") or {}).get("namespaces") or []),
                  *(((old or {}).get("spec") or {}).get("namespaces") or [])}
        return self._around(listed)

    def _namespace_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        """In migrate mode a namespace's finplane.io/team label is its team (consent and registry grants)."""
        if self.rt.settings.team_ownership != "migrate":
            return []
        labels = ((new.get("metadata") or {}).get("labels") or {}).get(TEAM_LABEL)
        before = (((old or {}).get("metadata") or {}).get("labels") or {}).get(TEAM_LABEL)
        if old is not None and event not in ("ADDED", "DELETED") and labels == before:
            return []
        return self._around({new["metadata"]["name"]})

    def _channel_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        return _channel_refs(new) | _channel_refs(old)

    def _policy_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        gen = new.get("metadata", {}).get("generation")
        if old is None or event in ("ADDED", "DELETED") or gen != old.get("metadata", {}).get("generation"):
            return list(self.rt.stores.get(KIND, {}))  # the enforcement hook in reconcile reads the policies
        return []

    # -- one pass -------------------------------------------------------------------------------------
    async def reconcile(self, p: Pass[BusinessCapabilitySpec]) -> Outcome:
        rt, body, spec, key = self.rt, p.body, p.spec, p.key
        ns, name = key
        store = rt.stores.get(KIND, {})
        problems = check_capability(name=name, namespace=ns, spec=spec, graph=_dep_graph(store, key))
        if problems:
            # an invalid name or quantity is the spec's alone; a cycle also depends on the other capabilities
            only_spec = all(pr.reason != "DependencyCycle" for pr in problems)
            raise Refuse(problems[0].reason, "; ".join(pr.message for pr in problems), terminal=only_spec)
        team_refusal = gate(rt, key, spec)  # a capability's team is its namespace's Team (reconcile.team_gate)
        if team_refusal is PENDING:
            return Outcome([])  # its Team is provisioning the namespace; the Team's status change wakes this one
        if team_refusal is not None:
            raise Refuse(team_refusal.reason, team_refusal.message, terminal=False)
        pull = self._pull_access(key, spec)
        if pull.status != "True":  # no pull grant: nothing of the workload is applied (reconcile.registry.access)
            raise Refuse(pull.reason, pull.message, terminal=False)
        team_of = self._team_of()
        # Only the callers this capability admits get into its ingress (render.capability_callers); a caller it
        # does not admit keeps its own egress and reports CallerNotAllowed (see _dependencies).
        dependents = tuple(sorted(k for k in self.dependents.get(key, ()) if k in store
                                  and admits_caller(callee=key, spec=spec, caller=k, team_of=team_of)))
        ports = {k: int((store[k].get("spec") or {}).get("port") or 8080) for k in deps_of(body) if k in store}
        pull_secret = pull_secret_for(rt.stores, spec.registry_ref) if spec.registry_ref else None
        desired = render_capability(name=name, namespace=ns, spec=spec, settings=rt.settings, ctx=CapabilityContext(
            dependents=dependents, dependency_ports=ports, sandbox_namespaces=sandbox_callers(rt, key, spec),
            pull_secret=pull_secret))
        violations = enforced_violations(rt.stores.get(COMPLIANCE_POLICY, {}).values(), KIND, body, desired,
                                         ctx=Context(capabilities=dict(store), channels=dict(rt.stores.get(CHANNEL, {}))))
        if violations:  # an enforce-mode CompliancePolicy refuses this rendering (finplane.policy.enforce)
            raise Refuse(Reason.POLICY_VIOLATION, "; ".join(f"rule {rid}: {msg}" for rid, msg in violations[:5]),
                         terminal=False)
        # An enforce-mode waiver expiring changes the verdict without any event: wake up at that instant.
        result = await p.apply(desired, prune_kinds=PRUNE, prune_namespaces=(ns,),
                               conflict="rename the capability or remove that object")
        outcome = self._observe(body, spec, result.live.get(f"Deployment/{ns}/{name}", {}))
        if (slo := await apply_slo(p)) is not None:  # spec.slo: ServiceMonitor + PrometheusRule (capability_slo)
            outcome.conditions.append(slo)
        if (level := await service_level(p, self.budgets)) is not None:  # the budget left, never a Ready gate
            outcome.conditions.append(level)
        outcome.requeue_after = _next_enforced_waiver_expiry(rt.stores.get(COMPLIANCE_POLICY, {}).values())
        return outcome

    def refused(self, body: Obj, refusal: Refuse) -> Outcome:
        conds = [Cond(T.READY, "False", refusal.reason, refusal.message),
                 Cond(T.PROGRESSING, "False", refusal.reason, "nothing is applied until the spec is fixed")]
        if refusal.reason in PULL_REFUSALS:
            conds.append(Cond(T.IMAGE_PULL_ACCESS, "False", refusal.reason, refusal.message))
        return Outcome(conds)

    def _observe(self, body: Obj, spec: BusinessCapabilitySpec, dep: Obj) -> Outcome:
        ns, name = body["metadata"].get("namespace", ""), body["metadata"]["name"]
        st = dep.get("status") or {}
        want = spec.autoscaling.min_replicas if spec.autoscaling else spec.replicas
        want = (dep.get("spec") or {}).get("replicas", want)
        ready = int(st.get("readyReplicas") or 0)
        updated = int(st.get("updatedReplicas") or 0)
        available = int(st.get("availableReplicas") or 0)
        current_gen = (dep.get("metadata") or {}).get("generation")
        rolled = st.get("observedGeneration") == current_gen and updated >= want and available >= want
        if rolled:
            progressing = Cond(T.PROGRESSING, "False", Reason.ROLLOUT_COMPLETE, f"{available}/{want} replicas available")
        else:
            progressing = Cond(T.PROGRESSING, "True", Reason.ROLLING_OUT,
                               f"{updated}/{want} replicas updated, {available} available")
        available_cond = Cond(T.AVAILABLE, "True", Reason.MINIMUM_REPLICAS_AVAILABLE,
                              f"{available}/{want} replicas available") if rolled or (want == 0) else \
            Cond(T.AVAILABLE, "False", Reason.REPLICAS_NOT_READY,
                 f"{available}/{want} replicas available; the rollout is in progress")
        pull = self._pull_access((ns, name), spec)
        ready_cond = summarize_ready([Cond(T.VALID, "True", Reason.VALID), available_cond, pull],
                                     gates=(T.VALID, T.AVAILABLE, T.IMAGE_PULL_ACCESS))
        from finplane.render.channel import exposures_for  # the channel module owns the exposure rules
        status = BusinessCapabilityStatus(
            replicas=want, ready_replicas=ready, image=spec.image, endpoint=f"http://{name}.{ns}.svc:{spec.port}",
            exposed_on=exposures_for(self.rt.stores, ns, name))  # type: ignore[arg-type]
        return Outcome([ready_cond, progressing, self._dependencies(body, spec), pull], status=status)

    def _dependencies(self, body: Obj, spec: BusinessCapabilitySpec) -> Cond:
        me = (body["metadata"].get("namespace", ""), body["metadata"]["name"])
        team_of = self._team_of()
        missing, refused, unready = [], [], []
        for dns, dname in deps_of(body):
            other = self.rt.get(KIND, (dns, dname))
            if other is None:
                missing.append(f"{dns}/{dname}")
            elif not _admits(other, (dns, dname), me, team_of):
                refused.append(f"{dns}/{dname}")
            elif not is_ready(other):
                unready.append(f"{dns}/{dname}")
        if missing:
            return Cond(T.DEPENDENCIES_READY, "False", Reason.DEPENDENCIES_MISSING,
                        f"missing capabilities: {', '.join(missing)}; create them or fix spec.dependencies")
        if refused:
            return Cond(T.DEPENDENCIES_READY, "False", CALLER_NOT_ALLOWED,
                        f"{', '.join(refused)} do(es) not admit {me[0]}/{me[1]} as a caller: only egress is allowed, "
                        "no ingress is opened; ask its owners to add this team, namespace or capability to its "
                        "spec.allowedCallers")
        if unready:
            return Cond(T.DEPENDENCIES_READY, "False", Reason.DEPENDENCIES_NOT_READY,
                        f"not Ready yet: {', '.join(unready)}")
        return Cond(T.DEPENDENCIES_READY, "True", Reason.DEPENDENCIES_READY,
                    "all dependencies are Ready" if spec.dependencies else "no dependencies")

    def _team_of(self) -> Callable[[str], str | None]:
        rt = self.rt
        return team_resolver(teams=rt.stores.get(TEAM, {}).values(), namespaces=rt.stores.get(NAMESPACE, {}),
                             migrate=rt.settings.team_ownership == "migrate")

    def _pull_access(self, key: Key, spec: BusinessCapabilitySpec) -> Cond:
        if not spec.registry_ref:
            return Cond(T.IMAGE_PULL_ACCESS, "True", Reason.NO_REGISTRY,
                        "no registryRef: the image is pulled without credentials")
        registry = self.rt.get(IMAGE_REGISTRY, ("", spec.registry_ref))
        if registry is None:
            return Cond(T.IMAGE_PULL_ACCESS, "False", Reason.REGISTRY_NOT_FOUND,
                        f"ImageRegistry {spec.registry_ref} does not exist; create it or fix spec.registryRef")
        ok, reason, message = image_allowed(registry, spec.image)
        if ok:
            ok, reason, message = registry_grants(registry, namespace=key[0], stores=self.rt.stores, grant=message,
                                                 migrate=self.rt.settings.team_ownership == "migrate")
        return Cond(T.IMAGE_PULL_ACCESS, "True" if ok else "False", reason, message)


def _admits(callee: Obj, callee_key: Key, caller: Key, team_of: Callable[[str], str | None]) -> bool:
    """Whether the capability `callee` admits `caller`; a callee whose spec does not parse admits nobody."""
    try:
        spec = BusinessCapabilitySpec.model_validate(callee.get("spec") or {})
    except ValidationError:
        return False
    return admits_caller(callee=callee_key, spec=spec, caller=caller, team_of=team_of)
