"""docs/apiserver.md stays true about authentication, RBAC and admission: every option it shows exists in
the command line, every admission plugin and authorization mode the server knows is documented, and every
bootstrap ClusterRole it names is the one the server creates.

Skips when the emulator is tested outside Finplane's repository (the page lives in ../docs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from finplane_emulator.admission_chain import PLUGINS
from finplane_emulator.cli import parser
from finplane_emulator.guard import MODES
from finplane_emulator.rbac_bootstrap import BINDINGS, _roles

DOC = Path(__file__).resolve().parents[2] / "docs" / "apiserver.md"


@pytest.fixture(scope="module")
def section() -> str:
    if not DOC.exists():
        pytest.skip("docs/apiserver.md is not beside this checkout")
    text = DOC.read_text()
    start = text.index("## Authentication, RBAC and admission")
    return text[start:text.index("\n## ", start + 1)]


def test_every_option_the_page_shows_exists(section: str) -> None:
    known = {opt for action in parser()._actions for opt in action.option_strings}
    start = DOC.read_text()
    usage = start[start.index("```bash"):start.index("```", start.index("```bash") + 3)]
    own = re.sub(r"`kubectl[^`]*`", "", usage + section)  # kubectl's flags are not the server's
    shown = set(re.findall(r"(--[a-z][a-z-]+)", own))
    assert {"--authorization-mode", "--token-auth-file", "--enable-admission-plugins", "--secure"} <= shown
    assert sorted(shown - known) == []


def test_every_plugin_and_mode_is_documented(section: str) -> None:
    for name in (*PLUGINS, *MODES):
        assert name in section, name


def test_the_bootstrap_roles_named_are_the_ones_created(section: str) -> None:
    created = {r["metadata"]["name"] for r in _roles()} | {b["metadata"]["name"] for b in BINDINGS}
    row = next(line for line in section.splitlines() if line.startswith("| bootstrap"))
    roles_part = row.split("and their ClusterRoleBindings")[0].replace("system:aggregate-to-admin/edit/view",
                                                                        "system:aggregate-to-admin")
    named = set(re.findall(r"`([a-z][a-z:-]*)`", roles_part))
    assert {"cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user"} <= named
    assert sorted(named - created) == []
    assert created - {"system:aggregate-to-edit", "system:aggregate-to-view"} <= named
