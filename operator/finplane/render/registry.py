"""The pull Secret an ImageRegistry writes into each namespace: `kubernetes.io/dockerconfigjson`.

Pure; called by `reconcile.registry` (with real credentials) and by `render.offline` for
`finplane render` (with `REDACTED` in place of the credentials, so nothing secret is printed).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from finplane.models.image_registry import ImageRegistrySpec
from finplane.names import REGISTRY_LABEL
from finplane.render.labels import MANAGED_BY

__all__ = ["REDACTED", "REGISTRY_LABEL", "dockerconfigjson", "pull_secret_name", "render_pull_secret", "render_redacted",
           "render_registry_doc"]

REDACTED = "REDACTED"
Obj = dict[str, Any]


def pull_secret_name(registry: str, secret_name: str | None = None) -> str:
    """The one naming rule of an ImageRegistry's pull Secret: its spec.secretName, else `<registry>-pull`.

    Used by the registry (to write it), by capabilities (to reference it) and sandboxes (to check it)."""
    return secret_name or f"{registry}-pull"


def dockerconfigjson(*, server: str, username: str, password: str) -> str:
    """The `.dockerconfigjson` document kubelet and container runtimes read (auths keyed by host)."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    doc = {"auths": {server: {"username": username, "password": password, "auth": auth}}}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def render_pull_secret(*, registry: str, spec: ImageRegistrySpec, namespace: str, username: str,
                       password: str) -> Obj:
    """A complete Secret manifest for `namespace` holding the login to `spec`'s server."""
    config = dockerconfigjson(server=spec.effective_server(), username=username, password=password)
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {
            "name": pull_secret_name(registry, spec.secret_name), "namespace": namespace,
            "labels": {**MANAGED_BY, "app.kubernetes.io/component": "image-pull-secret", REGISTRY_LABEL: registry},
        },
        "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
    }


def render_redacted(*, registry: str, spec: ImageRegistrySpec, namespace: str) -> Obj:
    """The Secret's shape with REDACTED credentials (for `finplane render`)."""
    secret = render_pull_secret(registry=registry, spec=spec, namespace=namespace, username=REDACTED,
                                password=REDACTED)
    secret["data"] = {".dockerconfigjson": REDACTED}
    return secret


def render_registry_doc(doc: Obj) -> list[Obj]:
    """`finplane render` of an ImageRegistry: the pull Secret's shape only.

    Its namespaces are known only in a cluster (selector, capabilities, sandboxes), so one
    Secret is shown for a placeholder namespace; its credentials are never printed.
    """
    spec = ImageRegistrySpec.model_validate(doc.get("spec") or {})
    secret = render_redacted(registry=(doc.get("metadata") or {}).get("name", ""), spec=spec,
                             namespace="target-namespace")
    secret["metadata"]["annotations"] = {
        "finplane.io/rendered-for": "each namespace the registry selects or whose capabilities or sandboxes name it"}
    return [secret]
