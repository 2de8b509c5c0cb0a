"""`finplane dev` as a newcomer and a supervisor meet it: it stops cleanly and does not wait in vain.

Covers (issue 14 item 7): SIGTERM stops `finplane dev` and its three children (the embedded API server,
the operator, the platform API): none survives it; `finplane dev --once` with an example the operator
refuses for good (a terminal reason: here PrivilegedPort) ends at that refusal, names the object, the
reason and the operator's message, and exits 1.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e

BROKEN = textwrap.dedent("""\
    apiVersion: v1
    kind: Namespace
    metadata:
      name: payments
      labels:
        finplane.io/team: payments
    ---
    apiVersion: finplane.io/v1alpha1
    kind: BusinessCapability
    metadata:
      name: ledger
      namespace: payments
    spec:
      owner:
        team: payments
        contact: payments-team@bank.example
      domain: payments
      image: registry.finplane.local/payments/ledger:1.0.0
      port: 80
    """)


def _dev(*args: str, tmp: Path, examples: Path) -> list[str]:
    return [sys.executable, "-m", "finplane", "dev", "--examples", str(examples),
            "--state-dir", str(tmp / "dev"), *args]


def test_sigterm_stops_finplane_dev_and_every_child_it_started(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()  # nothing to reconcile: `finplane dev` reaches its running state at once
    proc = subprocess.Popen(_dev(tmp=tmp_path, examples=examples), cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"})
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()], daemon=True).start()
    children: list[psutil.Process] = []
    try:
        seen = []
        while not any("press Ctrl-C" in line for line in seen):
            seen.append(lines.get(timeout=180))
        children = psutil.Process(proc.pid).children(recursive=True)
        commands = [" ".join(c.cmdline()) for c in children]
        assert any("finplane_emulator" in c for c in commands), commands
        assert any(" operator " in c for c in commands) and any(" api " in c for c in commands), commands

        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        survivors = [" ".join(c.cmdline()) for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        assert survivors == []
        assert code == 0  # a requested stop, not a crash
    finally:
        for c in children:
            if c.is_running():
                c.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_once_ends_at_an_example_refused_for_good_and_prints_why(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "broken.yaml").write_text(BROKEN)
    cp = subprocess.run(_dev("--once", tmp=tmp_path, examples=examples), cwd=REPO, capture_output=True,
                        text=True, timeout=300, check=False, env={**os.environ, "COLUMNS": "200"})
    assert cp.returncode == 1, cp.stdout + cp.stderr
    refused = [line for line in cp.stdout.splitlines() if line.startswith("Refused:")]
    assert len(refused) == 1, cp.stdout
    assert "BusinessCapability payments/ledger: PrivilegedPort:" in refused[0], cp.stdout
    assert "spec.port 80 is below 1024" in refused[0]
    assert "Stopped." in cp.stdout
