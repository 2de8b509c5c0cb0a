"""How the server is put together: `Core` is plain state, `app.build_app` alone wires and bootstraps it.

Covers: a fresh `Core` holds no namespaces and runs no controllers (an owner's deletion collects no
dependent); `build_app` creates the namespaces every cluster starts with (default, kube-system,
kube-public, kube-node-lease), keeps those already loaded, and wires the garbage collector, as the
kube-controller-manager runs next to kube-apiserver; one `Core` is served by one application only; the
state module imports none of the layers built on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import finplane_emulator.core
from finplane_emulator.app import DEFAULT_NAMESPACES, build_app
from finplane_emulator.core import Core
from finplane_emulator.deletion import delete
from finplane_emulator.writes import create


def _owner_and_dependent(core: Core) -> None:
    cms = core.registry.get("", "v1", "configmaps")
    assert cms is not None
    owner = create(core, cms, "default", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}},
                   manager="test")
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    create(core, cms, "default", {"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "dependent", "ownerReferences": [ref]}}, manager="test")
    delete(core, cms, "default", "owner", {})


def _namespace(core: Core, name: str) -> None:
    assert core.namespaces_info is not None
    create(core, core.namespaces_info, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
           manager="test")


def test_a_fresh_core_is_plain_state_without_namespaces_or_controllers() -> None:
    core = Core()
    assert [n for n in DEFAULT_NAMESPACES if core.namespace(n) is not None] == []
    _namespace(core, "default")
    _owner_and_dependent(core)
    cms = core.registry.get("", "v1", "configmaps")
    assert core.store.get(cms, "default", "dependent") is not None  # nobody collects it


def test_build_app_creates_the_default_namespaces_and_wires_the_garbage_collector() -> None:
    core = Core()
    _namespace(core, "kube-system")  # as if loaded from a snapshot: kept, not recreated
    kept = core.namespace("kube-system")
    build_app(core, simulate=False)
    assert all(core.namespace(n) is not None for n in DEFAULT_NAMESPACES)
    assert core.namespace("kube-system") == kept
    _owner_and_dependent(core)
    cms = core.registry.get("", "v1", "configmaps")
    assert core.store.get(cms, "default", "dependent") is None  # background deletion of the dependent


def test_one_core_is_served_by_one_application_only() -> None:
    core = Core()
    build_app(core, simulate=False)
    with pytest.raises(ValueError, match="already served"):
        build_app(core, simulate=False)


def test_the_state_module_imports_no_layer_built_on_it() -> None:
    tree = ast.parse(Path(finplane_emulator.core.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {m for m in imported if m.startswith("finplane_emulator")} <= {
        "finplane_emulator.resources", "finplane_emulator.store"}
