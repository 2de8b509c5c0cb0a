"""SIMULATED Deployment controller: there are no kubelets here, so this marks Deployments available.

This is not Kubernetes behaviour; it stands in for kube-controller-manager plus kubelets so
that operators see Deployments become ready. Shortly after a Deployment changes it writes
`status` (replicas, updatedReplicas, readyReplicas, availableReplicas, observedGeneration and
the Available/Progressing conditions) through the /status subresource under the user agent and
field manager `finplane-simulator` (counted in the stats under that user agent). It writes
nothing when the status is already right. Deployments whose image reference contains
`simulate-fail`, or marked through `POST /_finplane/deployments/{ns}/{name}/fail`, never become
available (Available=False, Progressing=False with ProgressDeadlineExceeded) until
`.../recover` is posted. Started by `app.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

from finplane_emulator import meta, writes
from finplane_emulator.core import Core
from finplane_emulator.observe import Stats
from finplane_emulator.resources import ResourceInfo
from finplane_emulator.store import WatchEvent

__all__ = ["USER_AGENT", "DeploymentSimulator"]

USER_AGENT = "finplane-simulator"
DELAY_SECONDS = float(os.environ.get("FINPLANE_SIMULATOR_DELAY_SECONDS", "0.2"))


class DeploymentSimulator:
    def __init__(self, core: Core, stats: Stats, *, delay: float = DELAY_SECONDS) -> None:
        self.core = core
        self.stats = stats
        self.delay = delay
        self.failing: set[tuple[str, str]] = set()
        self._scheduled: set[tuple[str, str]] = set()
        self.info = core.registry.get("apps", "v1", "deployments")
        core.store.listeners.append(self._on_event)

    def set_failing(self, namespace: str, name: str, failing: bool) -> None:
        (self.failing.add if failing else self.failing.discard)((namespace, name))
        self._schedule(namespace, name)

    def _on_event(self, info: ResourceInfo, event: WatchEvent) -> None:
        if info.key != ("apps", "deployments") or event.type == "DELETED":
            return
        md = event.obj["metadata"]
        self._schedule(md.get("namespace", ""), md["name"])

    def _schedule(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        if key in self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._scheduled.add(key)
        loop.call_later(self.delay, self._reconcile, key)

    def _reconcile(self, key: tuple[str, str]) -> None:
        self._scheduled.discard(key)
        assert self.info is not None
        obj = self.core.store.get(self.info, *key)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        old_status = obj.get("status") or {}
        desired = self.desired_status(obj, failing=self._fails(obj))
        if _comparable(old_status) == _comparable(desired):
            return  # already right: write nothing
        desired["conditions"] = [_keep_times(c, old_status.get("conditions") or []) for c in desired["conditions"]]
        writes.replace(self.core, self.info, obj, {**obj, "status": desired}, subresource="status",
                       manager=USER_AGENT)
        self.stats.record(verb="update", group="apps", resource="deployments", subresource="status",
                          user_agent=USER_AGENT)

    def _fails(self, obj: dict[str, Any]) -> bool:
        md = obj["metadata"]
        if (md.get("namespace", ""), md["name"]) in self.failing:
            return True
        pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        return any("simulate-fail" in str(c.get("image", "")) for c in pod.get("containers") or ())

    @staticmethod
    def desired_status(obj: dict[str, Any], *, failing: bool) -> dict[str, Any]:
        spec = obj.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        name = obj["metadata"]["name"]
        rs_hash = hashlib.sha256(repr(spec.get("template")).encode()).hexdigest()[:10]
        now = meta.now()
        status: dict[str, Any] = {"observedGeneration": obj["metadata"].get("generation", 1)}
        if replicas:
            status["replicas"] = replicas
            status["updatedReplicas"] = replicas
        if failing:
            if replicas:
                status["unavailableReplicas"] = replicas
            conditions = [
                _cond("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", now),
                _cond("Progressing", "False", "ProgressDeadlineExceeded",
                      f'ReplicaSet "{name}-{rs_hash}" has timed out progressing.', now),
            ]
        else:
            if replicas:
                status["readyReplicas"] = replicas
                status["availableReplicas"] = replicas
            conditions = [
                _cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now),
                _cond("Progressing", "True", "NewReplicaSetAvailable",
                      f'ReplicaSet "{name}-{rs_hash}" has successfully progressed.', now),
            ]
        status["conditions"] = conditions
        return status


def _cond(type_: str, status: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {"type": type_, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def _keep_times(cond: dict[str, Any], old: list[dict[str, Any]]) -> dict[str, Any]:
    prior = next((c for c in old if c.get("type") == cond["type"]), None)
    if prior and prior.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": prior.get("lastTransitionTime", cond["lastTransitionTime"])}
        if prior.get("reason") == cond["reason"]:
            cond["lastUpdateTime"] = prior.get("lastUpdateTime", cond["lastUpdateTime"])
    return cond


def _comparable(status: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in status.items() if k != "conditions"}
    out["conditions"] = sorted((c.get("type"), c.get("status"), c.get("reason"), c.get("message"))
                               for c in status.get("conditions") or ())
    return out
