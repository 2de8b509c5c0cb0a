"""May an image be pulled through a given ImageRegistry? (server match and allowed repositories)

Pure; called by the capability and sandbox reconcilers for their ImagePullAccess condition.
The ImageRegistry reconciler owns writing the pull secrets themselves.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from finplane.render.image import parse_image

__all__ = ["image_allowed", "pull_secret_for"]


def image_allowed(registry: dict[str, Any], image: str) -> tuple[bool, str, str]:
    """(allowed, reason, message) for pulling `image` with `registry`'s credentials."""
    spec = registry.get("spec") or {}
    name = registry["metadata"]["name"]
    try:
        ref = parse_image(image)
    except ValueError as exc:
        return False, "InvalidImage", str(exc)
    server = str(spec.get("server") or "").removeprefix("https://").removeprefix("http://").rstrip("/")
    ecr = spec.get("ecr") or {}
    if not server and ecr.get("accountId") and ecr.get("region"):  # ECR's host is derived, as the Secret's is
        server = f"{ecr['accountId']}.dkr.ecr.{ecr['region']}.amazonaws.com"
    if server and ref.registry != server:
        return False, "RegistryMismatch", (f"image registry {ref.registry} is not served by ImageRegistry {name} "
                                           f"({server}); use an image from {server} or another registryRef")
    patterns = spec.get("allowedRepositories") or []
    if patterns and not any(fnmatch.fnmatchcase(ref.repository, p) for p in patterns):
        return False, "RepositoryNotAllowed", (f"repository {ref.repository} is outside ImageRegistry {name}'s "
                                               f"allowedRepositories {patterns}")
    return True, "PullSecretWired", f"pods pull with the {name} pull secret"


def pull_secret_for(stores: dict[str, dict[Any, dict[str, Any]]], registry: str) -> str:
    """Name of the pull Secret ImageRegistry `registry` writes (its spec.secretName, else the default)."""
    from finplane.render.registry import pull_secret_name  # the one naming rule

    body = stores.get("ImageRegistry", {}).get(("", registry))
    return pull_secret_name(registry, ((body or {}).get("spec") or {}).get("secretName"))
