"""Finplane's runtime distribution and image hold the product only, never the embedded API server.

Covers: the runtime requirements pin none of the emulator's own dependencies; the package finder of
pyproject.toml finds no emulator package; the image copies nothing from emulator/ and its build context
excludes it; `finplane apiserver` without the emulator installed says how to install it instead of
failing on an import.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from setuptools import find_packages

REPO = Path(__file__).resolve().parents[2]
EMULATOR_ONLY = ("jsonpatch", "cel-python")  # orjson (finplane.kube) and uvloop (the operator, the API) are Finplane's too


def _pins(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(re.split(r"[=<>\[ ;]", line, maxsplit=1)[0].lower())
    return names


def test_the_runtime_requirements_pin_none_of_the_emulators_dependencies() -> None:
    runtime = _pins(REPO / "requirements.in")
    assert runtime and runtime.isdisjoint(EMULATOR_ONLY), runtime & set(EMULATOR_ONLY)
    emulator = tomllib.loads((REPO / "emulator" / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[=<>\[ ;]", d, maxsplit=1)[0].lower() for d in emulator["dependencies"]}
    assert set(EMULATOR_ONLY) <= declared  # they moved to the emulator, which pins them itself


def test_the_runtime_package_contains_no_emulator_module() -> None:
    find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = [p for where in find["where"] for p in find_packages(str(REPO / where), include=find["include"])]
    assert "finplane" in packages and "platform_api" in packages
    assert not [p for p in packages if "emulator" in p or "apiserver" in p]
    assert not (REPO / "operator" / "finplane" / "apiserver").exists()


def test_the_image_neither_copies_nor_sees_the_emulator() -> None:
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", (REPO / "Dockerfile").read_text(), re.M)
    sources = [part.rstrip("/") for line in copied for part in line.split()]
    assert sources and not [s for s in sources if s == "emulator" or s.startswith("emulator/")]
    ignore = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert ignore.index("emulator/") > max(i for i, line in enumerate(ignore) if line.startswith("!"))


def test_finplane_apiserver_without_the_emulator_says_how_to_install_it() -> None:
    # The emulator made unimportable, as after `pip install finplane` alone.
    code = ("import sys, importlib.util as u; real = u.find_spec; "
            "u.find_spec = lambda n, *a: None if n == 'finplane_emulator' else real(n, *a); "
            "sys.argv = ['finplane', 'apiserver', '--port', '0']; from finplane.cli import main; main()")
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert cp.returncode != 0
    assert "finplane-emulator distribution) is not installed" in cp.stderr and "make dev" in cp.stderr
    assert "Traceback" not in cp.stderr


def test_finplane_apiserver_runs_the_emulator_in_its_place_with_the_same_contract(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    proc = subprocess.Popen([sys.executable, "-m", "finplane", "apiserver", "--port", "0",
                             "--kubeconfig-out", str(kubeconfig)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert re.fullmatch(r"finplane-emulator listening on http://127\.0\.0\.1:\d+\n", first), first
        assert first.split()[-1] in kubeconfig.read_text()
        proc.terminate()
        assert proc.wait(timeout=30) == 0 and proc.stdout.read() == ""  # exactly one line, a clean stop
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
