"""Reconcile one ImageRegistry: logins -> a dockerconfigjson Secret per target namespace -> status.

One `KindReconciler`, added by `handlers.registrations`. Targets come from the runtime's watch-fed
stores (Namespaces, BusinessCapabilities, TenantSandboxes); the watches declared here re-enqueue the
registry when they change, when one of its pull Secrets or its static source Secret changes, and when
a ServiceAccount it wires lacks its entry, so nothing polls. Refreshes are the pass's `requeue_after`
from the credential state (`registry.creds`). When credentials cannot be obtained, Secrets already in
place are left untouched (the last good login keeps working until its expiry) and the status says so.

One writer per field: the registry wires the pull Secret into the ServiceAccounts of
spec.serviceAccounts and into the `default` account of the namespaces of sandboxes naming it, never
into a capability's own ServiceAccount (reconcile.registry.pull_secrets).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from finplane.kube.errors import KubeError
from finplane.metrics import WRITES
from finplane.models.image_registry import ImageRegistrySpec, ImageRegistryStatus, RegistryKind
from finplane.names import (
    APPROVAL_ANNOTATION,
    BUSINESS_CAPABILITY,
    IMAGE_REGISTRY,
    NAMESPACE,
    REGISTRY_LABEL,
    TEAM,
    TENANT_SANDBOX,
)
from finplane.reconcile.registry.creds import CredentialSource, CredentialsUnavailable, Login, static_login
from finplane.reconcile.registry.pull_secrets import (
    SecretSync,
    is_finplane_child,
    prune_secrets,
    sync_secret,
    wire_service_account,
)
from finplane.reconcile.registry.targets import target_namespaces
from finplane.reconcile.runtime import Key, Runtime
from finplane.reconcile.shape import KindReconciler, Outcome, Pass, Refuse, Watch
from finplane.render.registry import pull_secret_name, render_pull_secret
from finplane.render.sandbox import sandbox_namespace
from finplane.status.conditions import Cond
from finplane.status.vocabulary import ConditionType, Reason

__all__ = ["KIND", "RegistryReconciler", "ServiceAccountRefs"]

log = logging.getLogger("finplane.registry")
KIND = IMAGE_REGISTRY
Obj = dict[str, Any]
T = ConditionType


class ServiceAccountRefs:
    """Which ServiceAccounts reference which pull Secret names, fed by the ServiceAccount watch.

    Only accounts with imagePullSecrets are kept, and only their names: enough to find the accounts a
    registry wired earlier but no longer lists, without listing ServiceAccounts on every pass. Finplane's
    own children (capability ServiceAccounts) are not kept: their owner writes their entries, never the registry.
    """

    def __init__(self) -> None:
        self.by_account: dict[tuple[str, str], frozenset[str]] = {}
        self.by_secret: dict[str, set[tuple[str, str]]] = {}

    def observe(self, event_type: str | None, namespace: str, name: str, secrets: frozenset[str]) -> None:
        key = (namespace, name)
        for old in self.by_account.pop(key, frozenset()):
            holders = self.by_secret.get(old)
            if holders is not None:
                holders.discard(key)
                if not holders:
                    del self.by_secret[old]
        if event_type != "DELETED" and secrets:
            self.by_account[key] = secrets
            for secret in secrets:
                self.by_secret.setdefault(secret, set()).add(key)

    def holders(self, secret: str, namespace: str) -> set[str]:
        """Names of the ServiceAccounts in `namespace` whose imagePullSecrets name `secret`."""
        return {n for ns, n in self.by_secret.get(secret, ()) if ns == namespace}


class RegistryReconciler(KindReconciler[ImageRegistrySpec]):
    kind = KIND
    spec_model = ImageRegistrySpec

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt)
        self.creds = CredentialSource(rt.settings)
        self.accounts = ServiceAccountRefs()
        self.started = time.monotonic()

    def watches(self) -> list[Watch]:
        return [Watch(BUSINESS_CAPABILITY, self._ref_changed), Watch(TENANT_SANDBOX, self._ref_changed),
                Watch(NAMESPACE, self._namespace_changed), Watch(KIND, self._registry_changed),
                Watch(TEAM, self._team_changed),
                Watch("Secret", self._secret_changed, stored=False),
                Watch("ServiceAccount", self._account_changed, stored=False)]

    # -- what wakes a registry ------------------------------------------------------------------------
    def _ref_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        """A capability or sandbox naming a registry: its ref, role, image, approval or phase decide the grant."""
        refs = {((b or {}).get("spec") or {}).get("registryRef") for b in (new, old)}
        if event in ("ADDED", "DELETED", "LISTED") or old is None or _grant_inputs(new) != _grant_inputs(old):
            return [("", str(ref)) for ref in refs - {None}]
        return []

    def _team_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        """A Team's namespaces or allowedRegistries decide which namespaces a registry grants."""
        if old is not None and event != "DELETED" and new.get("spec") == old.get("spec") and \
                (new.get("status") or {}).get("namespaces") == (old.get("status") or {}).get("namespaces"):
            return []
        return list(self.rt.stores.get(KIND, {}))

    def _namespace_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        meta, old_meta = new.get("metadata") or {}, (old or {}).get("metadata") or {}
        if event in ("ADDED", "DELETED", "LISTED") or old is None or \
                meta.get("labels") != old_meta.get("labels") or meta.get("annotations") != old_meta.get("annotations") \
                or bool(meta.get("deletionTimestamp")) != bool(old_meta.get("deletionTimestamp")):
            return list(self.rt.stores.get(KIND, {}))
        return []

    def _registry_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        if event == "DELETED":
            self.creds.forget(new["metadata"]["name"])
        return []

    def _secret_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        """Its pull Secret changed (drift), or its static source Secret did (rotation)."""
        meta = new.get("metadata") or {}
        out: list[Key] = []
        owner = (meta.get("labels") or {}).get(REGISTRY_LABEL)
        if owner:
            out.append(("", owner))
        where = (meta.get("namespace"), meta.get("name"))
        for key, reg in self.rt.stores.get(KIND, {}).items():
            ref = (((reg.get("spec") or {}).get("static") or {}).get("secretRef")) or {}
            if (ref.get("namespace"), ref.get("name")) == where:
                out.append(key)
        return out

    def _account_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        """Keep the index of accounts by pull Secret; wake the registries that wire this account and whose
        entry it lacks (an account created after its namespace was synced, an entry removed by hand).

        Cheap on purpose, as every account in the cluster passes here: a few dictionary lookups per
        registry, and our own patch's echo (entry present) wakes nothing."""
        meta = new.get("metadata") or {}
        ns, name = meta.get("namespace") or "", meta.get("name") or ""
        child = is_finplane_child(new)
        secrets = frozenset(e.get("name") for e in new.get("imagePullSecrets") or [] if e.get("name"))
        self.accounts.observe(event, ns, name, frozenset() if child else secrets)
        if event == "DELETED" or child:
            return []
        sandbox_regs = {(b.get("spec") or {}).get("registryRef") for k, b in self.rt.stores.get(TENANT_SANDBOX, {}).items()
                        if name == "default" and sandbox_namespace(k[1], self.rt.settings) == ns}
        out: list[Key] = []
        for key, reg in self.rt.stores.get(KIND, {}).items():
            wired_here = name in ((reg.get("spec") or {}).get("serviceAccounts") or []) or key[1] in sandbox_regs
            sname = (reg.get("status") or {}).get("secretName")
            if wired_here and (sname is None or sname not in secrets):
                out.append(key)
        return out

    # -- one pass -------------------------------------------------------------------------------------
    async def reconcile(self, p: Pass[ImageRegistrySpec]) -> Outcome:
        rt, body, spec, name, creds = self.rt, p.body, p.spec, p.name, self.creds
        if len(name) > 63:  # the CRD's CEL rule says the same; this covers a server that does not evaluate it
            raise Refuse(Reason.INVALID_NAME, f"the name is {len(name)} characters long: it becomes the value of "
                         "the pull Secrets' finplane.io/image-registry label, at most 63; create the registry under "
                         "a shorter name")
        namespaces = rt.stores.get(NAMESPACE, {})
        targets = target_namespaces(registry=body, namespaces=namespaces,
                                    capabilities=rt.stores.get(BUSINESS_CAPABILITY, {}),
                                    sandboxes=rt.stores.get(TENANT_SANDBOX, {}), teams=rt.stores.get(TEAM, {}),
                                    settings=rt.settings)
        logins, failure = await _logins(rt, body, spec, creds, {targets[ns] for ns in targets})
        sname = pull_secret_name(name, spec.secret_name)
        previously = set((body.get("status") or {}).get("namespacesInSync") or [])
        sync = SecretSync()
        for ns, role in sorted(targets.items()):
            if ("", ns) not in namespaces:
                sync.out[ns] = "namespace does not exist (yet)"
                continue
            own = spec.ecr.role_arn if spec.ecr else None
            login = logins.get("" if spec.kind == RegistryKind.STATIC or role in (None, own) else str(role))
            if login is None:
                sync.out[ns] = "no credentials for it yet"
                continue
            secret = render_pull_secret(registry=name, spec=spec, namespace=ns, username=login.username,
                                        password=login.password)
            p.reports.append(await sync_secret(rt.kube, secret, owner=body, seen_before=ns in previously,
                                               result=sync))
            rt.recorder.pull_secret(body, secret, p.reports[-1])
        await self._wire_accounts(name, spec, sname, sync)

        requeue: list[float] = []
        grace = rt.settings.registry_prune_grace_seconds - (time.monotonic() - self.started)
        if grace > 0:  # the stores may not hold every capability/sandbox yet: prune only once they are listed
            requeue.append(grace)
        else:
            await self._prune(body, spec, sname, sync)

        main_login = logins.get("") or next(iter(logins.values()), None) or (failure.last if failure else None)
        if main_login is not None:
            creds.export_metrics(name, main_login)
        wake = creds.wake_at(name)
        if wake is not None:
            requeue.append(max(1.0, (wake - creds.clock()).total_seconds()))
        return Outcome(_conditions(spec, sync, failure, main_login, creds), status=_status(sname, sync, main_login),
                       requeue_after=min(requeue) if requeue else None)

    def _sandbox_namespaces(self, registry: str) -> set[str]:
        """Namespaces of the sandboxes naming `registry`: their `default` ServiceAccount gets the pull Secret."""
        return {sandbox_namespace(key[1], self.rt.settings) for key, body in self.rt.stores.get(TENANT_SANDBOX, {}).items()
                if (body.get("spec") or {}).get("registryRef") == registry}

    async def _wire_accounts(self, name: str, spec: ImageRegistrySpec, sname: str, sync: SecretSync) -> None:
        listed = set(spec.service_accounts)
        sandbox_namespaces = self._sandbox_namespaces(name)
        for ns in sorted(sync.synced):
            accounts = listed | ({"default"} if ns in sandbox_namespaces else set())
            for sa in sorted(accounts):
                await wire_service_account(self.rt.kube, namespace=ns, name=sa, secret=sname, present=True,
                                           create=sa == "default" and ns in sandbox_namespaces)
            for sa in sorted(self.accounts.holders(sname, ns) - accounts):  # dropped from spec.serviceAccounts
                await wire_service_account(self.rt.kube, namespace=ns, name=sa, secret=sname, present=False)

    async def _prune(self, body: Obj, spec: ImageRegistrySpec, sname: str, sync: SecretSync) -> None:
        name = body["metadata"]["name"]
        namespaces = self.rt.stores.get(NAMESPACE, {})
        known = {n for _, n in namespaces}
        last = body.get("status") or {}
        written = set(last.get("namespacesInSync") or []) | set(last.get("namespacesOutOfSync") or [])
        if self.rt.settings.operator_namespaced_cluster_role:
            # RBAC lets the operator write only where it manages the namespace: look there, not everywhere (the
            # last status alone can predate a Secret written by a pass whose status event is still in flight)
            written |= {n for (_, n), ns in namespaces.items() if _managed(ns)} | {self.rt.settings.pod_namespace or ""}
        else:
            written = known  # no chart RBAC: a pull Secret may be in any namespace the operator has seen
        for ns in await prune_secrets(self.rt.kube, owner_uid=body["metadata"]["uid"], keep=sync.synced | set(sync.out),
                                      name=sname, names={sname, str(last.get("secretName") or sname)},
                                      candidates=written & known):
            WRITES.labels(KIND, "prune").inc()
            log.info("Deleted pull Secret %s/%s of ImageRegistry %s (namespace no longer selected)", ns, sname, name)
            for sa in sorted(set(spec.service_accounts) | {"default"} | self.accounts.holders(sname, ns)):
                await wire_service_account(self.rt.kube, namespace=ns, name=sa, secret=sname, present=False)


def _grant_inputs(body: Obj) -> tuple[Any, ...]:
    spec, meta = body.get("spec") or {}, body.get("metadata") or {}
    return (spec.get("registryRef"), spec.get("awsRoleArn"), spec.get("image"),
            (meta.get("annotations") or {}).get(APPROVAL_ANNOTATION), (body.get("status") or {}).get("phase"),
            bool(meta.get("deletionTimestamp")))


async def _logins(rt: Runtime, body: Obj, spec: ImageRegistrySpec, creds: CredentialSource,
                  roles: set[str | None]) -> tuple[dict[str, Login], CredentialsUnavailable | None]:
    """Logins by role ("" = the registry's own identity) and the first failure, if any."""
    name = body["metadata"]["name"]
    out: dict[str, Login] = {}
    failure: CredentialsUnavailable | None = None
    if spec.kind == RegistryKind.STATIC:
        assert spec.static is not None
        ref = spec.static.secret_ref
        try:
            source = await rt.kube.get("v1", "Secret", ref.name, ref.namespace)
            user, password = static_login(source, spec.effective_server())
            out[""] = creds.remember_static(registry=name, username=user, password=password)
        except KubeError as exc:
            failure = CredentialsUnavailable("SourceSecretUnavailable",
                                             f"cannot read Secret {ref.namespace}/{ref.name}: {exc.message}",
                                             last=None, retry_at=None)
        except ValueError as exc:
            failure = CredentialsUnavailable("SourceSecretInvalid", f"Secret {ref.namespace}/{ref.name}: {exc}",
                                             last=None, retry_at=None)
        return out, failure
    assert spec.ecr is not None
    wanted = {spec.ecr.role_arn or ""} | {r for r in roles if r}
    creds.forget(name, keep_roles=wanted)
    for role in sorted(wanted):
        try:
            out[role if role != (spec.ecr.role_arn or "") else ""] = await creds.ecr_login(
                registry=name, region=spec.ecr.region, account_id=spec.ecr.account_id, role_arn=role or None,
                interval=spec.refresh_interval_seconds)
        except CredentialsUnavailable as exc:
            failure = failure or exc
    return out, failure


def _iso(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _managed(namespace: Obj) -> bool:
    """A Team's or a sandbox's namespace: where the operator binds its namespaced role (render/operator_access.py)."""
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    return bool(labels.get("finplane.io/team")) or labels.get("app.kubernetes.io/managed-by") == "finplane"


def _status(sname: str, sync: SecretSync, login: Login | None) -> ImageRegistryStatus:
    status = ImageRegistryStatus(secret_name=sname, namespaces_in_sync=sorted(sync.synced),
                                 namespaces_out_of_sync=sorted(sync.out))
    if login is not None:  # without a login the last reported refresh stays as it was
        status.last_refresh_time = _iso(login.obtained_at)
        status.token_expires_at = _iso(login.expires_at)
    return status


def _conditions(spec: ImageRegistrySpec, sync: SecretSync, failure: CredentialsUnavailable | None,
                login: Login | None, creds: CredentialSource) -> list[Cond]:
    expiry = _iso(login.expires_at) if login and login.expires_at else None
    if failure is not None:
        kept = f"; the pull Secrets already written are kept (token expires at {expiry})" if expiry else \
            "; the pull Secrets already written are kept"
        retry = f"; next attempt at {_iso(failure.retry_at)}" if failure.retry_at else ""
        fresh = Cond(T.CREDENTIALS_FRESH, "False", failure.reason, failure.message + kept + retry)
        return [Cond(T.READY, "False", failure.reason, failure.message + kept), fresh]
    if login is not None and login.expires_at is not None and login.expires_at <= creds.clock():
        fresh = Cond(T.CREDENTIALS_FRESH, "False", "TokenReportedExpired",
                     f"the registry reported the new token as expiring at {expiry}; refreshing at most every "
                     f"{creds.settings.registry_min_refresh_seconds}s")
    else:
        until = f" valid until {expiry}" if expiry else ""
        fresh = Cond(T.CREDENTIALS_FRESH, "True", "Refreshed", f"credentials obtained{until}")
    if sync.conflicts:
        ns_list = ", ".join(sorted(sync.conflicts))
        return [Cond(T.READY, "False", "NameConflict", f"a Secret with the pull Secret's name exists and is not "
                     f"managed by this registry in: {ns_list}; rename or remove it, or set spec.secretName"), fresh]
    if sync.out:
        first = sorted(sync.out)[:5]
        return [Cond(T.READY, "False", "NamespacesOutOfSync",
                     "; ".join(f"{ns}: {sync.out[ns]}" for ns in first)), fresh]
    return [Cond(T.READY, "True", "Synced", f"pull Secret in {len(sync.synced)} namespace(s)"), fresh]
