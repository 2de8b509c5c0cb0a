"""The import-linter contracts in pyproject.toml (run by `make lint`) catch the imports they exist to keep out.

Covers, as the change a hurried contributor would make, on a copy of the source tree: a pure layer
importing kopf, the Kubernetes client, typer or a file helper; a lower layer importing a higher one;
the platform API importing the Kubernetes client or the operator; the product importing the embedded
API server and the server importing the product; a gateway importing the reconcilers. Each planted
import breaks its contract by name, and the untouched copy keeps every contract.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# (file to plant the import in, the import, the contract that must break)
PLANTED = [
    ("operator/finplane/render/image.py", "import kopf",
     "The pure layers (models, render, status, policy rules) do no I/O and know no runtime"),
    ("operator/finplane/kube/client.py", "import kubernetes",
     "Finplane runs without the kubernetes client package (finplane.kube speaks HTTP itself; issue 19)"),
    ("operator/finplane/policy/engine.py", "import typer",
     "Only the command line (finplane.cli, finplane.commands) imports typer"),
    ("operator/finplane/models/common.py", "import pathlib",
     "The pure layers (models, render, status, policy rules) do no I/O and know no runtime"),
    ("operator/finplane/models/channel.py", "import finplane.render.labels",
     "Data flows down: handlers -> reconcile -> policy -> render -> status -> models"),
    ("operator/finplane/reconcile/diff.py", "import finplane.handlers.kopf_seams",
     "Data flows down: handlers -> reconcile -> policy -> render -> status -> models"),
    ("operator/finplane/render/labels.py", "import boto3", "Only finplane.external imports boto3"),
    ("platform_api/services/common.py", "import finplane.reconcile.diff",
     "The platform API reaches the cluster through finplane.kube, never through the operator or the CLI"),
    ("platform_api/services/common.py", "import aiohttp",
     "Only the kube gateway and the embedded API server speak aiohttp"),
    ("operator/finplane/settings.py", "import finplane_emulator.core",
     "Finplane and the platform API never import the embedded API server"),
    ("emulator/src/finplane_emulator/core.py", "import finplane.models",
     "The embedded API server is independent of the product"),
    ("operator/finplane/kube/resources.py", "import finplane.reconcile.diff",
     "The gateways (kube, external) are below everything that uses them"),
]


def _copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "operator", dest / "operator", ignore=ignore)
    shutil.copytree(REPO / "platform_api", dest / "platform_api", ignore=ignore)
    shutil.copytree(REPO / "emulator" / "src", dest / "emulator" / "src", ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", dest / "pyproject.toml")


CONTRACTS = [c["name"] for c in tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]]


def _lint(tree: Path) -> tuple[dict[str, str], dict[str, str]]:
    """For the source tree under `tree`: contract name -> KEPT or BROKEN, and -> the text of its breakage."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (tree / "operator", tree, tree / "emulator" / "src"))}
    out = subprocess.run([str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
                         cwd=tree, env=env, capture_output=True, text=True, timeout=300).stdout
    flat = " ".join(re.sub(r"-{4,}", " ", out).split())  # lint-imports wraps long names and underlines them
    summary, _, broken = flat.partition("Broken contracts")
    verdicts = {name: m.group(1) for name in CONTRACTS if (m := re.search(re.escape(name) + r" (KEPT|BROKEN)", summary))}
    starts = sorted((broken.find(name), name) for name in CONTRACTS if broken.find(name) >= 0)
    sections = {name: broken[at:(starts[i + 1][0] if i + 1 < len(starts) else len(broken))]
                for i, (at, name) in enumerate(starts)}
    return verdicts, sections


def _module(rel: str) -> str:
    return rel.removeprefix("operator/").removeprefix("emulator/src/").removesuffix(".py").replace("/", ".")


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Any:
    clean, dirty = tmp_path_factory.mktemp("clean"), tmp_path_factory.mktemp("dirty")
    _copy_tree(clean)
    _copy_tree(dirty)
    for rel, statement, _ in PLANTED:
        path = dirty / rel
        path.write_text(path.read_text() + f"\n{statement}  # planted by test_import_contracts\n")
    return _lint(clean), _lint(dirty)


def test_the_untouched_tree_keeps_every_contract(planted: Any) -> None:
    (verdicts, _), _ = planted
    assert set(verdicts) == set(CONTRACTS)
    assert set(verdicts.values()) == {"KEPT"}, verdicts


@pytest.mark.parametrize(("rel", "statement", "contract"), PLANTED, ids=[f"{p[0]}: {p[1]}" for p in PLANTED])
def test_a_planted_import_breaks_its_contract_naming_the_import(planted: Any, rel: str, statement: str,
                                                                contract: str) -> None:
    _, (verdicts, sections) = planted
    assert verdicts[contract] == "BROKEN"
    imported = statement.split()[1]
    assert f"{_module(rel)} -> {imported} (l." in sections[contract]
