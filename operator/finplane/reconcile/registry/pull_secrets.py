"""Write, prune and wire an ImageRegistry's pull Secrets, one namespace at a time.

Called by `reconcile.registry`. Each namespace is independent: a name collision in one does not
block the others. The rendering hash on a Secret is computed over an HMAC of its data with a
per-process key, so the annotation tells updates from drift without exposing anything that
could be used to guess a password offline.

One writer per field: the pull-secret entry in a ServiceAccount's `imagePullSecrets` is written by the
registry only in accounts no other Finplane reconciler renders. A capability's own ServiceAccount (a
child carrying the owner label) lists the pull Secret in its rendering and is left to the capability
reconciler; the registry never adds or removes anything there. Kubernetes keeps `imagePullSecrets`
of a ServiceAccount as an atomic list (`+listType=atomic`), so two server-side-apply managers cannot
split it by entry: the registry writes the accounts it wires with a merge patch under its own field
manager (`REGISTRY_FIELD_MANAGER`, visible in managedFields) carrying the read resourceVersion.
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
from finplane.names import REGISTRY_FIELD_MANAGER
from finplane.reconcile.children import OWNER_LABEL, SyncResult, stamp, sync_children

__all__ = ["REGISTRY_FIELD_MANAGER", "SecretSync", "is_finplane_child", "prune_secrets", "stamp_secret", "sync_secret",
           "wire_service_account"]

log = logging.getLogger("finplane.registry")
_KEY = secrets.token_bytes(32)
Obj = dict[str, Any]


def is_finplane_child(obj: Obj) -> bool:
    """A child some Finplane reconciler renders (it carries the owner label): its owner writes all of it."""
    return bool(((obj.get("metadata") or {}).get("labels") or {}).get(OWNER_LABEL))


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


async def sync_secret(kube: Kube, secret: Obj, *, owner: Obj, seen_before: bool, result: SecretSync) -> SyncResult:
    """Apply one namespace's pull Secret; `result` collects the namespaces; the SyncResult goes to the report."""
    ns = secret["metadata"]["namespace"]
    res = await sync_children(kube, [stamp_secret(secret, owner)], owner_uid=owner["metadata"]["uid"],
                              seen_before=seen_before)
    if res.conflicts:
        result.conflicts.add(ns)
        result.out[ns] = f"Secret {secret['metadata']['name']} exists and is not managed by this registry"
        return res
    if res.refused is not None:
        result.out[ns] = f"the API server refused the Secret: {res.refused.message}"
        return res
    result.synced.add(ns)
    if res.applied:
        result.applied.append(ns)
    result.drifted.extend((ns, fields) for _, fields in res.drifted)
    return res


async def prune_secrets(kube: Kube, *, owner_uid: str, keep: set[str], name: str, names: set[str],
                        candidates: set[str]) -> list[str]:
    """Delete this registry's pull Secrets outside `keep` (or with an old name); returns their namespaces.

    Only `candidates` are looked at: namespaces the operator has seen where the last status says it wrote
    one. Each is read by name (`get`; the operator may not list Secrets cluster-wide, CIS 5.1.2) and deleted
    only when it carries this registry's owner label.
    """
    pruned = []
    for ns in sorted(candidates):
        for secret in sorted(names):
            if ns in keep and secret == name:
                continue
            obj = await kube.get_or_none("v1", "Secret", secret, ns)
            if obj is None or (obj["metadata"].get("labels") or {}).get(OWNER_LABEL) != owner_uid:
                continue
            await kube.delete("v1", "Secret", secret, ns)
            if secret == name:
                pruned.append(ns)
    return pruned


async def wire_service_account(kube: Kube, *, namespace: str, name: str, secret: str, present: bool,
                               create: bool = False) -> bool:
    """Add (or remove) `secret` in a ServiceAccount's imagePullSecrets, keeping every other entry; returns whether
    it wrote.

    A merge patch carrying the read resourceVersion: if someone else changed the list meanwhile the
    API server answers 409 and the queue retries, so no entry of theirs is ever lost. An account that is a
    Finplane child (a capability's) is never touched: its owner renders the entry. A missing account is
    created only with `create` (a sandbox namespace's `default`, which a real cluster's controller
    manager creates anyway and the embedded API server does not).
    """
    try:
        sa = await kube.get("v1", "ServiceAccount", name, namespace)
    except NotFound:
        if not (create and present):
            return False  # not there (yet): its ADDED event re-enqueues the registry (registry.service_account_event)
        await kube.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace},
                          "imagePullSecrets": [{"name": secret}]}, force=False, field_manager=REGISTRY_FIELD_MANAGER)
        log.info("Created ServiceAccount %s/%s with pull Secret %s", namespace, name, secret)
        return True
    if is_finplane_child(sa):
        return False
    entries = list(sa.get("imagePullSecrets") or [])
    has = any(e.get("name") == secret for e in entries)
    if has == present:
        return False
    new = entries + [{"name": secret}] if present else [e for e in entries if e.get("name") != secret]
    await kube.patch_merge("v1", "ServiceAccount", name, {
        "metadata": {"resourceVersion": sa["metadata"].get("resourceVersion")}, "imagePullSecrets": new}, namespace,
        field_manager=REGISTRY_FIELD_MANAGER)
    log.info("%s pull Secret %s %s ServiceAccount %s/%s", "Added" if present else "Removed", secret,
             "to" if present else "from", namespace, name)
    return True
