"""Helpers for end-to-end tests: a cluster handle with kubectl and the official client, the operator process.

Used through the fixtures in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy; fail with `what` (tests wait for behaviour, never assert times)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


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
        return json.loads(cp.stdout)

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


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in ((obj or {}).get("status") or {}).get("conditions", []) or []:
        if c.get("type") == type_:
            return c
    return None


def is_ready(obj: dict[str, Any] | None) -> bool:
    c = condition(obj, "Ready")
    return bool(c and c.get("status") == "True")


@dataclass
class OperatorProcess:
    cluster: Cluster
    log_path: Path
    liveness_port: int
    metrics_port: int
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**self.cluster.env, "FINPLANE_DRIFT_CHECK_INTERVAL_SECONDS": "3600", "FINPLANE_BACKOFF_SECONDS": "0.5",
               "PYTHONUNBUFFERED": "1",
               # never append test evidence to the working directory's log
               "FINPLANE_EVIDENCE_DIR": str(self.log_path.parent / "evidence"), **self.extra_env}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "finplane", "operator", "--standalone",
             "--liveness-port", str(self.liveness_port), "--metrics-port", str(self.metrics_port)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)
        wait_for(self._alive, timeout=30, what="operator liveness endpoint")

    def _alive(self) -> bool:
        import urllib.request

        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"operator exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def metrics(self) -> str:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            return r.read().decode()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
