"""A watch-fed cache of the children Finplane manages, so a reconcile pass reads them without a GET.

Fed by `handlers.registrations` (every watch event of a managed child kind, before the owner is
enqueued) and by `reconcile.children.sync_children` (the object each server-side apply returns, so
the next pass sees its own write before the watch echoes it). Read by `sync_children`: a child found
here is compared without a request; a child *not* found here is still fetched with a GET, because
only that can tell "absent" from "an object of the same name Finplane does not own" (the watch sees
only objects labelled managed-by=finplane) or "not seen yet" (the watch is still listing).

Why: bench/write_amplification.py showed every pass GETting each child and LISTing the prunable
kinds, ~27 reads per new capability and the same again on every drift check; with this cache a
pass over settled children costs no request at all.

Events can be older than what an apply already returned; resourceVersions are compared (as integers
when they are, like etcd's revisions; otherwise the newest arrival wins) so the cache never goes back
in time. `metadata.managedFields` is cut down to who wrote when (manager, operation, time: drift evidence
names the writer): its field sets are the bulk of an applied object and no comparison uses them.

Each child is kept as its JSON bytes (with its resourceVersion and owner beside them), decoded by `get` and
`owned`: a decoded Deployment, Service and the rest of a capability's six children took ~35 KiB of Python
objects, their bytes ~12 KiB (issue 19's memory target; a pass decodes its six children in ~0.1 ms). Every
read returns a fresh object, so a caller cannot change what the cache holds.

Deletions leave a tombstone: a child the cache held and the watch then saw deleted (by hand, typically)
is remembered as "existed, now gone" until it is applied again, so `sync_children` reports drift
`(deleted)` only for a child that really existed. A child never applied (its owner was refused until
now) has no tombstone, and neither has one Finplane pruned itself (`forget`). Tombstones are bounded
(`MAX_TOMBSTONES`, oldest dropped first): a deletion older than that is re-applied without a Drift event.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from finplane.names import OWNER_LABEL

__all__ = ["ChildCache"]

Obj = dict[str, Any]
Key = tuple[str, str, str, str]  # (apiVersion, kind, namespace or "", name)
MAX_TOMBSTONES = 10_000


def _key(api_version: str, kind: str, name: str, namespace: str | None) -> Key:
    return (api_version, kind, namespace or "", name)


def _rv(obj: Mapping[str, Any]) -> int | None:
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    try:
        return int(rv) if rv is not None else None
    except (TypeError, ValueError):
        return None


def _compact(raw: bytes) -> bytes:
    """An exactly sized copy: orjson's bytes keep its growing buffer's capacity (4.8 KiB held for a 1.5 KiB
    child, by tracemalloc), which kept for every child would undo most of what bytes save."""
    return bytes(bytearray(raw))


class _Entry(NamedTuple):
    rv: int | None
    owner: str  # the owner label's uid ("" without one)
    raw: bytes


def _older(new: Mapping[str, Any], old: _Entry | None) -> bool:
    if old is None:
        return False
    a, b = _rv(new), old.rv
    return a is not None and b is not None and a < b


class ChildCache:
    """Managed children by (apiVersion, kind, namespace, name), and by owner uid for pruning."""

    def __init__(self) -> None:
        self._objs: dict[Key, _Entry] = {}
        self._by_owner: dict[str, set[Key]] = {}
        self._tombstones: OrderedDict[Key, str] = OrderedDict()  # deleted child -> its owner's uid

    def __len__(self) -> int:
        return len(self._objs)

    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> bool:
        """A watch event of a managed child (None/ADDED/MODIFIED/DELETED).

        Returns False when the event holds nothing the cache did not already have: the same or an
        older resourceVersion of a cached object, typically the echo of the operator's own apply
        (remembered from the apply's response, which the applying pass already used). Such an event
        need not wake the owner. Deletions, objects not cached and newer versions (a Deployment's
        status, an edit by someone else: drift) return True. Without integer resourceVersions every
        event returns True.
        """
        key = self._key_of(body)
        cached = self._objs.get(key)
        if event_type == "DELETED":
            if cached is not None and not _older(body, cached):
                self._drop(key)
                self._tombstones[key] = cached.owner
                while len(self._tombstones) > MAX_TOMBSTONES:
                    self._tombstones.popitem(last=False)
            return True
        if cached is not None:
            a, b = _rv(body), cached.rv
            if a is not None and b is not None and a <= b:
                return False  # already known (or older): nothing to store, nothing to tell the owner
        self.remember(body)
        return True

    def remember(self, obj: Mapping[str, Any]) -> None:
        """Store `obj` unless a newer version is already here."""
        key = self._key_of(obj)
        if _older(obj, self._objs.get(key)):
            return
        meta = obj.get("metadata") or {}
        slim = {k: v for k, v in obj.items() if k != "metadata"}
        slim["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
        slim["metadata"]["managedFields"] = [  # who wrote it (named in drift evidence), without the field sets
            {k: m.get(k) for k in ("manager", "operation", "time", "subresource")}
            for m in meta.get("managedFields") or []]
        owner = str((meta.get("labels") or {}).get(OWNER_LABEL) or "")
        self._drop(key)
        self._tombstones.pop(key, None)
        self._objs[key] = _Entry(_rv(obj), owner, _compact(orjson.dumps(slim)))
        if owner:
            self._by_owner.setdefault(owner, set()).add(key)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        entry = self._objs.get(_key(api_version, kind, name, namespace))
        return orjson.loads(entry.raw) if entry is not None else None

    def was_deleted(self, api_version: str, kind: str, name: str, namespace: str | None, *, owner_uid: str) -> bool:
        """The cache held this child of `owner_uid` and the watch saw it deleted since (not re-applied yet).

        The owner is part of the question: a capability deleted and created again under the same name has
        a new uid, and the children garbage collection took from the old one are not its drift."""
        return self._tombstones.get(_key(api_version, kind, name, namespace)) == owner_uid

    def forget(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        """Finplane deleted this child itself (a prune): drop it without a tombstone."""
        key = _key(api_version, kind, name, namespace)
        self._drop(key)
        self._tombstones.pop(key, None)

    def owned(self, api_version: str, kind: str, owner_uid: str, namespace: str | None = None) -> list[Obj]:
        """Cached children of `kind` carrying the owner label `owner_uid` (what a prune LIST would return)."""
        keys = self._by_owner.get(owner_uid, ())
        return [orjson.loads(self._objs[k].raw) for k in sorted(keys)
                if k[0] == api_version and k[1] == kind and (namespace is None or k[2] == namespace)]

    def _drop(self, key: Key) -> None:
        old = self._objs.pop(key, None)
        owner = old.owner if old is not None else ""
        if owner and owner in self._by_owner:
            self._by_owner[owner].discard(key)
            if not self._by_owner[owner]:
                del self._by_owner[owner]

    @staticmethod
    def _key_of(obj: Mapping[str, Any]) -> Key:
        meta = obj.get("metadata") or {}
        return _key(str(obj.get("apiVersion", "")), str(obj.get("kind", "")), meta.get("name", ""),
                    meta.get("namespace"))
