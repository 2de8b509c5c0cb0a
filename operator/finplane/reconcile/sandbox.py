"""Reconcile one TenantSandbox: approve? -> lifetime -> render -> apply -> credential -> status -> next wake-up.

Called by the TenantSandbox queue's workers (`reconcile.runtime`); `register(rt)` is found by
`handlers.registrations`. Expiry is not polled: every pass recomputes the timeline from the spec
and creationTimestamp and asks the queue to wake this sandbox exactly at the next transition
(warning, then expiry), so a restarted operator picks up the same instants from its initial listing.

Deleting the CR needs no finalizer: the Namespace carries an owner reference to the (cluster-scoped)
sandbox, so garbage collection removes it and namespace deletion removes everything inside, even
while the operator is down. The partner credential is only ever sent to the API server; status,
events and logs carry its SHA-256 and a short fingerprint.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from finplane.kube.errors import Conflict
from finplane.kube.events import post_event
from finplane.models.common import describe_errors
from finplane.models.tenant_sandbox import TenantSandboxSpec
from finplane.reconcile.child_cache import child_cache
from finplane.reconcile.children import stamp, sync_children
from finplane.reconcile.queue import Retry
from finplane.reconcile.registry_access import pull_secret_for
from finplane.reconcile.runtime import Key, Runtime
from finplane.reconcile.sandbox_teardown import expire
from finplane.reconcile.status_write import write_status
from finplane.render.sandbox import (
    CREDENTIAL_KEY,
    CREDENTIAL_SECRET,
    ROTATION_ANNOTATION,
    credential_secret,
    fingerprint,
    namespace_problem,
    render_sandbox,
    sandbox_labels,
    sandbox_namespace,
)
from finplane.render.sandbox_lifecycle import (
    Stage,
    Timeline,
    approval,
    lifetime_problem,
    parse_time,
    phase_of,
    timeline,
)
from finplane.status.conditions import Cond

__all__ = ["KIND", "reconcile_sandbox", "register"]

log = logging.getLogger("finplane.sandbox")
KIND = "TenantSandbox"
Obj = dict[str, Any]
PRUNE = (("rbac.authorization.k8s.io/v1", "RoleBinding"), ("networking.k8s.io/v1", "NetworkPolicy"))
_background: set[asyncio.Task[None]] = set()


def register(rt: Runtime) -> None:
    """Give TenantSandbox its queue, and wire deletion reports and registry changes."""
    rt.register(KIND, reconcile_sandbox)
    # kopf runs sync event handlers in a worker thread, so observers must hop back onto the loop.
    loop = asyncio.get_running_loop()

    def spawn(body: Obj) -> None:
        task = loop.create_task(_report_deletion(rt, body))
        _background.add(task)
        task.add_done_callback(_background.discard)

    def sandbox_changed(event: str, new: Obj, old: Obj | None) -> None:
        if event == "DELETED":
            loop.call_soon_threadsafe(spawn, new)

    def registry_changed(event: str, new: Obj, old: Obj | None) -> None:
        for key, body in rt.stores.get(KIND, {}).items():
            if (body.get("spec") or {}).get("registryRef") == new["metadata"]["name"]:
                rt.enqueue(KIND, key)

    rt.on_change(KIND, sandbox_changed)
    rt.on_change("ImageRegistry", registry_changed)


async def _report_deletion(rt: Runtime, body: Obj) -> None:
    name = body["metadata"]["name"]
    ns = (body.get("status") or {}).get("namespace") or sandbox_namespace(name, rt.settings)
    log.info("Sandbox %s deleted: removing Namespace/%s and everything in it (owner-reference garbage collection)",
             name, ns)
    await post_event(rt.kube, body, type_="Normal", reason="TornDown",
                     message=f"Deleted: Namespace/{ns} and everything in it are removed by garbage collection")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _schedule(rt: Runtime, key: Key, tl: Timeline) -> None:
    """Wake this sandbox at its next transition (the queue's timer; nothing polls)."""
    secs = tl.seconds_to_next(datetime.now(UTC))
    if secs is not None:
        rt.enqueue(KIND, key, delay=secs + 0.05)


async def reconcile_sandbox(rt: Runtime, key: Key) -> None:
    body = rt.get(KIND, key)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    name = key[1]
    meta = body["metadata"]
    try:
        spec = TenantSandboxSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        msg = describe_errors(exc)
        await _refuse(rt, body, "InvalidSpec", msg, fields={})
        return
    ns = sandbox_namespace(name, rt.settings)
    tl = timeline(spec, created=parse_time(meta.get("creationTimestamp")), settings=rt.settings)
    now = datetime.now(UTC)
    times = {"expiresAt": _iso(tl.expires_at)}
    if (body.get("status") or {}).get("teardown") or tl.stage(now) is Stage.EXPIRED:
        await expire(rt, body, namespace=ns, expires_at=times["expiresAt"])
        return
    _schedule(rt, key, tl)
    problem = lifetime_problem(tl, rt.settings)
    if problem:
        await _refuse(rt, body, "TTLTooLong", problem, fields=times)
        return
    problem = namespace_problem(ns)
    if problem:
        await _refuse(rt, body, "NamespaceConflict", problem, fields=times)
        return
    blocked = approval(meta.get("annotations"))
    if blocked:
        await _refuse(rt, body, *blocked, fields=times)
        return

    live_ns = await rt.kube.get_or_none("v1", "Namespace", ns)
    if live_ns is not None and live_ns["metadata"].get("deletionTimestamp"):
        raise Retry(f"namespace {ns} is still terminating", delay=2.0)
    desired = [stamp(c, body) for c in render_sandbox(name=name, spec=spec, settings=rt.settings)]
    result = await sync_children(rt.kube, desired, owner_uid=meta["uid"], seen_before=False,
                                 prune_kinds=PRUNE, prune_namespaces=(ns,), cache=child_cache(rt))
    if result.conflicts:
        await _refuse(rt, body, "NamespaceConflict", f"{', '.join(result.conflicts)} already exists and does not "
                      "belong to this sandbox; nothing was adopted: rename the sandbox or remove that object",
                      fields=times)
        return
    for cid, fields in result.drifted:
        log.info("Drift on %s of sandbox %s: %s", cid, name, ", ".join(fields[:10]))
        await post_event(rt.kube, body, type_="Warning", reason="Drift",
                         message=f"Reverted manual change to {cid}: {', '.join(fields[:10])}")
    for cid in result.applied:
        log.info("Applied %s for sandbox %s", cid, name)
    for cid in result.pruned:
        log.info("Deleted %s for sandbox %s (no longer rendered)", cid, name)
    if result.refused is not None:
        refused = result.refused
        await _refuse(rt, body, refused.reason, f"the API server refused {refused.child}: {refused.message}; "
                      "nothing after it was applied", fields=times)
        return

    cred = await _ensure_credential(rt, body, spec, ns)
    pull = await _pull_access(rt, body, spec, ns)
    stage = tl.stage(now)
    conds = [pull] if pull else []
    if pull and pull.status != "True":
        conds.insert(0, Cond("Ready", "False", pull.reason, pull.message))
        # the registry writes the pull Secret; its watch event re-enqueues this sandbox (registry.secret_event)
    else:
        conds.insert(0, Cond("Ready", "True", "Provisioned", f"namespace {ns} and its guard rails are in place"))
    if stage is Stage.EXPIRING:
        conds.append(Cond("Expiring", "True", "ExpiresSoon",
                          f"the sandbox expires at {times['expiresAt']}; extend spec.ttlSeconds or spec.expiresAt "
                          "to keep it"))
    else:
        conds.append(Cond("Expiring", "False", "NotExpiring", f"expires at {times['expiresAt']}"))
    conds.append(Cond("Expired", "False", "NotExpired", f"expires at {times['expiresAt']}"))
    await _announce_expiring(rt, body, stage, times["expiresAt"])
    fields = {**times, **cred, "namespace": ns, "teardown": None,
              "phase": str(phase_of([{"type": c.type, "status": c.status, "reason": c.reason} for c in conds]))}
    await write_status(rt.kube, body, conditions=conds, fields=fields)


async def _announce_expiring(rt: Runtime, body: Obj, stage: Stage, expires_at: str) -> None:
    before = next((c for c in (body.get("status") or {}).get("conditions") or [] if c.get("type") == "Expiring"), {})
    if stage is Stage.EXPIRING and before.get("status") != "True":
        log.info("Sandbox %s is expiring at %s", body["metadata"]["name"], expires_at)
        await post_event(rt.kube, body, type_="Warning", reason="Expiring",
                         message=f"The sandbox expires at {expires_at}; its namespace and credential are removed then")


async def _ensure_credential(rt: Runtime, body: Obj, spec: TenantSandboxSpec, ns: str) -> Obj:
    """Create the credential once; replace it only when spec.credentialRotation grew. Returns status fields."""
    name = body["metadata"]["name"]
    live = await rt.kube.get_or_none("v1", "Secret", CREDENTIAL_SECRET, ns)
    made_for = int(((live or {}).get("metadata", {}).get("annotations") or {}).get(ROTATION_ANNOTATION, "-1"))
    key_b64 = ((live or {}).get("data") or {}).get(CREDENTIAL_KEY)
    if live is None or key_b64 is None or made_for < spec.credential_rotation:
        key = secrets.token_urlsafe(32)
        secret = stamp(credential_secret(namespace=ns, key=key, rotation=spec.credential_rotation,
                                         labels=sandbox_labels(name, spec)), body)
        try:
            if live is None:
                await rt.kube.create(secret)
            else:
                secret["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                await rt.kube.replace(secret)
        except Conflict:
            raise Retry("the credential Secret changed meanwhile", delay=0.5) from None
        made_for = spec.credential_rotation
        verb = "Issued" if live is None else "Rotated"
        _, short = fingerprint(key)
        log.info("%s partner credential of sandbox %s (fingerprint %s)", verb, name, short)
        await post_event(rt.kube, body, type_="Normal", reason=f"Credential{verb}",
                         message=f"Partner credential {verb.lower()}: Secret {ns}/{CREDENTIAL_SECRET}, "
                                 f"fingerprint {short}")
    else:
        key = base64.b64decode(key_b64).decode()
    digest, short = fingerprint(key)
    return {"credentialSecretRef": {"name": CREDENTIAL_SECRET, "namespace": ns, "key": CREDENTIAL_KEY},
            "credentialHash": digest, "credentialFingerprint": short, "credentialRotation": made_for}


async def _pull_access(rt: Runtime, body: Obj, spec: TenantSandboxSpec, ns: str) -> Cond | None:
    """Whether pods of the namespace pull with the registry's Secret. Read only: the ImageRegistry reconciler
    writes both the Secret and the `default` ServiceAccount's entry (one writer per field)."""
    if not spec.registry_ref:
        return None
    secret_name = pull_secret_for(rt.stores, spec.registry_ref)
    if await rt.kube.get_or_none("v1", "Secret", secret_name, ns) is None:
        return Cond("ImagePullAccess", "False", "PullSecretMissing",
                    f"ImageRegistry {spec.registry_ref} has not written Secret {ns}/{secret_name} yet")
    sa = await rt.kube.get_or_none("v1", "ServiceAccount", "default", ns)
    if not any(r.get("name") == secret_name for r in (sa or {}).get("imagePullSecrets") or []):
        return Cond("ImagePullAccess", "False", "PullSecretNotWired",
                    f"ImageRegistry {spec.registry_ref} has not added Secret {secret_name} to ServiceAccount "
                    f"{ns}/default yet")
    return Cond("ImagePullAccess", "True", "PullSecretPresent", f"pods pull with Secret {secret_name}")


async def _refuse(rt: Runtime, body: Obj, reason: str, message: str, *, fields: Obj) -> None:
    """A spec (or approval) only a person can fix: Ready=False with the reason, nothing provisioned."""
    log.warning("Sandbox %s not provisioned: %s: %s", body["metadata"]["name"], reason, message)
    conds = [Cond("Ready", "False", reason, message),
             Cond("Expiring", "False", reason, "not provisioned"),
             Cond("Expired", "False", "NotExpired", "not provisioned")]
    phase = phase_of([{"type": c.type, "status": c.status, "reason": c.reason} for c in conds])
    await write_status(rt.kube, body, conditions=conds, fields={**fields, "phase": str(phase)})
