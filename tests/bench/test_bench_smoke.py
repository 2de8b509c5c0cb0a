"""Smoke test of the benchmark scripts: each one runs at a tiny size and prints its RESULT line.

Covers: bench/write_amplification.py, baseline.py (with its kopf operator), convergence.py, memory.py, api_catalog.py, render.py and portal_catalog.py run to
the end as the commands a person types, and run_all.py turns results into RESULTS.md text. No times
are asserted (benchmarks are not tests); this only proves the scripts still work.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]

SMALL = {
    "write_amplification": ["--capabilities", "5", "--quiet", "2"],
    "baseline": ["--capabilities", "5"],
    "convergence": ["--capabilities", "5"],
    "memory": ["--sizes", "5", "--budget", "30", "--idle-seconds", "0.5"],
    "api_catalog": ["--capabilities", "200", "--clients", "5", "--seconds", "0.5"],
    "render": ["--capabilities", "50"],
    "portal_catalog": ["--capabilities", "300", "--requests", "3"],
}


@pytest.mark.parametrize("name", list(SMALL))
def test_benchmark_script_runs_at_a_tiny_size_and_prints_its_figures(name: str) -> None:
    proc = subprocess.run([sys.executable, str(REPO / "bench" / f"{name}.py"), *SMALL[name]], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line[len("RESULT "):]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(results) == 1 and results[0], proc.stdout


def _script(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/<name>.py as a module (bench/ is a folder of scripts importing each other by bare name)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def test_run_all_writes_the_machine_the_command_and_keeps_the_notes(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _script("_common", monkeypatch)  # what run_all imports
    run_all = _script("run_all", monkeypatch)
    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n<!-- BEGIN GENERATED -->old<!-- END GENERATED -->\n\n## Tuning\nkept\n")
    result = run_all.run_one("render", SMALL["render"])
    import datetime as dt

    run_all.write_results(out, run_all.render_markdown([result], dt.datetime.now(dt.UTC), quick=True))
    text = out.read_text()
    assert "old" not in text and "## Tuning\nkept" in text
    assert "cores" in text and "Python" in text and "bench/render.py --capabilities 50" in text
    assert "manifests/s" in text
