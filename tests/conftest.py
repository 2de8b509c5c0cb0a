"""Shared fixtures: the embedded API server and the operator as real processes over HTTP.

`FINPLANE_TEST_KUBE=real` (with KUBECONFIG) runs the same end-to-end tests against a real
cluster instead of the embedded API server; tests that need the embedded server's test-only
endpoints (request counters, fault injection) skip there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py

from helpers import Cluster, OperatorProcess, free_port  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
REAL = os.environ.get("FINPLANE_TEST_KUBE") == "real"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A fresh embedded API server with Finplane's CRDs installed (or the real cluster in KUBECONFIG)."""
    if REAL:
        c = Cluster(kubeconfig=Path(os.environ["KUBECONFIG"]), url="", handle=None)
    else:
        from finplane.apiserver.testing import start_apiserver

        handle = start_apiserver(tmp_path / "apiserver")
        c = Cluster(kubeconfig=Path(handle.kubeconfig), url=handle.url, handle=handle)
    c.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    try:
        yield c
    finally:
        if c.handle is not None:
            c.handle.stop()


@pytest.fixture
def operator(cluster: Cluster, tmp_path: Path) -> Iterator[OperatorProcess]:
    """The real operator process (`finplane operator`) against `cluster`."""
    proc = OperatorProcess(cluster=cluster, log_path=tmp_path / "operator.log",
                           liveness_port=free_port(), metrics_port=free_port())
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def finplane_bin() -> list[str]:
    return [sys.executable, "-m", "finplane"]


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]
