"""Shared fixtures: the embedded API server and the operator as real processes over HTTP.

`FINPLANE_TEST_KUBE=real` (with KUBECONFIG) runs the same end-to-end tests against a real
cluster instead of the embedded API server; tests that need the embedded server's test-only
endpoints (request counters, fault injection) skip there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import REPO, Cluster, OperatorProcess, embedded_cluster, start_operator

REAL = os.environ.get("FINPLANE_TEST_KUBE") == "real"


def _start_cluster(tmp_path: Path) -> Cluster:
    if not REAL:
        return embedded_cluster(tmp_path)
    c = Cluster(kubeconfig=Path(os.environ["KUBECONFIG"]), url="", handle=None)
    c.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    return c


def _start_operator(cluster: Cluster, tmp_path: Path) -> OperatorProcess:
    return start_operator(cluster, tmp_path)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A fresh embedded API server with Finplane's CRDs installed (or the real cluster in KUBECONFIG)."""
    c = _start_cluster(tmp_path)
    yield c
    if c.handle is not None:
        c.handle.stop()


@pytest.fixture
def operator(cluster: Cluster, tmp_path: Path) -> Iterator[OperatorProcess]:
    """The real operator process (`finplane operator`) against `cluster`."""
    proc = _start_operator(cluster, tmp_path)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def module_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One embedded API server for a whole test module (tests there must use distinct object names)."""
    c = _start_cluster(tmp_path_factory.mktemp("cluster"))
    yield c
    if c.handle is not None:
        c.handle.stop()


@pytest.fixture(scope="module")
def module_operator(module_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """One operator process for a whole test module, against `module_cluster`."""
    proc = _start_operator(module_cluster, tmp_path_factory.mktemp("operator"))
    yield proc
    proc.stop()

