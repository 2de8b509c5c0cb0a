"""The server's state in one object: the resource registry, the store and the controllers.

Built once by `app.py` and handed to every handler; tests of the write path may build one
directly. Also creates the default namespaces a fresh cluster has.
"""

from __future__ import annotations

from typing import Any

from finplane_emulator.resources import Registry, ResourceInfo
from finplane_emulator.store import DEFAULT_HISTORY, Store

__all__ = ["DEFAULT_NAMESPACES", "Core"]

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class Core:
    """Registry + store + background controllers (garbage collector, namespaces, CRDs)."""

    def __init__(self, *, history: int = DEFAULT_HISTORY) -> None:
        from finplane_emulator.controllers import Controllers

        self.registry = Registry()
        self.store = Store(history=history)
        self.controllers = Controllers(self)
        self.namespaces_info = self.registry.get("", "v1", "namespaces")

    def info_for_key(self, key: tuple[str, str]) -> ResourceInfo | None:
        versions = self.registry.versions_of(*key)
        if not versions:
            return None
        storage = [v for v in versions if v.storage_version == v.version]
        return storage[0] if storage else versions[0]

    def namespace(self, name: str) -> dict[str, Any] | None:
        assert self.namespaces_info is not None
        return self.store.get(self.namespaces_info, "", name)

    def bootstrap(self) -> None:
        """The namespaces every cluster starts with."""
        from finplane_emulator.writes import create

        assert self.namespaces_info is not None
        for name in DEFAULT_NAMESPACES:
            if self.namespace(name) is None:
                create(self, self.namespaces_info, None,
                       {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                       manager="kube-apiserver")
