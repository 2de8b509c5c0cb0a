"""Parse container image references (registry, repository, tag, digest) the way the runtime does.

Pure; called by the capability checks (a reference that does not parse gets a condition), the
registry wiring (which registry serves an image) and the compliance rules (digest pinning, latest tag).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ImageRef", "parse_image"]

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_RE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)

_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")


@dataclass(frozen=True, slots=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def pinned(self) -> bool:
        return self.digest is not None


def parse_image(ref: str) -> ImageRef:
    """Split an image reference; ValueError with the reason when it does not parse."""
    m = _RE.match(ref)
    if not m or len(ref) > 512:
        raise ValueError(f"image reference {ref!r} does not parse (expected [registry/]repository[:tag][@sha256:digest])")
    domain, path = m.group("domain"), m.group("path")
    # Like the Docker client: the first component is a registry only if it looks like a host.
    if domain and not ("." in domain or ":" in domain or domain == "localhost" or domain.startswith("[")):
        path, domain = f"{domain}/{path}", None
        if not _PATH.fullmatch(path):
            raise ValueError(f"image reference {ref!r} does not parse (repository names are lower case)")
    registry = domain or "docker.io"
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    return ImageRef(registry=registry, repository=path, tag=m.group("tag"), digest=m.group("digest"))
