"""Graceful Pod deletion, and the SIMULATED kubelet that ends it.

Called by `deletion.py` for Pods. The kube-apiserver's pod strategy (`CheckGracefulDelete`)
does not delete a running Pod at once: a DELETE sets `deletionTimestamp` to now plus the grace
period (`gracePeriodSeconds` of the request, else the Pod's `terminationGracePeriodSeconds`,
defaulted to 30) and `deletionGracePeriodSeconds`; a later DELETE may only shorten it; the kubelet
stops the containers and then deletes the Pod with grace 0, after which it goes (once its
finalizers are gone). Pods in phase Succeeded or Failed, and a grace of 0, go at once.

This server has no scheduler and no kubelets: every Pod counts as running on a node, and the
simulated kubelet "finishes stopping" after `min(grace, POD_STOP_SECONDS)` seconds (a real
container stops on SIGTERM in about that time) and then deletes the Pod with grace 0.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from typing import Any

from finplane_emulator.core import Core
from finplane_emulator.resources import ResourceInfo

__all__ = ["DEFAULT_GRACE_SECONDS", "POD_STOP_SECONDS", "grace_period", "is_pod", "terminate"]

Obj = dict[str, Any]
DEFAULT_GRACE_SECONDS = 30
POD_STOP_SECONDS = float(os.environ.get("FINPLANE_SIMULATOR_POD_STOP_SECONDS", "1.0"))


def is_pod(info: ResourceInfo) -> bool:
    return info.group == "" and info.plural == "pods"


def grace_period(obj: Obj, requested: Any) -> int:
    """The grace period a DELETE gives a Pod (0: delete at once)."""
    if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return 0
    if requested is not None and requested != "":
        return max(0, int(requested))
    spec_grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds")
    return max(0, int(spec_grace if spec_grace is not None else DEFAULT_GRACE_SECONDS))


def _at(seconds: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def terminate(core: Core, info: ResourceInfo, obj: Obj, grace: int) -> Obj:
    """Mark a Pod terminating with `grace` (> 0), or shorten a longer grace; the kubelet removes it later."""
    md = obj["metadata"]
    current = md.get("deletionGracePeriodSeconds")
    if md.get("deletionTimestamp") and current is not None and current <= grace:
        return obj  # a later DELETE may shorten the grace period, never lengthen it
    marked = {**obj, "metadata": {**md, "deletionTimestamp": _at(grace), "deletionGracePeriodSeconds": grace}}
    marked = core.store.commit(info, marked, old=obj)
    _schedule(core, info, md.get("namespace", ""), md["name"], md["uid"], min(float(grace), POD_STOP_SECONDS))
    return marked


def _schedule(core: Core, info: ResourceInfo, namespace: str, name: str, uid: str, delay: float) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # direct use without an event loop (unit tests): the kubelet is done at once
        finish(core, info, namespace, name, uid)
        return
    loop.call_later(delay, finish, core, info, namespace, name, uid)


def finish(core: Core, info: ResourceInfo, namespace: str, name: str, uid: str) -> None:
    """The kubelet's final DELETE with grace 0: the Pod goes, or waits for its finalizers."""
    obj = core.store.get(info, namespace, name)
    if obj is None or obj["metadata"].get("uid") != uid or not obj["metadata"].get("deletionTimestamp"):
        return
    md = obj["metadata"]
    if md.get("finalizers"):
        if md.get("deletionGracePeriodSeconds"):
            core.store.commit(info, {**obj, "metadata": {**md, "deletionGracePeriodSeconds": 0}}, old=obj)
        return
    core.store.remove(info, obj)
