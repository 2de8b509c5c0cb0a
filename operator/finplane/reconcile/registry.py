"""Reconcile one ImageRegistry: logins -> a dockerconfigjson Secret per target namespace -> status.

Registered by `handlers.registrations` (`register(rt)`). Targets come from the runtime's
watch-fed stores (Namespaces, BusinessCapabilities, TenantSandboxes); their changes re-enqueue
the registry, so nothing polls. Refreshes are scheduled with `rt.enqueue(..., delay=...)` from the
credential state (`registry_creds`). When credentials cannot be obtained, Secrets already in
place are left untouched (the last good login keeps working until its expiry) and the status says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from finplane.kube.errors import KubeError
from finplane.kube.events import post_event
from finplane.metrics import DRIFT, WRITES
from finplane.models.common import describe_errors
from finplane.models.image_registry import ImageRegistrySpec, RegistryKind
from finplane.reconcile.registry_creds import CredentialSource, CredentialsUnavailable, Login, static_login
from finplane.reconcile.registry_secrets import (
    SecretSync,
    is_finplane_child,
    prune_secrets,
    sync_secret,
    wire_service_account,
)
from finplane.reconcile.registry_targets import target_namespaces
from finplane.reconcile.runtime import Key, Runtime
from finplane.reconcile.status_write import write_status
from finplane.render.registry import REGISTRY_LABEL, render_pull_secret, secret_name
from finplane.render.sandbox import sandbox_namespace
from finplane.status.conditions import Cond

__all__ = ["KIND", "ServiceAccountRefs", "reconcile_registry", "register", "secret_event", "service_account_event",
           "service_account_refs"]

log = logging.getLogger("finplane.registry")
KIND = "ImageRegistry"
Obj = dict[str, Any]
_STARTED = time.monotonic()


def register(rt: Runtime) -> None:
    """Give ImageRegistry its queue, and re-enqueue registries when what selects their targets changes."""
    creds = CredentialSource(rt.settings)
    rt.stores.setdefault("Namespace", {})

    async def reconcile(rt_: Runtime, key: Key) -> None:
        await reconcile_registry(rt_, key, creds=creds)

    rt.register(KIND, reconcile)

    def ref_changed(event: str, new: Obj, old: Obj | None) -> None:
        refs = {((b or {}).get("spec") or {}).get("registryRef") for b in (new, old)}
        roles = {((b or {}).get("spec") or {}).get("awsRoleArn") for b in (new, old)}
        if event in ("ADDED", "DELETED", "LISTED") or old is None or len(refs) > 1 or len(roles) > 1:
            for ref in refs - {None}:
                rt.enqueue(KIND, ("", str(ref)))

    def namespace_changed(event: str, new: Obj, old: Obj | None) -> None:
        meta, old_meta = new.get("metadata") or {}, (old or {}).get("metadata") or {}
        if event == "DELETED":
            rt.stores["Namespace"].pop(("", meta.get("name", "")), None)
        if event in ("ADDED", "DELETED", "LISTED") or old is None or \
                meta.get("labels") != old_meta.get("labels") or meta.get("annotations") != old_meta.get("annotations") \
                or bool(meta.get("deletionTimestamp")) != bool(old_meta.get("deletionTimestamp")):
            for key in list(rt.stores.get(KIND, {})):
                rt.enqueue(KIND, key)

    def registry_changed(event: str, new: Obj, old: Obj | None) -> None:
        if event == "DELETED":
            creds.forget(new["metadata"]["name"])

    rt.on_change("BusinessCapability", ref_changed)
    rt.on_change("TenantSandbox", ref_changed)
    rt.on_change("Namespace", namespace_changed)
    rt.on_change(KIND, registry_changed)


def secret_event(rt: Runtime, body: Obj) -> None:
    """A Secret changed: re-sync the registry whose pull Secret it is, or whose static source it is."""
    meta = body.get("metadata") or {}
    owner = (meta.get("labels") or {}).get(REGISTRY_LABEL)
    if owner:
        rt.enqueue(KIND, ("", owner))
        for key in rt.stores.get("TenantSandbox", {}):
            # by name, not status.namespace: the Secret can arrive before the sandbox's first status write
            if sandbox_namespace(key[1], rt.settings) == meta.get("namespace"):
                rt.enqueue("TenantSandbox", key)  # its ImagePullAccess waits for this pull Secret: no polling
    where = (meta.get("namespace"), meta.get("name"))
    for key, reg in rt.stores.get(KIND, {}).items():
        ref = (((reg.get("spec") or {}).get("static") or {}).get("secretRef")) or {}
        if (ref.get("namespace"), ref.get("name")) == where:
            rt.enqueue(KIND, key)


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


def service_account_refs(rt: Runtime) -> ServiceAccountRefs:
    refs = getattr(rt, "registry_sa_refs", None)
    if refs is None:
        refs = ServiceAccountRefs()
        rt.registry_sa_refs = refs  # type: ignore[attr-defined]
    return refs


def service_account_event(rt: Runtime, event_type: str | None, body: Mapping[str, Any]) -> None:
    """A ServiceAccount changed: re-sync the registries that name it and whose entry it lacks.

    This is what wires an account created after its namespace was synced at once instead of at the next
    drift resync (and puts back an entry removed by hand). Cheap on purpose, as every account in the cluster
    passes here: a few dictionary lookups per registry, and our own patch's echo (entry present) enqueues nothing.
    """
    meta = body.get("metadata") or {}
    ns, name = meta.get("namespace") or "", meta.get("name") or ""
    child = is_finplane_child(dict(body))
    secrets = frozenset(e.get("name") for e in body.get("imagePullSecrets") or [] if e.get("name"))
    service_account_refs(rt).observe(event_type, ns, name, frozenset() if child else secrets)
    if event_type == "DELETED" or child:
        return
    sandbox = _sandbox_of(rt, ns) if name == "default" else None
    if sandbox is not None:
        rt.enqueue("TenantSandbox", sandbox[0])  # its ImagePullAccess condition reads this account
    for key, reg in rt.stores.get(KIND, {}).items():
        spec = reg.get("spec") or {}
        wired_here = name in (spec.get("serviceAccounts") or []) or \
            (sandbox is not None and (sandbox[1].get("spec") or {}).get("registryRef") == key[1])
        if not wired_here:
            continue
        sname = (reg.get("status") or {}).get("secretName")
        if sname is None or sname not in secrets:
            rt.enqueue(KIND, key)


def _sandbox_of(rt: Runtime, namespace: str) -> tuple[Key, Obj] | None:
    """The TenantSandbox whose namespace `namespace` is, if any."""
    if not namespace.startswith(rt.settings.sandbox_namespace_prefix):
        return None
    for key, body in rt.stores.get("TenantSandbox", {}).items():
        if sandbox_namespace(key[1], rt.settings) == namespace:
            return key, body
    return None


def _sandbox_namespaces(rt: Runtime, registry: str) -> set[str]:
    """Namespaces of the sandboxes naming `registry`: their `default` ServiceAccount gets the pull Secret."""
    return {sandbox_namespace(key[1], rt.settings) for key, body in rt.stores.get("TenantSandbox", {}).items()
            if (body.get("spec") or {}).get("registryRef") == registry}


async def reconcile_registry(rt: Runtime, key: Key, *, creds: CredentialSource) -> None:
    body = rt.get(KIND, key)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    name = key[1]
    try:
        spec = ImageRegistrySpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        msg = describe_errors(exc)
        await write_status(rt.kube, body, conditions=[Cond("Ready", "False", "InvalidSpec", msg)], fields={})
        return
    if len(name) > 63:  # the CRD's CEL rule says the same; this covers a server that does not evaluate it
        await write_status(rt.kube, body, conditions=[Cond(
            "Ready", "False", "InvalidName", f"the name is {len(name)} characters long: it becomes the value of the "
            "pull Secrets' finplane.io/image-registry label, at most 63; create the registry under a shorter name")],
            fields={})
        return
    namespaces = rt.stores.get("Namespace", {})
    targets = target_namespaces(registry=name, selector=spec.namespace_selector, namespaces=namespaces,
                                capabilities=rt.stores.get("BusinessCapability", {}),
                                sandboxes=rt.stores.get("TenantSandbox", {}), settings=rt.settings)
    logins, failure = await _logins(rt, body, spec, creds, {targets[ns] for ns in targets})
    sname = secret_name(name, spec)
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
        await sync_secret(rt.kube, secret, owner=body, seen_before=ns in previously, result=sync)
    refs = service_account_refs(rt)
    listed = set(spec.service_accounts)
    sandbox_namespaces = _sandbox_namespaces(rt, name)

    def accounts(ns: str) -> set[str]:
        return listed | ({"default"} if ns in sandbox_namespaces else set())

    for ns in sorted(sync.synced):
        for sa in sorted(accounts(ns)):
            await wire_service_account(rt.kube, namespace=ns, name=sa, secret=sname, present=True,
                                       create=sa == "default" and ns in sandbox_namespaces)
        for sa in sorted(refs.holders(sname, ns) - accounts(ns)):  # dropped from spec.serviceAccounts
            await wire_service_account(rt.kube, namespace=ns, name=sa, secret=sname, present=False)
    await _report_writes(rt, body, sync)

    grace = rt.settings.registry_prune_grace_seconds - (time.monotonic() - _STARTED)
    if grace > 0:  # the stores may not hold every capability/sandbox yet: prune only once they are listed
        rt.enqueue(KIND, key, delay=grace)
    else:
        for ns in await prune_secrets(rt.kube, owner_uid=body["metadata"]["uid"], keep=sync.synced | set(sync.out),
                                      name=sname, known_namespaces={n for _, n in namespaces}):
            WRITES.labels(KIND, "prune").inc()
            log.info("Deleted pull Secret %s/%s of ImageRegistry %s (namespace no longer selected)", ns, sname, name)
            for sa in sorted(listed | refs.holders(sname, ns)):
                await wire_service_account(rt.kube, namespace=ns, name=sa, secret=sname, present=False)

    main_login = logins.get("") or next(iter(logins.values()), None) or (failure.last if failure else None)
    if main_login is not None:
        creds.export_metrics(name, main_login)
    await write_status(rt.kube, body, conditions=_conditions(spec, sync, failure, main_login, creds),
                       fields=_fields(sname, sync, main_login))
    wake = creds.wake_at(name)
    if wake is not None:
        rt.enqueue(KIND, key, delay=max(1.0, (wake - creds.clock()).total_seconds()))


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


async def _report_writes(rt: Runtime, body: Obj, sync: SecretSync) -> None:
    name = body["metadata"]["name"]
    for ns in sync.applied:
        WRITES.labels(KIND, "apply").inc()
        log.info("Applied pull Secret in namespace %s for ImageRegistry %s", ns, name)
    for ns, fields in sync.drifted:
        DRIFT.labels(KIND, "Secret").inc()
        await post_event(rt.kube, body, type_="Warning", reason="Drift",
                         message=f"Restored the pull Secret in namespace {ns} ({', '.join(fields[:5])})")


def _iso(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _fields(sname: str, sync: SecretSync, login: Login | None) -> Obj:
    fields: Obj = {"secretName": sname, "namespacesInSync": sorted(sync.synced),
                   "namespacesOutOfSync": sorted(sync.out)}
    if login is not None:
        fields["lastRefreshTime"] = _iso(login.obtained_at)
        fields["tokenExpiresAt"] = _iso(login.expires_at)
    return fields


def _conditions(spec: ImageRegistrySpec, sync: SecretSync, failure: CredentialsUnavailable | None,
                login: Login | None, creds: CredentialSource) -> list[Cond]:
    expiry = _iso(login.expires_at) if login and login.expires_at else None
    if failure is not None:
        kept = f"; the pull Secrets already written are kept (token expires at {expiry})" if expiry else \
            "; the pull Secrets already written are kept"
        retry = f"; next attempt at {_iso(failure.retry_at)}" if failure.retry_at else ""
        fresh = Cond("CredentialsFresh", "False", failure.reason, failure.message + kept + retry)
        return [Cond("Ready", "False", failure.reason, failure.message + kept), fresh]
    if login is not None and login.expires_at is not None and login.expires_at <= creds.clock():
        fresh = Cond("CredentialsFresh", "False", "TokenReportedExpired",
                     f"the registry reported the new token as expiring at {expiry}; refreshing at most every "
                     f"{creds.settings.registry_min_refresh_seconds}s")
    else:
        until = f" valid until {expiry}" if expiry else ""
        fresh = Cond("CredentialsFresh", "True", "Refreshed", f"credentials obtained{until}")
    if sync.conflicts:
        ns_list = ", ".join(sorted(sync.conflicts))
        return [Cond("Ready", "False", "NameConflict", f"a Secret with the pull Secret's name exists and is not "
                     f"managed by this registry in: {ns_list}; rename or remove it, or set spec.secretName"), fresh]
    if sync.out:
        first = sorted(sync.out)[:5]
        return [Cond("Ready", "False", "NamespacesOutOfSync",
                     "; ".join(f"{ns}: {sync.out[ns]}" for ns in first)), fresh]
    return [Cond("Ready", "True", "Synced", f"pull Secret in {len(sync.synced)} namespace(s)"), fresh]
