"""The pytest plugin (entry point `pytest11`) gives any test in the environment a real server to use.

Covers: the `emulator` fixture is a live server process with a kubeconfig, fault injection off (404,
as without `--faults`); `@pytest.mark.emulator(faults=True)` turns it on; `emulator_factory` starts
further servers, each its own cluster, and all are stopped when the test ends; a pytest session in
any folder finds the plugin through its entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import psutil
import pytest
import yaml

from finplane_emulator.testing import ApiServerHandle


def test_the_emulator_fixture_is_a_live_server_without_fault_injection(emulator: ApiServerHandle) -> None:
    assert emulator.alive
    assert yaml.safe_load(emulator.kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == emulator.url
    with pytest.raises(urllib.error.HTTPError) as refused:
        emulator.set_faults(latencySeconds=0.01)
    assert refused.value.code == 404


@pytest.mark.emulator(faults=True)
def test_the_marker_sets_the_fixtures_arguments(emulator: ApiServerHandle) -> None:
    assert emulator.set_faults(latencySeconds=0.01)["latencySeconds"] == 0.01


INNER = """
import json, os

def test_uses_the_factory(emulator_factory):
    first, second = emulator_factory(), emulator_factory()
    assert first.url != second.url
    assert second.stats()["total"] == 0
    with open(os.environ["PIDS_OUT"], "w") as out:
        json.dump([first.process.pid, second.process.pid], out)
"""


def test_a_fresh_session_finds_the_plugin_and_the_factorys_servers_stop_after_the_test(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(INNER)
    pids_out = tmp_path / "pids.json"
    cp = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_inner.py"],
                        cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
                        env={**os.environ, "PIDS_OUT": str(pids_out)})
    assert cp.returncode == 0, cp.stdout + cp.stderr
    pids = json.loads(pids_out.read_text())
    assert len(pids) == 2 and not [p for p in pids if psutil.pid_exists(p)
                                   and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
