"""The real operator process for end-to-end tests: `finplane operator` started, probed, read and stopped.

`OperatorProcess` is what the `operator` fixtures of tests/conftest.py yield (standalone, no peering);
`PeeredOperator` is a replica with kopf peering and a priority (tests/reliability/test_peering.py);
`start_operator` starts one with fresh ports for tests that start operators by hand.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.support.cluster import Cluster
from tests.support.paths import REPO
from tests.support.ports import free_port
from tests.support.waiting import wait_for

__all__ = ["OperatorProcess", "PeeredOperator", "start_operator"]


@dataclass
class OperatorProcess:
    cluster: Cluster
    log_path: Path
    liveness_port: int
    metrics_port: int
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def mode_args(self) -> list[str]:
        """How this replica coordinates with others: alone, without kopf peering."""
        return ["--standalone"]

    def mode_env(self) -> dict[str, str]:
        return {}

    def start(self) -> None:
        env = {**self.cluster.env, "FINPLANE_DRIFT_CHECK_INTERVAL_SECONDS": "3600", "FINPLANE_BACKOFF_SECONDS": "0.5",
               "PYTHONUNBUFFERED": "1",
               # never append test evidence to the working directory's log
               "FINPLANE_EVIDENCE_DIR": str(self.log_path.parent / "evidence"), **self.mode_env(), **self.extra_env}
        self._log: IO[bytes] = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "finplane", "operator", *self.mode_args(),
             "--liveness-port", str(self.liveness_port), "--metrics-port", str(self.metrics_port)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)
        wait_for(self._alive, timeout=30, what="operator liveness endpoint")

    def _alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"operator exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            return str(r.read().decode())

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


@dataclass
class PeeredOperator(OperatorProcess):
    """An operator replica with kopf peering (`--peering NAME`) and its own priority, instead of --standalone."""

    peering: str = "finplane"
    priority: int = 0

    def mode_args(self) -> list[str]:
        return ["--peering", self.peering]

    def mode_env(self) -> dict[str, str]:
        return {"FINPLANE_PEERING_PRIORITY": str(self.priority)}


def start_operator(cluster: Cluster, tmp: Path, *, name: str = "operator", env: dict[str, str] | None = None
                   ) -> OperatorProcess:
    """A standalone operator against `cluster`, logging to `tmp/<name>.log`, started and alive."""
    proc = OperatorProcess(cluster=cluster, log_path=tmp / f"{name}.log", liveness_port=free_port(),
                           metrics_port=free_port(), extra_env=env or {})
    proc.start()
    return proc
