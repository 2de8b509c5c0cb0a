"""`Kube`: the Kubernetes gateway as a Protocol, the type reconcilers, the platform API and test fakes use.

`finplane.kube.client.KubeClient` is the one implementation that talks to an API server (mypy checks
that it satisfies this Protocol, and `tests/unit/test_kube_protocol.py` that the signatures agree);
a test double only has to provide these methods, never to subclass the client or reach into its
transport. Errors are `finplane.kube.errors` (NotFound, Conflict, AlreadyExists, Invalid, ...).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Kube", "Obj"]

Obj = dict[str, Any]


class Kube(Protocol):
    """Reads and writes of any kind by apiVersion and kind; the implementation picks the field manager."""

    async def close(self) -> None: ...

    # -- reads ---------------------------------------------------------------------------------
    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj: ...

    async def get_or_none(self, api_version: str, kind: str, name: str,
                          namespace: str | None = None) -> Obj | None: ...

    async def list(self, api_version: str, kind: str, namespace: str | None = None, *,
                   label_selector: str | None = None, field_selector: str | None = None) -> list[Obj]: ...

    # -- writes --------------------------------------------------------------------------------
    async def apply(self, body: Obj, *, force: bool = True, dry_run: bool = False,
                    field_manager: str | None = None) -> Obj: ...

    async def create(self, body: Obj) -> Obj: ...

    async def replace(self, body: Obj) -> Obj: ...

    async def patch_merge(self, api_version: str, kind: str, name: str, patch: Obj, namespace: str | None = None,
                          *, subresource: str | None = None, field_manager: str | None = None) -> Obj: ...

    async def patch_status(self, api_version: str, kind: str, name: str, status: Obj,
                           namespace: str | None = None) -> Obj: ...

    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None, *,
                     propagation: str = "Background", missing_ok: bool = True) -> None: ...
