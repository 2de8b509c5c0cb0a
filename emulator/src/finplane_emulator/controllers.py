"""The in-process controllers a real control plane runs next to its API server.

- garbage collector: deletes dependents whose owners are all gone (background), deletes a
  foreground-deleting owner's dependents and then drops its `foregroundDeletion` finalizer,
  and deletes objects whose owner references point at nothing (dangling);
- namespace controller: empties a Terminating namespace, then removes it;
- CRD cleanup: deleting a CRD removes its custom resources and stops serving them.

They listen to the store's events and work in small batches scheduled on the event loop after
the request that caused them, so they are asynchronous like the real ones (clients must poll
or watch) but never slow a request down. Built and wired into `Core.hooks` by `app.build_app`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from finplane_emulator import crds
from finplane_emulator.core import Core
from finplane_emulator.deletion import delete_object
from finplane_emulator.resources import ResourceInfo
from finplane_emulator.store import WatchEvent

__all__ = ["Controllers"]

Obj = dict[str, Any]
BATCH = 500  # work items per event-loop turn, so a big namespace deletion does not stall requests
FOREGROUND = "foregroundDeletion"


class Controllers:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._queue: deque[tuple[str, str]] = deque()
        self._queued: set[tuple[str, str]] = set()
        self._scheduled = False
        core.store.listeners.append(self._on_event)

    # -- entry points -------------------------------------------------------------------------
    def foreground(self, info: ResourceInfo, obj: Obj) -> None:
        self._push(("foreground", obj["metadata"]["uid"]))

    def namespace_terminating(self, name: str) -> None:
        self._push(("namespace", name))

    def after_update(self, info: ResourceInfo, obj: Obj) -> None:
        md = obj["metadata"]
        if md.get("deletionTimestamp") and FOREGROUND in (md.get("finalizers") or ()):
            self._push(("foreground", md["uid"]))

    # -- scheduling ---------------------------------------------------------------------------
    def _push(self, item: tuple[str, str]) -> None:
        if item in self._queued:
            return
        self._queued.add(item)
        self._queue.append(item)
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (direct use in unit tests): run to completion now
            self._scheduled = True
            while self._queue:
                self._run_batch()
            self._scheduled = False
            return
        self._scheduled = True
        loop.call_soon(self._tick)

    def _tick(self) -> None:
        self._run_batch()
        if self._queue:
            asyncio.get_running_loop().call_soon(self._tick)
        else:
            self._scheduled = False

    def _run_batch(self) -> None:
        for _ in range(min(BATCH, len(self._queue))):
            item = self._queue.popleft()
            self._queued.discard(item)
            kind, arg = item
            if kind == "removed":
                self._collect(arg)
            elif kind == "foreground":
                self._foreground(arg)
            elif kind == "namespace":
                self._namespace(arg)
            elif kind == "dangling":
                self._dangling(arg)

    def _on_event(self, info: ResourceInfo, event: WatchEvent) -> None:
        md = event.obj["metadata"]
        refs = md.get("ownerReferences") or ()
        if event.type == "ADDED" and refs and not any(r.get("uid") in self.core.store.uids for r in refs):
            self._push(("dangling", md["uid"]))
        if event.type != "DELETED":
            return
        if md.get("uid") in self.core.store.dependents:
            self._push(("removed", md["uid"]))
        for ref in refs:
            owner = self.core.store.by_uid(ref.get("uid", ""))
            if owner is not None and FOREGROUND in (owner["metadata"].get("finalizers") or ()):
                self._push(("foreground", ref["uid"]))
        ns = md.get("namespace")
        if ns:
            nsobj = self.core.namespace(ns)
            if nsobj is not None and nsobj["metadata"].get("deletionTimestamp"):
                self._push(("namespace", ns))
        if crds.is_crd(info):
            self._drop_crd(event.obj)

    # -- the work -----------------------------------------------------------------------------
    def _dependents(self, uid: str) -> list[tuple[ResourceInfo, Obj]]:
        out = []
        for key, ns, name in list(self.core.store.dependents.get(uid, ())):
            info = self.core.info_for_key(key)
            obj = self.core.store.get(info, ns, name) if info else None
            if info is not None and obj is not None:
                out.append((info, obj))
        return out

    def _collect(self, owner_uid: str) -> None:
        uids = self.core.store.uids
        for info, dep in self._dependents(owner_uid):
            refs = dep["metadata"].get("ownerReferences") or ()
            if not dep["metadata"].get("deletionTimestamp") and not any(r.get("uid") in uids for r in refs):
                delete_object(self.core, info, dep, policy="Background")

    def _dangling(self, uid: str) -> None:
        where = self.core.store.uids.get(uid)
        info = self.core.info_for_key(where[0]) if where else None
        obj = self.core.store.by_uid(uid)
        if info is None or obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        refs = obj["metadata"].get("ownerReferences") or ()
        if refs and not any(r.get("uid") in self.core.store.uids for r in refs):
            delete_object(self.core, info, obj, policy="Background")

    def _foreground(self, owner_uid: str) -> None:
        owner = self.core.store.by_uid(owner_uid)
        if owner is None or FOREGROUND not in (owner["metadata"].get("finalizers") or ()):
            return
        blocking = 0
        for info, dep in self._dependents(owner_uid):
            if not dep["metadata"].get("deletionTimestamp"):
                dep, _ = delete_object(self.core, info, dep, policy="Foreground")
            still = self.core.store.get(info, dep["metadata"].get("namespace", ""), dep["metadata"]["name"])
            ref = next((r for r in (dep["metadata"].get("ownerReferences") or ()) if r.get("uid") == owner_uid), {})
            if still is not None and ref.get("blockOwnerDeletion"):
                blocking += 1
        if blocking:
            return
        where = self.core.store.uids[owner_uid]
        info = self.core.info_for_key(where[0])
        if info is None:
            return
        md = owner["metadata"]
        finalizers = [f for f in md.get("finalizers") or () if f != FOREGROUND]
        if finalizers:
            self.core.store.commit(info, {**owner, "metadata": {**md, "finalizers": finalizers}}, old=owner)
        else:
            self.core.store.remove(info, {**owner, "metadata": {k: v for k, v in md.items() if k != "finalizers"}})

    def _namespace(self, name: str) -> None:
        core = self.core
        ns = core.namespace(name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        remaining = False
        for key, res in list(core.store.resources.items()):
            bucket = res.objects.get(name)
            if not bucket:
                continue
            info = core.info_for_key(key)
            if info is None or not info.namespaced:
                continue
            for obj in list(bucket.values()):
                if not obj["metadata"].get("deletionTimestamp"):
                    delete_object(core, info, obj, policy="Background")
            if res.objects.get(name):
                remaining = True
        if not remaining:
            assert core.namespaces_info is not None
            nmd = {**ns["metadata"]}
            core.store.remove(core.namespaces_info, {**ns, "metadata": nmd, "spec": {}})

    def _drop_crd(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        info = self.core.info_for_key(key)
        res = self.core.store.resources.get(key)
        if info is not None and res is not None:
            for obj in list(res.iter()):
                self.core.store.remove(info, obj)
        crds.unregister(self.core, crd)
