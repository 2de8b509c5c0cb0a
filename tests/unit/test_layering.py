"""The architecture's import rules hold (what import-linter contracts would say, checked with `ast`).

Covers: only `finplane.kube` imports the Kubernetes client; only `finplane.external` imports boto3;
the pure layers (models, render, status, policy rules) do no I/O imports; nothing in the product imports the
embedded API server (finplane_emulator); the platform API reaches the cluster only through
`finplane.kube`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "operator" / "finplane"
API = REPO / "platform_api"


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def offenders(files: list[Path], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(f"{f.relative_to(REPO)}: {m}" for f in files for m in imports(f)
                  if m == prefixes or any(m == p or m.startswith(p + ".") for p in prefixes))


def py(root: Path, *, exclude: tuple[str, ...] = ()) -> list[Path]:
    return [p for p in root.rglob("*.py") if not any(part in exclude for part in p.relative_to(root).parts)]


def test_only_the_kube_package_imports_the_kubernetes_client() -> None:
    files = py(PKG, exclude=("kube",)) + py(API)
    assert offenders(files, ("kubernetes",)) == []


def test_only_the_external_package_imports_boto3() -> None:
    files = py(PKG, exclude=("external",)) + py(API)
    assert offenders(files, ("boto3", "botocore")) == []


@pytest.mark.parametrize("layer", ["models", "render", "status"])
def test_pure_layers_import_no_io(layer: str) -> None:
    files = py(PKG / layer)
    assert offenders(files, ("finplane.kube", "finplane.external", "finplane.reconcile", "kopf", "aiohttp",
                             "httpx", "boto3", "kubernetes", "finplane_emulator")) == []


def test_the_operator_and_the_api_never_import_the_embedded_api_server() -> None:
    files = py(PKG) + py(API)  # `finplane dev` and `finplane apiserver` run it as a subprocess
    assert offenders(files, ("finplane_emulator", "finplane.apiserver")) == []


def test_the_platform_api_writes_through_the_kube_gateway_only() -> None:
    assert offenders(py(API), ("aiohttp", "finplane.reconcile", "finplane.handlers")) == []
