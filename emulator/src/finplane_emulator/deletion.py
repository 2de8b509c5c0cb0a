"""DELETE and deletecollection: finalizers, propagation policies and namespace termination.

Called by the HTTP layer and by the controllers (garbage collector, namespace controller).
Mirrors the kube-apiserver: an object with finalizers only gets `deletionTimestamp` (and a
generation bump) and stays until its last finalizer is removed; `Foreground` adds the
`foregroundDeletion` finalizer and lets the garbage collector delete dependents first;
`Orphan` strips the owner reference from dependents; a Namespace turns `Terminating` and the
namespace controller empties it before it goes. A running Pod is deleted gracefully (`kubelet.py`).
"""

from __future__ import annotations

from typing import Any

from finplane_emulator import kubelet, meta
from finplane_emulator.core import Core
from finplane_emulator.errors import ApiError, bad_request, conflict, not_found
from finplane_emulator.resources import ResourceInfo

__all__ = ["delete", "delete_object", "orphan_dependents"]

Obj = dict[str, Any]
FOREGROUND = "foregroundDeletion"
POLICIES = ("Background", "Foreground", "Orphan")


def delete(core: Core, info: ResourceInfo, namespace: str | None, name: str, options: dict[str, Any], *,
           dry_run: bool = False) -> tuple[Obj, int]:
    """DELETE one object; returns the object (as deleted, or marked for deletion) and the HTTP code."""
    obj = core.store.get(info, namespace or "", name)
    if obj is None:
        raise not_found(plural=info.plural, group=info.group, name=name)
    pre = options.get("preconditions") or {}
    md = obj["metadata"]
    if pre.get("uid") and pre["uid"] != md.get("uid"):
        raise conflict(plural=info.plural, group=info.group, name=name,
                       why=f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {md.get('uid')}")
    if pre.get("resourceVersion") and pre["resourceVersion"] != md.get("resourceVersion"):
        raise conflict(plural=info.plural, group=info.group, name=name,
                       why=f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                           f"ResourceVersion in object meta: {md.get('resourceVersion')}")
    policy = options.get("propagationPolicy")
    if policy is None and options.get("orphanDependents") is not None:
        policy = "Orphan" if options["orphanDependents"] else "Background"
    if policy not in (None, *POLICIES):
        raise bad_request(f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "{policy}"')
    if dry_run:
        return obj, 200
    return delete_object(core, info, obj, policy=policy or "Background", grace=options.get("gracePeriodSeconds"))


def delete_object(core: Core, info: ResourceInfo, obj: Obj, *, policy: str = "Background",
                  grace: Any = None) -> tuple[Obj, int]:
    md = obj["metadata"]
    if info.group == "" and info.plural == "namespaces":
        return _terminate_namespace(core, info, obj), 200
    finalizers = list(md.get("finalizers") or ())
    if policy == "Orphan":
        orphan_dependents(core, md["uid"])
    elif policy == "Foreground" and FOREGROUND not in finalizers:
        finalizers.append(FOREGROUND)
    pod_grace = kubelet.grace_period(obj, grace) if kubelet.is_pod(info) else 0
    if pod_grace:  # a running Pod is marked terminating; the (simulated) kubelet deletes it later
        if finalizers != list(md.get("finalizers") or ()):
            obj = core.store.commit(info, {**obj, "metadata": {**md, "finalizers": finalizers}}, old=obj)
        marked = kubelet.terminate(core, info, obj, pod_grace)
        if FOREGROUND in finalizers:
            core.hooks.foreground(info, marked)
        return marked, 200
    if md.get("deletionTimestamp") and finalizers and kubelet.is_pod(info) and md.get("deletionGracePeriodSeconds"):
        marked = core.store.commit(info, {**obj, "metadata": {**md, "deletionGracePeriodSeconds": 0}}, old=obj)
        return marked, 200
    if md.get("deletionTimestamp") and kubelet.is_pod(info) and not finalizers:
        return core.store.remove(info, obj), 200  # grace 0 for a terminating Pod: it goes now
    if md.get("deletionTimestamp"):
        if finalizers != list(md.get("finalizers") or ()):
            obj = core.store.commit(info, {**obj, "metadata": {**md, "finalizers": finalizers}}, old=obj)
        if FOREGROUND in finalizers:
            core.hooks.foreground(info, obj)
        return obj, 200
    if finalizers:
        marked_md = {**md, "deletionTimestamp": meta.now(), "deletionGracePeriodSeconds": 0, "finalizers": finalizers}
        if md.get("generation"):  # like BeforeDelete: only objects that track generation get it bumped
            marked_md["generation"] = int(md["generation"]) + 1
        marked = {**obj, "metadata": marked_md}
        marked = core.store.commit(info, marked, old=obj)
        if FOREGROUND in finalizers:
            core.hooks.foreground(info, marked)
        return marked, 200
    return core.store.remove(info, obj), 200


def orphan_dependents(core: Core, owner_uid: str) -> None:
    """Remove the owner reference to `owner_uid` from every dependent (the `Orphan` policy)."""
    for key, ns, name in list(core.store.dependents.get(owner_uid, ())):
        info = core.info_for_key(key)
        dep = core.store.get(info, ns, name) if info else None
        if info is None or dep is None:
            continue
        refs = [r for r in dep["metadata"].get("ownerReferences") or () if r.get("uid") != owner_uid]
        dmd = {**dep["metadata"], "ownerReferences": refs}
        if not refs:
            dmd.pop("ownerReferences")
        core.store.commit(info, {**dep, "metadata": dmd}, old=dep)


def _terminate_namespace(core: Core, info: ResourceInfo, ns: Obj) -> Obj:
    md = ns["metadata"]
    if md["name"] in ("default", "kube-system", "kube-public"):
        raise ApiError(403, "Forbidden", f'namespaces "{md["name"]}" is forbidden: this namespace may not be deleted',
                       details={"name": md["name"], "kind": "namespaces"})
    if not md.get("deletionTimestamp"):
        ns = core.store.commit(info, {**ns, "metadata": {**md, "deletionTimestamp": meta.now()},
                                      "status": {**(ns.get("status") or {}), "phase": "Terminating"}}, old=ns)
    core.hooks.namespace_terminating(md["name"])
    return ns
