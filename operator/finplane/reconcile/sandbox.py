"""Reconcile one TenantSandbox: approve? -> lifetime -> render -> apply -> credential -> status -> next wake-up.

One `KindReconciler`, added by `handlers.registrations`. Expiry is not polled: every pass recomputes
the timeline from the spec and creationTimestamp and returns `requeue_after` for the next transition
(warning, then expiry), so a restarted operator picks up the same instants from its initial listing.
A refused spec (InvalidSpec, TTLTooLong) of a provisioned sandbox applies nothing and keeps the expiry
recorded in status (`reconcile.sandbox_contract`), so an edit never buys time.
Woken also by its registry's spec, and by the pull Secret and the `default` ServiceAccount of its
namespace (the ImageRegistry reconciler writes the Secret and the account's imagePullSecrets, which this
one only reads; it owns only the account's automountServiceAccountToken: `reconcile.sandbox_account`).

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
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pydantic import ValidationError

from finplane.kube.errors import Conflict
from finplane.kube.events import post_event
from finplane.models.common import describe_errors
from finplane.models.tenant_sandbox import CredentialRef, SandboxPhase, TenantSandboxSpec, TenantSandboxStatus
from finplane.names import IMAGE_REGISTRY, REGISTRY_LABEL, TENANT_SANDBOX
from finplane.reconcile.registry.access import pull_secret_for
from finplane.reconcile.runtime import Key, Runtime
from finplane.reconcile.sandbox_account import disable_token_automount
from finplane.reconcile.sandbox_contract import HeldToContract, SpecError, hold_to_contract, iso
from finplane.reconcile.sandbox_teardown import expire
from finplane.reconcile.shape import KindReconciler, Outcome, Pass, Refuse, Watch
from finplane.render.sandbox import (
    CREDENTIAL_KEY,
    CREDENTIAL_SECRET,
    ROTATION_ANNOTATION,
    credential_secret,
    fingerprint,
    member_problem,
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
from finplane.status.vocabulary import ConditionType, Reason

__all__ = ["KIND", "SandboxReconciler"]

log = logging.getLogger("finplane.sandbox")
KIND = TENANT_SANDBOX
Obj = dict[str, Any]
PRUNE = (("rbac.authorization.k8s.io/v1", "RoleBinding"), ("networking.k8s.io/v1", "NetworkPolicy"))
T = ConditionType


class Credential(NamedTuple):
    """What status may say of the partner credential: its hash, short fingerprint and rotation (never the key)."""

    digest: str
    short: str
    rotation: int


def _phase(conds: list[Cond]) -> str:
    return str(phase_of([{"type": c.type, "status": c.status, "reason": c.reason} for c in conds]))


class SandboxReconciler(KindReconciler[TenantSandboxSpec | SpecError]):
    kind = KIND
    spec_model = TenantSandboxSpec

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt)
        self._background: set[asyncio.Task[None]] = set()

    def watches(self) -> list[Watch]:
        return [Watch(KIND, self._deleted), Watch(IMAGE_REGISTRY, self._registry_changed),
                Watch("Secret", self._pull_secret_changed, stored=False),
                Watch("ServiceAccount", self._account_changed, stored=False)]

    # -- what wakes a sandbox -------------------------------------------------------------------------
    def _deleted(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        if event == "DELETED" and not self.rt.is_paused():  # a standby observes; the active replica reports
            task = asyncio.get_running_loop().create_task(self._report_deletion(new))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return []

    def _registry_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        name = new["metadata"]["name"]
        return [k for k, b in self.rt.stores.get(KIND, {}).items() if (b.get("spec") or {}).get("registryRef") == name]

    def _in_namespace(self, namespace: str | None) -> Iterable[Key]:
        # by name, not status.namespace: the Secret can arrive before the sandbox's first status write
        return [k for k in self.rt.stores.get(KIND, {}) if sandbox_namespace(k[1], self.rt.settings) == namespace]

    def _pull_secret_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        meta = new.get("metadata") or {}
        if not (meta.get("labels") or {}).get(REGISTRY_LABEL):
            return []
        return self._in_namespace(meta.get("namespace"))  # its ImagePullAccess waits for this Secret: no polling

    def _account_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        meta = new.get("metadata") or {}
        if meta.get("name") != "default" or not str(meta.get("namespace", "")).startswith(
                self.rt.settings.sandbox_namespace_prefix):
            return []
        return self._in_namespace(meta.get("namespace"))

    async def _report_deletion(self, body: Obj) -> None:
        name = body["metadata"]["name"]
        ns = (body.get("status") or {}).get("namespace") or sandbox_namespace(name, self.rt.settings)
        log.info("Sandbox %s deleted: removing Namespace/%s and everything in it (owner-reference garbage "
                 "collection)", name, ns)
        await post_event(self.rt.kube, body, type_="Normal", reason="TornDown",
                         message=f"Deleted: Namespace/{ns} and everything in it are removed by garbage collection")
        self.rt.recorder.sandbox_torn_down(body, reason="Deleted", report={"removed": [f"Namespace/{ns}"]})

    # -- one pass -------------------------------------------------------------------------------------
    def parse(self, body: Obj) -> TenantSandboxSpec | SpecError:
        """Lenient: an invalid spec still reaches `reconcile`, which holds a provisioned sandbox to its
        recorded expiry instead of leaving it running with no teardown scheduled."""
        try:
            return TenantSandboxSpec.model_validate(body.get("spec") or {})
        except ValidationError as exc:
            return SpecError(describe_errors(exc))

    async def reconcile(self, p: Pass[TenantSandboxSpec | SpecError]) -> Outcome:
        rt, body, name = self.rt, p.body, p.name
        meta = body["metadata"]
        ns = sandbox_namespace(name, rt.settings)
        now = datetime.now(UTC)
        if (body.get("status") or {}).get("teardown"):
            recorded = (body.get("status") or {}).get("expiresAt") or iso(now)
            return await expire(rt, body, namespace=ns, expires_at=str(recorded))
        if isinstance(p.spec, SpecError):
            return await self._refuse_spec(body, ns, Reason.INVALID_SPEC, p.spec.message, now=now)
        spec = p.spec
        tl = timeline(spec, created=parse_time(meta.get("creationTimestamp")), settings=rt.settings)
        expires_at = iso(tl.expires_at)
        problem = lifetime_problem(tl, rt.settings)
        if problem:  # checked before the expiry: an over-long spec never moves the teardown instant
            return await self._refuse_spec(body, ns, Reason.TTL_TOO_LONG, problem, now=now,
                                           times=TenantSandboxStatus(expires_at=expires_at),
                                           wake=self._next_wake(tl))
        if tl.stage(now) is Stage.EXPIRED:
            return await expire(rt, body, namespace=ns, expires_at=expires_at)
        wake = self._next_wake(tl)
        times = TenantSandboxStatus(expires_at=expires_at)
        problem = member_problem(spec)
        if problem:  # the CRD refuses these; a CR stored before that rule still binds nobody
            return await self._refuse_spec(body, ns, Reason.INVALID_SPEC, problem, now=now, times=times, wake=wake)
        problem = namespace_problem(ns)
        if problem:
            raise Refuse(Reason.NAMESPACE_CONFLICT, problem, status=times, requeue_after=wake)
        blocked = approval(meta.get("annotations"))
        if blocked:  # an annotation, not the spec, lifts it
            raise Refuse(*blocked, terminal=False, status=times, requeue_after=wake)

        live_ns = await rt.kube.get_or_none("v1", "Namespace", ns)
        if live_ns is not None and live_ns["metadata"].get("deletionTimestamp"):
            log.info("Sandbox %s waits for namespace %s to finish terminating", name, ns)
            return Outcome([], requeue_after=2.0)  # its Namespace will be created again once it is gone
        result = await p.apply(render_sandbox(name=name, spec=spec, settings=rt.settings), prune_kinds=PRUNE,
                               prune_namespaces=(ns,), refuse=False)
        if result.conflicts:
            raise Refuse(Reason.NAMESPACE_CONFLICT, f"{', '.join(result.conflicts)} already exists and does not "
                         "belong to this sandbox; nothing was adopted: rename the sandbox or remove that object",
                         terminal=False, status=times, requeue_after=wake)
        if result.refused is not None:
            raise Refuse(result.refused.reason, f"the API server refused {result.refused.child}: "
                         f"{result.refused.message}; nothing after it was applied", status=times, requeue_after=wake)

        await disable_token_automount(rt.kube, namespace=ns)
        cred = await self._ensure_credential(body, spec, ns)
        if cred is None:
            return Outcome([], requeue_after=0.5)  # the credential Secret changed meanwhile: look again
        pull = await self._pull_access(spec, ns)
        stage = tl.stage(now)
        conds = [pull] if pull else []
        if pull and pull.status != "True":
            conds.insert(0, Cond(T.READY, "False", pull.reason, pull.message))
        else:
            conds.insert(0, Cond(T.READY, "True", Reason.PROVISIONED, f"namespace {ns} and its guard rails are in place"))
        if stage is Stage.EXPIRING:
            conds.append(Cond(T.EXPIRING, "True", Reason.EXPIRES_SOON,
                              f"the sandbox expires at {expires_at}; extend spec.ttlSeconds or spec.expiresAt "
                              "to keep it"))
        else:
            conds.append(Cond(T.EXPIRING, "False", Reason.NOT_EXPIRING, f"expires at {expires_at}"))
        conds.append(Cond(T.EXPIRED, "False", Reason.NOT_EXPIRED, f"expires at {expires_at}"))
        await self._announce_expiring(body, stage, expires_at)
        status = TenantSandboxStatus(
            expires_at=expires_at, namespace=ns, teardown=None, phase=SandboxPhase(_phase(conds)),
            credential_secret_ref=CredentialRef(name=CREDENTIAL_SECRET, namespace=ns, key=CREDENTIAL_KEY),
            credential_hash=cred.digest, credential_fingerprint=cred.short, credential_rotation=cred.rotation)
        rt.recorder.sandbox_provisioned(body, namespace=ns, expires_at=expires_at)
        return Outcome(conds, status=status, requeue_after=wake)

    async def _refuse_spec(self, body: Obj, ns: str, reason: str, problem: str, *, now: datetime,
                           times: TenantSandboxStatus | None = None, wake: float | None = None) -> Outcome:
        """A refused spec: a provisioned sandbox keeps its recorded expiry (torn down then, or now when it has
        passed); one never provisioned is refused as it stands."""
        recorded = hold_to_contract(body, reason=reason, problem=problem, now=now)  # raises HeldToContract
        if recorded is not None:
            return await expire(self.rt, body, namespace=ns, expires_at=iso(recorded))
        raise Refuse(reason, problem, status=times, requeue_after=wake)

    def refused(self, body: Obj, refusal: Refuse) -> Outcome:
        """A spec (or approval) only a person can fix: Ready=False with the reason, nothing (more) provisioned."""
        if isinstance(refusal, HeldToContract):
            conds = [Cond(T.READY, "False", refusal.reason, refusal.message),
                     Cond(T.EXPIRING, "True", refusal.reason,
                          f"the spec is refused: the sandbox is torn down at {refusal.expires_at}, its last valid "
                          "expiry"),
                     Cond(T.EXPIRED, "False", Reason.NOT_EXPIRED, f"expires at {refusal.expires_at}")]
        else:
            conds = [Cond(T.READY, "False", refusal.reason, refusal.message),
                     Cond(T.EXPIRING, "False", refusal.reason, "not provisioned"),
                     Cond(T.EXPIRED, "False", Reason.NOT_EXPIRED, "not provisioned")]
        status = refusal.status.model_copy() if isinstance(refusal.status, TenantSandboxStatus) else \
            TenantSandboxStatus()
        status.phase = SandboxPhase(_phase(conds))
        return Outcome(conds, status=status)

    @staticmethod
    def _next_wake(tl: Timeline) -> float | None:
        """Seconds to the next transition (the queue's timer; nothing polls)."""
        secs = tl.seconds_to_next(datetime.now(UTC))
        return None if secs is None else secs + 0.05

    async def _announce_expiring(self, body: Obj, stage: Stage, expires_at: str) -> None:
        before: Obj = next((c for c in (body.get("status") or {}).get("conditions") or []
                            if c.get("type") == T.EXPIRING), {})
        if stage is Stage.EXPIRING and before.get("status") != "True":
            log.info("Sandbox %s is expiring at %s", body["metadata"]["name"], expires_at)
            await post_event(self.rt.kube, body, type_="Warning", reason="Expiring",
                             message=f"The sandbox expires at {expires_at}; its namespace and credential are removed "
                                     "then")
            self.rt.recorder.sandbox_expiring(body, expires_at=expires_at)

    async def _ensure_credential(self, body: Obj, spec: TenantSandboxSpec, ns: str) -> Credential | None:
        """Create the credential once; replace it only when spec.credentialRotation grew. Returns what status
        says of it, or None when the Secret changed meanwhile (the pass is repeated shortly)."""
        kube = self.rt.kube
        name = body["metadata"]["name"]
        live = await kube.get_or_none("v1", "Secret", CREDENTIAL_SECRET, ns)
        made_for = int(((live or {}).get("metadata", {}).get("annotations") or {}).get(ROTATION_ANNOTATION, "-1"))
        key_b64 = ((live or {}).get("data") or {}).get(CREDENTIAL_KEY)
        if live is None or key_b64 is None or made_for < spec.credential_rotation:
            from finplane.reconcile.children import stamp

            key = secrets.token_urlsafe(32)
            secret = stamp(credential_secret(namespace=ns, key=key, rotation=spec.credential_rotation,
                                             labels=sandbox_labels(name, spec)), body)
            try:
                if live is None:
                    await kube.create(secret)
                else:
                    secret["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                    await kube.replace(secret)
            except Conflict:
                return None
            made_for = spec.credential_rotation
            verb = "Issued" if live is None else "Rotated"
            _, short = fingerprint(key)
            log.info("%s partner credential of sandbox %s (fingerprint %s)", verb, name, short)
            await post_event(kube, body, type_="Normal", reason=f"Credential{verb}",
                             message=f"Partner credential {verb.lower()}: Secret {ns}/{CREDENTIAL_SECRET}, "
                                     f"fingerprint {short}")
            self.rt.recorder.credential(body, verb, fingerprint(key)[0], f"{ns}/{CREDENTIAL_SECRET}")
        else:
            key = base64.b64decode(key_b64).decode()
        digest, short = fingerprint(key)
        return Credential(digest, short, made_for)

    async def _pull_access(self, spec: TenantSandboxSpec, ns: str) -> Cond | None:
        """Whether pods of the namespace pull with the registry's Secret. Read only: the ImageRegistry reconciler
        writes both the Secret and the `default` ServiceAccount's entry (one writer per field)."""
        if not spec.registry_ref:
            return None
        kube = self.rt.kube
        secret_name = pull_secret_for(self.rt.stores, spec.registry_ref)
        if await kube.get_or_none("v1", "Secret", secret_name, ns) is None:
            return Cond(T.IMAGE_PULL_ACCESS, "False", Reason.PULL_SECRET_MISSING,
                        f"ImageRegistry {spec.registry_ref} has not written Secret {ns}/{secret_name} yet")
        sa = await kube.get_or_none("v1", "ServiceAccount", "default", ns)
        if not any(r.get("name") == secret_name for r in (sa or {}).get("imagePullSecrets") or []):
            return Cond(T.IMAGE_PULL_ACCESS, "False", Reason.PULL_SECRET_NOT_WIRED,
                        f"ImageRegistry {spec.registry_ref} has not added Secret {secret_name} to ServiceAccount "
                        f"{ns}/default yet")
        return Cond(T.IMAGE_PULL_ACCESS, "True", Reason.PULL_SECRET_PRESENT, f"pods pull with Secret {secret_name}")
