"""The evidence signing key from a shared Secret: created on first start when absent, its public half published.

Part of the kube gateway (it reads and writes one Secret and one ConfigMap). Called at start-up, before the
evidence record is opened, by the operator (`handlers.main`) and the platform API (its lifespan) when `FINPLANE_EVIDENCE_KEY_SECRET` names the Secret (`name` in `$FINPLANE_POD_NAMESPACE`,
or `namespace/name`; the chart sets `<release>-evidence-key`). Every process of a release then signs with the
same key, and the key is not on the evidence volume, so someone who can write the record cannot re-sign it.

Race-safe create-if-absent: a process that finds no Secret generates a key and creates the Secret; if another
created it first (409 AlreadyExists), it drops its own key and reads the winner's, so two processes starting
together sign with one key. The Secret is immutable. The operator publishes the public half in the ConfigMap
`<secret>-public` (kid, algorithm, PEM), which auditors and `finplane evidence verify --kubeconfig` read; the
private key never appears in a log line, an event, a status or that ConfigMap.
"""

from __future__ import annotations

import logging
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from finplane.kube.client import Kube
from finplane.kube.errors import AlreadyExists
from finplane.policy.evidence_keys import Signer, public_key_configmap, signer_from_secret, signing_secret

__all__ = ["KEY_SECRET_ENV", "configured_secret", "publish_public_key", "shared_signer"]

log = logging.getLogger("finplane.evidence")
KEY_SECRET_ENV = "FINPLANE_EVIDENCE_KEY_SECRET"


def configured_secret() -> tuple[str, str] | None:
    """(namespace, name) of the key Secret from $FINPLANE_EVIDENCE_KEY_SECRET, or None when not configured."""
    value = os.environ.get(KEY_SECRET_ENV, "").strip()
    if not value:
        return None
    namespace, _, name = value.rpartition("/")
    namespace = namespace or os.environ.get("FINPLANE_POD_NAMESPACE") or os.environ.get(
        "FINPLANE_API_WAIVER_NAMESPACE") or "default"
    return namespace, name


async def shared_signer(kube: Kube, *, namespace: str, name: str, publish: bool = True) -> Signer:
    """The key in Secret `namespace/name`, created first when absent (the loser of a race reads the winner's)."""
    signer: Signer | None = None
    for _ in range(3):  # found, or created, or lost the race and found: never more than two rounds in practice
        found = await kube.get_or_none("v1", "Secret", name, namespace)
        if found is not None:
            signer = signer_from_secret(found)
            break
        candidate = Signer(Ed25519PrivateKey.generate())
        try:
            await kube.create(signing_secret(candidate, name=name, namespace=namespace))
        except AlreadyExists:
            log.info("Evidence signing key Secret %s/%s was created by another process: using its key", namespace, name)
            continue
        log.info("Created the evidence signing key Secret %s/%s (key %s)", namespace, name, candidate.kid)
        signer = candidate
        break
    if signer is None:
        raise RuntimeError(f"the evidence signing key Secret {namespace}/{name} was created but cannot be read back")
    if publish:
        await publish_public_key(kube, signer, namespace=namespace, name=f"{name}-public")
    return signer


async def publish_public_key(kube: Kube, signer: Signer, *, namespace: str, name: str) -> None:
    """Write the ConfigMap that publishes the public key (public half only), unless it already says the same."""
    body = public_key_configmap(signer, name=name, namespace=namespace)
    live = await kube.get_or_none("v1", "ConfigMap", name, namespace)
    if live is not None and live.get("data") == body["data"]:
        return
    if live is None:
        try:
            await kube.create(body)
        except AlreadyExists:
            live = await kube.get("v1", "ConfigMap", name, namespace)
    if live is not None:
        await kube.patch_merge("v1", "ConfigMap", name, {"data": body["data"]}, namespace)
    log.info("Published the evidence public key %s in ConfigMap %s/%s", signer.kid, namespace, name)
