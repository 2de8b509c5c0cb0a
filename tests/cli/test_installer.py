"""tools/install.py, the installer of the Makefile's venv targets: uv under pip's configuration, else pip.

Covers: pip's settings are read with pip's precedence (PIP_* variables over [install] over [global],
other commands' sections ignored); each setting that changes what is fetched from where becomes the uv
option or variable meaning the same; for real, with a pip configuration file naming a local index, a
find-links folder and a constraints file, uv installs exactly what pip would (the constrained version,
chosen across the index and the folder, and a package only the configured index has); a setting uv
cannot honour makes pip do the install, which honours it; with no uv beside the Python, pip installs.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.paths import REPO


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("finplane_install_tool", REPO / "tools/install.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


install = _load()
UV = Path(sys.executable).parent / "uv"


def test_pip_settings_follow_pips_precedence_and_ignore_other_commands() -> None:
    listing = "\n".join([
        "global.find-links='/from/global'",
        "global.index-url='https://global.example/simple'",
        "global.constraint='/etc/c.txt'",
        "install.find-links='/from/install'",
        ":env:.find-links='/from/env'",
        "download.index-url='https://download-only.example/simple'",
        "global.extra_index_url='file:///a file:///b'",
    ])
    assert install.pip_settings(listing) == {
        "find-links": "/from/env", "index-url": "https://global.example/simple", "constraint": "/etc/c.txt",
        "extra-index-url": "file:///a file:///b",
    }


def test_each_setting_becomes_the_uv_option_that_means_the_same(tmp_path: Path) -> None:
    args, env = install.uv_options({
        "index-url": "https://mirror.example/simple", "extra-index-url": "file:///a file:///b",
        "find-links": "/wheels", "constraint": "/etc/c.txt", "trusted-host": "mirror.example",
        "no-cache-dir": "1", "cert": str(tmp_path / "ca.pem"), "default-timeout": "180",
        "proxy": "http://proxy.example:3128", "disable-pip-version-check": "1", "no-index": "false",
    })
    assert args == ["--index-strategy", "unsafe-best-match", "--index-url", "https://mirror.example/simple",
                    "--extra-index-url", "file:///a", "--extra-index-url", "file:///b", "--find-links", "/wheels",
                    "--constraint", "/etc/c.txt", "--allow-insecure-host", "mirror.example", "--no-cache"]
    assert env == {"SSL_CERT_FILE": str(tmp_path / "ca.pem"), "UV_HTTP_TIMEOUT": "180",
                   "HTTPS_PROXY": "http://proxy.example:3128", "HTTP_PROXY": "http://proxy.example:3128"}
    assert install.uv_options({"no-index": "yes"})[0][-1] == "--no-index"


@pytest.mark.parametrize("setting", ["only-binary", "require-hashes", "target", "user", "keyring-provider"])
def test_a_setting_uv_is_not_told_about_is_refused_rather_than_dropped(setting: str) -> None:
    with pytest.raises(install.Untranslatable, match=setting):
        install.uv_options({"find-links": "/wheels", setting: "x"})


def _wheel(folder: Path, name: str, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    module, info = name.replace("-", "_"), f"{name.replace('-', '_')}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(c.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(c.encode())}" for p, c in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for p, c in files.items():
            z.writestr(p, c)
    return path


def _installed(venv: Path) -> set[str]:
    return {p.name.removesuffix(".dist-info") for p in venv.glob("lib/python*/site-packages/*.dist-info")}


@pytest.fixture()
def machine(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A pip configuration with its own index, find-links folder and constraints, and an empty venv."""
    a, b = "finplane-probe-a", "finplane-probe-b"
    _wheel(tmp_path / "links", a, "1.0")
    _wheel(tmp_path / "links", a, "2.0")
    for name, version in ((a, "3.0"), (b, "1.0")):  # only the index has a 3.0 and has b at all
        page = tmp_path / "simple" / name
        whl = _wheel(page, name, version)
        (page / "index.html").write_text(f'<html><body><a href="{whl.name}">{whl.name}</a></body></html>\n')
    (tmp_path / "constraints.txt").write_text(f"{a}<3\n")
    (tmp_path / "pip.conf").write_text(
        f"[global]\nindex-url = {(tmp_path / 'simple').as_uri()}\nfind-links = {tmp_path / 'links'}\n"
        f"constraint = {tmp_path / 'constraints.txt'}\n")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "target")], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "FINPLANE_INSTALLER"))}
    # the machine's own configuration files stay in force too, as they would for `make dev`
    return tmp_path, {**env, "PIP_CONFIG_FILE": str(tmp_path / "pip.conf")}


def _run(machine: tuple[Path, dict[str, str]], extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    tmp, env = machine
    return subprocess.run([sys.executable, str(REPO / "tools/install.py"), "--python", str(tmp / "target/bin/python"),
                           "finplane-probe-a", "finplane-probe-b"],
                          env={**env, **(extra_env or {})}, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not UV.exists(), reason="uv is not installed in this environment (make venv installs it)")
def test_uv_installs_what_pips_index_find_links_and_constraints_say(machine: tuple[Path, dict[str, str]]) -> None:
    out = _run(machine)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "with pip" not in out.stdout and "Installed 2 packages" in out.stdout, out.stdout
    assert _installed(machine[0] / "target") == {"finplane_probe_a-2.0", "finplane_probe_b-1.0"}
    assert " + finplane-probe" not in out.stdout  # the step's summary, not the list of packages


def test_a_setting_uv_cannot_honour_hands_the_install_to_pip(machine: tuple[Path, dict[str, str]]) -> None:
    out = _run(machine, {"PIP_PREFER_BINARY": "1"})
    assert out.returncode == 0, out.stdout + out.stderr
    if UV.exists():
        assert "with pip: uv cannot honour pip setting prefer-binary='1'" in out.stdout
    assert _installed(machine[0] / "target") == {"finplane_probe_a-2.0", "finplane_probe_b-1.0"}


def test_the_installer_is_pinned_in_the_runtime_lock_that_the_makefile_reads_it_from() -> None:
    lines = [line.split("#")[0].strip() for line in (REPO / "requirements.lock").read_text().splitlines()]
    uv = [Requirement(line) for line in lines if line and canonicalize_name(Requirement(line).name) == "uv"]
    assert len(uv) == 1 and re.fullmatch(r"==\d+\.\d+\.\d+", str(uv[0].specifier)), uv
    assert "grep -m1 -o '^uv==[^ ]*' requirements.lock" in (REPO / "Makefile").read_text()
