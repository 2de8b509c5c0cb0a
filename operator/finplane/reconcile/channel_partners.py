"""Which partner sandboxes may call a channel's routes, with their API keys and quotas.

Called by the channel reconciler on every pass over a partner-facing (open-api) channel. A sandbox
counts while it is provisioned and approved (status Ready, phase Active or Expiring, a credential hash
recorded, no teardown, not being deleted); its key is read from the credential Secret the sandbox
reconciler keeps in the sandbox's namespace (`finplane.SANDBOX_CREDENTIAL_SECRET`). A sandbox that
rotates, expires or is deleted changes its status or disappears, which wakes the channels routing to
its capabilities (`sandbox_wakes`), so the next pass renders the keys Secret without the old key.

A production channel (label `finplane.io/environment: production`) is opened by promotions instead
(`promoted_partners`): a sandbox whose promotion was approved by a second admin reaches the capabilities
the promotion names with its production key, kept in the Secret `finplane-production-key.<sandbox>` in
Finplane's own namespace (created here on the first pass after approval, deleted on revocation). The
sandbox's expiry or teardown does not end it; revocation (or deleting the TenantSandbox) does. A copy goes
into the sandbox's namespace (`partner-production-credential`) while it exists, from which the platform API
hands the key to the partner once. Both Secrets carry an owner reference to the TenantSandbox: deleting the
sandbox (rather than revoking) lets the garbage collector remove them, so no production key outlives it.

The keys live only in memory and in the operator-owned keys Secret: never logged, never in status.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from finplane import SANDBOX_CREDENTIAL_KEY, SANDBOX_CREDENTIAL_SECRET
from finplane.kube.client import Kube
from finplane.kube.errors import NotFound
from finplane.models.tenant_sandbox import TenantSandboxSpec
from finplane.models.tenant_sandbox_promotion import (
    PRODUCTION_CREDENTIAL_SECRET,
    production_key_secret,
    promotion_of,
)
from finplane.names import APPROVAL_ANNOTATION
from finplane.reconcile.children import owner_reference
from finplane.render.gateway import PartnerAccess
from finplane.settings import Settings

__all__ = ["active_partners", "partner_quota", "production_quota", "promoted_partners", "sandbox_capabilities", "sandbox_is_active", "sandbox_wakes"]

Obj = dict[str, Any]
Key = tuple[str, str]
ACTIVE_PHASES = frozenset({"Active", "Expiring"})


def sandbox_capabilities(body: Obj | None) -> set[Key]:
    """(namespace, name) of the capabilities a sandbox body may call (lenient: raw bodies)."""
    out: set[Key] = set()
    for ref in ((body or {}).get("spec") or {}).get("allowedCapabilities") or []:
        if isinstance(ref, dict) and ref.get("namespace") and ref.get("name"):
            out.add((str(ref["namespace"]), str(ref["name"])))
    return out


def sandbox_is_active(body: Obj) -> bool:
    """Provisioned, approved and neither expired nor being deleted: its key may open routes."""
    meta, status = body.get("metadata") or {}, body.get("status") or {}
    if meta.get("deletionTimestamp") or status.get("teardown"):
        return False
    if (meta.get("annotations") or {}).get(APPROVAL_ANNOTATION, "approved") != "approved":
        return False
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return ready and status.get("phase") in ACTIVE_PHASES and bool(status.get("credentialHash")) \
        and bool(status.get("namespace"))


def partner_quota(spec: TenantSandboxSpec, settings: Settings) -> tuple[int, int]:
    """(calls per second, calls per day) of a sandbox: its tier's preset, each overridden by spec.quota."""
    preset = settings.tiers.get(str(spec.tier)) or settings.tiers["small"]
    q = spec.quota
    rps = q.api_requests_per_second if q and q.api_requests_per_second else preset.api_requests_per_second
    per_day = q.api_requests_per_day if q and q.api_requests_per_day else preset.api_requests_per_day
    return rps, per_day


async def active_partners(kube: Kube, sandboxes: Mapping[Key, Obj], *, wanted: set[Key],
                          settings: Settings) -> list[PartnerAccess]:
    """The active sandboxes that may call any of `wanted`, with their current key (read from their Secret)."""
    out: list[PartnerAccess] = []
    for (_, name), body in sorted(sandboxes.items()):
        caps = sandbox_capabilities(body)
        if not caps & wanted or not sandbox_is_active(body):
            continue
        try:
            spec = TenantSandboxSpec.model_validate(body.get("spec") or {})
        except ValueError:
            continue  # a spec the sandbox reconciler refuses opens nothing
        secret = await kube.get_or_none("v1", "Secret", SANDBOX_CREDENTIAL_SECRET, str(body["status"]["namespace"]))
        raw = ((secret or {}).get("data") or {}).get(SANDBOX_CREDENTIAL_KEY)
        if not raw:
            continue  # torn down (namespace gone) or not issued yet
        try:
            key = base64.b64decode(raw, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            continue
        rps, per_day = partner_quota(spec, settings)
        out.append(PartnerAccess(client_id=name, capabilities=frozenset(caps), requests_per_second=rps,
                                 requests_per_day=per_day, key=key))
    return out


def production_quota(spec: TenantSandboxSpec, tier: str | None, settings: Settings) -> tuple[int, int]:
    """(calls per second, calls per day) of a promotion: the tier it names (else the sandbox's), no overrides."""
    preset = settings.tiers.get(str(tier or spec.tier)) or settings.tiers["small"]
    return preset.api_requests_per_second, preset.api_requests_per_day


def key_namespace(settings: Settings) -> str:
    return settings.pod_namespace or "finplane-system"


def _key_secret(name: str, namespace: str, sandbox: Obj, key_b64: str) -> Obj:
    meta = sandbox.get("metadata") or {}
    owned = [owner_reference(sandbox)] if meta.get("uid") and sandbox.get("apiVersion") else []
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace, "ownerReferences": owned,
                         "labels": {"app.kubernetes.io/managed-by": "finplane", "finplane.io/sandbox": meta["name"]}},
            "data": {SANDBOX_CREDENTIAL_KEY: key_b64}}


async def _production_key(kube: Kube, sandbox: Obj, namespace: str) -> str | None:
    """The promoted sandbox's production key, generated on first use (never logged, never in a CR).

    Both its Secrets (Finplane's namespace; the sandbox's while it exists) are owned by the TenantSandbox."""
    name = sandbox["metadata"]["name"]
    secret_name = production_key_secret(name)
    secret = await kube.get_or_none("v1", "Secret", secret_name, namespace)
    if secret is None:
        key = secrets.token_urlsafe(32)
        secret = await kube.create(_key_secret(secret_name, namespace, sandbox, base64.b64encode(key.encode()).decode()))
    elif not (secret.get("metadata") or {}).get("ownerReferences") and (sandbox.get("metadata") or {}).get("uid"):
        # Written before the owner reference existed: adopt it, so that deleting the sandbox removes it too.
        await kube.patch_merge("v1", "Secret", secret_name, {"metadata": {"ownerReferences": [
            owner_reference(sandbox)]}}, namespace)
    raw = (secret.get("data") or {}).get(SANDBOX_CREDENTIAL_KEY)
    try:
        value = base64.b64decode(raw or "", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not value:
        return None
    await _deliver(kube, sandbox, raw or "")
    return value


async def _deliver(kube: Kube, sandbox: Obj, key_b64: str) -> None:
    """Keep the copy the platform API hands out once in the sandbox's namespace equal to the production key."""
    status = sandbox.get("status") or {}
    ns = status.get("namespace")
    if not ns or status.get("teardown"):
        return  # torn down: nowhere to deliver (the gateway's copy in Finplane's namespace is unaffected)
    live = await kube.get_or_none("v1", "Secret", PRODUCTION_CREDENTIAL_SECRET, str(ns))
    if live is not None and ((live.get("data") or {}).get(SANDBOX_CREDENTIAL_KEY)) == key_b64:
        return
    body = _key_secret(PRODUCTION_CREDENTIAL_SECRET, str(ns), sandbox, key_b64)
    try:
        if live is None:
            await kube.create(body)
        else:
            await kube.patch_merge("v1", "Secret", PRODUCTION_CREDENTIAL_SECRET, {"data": body["data"]}, str(ns))
    except NotFound:
        pass  # the namespace is being torn down meanwhile


async def _withdraw(kube: Kube, sandbox: Obj, namespace: str) -> None:
    """A revoked promotion: both copies of the production key go."""
    name = sandbox["metadata"]["name"]
    ns = (sandbox.get("status") or {}).get("namespace")
    for secret_name, where in ((production_key_secret(name), namespace), (PRODUCTION_CREDENTIAL_SECRET, ns)):
        if where and await kube.get_or_none("v1", "Secret", secret_name, str(where)) is not None:
            await kube.delete("v1", "Secret", secret_name, str(where))


async def promoted_partners(kube: Kube, sandboxes: Mapping[Key, Obj], *, wanted: set[Key],
                            settings: Settings) -> list[PartnerAccess]:
    """The approved promotions reaching any of `wanted`, with their production key and quotas.

    Expiry and teardown of the sandbox do not matter; a revoked promotion's key Secret is deleted.
    """
    namespace = key_namespace(settings)
    out: list[PartnerAccess] = []
    for (_, name), body in sorted(sandboxes.items()):
        promotion = promotion_of(body)
        if promotion is None:
            continue
        if promotion.state == "revoked":
            await _withdraw(kube, body, namespace)
            continue
        caps = promotion.capabilities & sandbox_capabilities(body)  # never beyond what the sandbox was granted
        if promotion.state != "approved" or not caps & wanted or (body.get("metadata") or {}).get("deletionTimestamp"):
            continue
        try:
            spec = TenantSandboxSpec.model_validate(body.get("spec") or {})
        except ValueError:
            continue
        key = await _production_key(kube, body, namespace)
        if key is None:
            continue
        rps, per_day = production_quota(spec, promotion.tier, settings)
        out.append(PartnerAccess(client_id=name, capabilities=frozenset(caps), requests_per_second=rps,
                                 requests_per_day=per_day, key=key))
    return out


def sandbox_wakes(new: Obj, old: Obj | None, channels: Mapping[Key, Obj],
                  routed: Any) -> Iterable[Key]:
    """The channels to reconcile when a sandbox changes: those routing to a capability it may (or might) call."""
    def view(b: Obj | None) -> tuple[Any, ...]:
        st = (b or {}).get("status") or {}
        return (sandbox_is_active(b) if b else False, st.get("credentialHash"), (b or {}).get("spec"),
                ((b or {}).get("metadata") or {}).get("annotations"))
    if old is not None and view(new) == view(old):
        return []
    caps = sandbox_capabilities(new) | sandbox_capabilities(old)
    return [key for key, body in channels.items() if caps & routed(body)]
