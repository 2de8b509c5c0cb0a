"""Write, prune and wire an ImageRegistry's pull Secrets, one namespace at a time.

Called by `reconcile.registry`. Each namespace is independent: a name collision in one does not
block the others. The rendering hash on a Secret is computed over an HMAC of its data with a
per-process key, so the annotation tells updates from drift without exposing anything that
could be used to guess a password offline.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from finplane.kube.client import Kube
from finplane.kube.errors import NotFound
from finplane.reconcile.children import OWNER_LABEL, stamp, sync_children

__all__ = ["SecretSync", "prune_secrets", "stamp_secret", "sync_secret", "wire_service_account"]

log = logging.getLogger("finplane.registry")
_KEY = secrets.token_bytes(32)
Obj = dict[str, Any]


@dataclass
class SecretSync:
    synced: set[str] = field(default_factory=set)
    out: dict[str, str] = field(default_factory=dict)  # namespace -> why it is not in sync
    conflicts: set[str] = field(default_factory=set)
    applied: list[str] = field(default_factory=list)
    drifted: list[tuple[str, list[str]]] = field(default_factory=list)


def stamp_secret(secret: Obj, owner: Obj) -> Obj:
    """`stamp` (hash, owner label and reference) without feeding the credentials into the hash."""
    masked = copy.deepcopy(secret)
    masked["data"] = {k: hmac.new(_KEY, v.encode(), hashlib.sha256).hexdigest() for k, v in secret["data"].items()}
    stamped = stamp(masked, owner)
    stamped["data"] = dict(secret["data"])
    return stamped


async def sync_secret(kube: Kube, secret: Obj, *, owner: Obj, seen_before: bool, result: SecretSync) -> None:
    ns = secret["metadata"]["namespace"]
    res = await sync_children(kube, [stamp_secret(secret, owner)], owner_uid=owner["metadata"]["uid"],
                              seen_before=seen_before)
    if res.conflicts:
        result.conflicts.add(ns)
        result.out[ns] = f"Secret {secret['metadata']['name']} exists and is not managed by this registry"
        return
    result.synced.add(ns)
    if res.applied:
        result.applied.append(ns)
    result.drifted.extend((ns, fields) for _, fields in res.drifted)


async def prune_secrets(kube: Kube, *, owner_uid: str, keep: set[str], name: str,
                        known_namespaces: set[str]) -> list[str]:
    """Delete this registry's pull Secrets outside `keep` (or with an old name); returns their namespaces.

    Only namespaces the operator has seen are pruned (a namespace being deleted takes its Secrets along).
    """
    pruned = []
    for obj in await kube.list("v1", "Secret", label_selector=f"{OWNER_LABEL}={owner_uid}"):
        meta = obj["metadata"]
        ns = meta.get("namespace", "")
        if ns in known_namespaces and (ns not in keep or meta["name"] != name):
            await kube.delete("v1", "Secret", meta["name"], ns)
            if meta["name"] == name:
                pruned.append(ns)
    return pruned


async def wire_service_account(kube: Kube, *, namespace: str, name: str, secret: str, present: bool) -> None:
    """Add (or remove) `secret` in a ServiceAccount's imagePullSecrets, keeping every other entry.

    A merge patch carrying the read resourceVersion: if someone else changed the list meanwhile the
    API server answers 409 and the queue retries, so no entry of theirs is ever lost.
    """
    try:
        sa = await kube.get("v1", "ServiceAccount", name, namespace)
    except NotFound:
        return  # not there (yet): its ADDED event re-enqueues the registry (registry.service_account_event)
    entries = list(sa.get("imagePullSecrets") or [])
    has = any(e.get("name") == secret for e in entries)
    if has == present:
        return
    new = entries + [{"name": secret}] if present else [e for e in entries if e.get("name") != secret]
    await kube.patch_merge("v1", "ServiceAccount", name, {
        "metadata": {"resourceVersion": sa["metadata"].get("resourceVersion")}, "imagePullSecrets": new}, namespace)
    log.info("%s pull Secret %s %s ServiceAccount %s/%s", "Added" if present else "Removed", secret,
             "to" if present else "from", namespace, name)
