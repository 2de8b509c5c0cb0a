"""The sandbox namespace's `default` ServiceAccount does not automount its token (CIS 5.1.6).

Called by the sandbox reconciler on every accepted pass. Two reconcilers write this account: the
ImageRegistry reconciler owns its `imagePullSecrets` (field manager `finplane-registry`, merge patches
carrying the read resourceVersion), and this module owns `automountServiceAccountToken` only, by
server-side apply under its own field manager `finplane-sandbox`. Neither sends the other's field, so
neither ever reverts the other. The account gets no owner label: the registry wires only accounts that
are not a Finplane child (`registry.pull_secrets.is_finplane_child`). Compare before writing: an account
that already says `false` costs no write.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from finplane.kube.client import Kube

__all__ = ["SANDBOX_FIELD_MANAGER", "disable_token_automount"]

log = logging.getLogger("finplane.sandbox")
SANDBOX_FIELD_MANAGER = "finplane-sandbox"


async def disable_token_automount(kube: Kube, *, namespace: str) -> bool:
    """Make `default` in `namespace` say `automountServiceAccountToken: false`; returns whether it wrote."""
    live = await kube.get_or_none("v1", "ServiceAccount", "default", namespace)
    if live is not None and live.get("automountServiceAccountToken") is False:
        return False
    await kube.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                      "metadata": {"name": "default", "namespace": namespace},
                      "automountServiceAccountToken": False}, force=True, field_manager=SANDBOX_FIELD_MANAGER)
    log.info("Applied automountServiceAccountToken=false to ServiceAccount %s/default", namespace)
    return True
