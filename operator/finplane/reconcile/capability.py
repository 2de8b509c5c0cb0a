"""Reconcile one BusinessCapability: parse -> check -> render -> apply -> observe -> status.

Called by the capability queue's workers (`reconcile.runtime`). Also wires cross-object
reactions: a capability appearing, changing readiness or its dependencies re-enqueues the
capabilities that depend on it and those it depends on (their NetworkPolicies and
DependenciesReady conditions speak of it), so nothing polls.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from finplane.kube.events import post_event
from finplane.metrics import DRIFT, WRITES
from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.models.common import describe_errors
from finplane.policy.enforce import enforced_violations
from finplane.policy.subject import Context
from finplane.reconcile.child_cache import child_cache
from finplane.reconcile.children import stamp, sync_children
from finplane.reconcile.own_writes import own_writes
from finplane.reconcile.registry_access import pull_secret_for
from finplane.reconcile.runtime import Key, Runtime
from finplane.reconcile.status_write import write_status
from finplane.render.capability import CapabilityContext, render_capability
from finplane.render.capability_checks import check_capability
from finplane.status.conditions import Cond, summarize_ready

__all__ = ["KIND", "reconcile_capability", "wire_capabilities"]

log = logging.getLogger("finplane.capability")
KIND = "BusinessCapability"
Obj = dict[str, Any]
PRUNE = (("policy/v1", "PodDisruptionBudget"), ("autoscaling/v2", "HorizontalPodAutoscaler"))


def deps_of(body: Obj) -> list[Key]:
    ns = body["metadata"].get("namespace", "")
    return [(d.get("namespace") or ns, d.get("name", "")) for d in (body.get("spec") or {}).get("dependencies") or []]


def _ready(body: Obj | None) -> bool:
    return bool(body) and any(c.get("type") == "Ready" and c.get("status") == "True"
                              for c in (body.get("status") or {}).get("conditions", []) or [])  # type: ignore[union-attr]


def dependents_index(rt: Runtime) -> dict[Key, set[Key]]:
    """Capability -> the capabilities whose spec.dependencies name it, kept by `wire_capabilities`.

    Why an index: finding dependents by scanning every capability on every watch event and every pass
    made the operator quadratic in the number of capabilities (bench/memory.py with 10,000).
    An attribute of the runtime, like reconcile.child_cache, to keep it out of the shared runtime module.
    """
    index: dict[Key, set[Key]] | None = getattr(rt, "_cap_dependents", None)
    if index is None:
        index = {}
        rt._cap_dependents = index  # type: ignore[attr-defined]
    return index


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


def wire_capabilities(rt: Runtime) -> None:
    """Re-enqueue related capabilities when one changes in a way they care about."""
    index = dependents_index(rt)

    def changed(event: str, new: Obj, old: Obj | None) -> None:
        key = (new["metadata"].get("namespace", ""), new["metadata"]["name"])
        _index_deps(index, key, deps_of(old) if old else [], [] if event == "DELETED" else deps_of(new))
        relevant = event in ("ADDED", "DELETED", "LISTED") or old is None or \
            _ready(new) != _ready(old) or deps_of(new) != deps_of(old) or \
            (new.get("spec") or {}).get("port") != (old.get("spec") or {}).get("port")
        if not relevant:
            return
        for other_key in list(index.get(key, ())):
            rt.enqueue(KIND, other_key)
        for dep in deps_of(new) + (deps_of(old) if old else []):
            rt.enqueue(KIND, dep)
    rt.on_change(KIND, changed)

    def registry_changed(event: str, new: Obj, old: Obj | None) -> None:
        if old is not None and event not in ("DELETED",) and new.get("spec") == old.get("spec"):
            return  # only a status change of the registry: the capabilities' pull access is unaffected
        name = new["metadata"]["name"]
        for other_key, other in rt.stores.get(KIND, {}).items():
            if (other.get("spec") or {}).get("registryRef") == name:
                rt.enqueue(KIND, other_key)
    rt.on_change("ImageRegistry", registry_changed)

    def sandbox_changed(event: str, new: Obj, old: Obj | None) -> None:
        listed = set(_allowed_by(new)) | set(_allowed_by(old))
        if old is not None and event != "DELETED" and _allowed_by(new) == _allowed_by(old) and \
                _sandbox_live(new) == _sandbox_live(old):
            return
        for key in listed:
            rt.enqueue(KIND, key)
    rt.on_change("TenantSandbox", sandbox_changed)


def _allowed_by(sandbox: Obj | None) -> list[Key]:
    caps = ((sandbox or {}).get("spec") or {}).get("allowedCapabilities") or []
    return [(c.get("namespace", ""), c.get("name", "")) for c in caps]


def _sandbox_live(sandbox: Obj) -> bool:
    """A sandbox whose namespace exists and is not torn down (its callers may be admitted)."""
    return (sandbox.get("status") or {}).get("phase") not in ("Expired", "Failed")


def sandbox_callers(rt: Runtime, key: Key) -> tuple[str, ...]:
    """Namespaces of live sandboxes that list this capability in spec.allowedCapabilities."""
    from finplane.render.sandbox import sandbox_namespace

    return tuple(sorted(
        (b.get("status") or {}).get("namespace") or sandbox_namespace(b["metadata"]["name"], rt.settings)
        for b in rt.stores.get("TenantSandbox", {}).values()
        if key in _allowed_by(b) and _sandbox_live(b) and not b["metadata"].get("deletionTimestamp")))


async def reconcile_capability(rt: Runtime, key: Key) -> None:
    body = rt.get(KIND, key)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    if own_writes(rt).pending(body):
        return  # older than our own last status write: its echo will enqueue this object again
    ns, name = key
    store = rt.stores.get(KIND, {})
    try:
        spec = BusinessCapabilitySpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        msg = describe_errors(exc)
        await _refuse(rt, body, "InvalidSpec", msg)
        return
    problems = check_capability(name=name, namespace=ns, spec=spec, graph=_dep_graph(store, key))
    if problems:
        await _refuse(rt, body, problems[0].reason, "; ".join(p.message for p in problems))
        return

    dependents = tuple(sorted(k for k in dependents_index(rt).get(key, ()) if k in store))
    ports = {k: int((store[k].get("spec") or {}).get("port") or 8080) for k in deps_of(body) if k in store}
    desired = [stamp(c, body) for c in render_capability(
        name=name, namespace=ns, spec=spec, settings=rt.settings,
        ctx=CapabilityContext(dependents=dependents, dependency_ports=ports,
                              sandbox_namespaces=sandbox_callers(rt, key),
                              pull_secret=pull_secret_for(rt.stores, spec.registry_ref) if spec.registry_ref else None))]
    violations = enforced_violations(rt.stores.get("CompliancePolicy", {}).values(), KIND, body, desired,
                                     ctx=Context(capabilities=dict(store), channels=dict(rt.stores.get("Channel", {}))))
    if violations:  # an enforce-mode CompliancePolicy refuses this rendering (finplane.policy.enforce)
        await _refuse(rt, body, "PolicyViolation", "; ".join(f"rule {rid}: {msg}" for rid, msg in violations[:5]))
        return
    result = await sync_children(rt.kube, desired, owner_uid=body["metadata"]["uid"], seen_before=False,
                                 prune_kinds=PRUNE, prune_namespaces=(ns,), cache=child_cache(rt))
    if result.conflicts:
        await _refuse(rt, body, "NameConflict", f"{', '.join(result.conflicts)} already exists and is not managed "
                      "by this capability; rename the capability or remove that object")
        return
    for child, fields in result.drifted:
        DRIFT.labels(KIND, child.split("/")[0]).inc()
        log.info("Drift on %s of %s/%s: %s", child, ns, name, ", ".join(fields[:10]))
        await post_event(rt.kube, body, type_="Warning", reason="Drift",
                         message=f"Reverted manual change to {child}: {', '.join(fields[:10])}")
    for cid in result.applied:
        WRITES.labels(KIND, "apply").inc()
        log.info("Applied %s for %s/%s", cid, ns, name)
    for cid in result.pruned:
        WRITES.labels(KIND, "prune").inc()
        log.info("Deleted %s for %s/%s (no longer rendered)", cid, ns, name)
    if result.refused is not None:
        refused = result.refused
        await _refuse(rt, body, refused.reason, f"the API server refused {refused.child}: {refused.message}; "
                      "nothing after it was applied (the Deployment never runs without its NetworkPolicies)")
        return

    deployment = result.live.get(f"Deployment/{ns}/{name}", {})
    conds, fields = _observe(rt, body, spec, deployment)
    await write_status(rt.kube, body, conditions=conds, fields=fields, on_written=own_writes(rt).note)


def _observe(rt: Runtime, body: Obj, spec: BusinessCapabilitySpec, dep: Obj) -> tuple[list[Cond], Obj]:
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
        progressing = Cond("Progressing", "False", "RolloutComplete", f"{available}/{want} replicas available")
    else:
        progressing = Cond("Progressing", "True", "RollingOut",
                           f"{updated}/{want} replicas updated, {available} available")
    available_cond = Cond("Available", "True", "MinimumReplicasAvailable", f"{available}/{want} replicas available") \
        if rolled or (want == 0) else Cond("Available", "False", "ReplicasNotReady",
                                             f"{available}/{want} replicas available; the rollout is in progress")

    missing, unready = [], []
    for dns, dname in deps_of(body):
        other = rt.get(KIND, (dns, dname))
        if other is None:
            missing.append(f"{dns}/{dname}")
        elif not _ready(other):
            unready.append(f"{dns}/{dname}")
    if missing:
        deps = Cond("DependenciesReady", "False", "DependenciesMissing",
                    f"missing capabilities: {', '.join(missing)}; create them or fix spec.dependencies")
    elif unready:
        deps = Cond("DependenciesReady", "False", "DependenciesNotReady", f"not Ready yet: {', '.join(unready)}")
    else:
        deps = Cond("DependenciesReady", "True", "DependenciesReady",
                    "all dependencies are Ready" if spec.dependencies else "no dependencies")
    pull = _pull_access(rt, spec)
    ready_cond = summarize_ready([Cond("Valid", "True", "Valid"), available_cond, pull],
                                 gates=("Valid", "Available", "ImagePullAccess"))
    from finplane.render.channel import exposures_for  # the channel module owns the exposure rules
    fields: Obj = {"replicas": want, "readyReplicas": ready, "image": spec.image,
                   "endpoint": f"http://{name}.{ns}.svc:{spec.port}", "exposedOn": exposures_for(rt.stores, ns, name)}
    return [ready_cond, progressing, deps, pull], fields


def _pull_access(rt: Runtime, spec: BusinessCapabilitySpec) -> Cond:
    if not spec.registry_ref:
        return Cond("ImagePullAccess", "True", "NoRegistry", "no registryRef: the image is pulled without credentials")
    registry = rt.get("ImageRegistry", ("", spec.registry_ref))
    if registry is None:
        return Cond("ImagePullAccess", "False", "RegistryNotFound",
                    f"ImageRegistry {spec.registry_ref} does not exist; create it or fix spec.registryRef")
    from finplane.reconcile.registry_access import image_allowed  # the registry module owns the rules
    ok, reason, message = image_allowed(registry, spec.image)
    return Cond("ImagePullAccess", "True" if ok else "False", reason, message)


async def _refuse(rt: Runtime, body: Obj, reason: str, message: str) -> None:
    """A spec only the user can fix: Ready=False with the reason, no children touched, no retry."""
    log.warning("Refused %s/%s: %s: %s", body["metadata"].get("namespace"), body["metadata"]["name"], reason, message)
    await write_status(rt.kube, body, conditions=[
        Cond("Ready", "False", reason, message),
        Cond("Progressing", "False", reason, "nothing is applied until the spec is fixed"),
    ], fields={}, on_written=own_writes(rt).note)
