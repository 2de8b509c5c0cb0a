"""`--data-dir`: the server's state survives a restart.

`main.py` calls `load()` before serving and `save_now()` on shutdown; while serving, every
committed change schedules a snapshot (debounced) written from a worker thread, atomically
(temporary file, then rename), so a crash loses at most the last fraction of a second.
Stored objects are immutable, so the snapshot shares them with the live store safely.
After a restart, watches from versions before the restart get 410 Gone: that history is lost,
as it is when a real API server's watch cache restarts.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from finplane_emulator import crds
from finplane_emulator.core import Core
from finplane_emulator.resources import ResourceInfo
from finplane_emulator.store import WatchEvent

__all__ = ["Persistence"]

DEBOUNCE_SECONDS = 0.3
_FILE = "state.json"


class Persistence:
    def __init__(self, core: Core, data_dir: Path) -> None:
        self.core = core
        self.path = Path(data_dir) / _FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._pending: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None
        self._dirty = False

    def load(self) -> bool:
        """Load the last snapshot; False when there is none."""
        if not self.path.exists():
            return False
        state = json.loads(self.path.read_text())
        store = self.core.store
        objects: dict[str, list[dict[str, Any]]] = state.get("objects", {})
        crd_key = "apiextensions.k8s.io/customresourcedefinitions"
        for crd in objects.get(crd_key, []):
            crds.register(self.core, crd)
        for key, items in objects.items():
            group, _, plural = key.rpartition("/")
            info = self.core.info_for_key((group, plural))
            if info is None:
                continue
            for obj in items:
                store.load(info, obj)
        store.rv = int(state.get("resourceVersion", 1))
        store.base_rv = store.rv
        for res in store.resources.values():
            res.compacted_rv = store.rv
        return True

    def start(self) -> None:
        self.core.store.listeners.append(self._on_event)

    def _on_event(self, info: ResourceInfo, event: WatchEvent) -> None:
        self._dirty = True
        if self._pending is None:
            loop = asyncio.get_running_loop()
            self._pending = loop.call_later(DEBOUNCE_SECONDS, self._flush)

    def _flush(self) -> None:
        self._pending = None
        if self._writing is not None and not self._writing.done():
            self._pending = asyncio.get_running_loop().call_later(DEBOUNCE_SECONDS, self._flush)
            return
        snapshot = self._snapshot()
        self._dirty = False
        self._writing = asyncio.get_running_loop().create_task(asyncio.to_thread(self._write, snapshot))

    def _snapshot(self) -> dict[str, Any]:
        store = self.core.store
        objects = {f"{g}/{p}": list(res.iter()) for (g, p), res in store.resources.items() if res.count}
        return {"resourceVersion": store.rv, "objects": objects}

    def _write(self, snapshot: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump(snapshot, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    async def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self._writing is not None:
            await self._writing
        self._write(self._snapshot())
