"""In-memory object storage with one resourceVersion counter, bounded watch history and watchers.

The write handlers (`writes.py`, `deletion.py`) commit and remove objects here; the watch
handler (`watch.py`) registers `Watcher`s; the controllers (garbage collector, namespace
controller, simulated Deployment controller, persistence) subscribe as listeners.

Storage is a dict per resource and namespace, so get/put are O(1) and a namespaced list is
O(objects in that namespace): the cost of a request never depends on how many requests came
before it. Stored objects are never mutated after commit (writers build new dicts), so reads
may serialise them without copying and snapshots may share them.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from finplane_emulator.resources import ResourceInfo

__all__ = ["DEFAULT_HISTORY", "ResourceStore", "Store", "WatchEvent", "Watcher"]

# Events kept per resource for watches that resume from an older resourceVersion; older ones
# are answered with 410 Gone, like the kube-apiserver's watch cache (default 100 per resource
# there; we keep more because our clients reconnect through lists less gracefully than informers).
DEFAULT_HISTORY = int(os.environ.get("FINPLANE_APISERVER_WATCH_HISTORY", "5000"))
# A watcher that falls this many events behind is closed, as the real server closes slow watchers.
WATCHER_BACKLOG = 50_000

Key = tuple[str, str]  # (group, plural)
Obj = dict[str, Any]


@dataclass(slots=True)
class WatchEvent:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj
    old: Obj | None = None


@dataclass(eq=False)
class Watcher:
    """One open watch: filters events and queues them for the streaming handler."""

    namespace: str | None
    matches: Callable[[Obj], bool]
    events: deque[WatchEvent] = field(default_factory=deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False

    def offer(self, event: WatchEvent) -> None:
        obj = event.obj
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return
        now = self.matches(obj)
        if event.type == "MODIFIED" and event.old is not None:
            before = self.matches(event.old)
            # An object moving into or out of a selector is seen as added or deleted, as in the real cache.
            if now and not before:
                event = WatchEvent(event.rv, "ADDED", obj)
            elif before and not now:
                event = WatchEvent(event.rv, "DELETED", obj)
            elif not now:
                return
        elif not now:
            return
        if len(self.events) >= WATCHER_BACKLOG:
            self.overflowed = True
        else:
            self.events.append(event)
        self.wakeup.set()


class ResourceStore:
    """Objects of one resource (all its versions), its event history and its watchers."""

    def __init__(self, *, history: int, compacted_rv: int) -> None:
        self.objects: dict[str, dict[str, Obj]] = {}  # namespace ('' if cluster-scoped) -> name -> object
        self.history: deque[WatchEvent] = deque()
        self.history_size = history
        self.compacted_rv = compacted_rv  # events at or before this version may be gone
        self.watchers: set[Watcher] = set()
        self.count = 0

    def get(self, namespace: str, name: str) -> Obj | None:
        bucket = self.objects.get(namespace)
        return bucket.get(name) if bucket else None

    def iter(self, namespace: str | None = None) -> Iterator[Obj]:
        if namespace is not None:
            yield from self.objects.get(namespace, {}).values()
            return
        for bucket in self.objects.values():
            yield from bucket.values()

    def record(self, event: WatchEvent) -> None:
        if len(self.history) >= self.history_size:
            self.compacted_rv = self.history.popleft().rv
        self.history.append(event)
        for watcher in self.watchers:
            watcher.offer(event)


class Store:
    """All resources, the global resourceVersion counter, and indexes by uid and owner uid."""

    def __init__(self, *, history: int = DEFAULT_HISTORY) -> None:
        self.rv = 1
        self.base_rv = 0  # history before this version is unknown (set after loading from disk)
        self.history = history
        self.resources: dict[Key, ResourceStore] = {}
        self.uids: dict[str, tuple[Key, str, str]] = {}
        self.dependents: dict[str, set[tuple[Key, str, str]]] = {}
        self.listeners: list[Callable[[ResourceInfo, WatchEvent], None]] = []

    def resource(self, key: Key) -> ResourceStore:
        res = self.resources.get(key)
        if res is None:
            res = self.resources[key] = ResourceStore(history=self.history, compacted_rv=self.base_rv)
        return res

    def get(self, info: ResourceInfo, namespace: str, name: str) -> Obj | None:
        res = self.resources.get(info.key)
        return res.get(namespace, name) if res else None

    def by_uid(self, uid: str) -> Obj | None:
        where = self.uids.get(uid)
        if where is None:
            return None
        res = self.resources.get(where[0])
        return res.get(where[1], where[2]) if res else None

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def commit(self, info: ResourceInfo, obj: Obj, *, old: Obj | None) -> Obj:
        """Store a new version of an object (resourceVersion assigned here) and notify watchers."""
        rv = self.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        res = self.resource(info.key)
        bucket = res.objects.setdefault(ns, {})
        if name not in bucket:
            res.count += 1
        bucket[name] = obj
        self._index(info.key, ns, name, obj, old)
        self._emit(info, res, WatchEvent(rv, "MODIFIED" if old is not None else "ADDED", obj, old))
        return obj

    def remove(self, info: ResourceInfo, obj: Obj) -> Obj:
        """Delete an object for good; the DELETED event carries a fresh resourceVersion."""
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        res = self.resource(info.key)
        bucket = res.objects.get(ns, {})
        if bucket.pop(name, None) is not None:
            res.count -= 1
        if not bucket:
            res.objects.pop(ns, None)
        gone = {**obj, "metadata": {**meta, "resourceVersion": str(self.next_rv())}}
        self._index(info.key, ns, name, None, obj)
        self._emit(info, res, WatchEvent(self.rv, "DELETED", gone))
        return gone

    def load(self, info: ResourceInfo, obj: Obj) -> None:
        """Put an object read from disk, without events."""
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        res = self.resource(info.key)
        res.objects.setdefault(ns, {})[name] = obj
        res.count += 1
        self._index(info.key, ns, name, obj, None)

    def _index(self, key: Key, ns: str, name: str, new: Obj | None, old: Obj | None) -> None:
        where = (key, ns, name)
        if old is not None:
            for ref in old["metadata"].get("ownerReferences") or ():
                deps = self.dependents.get(ref.get("uid", ""))
                if deps is not None:
                    deps.discard(where)
                    if not deps:
                        del self.dependents[ref.get("uid", "")]
            if new is None:
                self.uids.pop(old["metadata"].get("uid", ""), None)
        if new is not None:
            self.uids[new["metadata"]["uid"]] = where
            for ref in new["metadata"].get("ownerReferences") or ():
                self.dependents.setdefault(ref.get("uid", ""), set()).add(where)

    def _emit(self, info: ResourceInfo, res: ResourceStore, event: WatchEvent) -> None:
        res.record(event)
        for listener in self.listeners:
            listener(info, event)
