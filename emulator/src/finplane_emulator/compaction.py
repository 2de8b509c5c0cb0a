"""etcd compaction as a long-running cluster shows it: old resourceVersions stop being watchable.

Started by `bootstrap.start`. A real kube-apiserver compacts etcd every 5 minutes
(`--etcd-compaction-interval`), keeping the revisions written since the previous compaction,
and a watch or a continue token from before the compacted revision gets 410 Gone ("too old
resource version"). Here: everything written while the server bootstrapped itself counts as
compacted at once (a client meeting this server meets a cluster that has been up for a while,
so `resourceVersion=1` is long gone), and then, every `COMPACTION_SECONDS`, the revision current
one interval earlier becomes the compaction point. The check happens when something is written
(no timer task). The watch handler (`watch.py`) and continue tokens (`reads.py`) compare with
each resource's `compacted_rv`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from finplane_emulator.core import Core
from finplane_emulator.resources import ResourceInfo
from finplane_emulator.store import WatchEvent

__all__ = ["COMPACTION_SECONDS", "Compactor", "compact"]

COMPACTION_SECONDS = float(os.environ.get("FINPLANE_APISERVER_COMPACTION_SECONDS", "300"))


def compact(core: Core, rv: int) -> None:
    """Make every resourceVersion at or before `rv` too old to watch from (never moves back)."""
    store = core.store
    store.base_rv = max(store.base_rv, rv)
    for res in store.resources.values():
        res.compacted_rv = max(res.compacted_rv, rv)
        while res.history and res.history[0].rv <= rv:
            res.history.popleft()


class Compactor:
    """Moves the compaction point every `interval` seconds, to the revision seen one interval before."""

    def __init__(self, core: Core, *, interval: float = COMPACTION_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.core = core
        self.interval = interval
        self.clock = clock
        self.last_tick = clock()
        self.pending_rv = core.store.rv  # becomes the compaction point at the next tick

    def on_event(self, info: ResourceInfo, event: WatchEvent) -> None:
        now = self.clock()
        if now - self.last_tick >= self.interval:
            compact(self.core, self.pending_rv)
            self.pending_rv = self.core.store.rv
            self.last_tick = now
