"""The server's state in one object: the resource registry, the store, and the write hooks.

Plain state: it builds nothing but its registry and store and imports no other layer. `app.build_app`
wires the in-process controllers in (as `hooks`) and creates the default namespaces; every handler
gets the same `Core`. Tests of the write path may build one directly (its hooks then do nothing).
"""

from __future__ import annotations

from typing import Any, Protocol

from finplane_emulator.resources import Registry, ResourceInfo
from finplane_emulator.store import DEFAULT_HISTORY, Store

__all__ = ["Core", "WriteAdmission", "WriteHooks"]

Obj = dict[str, Any]


class WriteHooks(Protocol):
    """What the write and delete paths tell the controllers (beyond the store's watch events)."""

    def after_update(self, info: ResourceInfo, obj: Obj) -> None: ...

    def foreground(self, info: ResourceInfo, obj: Obj) -> None: ...

    def namespace_terminating(self, name: str) -> None: ...


class _NoHooks:
    """The hooks of a `Core` no controllers are wired into."""

    def after_update(self, info: ResourceInfo, obj: Obj) -> None:
        return None

    def foreground(self, info: ResourceInfo, obj: Obj) -> None:
        return None

    def namespace_terminating(self, name: str) -> None:
        return None


class WriteAdmission(Protocol):
    """The admission chain the write path runs (wired by `app.build_app`; see admission_chain.py)."""

    def mutate(self, info: ResourceInfo, obj: Obj, old: Obj | None, operation: str) -> None: ...

    def validate(self, info: ResourceInfo, obj: Obj, old: Obj | None, operation: str, subresource: str) -> None: ...


class _NoAdmission:
    """Admit everything (a `Core` no application serves)."""

    def mutate(self, info: ResourceInfo, obj: Obj, old: Obj | None, operation: str) -> None:
        return None

    def validate(self, info: ResourceInfo, obj: Obj, old: Obj | None, operation: str, subresource: str) -> None:
        return None


class Core:
    """Registry + store; `hooks` are the controllers once `app.build_app` has wired them."""

    def __init__(self, *, history: int = DEFAULT_HISTORY) -> None:
        self.registry = Registry()
        self.store = Store(history=history)
        self.hooks: WriteHooks = _NoHooks()
        self.admission: WriteAdmission = _NoAdmission()
        self.namespaces_info = self.registry.get("", "v1", "namespaces")

    def info_for_key(self, key: tuple[str, str]) -> ResourceInfo | None:
        versions = self.registry.versions_of(*key)
        if not versions:
            return None
        storage = [v for v in versions if v.storage_version == v.version]
        return storage[0] if storage else versions[0]

    def namespace(self, name: str) -> Obj | None:
        assert self.namespaces_info is not None
        return self.store.get(self.namespaces_info, "", name)
