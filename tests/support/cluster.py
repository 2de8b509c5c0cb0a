"""A handle on a cluster for end-to-end tests: kubectl and request counters, and the condition readers.

`Cluster` is what the `cluster` fixtures of tests/conftest.py yield (the embedded API server, or a real
cluster with FINPLANE_TEST_KUBE=real); `embedded_cluster` starts one (`fault_cluster`: with fault injection, for
the reliability suite). `condition` and `is_ready` read a CR's status as a user reading `kubectl get` would.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import REPO

__all__ = ["Cluster", "condition", "embedded_cluster", "fault_cluster", "is_ready"]


@dataclass
class Cluster:
    kubeconfig: Path
    url: str
    handle: Any = None

    @property
    def env(self) -> dict[str, str]:
        # kubectl caches discovery per host:port; ports are reused between servers, so one cache per cluster.
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig),
                "KUBECACHEDIR": str(self.kubeconfig.parent / ".kube-cache")}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        cp = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=self.env, input=input,
                            timeout=60, check=False)
        if check and cp.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {cp.stderr or cp.stdout}")
        return cp

    def apply(self, manifest: dict[str, Any] | list[dict[str, Any]] | str) -> None:
        text = manifest if isinstance(manifest, str) else yaml.safe_dump_all(
            manifest if isinstance(manifest, list) else [manifest])
        self.kubectl("apply", "--server-side", "--field-manager=test", "-f", "-", input=text)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        args = ["get", kind, name, "-o", "json"]
        if namespace:
            args += ["-n", namespace]
        cp = self.kubectl(*args, check=False)
        if cp.returncode != 0:
            if "NotFound" in cp.stderr or "not found" in cp.stderr:
                return None
            raise AssertionError(cp.stderr)
        return dict(json.loads(cp.stdout))

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> list[dict[str, Any]]:
        args = ["get", kind, "-o", "json"] + (["-n", namespace] if namespace else ["-A"])
        if selector:
            args += ["-l", selector]
        return list(json.loads(self.kubectl(*args).stdout).get("items", []))

    def stats(self) -> dict[str, Any]:
        if self.handle is None:
            raise RuntimeError("request counters exist only on the embedded API server")
        return dict(self.handle.stats())

    def writes_by(self, agent_prefix: str) -> int:
        """Write requests (create, update, patch, delete) sent by clients whose user agent starts so."""
        return sum(int(r["count"]) for r in self.stats().get("by", [])
                   if str(r.get("userAgent", "")).startswith(agent_prefix)
                   and r.get("verb") in ("create", "update", "patch", "apply", "delete", "deletecollection"))


def embedded_cluster(tmp: Path, *, faults: bool = False, env: dict[str, str] | None = None) -> Cluster:
    """A fresh embedded API server under `tmp` with Finplane's CRDs installed (`handle.stop()` ends it)."""
    from finplane_emulator.testing import start_apiserver

    handle = start_apiserver(tmp / "apiserver", faults=faults, env=env)
    c = Cluster(kubeconfig=Path(handle.kubeconfig), url=handle.url, handle=handle)
    c.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    return c


def fault_cluster(tmp: Path, *, env: dict[str, str] | None = None) -> Cluster:
    """A fresh embedded API server with fault injection on (`handle.set_faults(...)`) and the CRDs installed."""
    return embedded_cluster(tmp, faults=True, env=env)


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    """The condition of `type_` in `obj`'s status, or None (also when there is no object or status)."""
    for c in ((obj or {}).get("status") or {}).get("conditions", []) or []:
        if c.get("type") == type_:
            return dict(c)
    return None


def is_ready(obj: dict[str, Any] | None) -> bool:
    c = condition(obj, "Ready")
    return bool(c and c.get("status") == "True")
