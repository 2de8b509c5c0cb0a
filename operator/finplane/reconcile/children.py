"""Bring rendered children to the cluster: compare first, apply only what differs, prune leftovers.

Called by every reconciler after a pure render. The one write path for children is server-side
apply under Finplane's field manager, forced (Finplane owns these objects). Before writing
anything it checks that no desired child collides with an object Finplane does not own, so a
conflict leaves the cluster untouched (nothing half-applied).

Drift vs. update: each child carries the hash of its rendering (`finplane.io/rendered-hash`). If
the live child has the desired hash but different fields, somebody edited it by hand (drift); if
the hash differs, the owner's spec changed (an update, not drift). A missing child is drift only if
it existed: with the watch-fed cache, only a child the cache saw deleted (`ChildCache.was_deleted`);
without it, the caller's `seen_before`.

Children are applied in the order given (renderers put NetworkPolicies first and the workload last).
A child the API server refuses (400, 422: the rendering is invalid for this server) stops the
sequence: it and everything after it stay unapplied, so a Deployment never runs without the
NetworkPolicies and Service rendered before it, and `SyncResult.refused` says what the server said.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from finplane.kube.client import Kube
from finplane.kube.errors import KubeError, NotFound
from finplane.names import HASH_ANNOTATION, OWNER_LABEL
from finplane.reconcile.child_cache import ChildCache
from finplane.reconcile.diff import differences

__all__ = ["HASH_ANNOTATION", "OWNER_LABEL", "Refusal", "SyncResult", "child_id", "owner_reference", "sync_children",
           "canonical", "stamp"]


Obj = dict[str, Any]


def owner_reference(owner: Obj) -> Obj:
    """The controller owner reference of a child of `owner` (garbage collection deletes the child)."""
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def canonical(child: Obj) -> bytes:
    """The bytes the rendering hash is taken of: sorted keys, no spaces, non-ASCII escaped (`json.dumps`'s form).

    orjson gives the same bytes ~10x faster when they are ASCII (the hash was ~5 % of the operator's CPU, issue
    19); for anything else (non-ASCII text, which json escapes; integers beyond 64 bits) json is used, so an
    upgrade does not see every hash change and re-apply every child (tests/unit/test_canonical_hash.py renders
    every example). orjson writes floats with exponents differently (1e16, json 1e+16); renderings hold none
    (quantities are strings), and one that did would only be re-applied once.
    """
    try:
        raw = orjson.dumps(child, option=orjson.OPT_SORT_KEYS)
        if raw.isascii():
            return raw
    except TypeError:  # an integer beyond 64 bits, a key that is not a string
        pass
    return json.dumps(child, sort_keys=True, separators=(",", ":")).encode()


def stamp(child: Obj, owner: Obj | None) -> Obj:
    """Add the rendering hash, the owner label and the owner reference to a rendered child."""
    meta = child.setdefault("metadata", {})
    digest = hashlib.sha256(canonical(child)).hexdigest()[:16]
    meta.setdefault("annotations", {})[HASH_ANNOTATION] = digest
    if owner is not None:
        meta.setdefault("labels", {})[OWNER_LABEL] = owner["metadata"]["uid"]
        meta["ownerReferences"] = [owner_reference(owner)]
    return child


def child_id(obj: Obj) -> str:
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{obj['kind']}/{ns + '/' if ns else ''}{meta['name']}"


@dataclass(frozen=True)
class Refusal:
    """A child the API server refused (400/422): which one, and the server's reason and message."""

    child: str
    reason: str
    message: str


@dataclass
class SyncResult:
    applied: list[str] = field(default_factory=list)
    drifted: list[tuple[str, list[str]]] = field(default_factory=list)
    before: dict[str, Obj] = field(default_factory=dict)  # a drifted child as found, to name who changed it
    conflicts: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    live: dict[str, Obj] = field(default_factory=dict)
    refused: Refusal | None = None

    @property
    def wrote(self) -> bool:
        return bool(self.applied or self.pruned)


def _owned_by(live: Obj, owner_uid: str | None) -> bool:
    if owner_uid is None:
        return (live.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/managed-by") == "finplane"
    return any(r.get("uid") == owner_uid for r in live.get("metadata", {}).get("ownerReferences") or [])


async def sync_children(kube: Kube, desired: list[Obj], *, owner_uid: str | None, seen_before: bool,
                        prune_kinds: tuple[tuple[str, str], ...] = (), prune_namespaces: tuple[str, ...] = (),
                        cache: ChildCache | None = None) -> SyncResult:
    """Make the cluster hold `desired`; returns what was written, drifted, conflicting or pruned.

    Without a `cache`, `seen_before` says the owner's children were applied earlier, so a missing child was
    deleted by hand (drift); with one, only a child the cache saw deleted is.
    Children of `prune_kinds` carrying the owner label but absent from `desired` are deleted.
    With a watch-fed `cache` (reconcile.child_cache), children found there are not fetched and pruning
    needs no LIST; a child missing from it is still fetched (absent, foreign or not yet seen).
    """
    result = SyncResult()
    lives: list[Obj | None] = []
    for child in desired:
        meta = child["metadata"]
        live = cache.get(child["apiVersion"], child["kind"], meta["name"], meta.get("namespace")) if cache else None
        if live is None:
            live = await kube.get_or_none(child["apiVersion"], child["kind"], meta["name"], meta.get("namespace"))
        if live is not None and not _owned_by(live, owner_uid):
            result.conflicts.append(child_id(child))
        lives.append(live)
    if result.conflicts:
        return result  # touch nothing: a name collision is the user's to resolve

    for child, live in zip(desired, lives, strict=True):
        cid = child_id(child)
        if live is None:
            meta = child["metadata"]
            existed = cache.was_deleted(child["apiVersion"], child["kind"], meta["name"], meta.get("namespace"),
                                        owner_uid=owner_uid or "") if cache is not None else seen_before
            if existed:
                result.drifted.append((cid, ["(deleted)"]))
        else:
            diff = differences(child, live)
            if not diff:
                result.live[cid] = live
                continue
            same_rendering = (live["metadata"].get("annotations") or {}).get(HASH_ANNOTATION) == \
                child["metadata"]["annotations"][HASH_ANNOTATION]
            if same_rendering:
                result.drifted.append((cid, diff))
                result.before[cid] = live
        try:
            result.live[cid] = await kube.apply(child)
        except KubeError as exc:
            if exc.status not in (400, 422):
                raise
            # Invalid for this server: retrying cannot help, and what comes after it must not run without it.
            result.refused = Refusal(cid, exc.reason or "ChildRefused", exc.message[:1024])
            if result.drifted and result.drifted[-1][0] == cid:
                result.drifted.pop()
            return result
        result.applied.append(cid)
        if cache is not None:
            cache.remember(result.live[cid])  # the next pass sees this write before the watch echoes it

    if owner_uid and prune_kinds:
        wanted = {child_id(c) for c in desired}
        for api_version, kind in prune_kinds:
            for ns in prune_namespaces or (None,):
                found = cache.owned(api_version, kind, owner_uid, ns) if cache is not None else \
                    await kube.list(api_version, kind, ns, label_selector=f"{OWNER_LABEL}={owner_uid}")
                for obj in found:
                    obj.setdefault("apiVersion", api_version)
                    obj.setdefault("kind", kind)
                    if child_id(obj) not in wanted:
                        try:
                            await kube.delete(api_version, kind, obj["metadata"]["name"],
                                              obj["metadata"].get("namespace"))
                        except NotFound:
                            pass  # already gone (a cached object may be a step behind)
                        if cache is not None:  # our own deletion: its DELETED event is no drift
                            cache.forget(api_version, kind, obj["metadata"]["name"], obj["metadata"].get("namespace"))
                        result.pruned.append(child_id(obj))
    return result
