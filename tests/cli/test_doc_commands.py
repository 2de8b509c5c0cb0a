"""Which documented shell commands the docs tests run, and how they are read (no stack needed).

Covers: every `<!-- not-run: … -->` marker in README.md and docs/*.md stands right before a command block
and gives a reason, so a block is either run against `finplane dev` (tests/cli/test_client_against_dev.py)
or says why not; a marker without a reason, or one that strays from its block, fails; a console block
contributes its `$ ` commands with their continuations, never its output; a new block without a marker is
run (so one that cannot run fails there until it is fixed or marked).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.doc_commands import DOCS, blocks, script


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_every_not_run_marker_is_right_before_a_block_and_says_why(path: Path) -> None:
    found = blocks(path)
    markers = re.findall(r"<!--\s*not-run:(.*?)-->", path.read_text(encoding="utf-8"), re.S)
    assert len(markers) == sum(b.not_run is not None for b in found), f"{path.name}: a marker is not before a block"
    for block in found:
        assert block.not_run is None or len(block.not_run.split()) >= 3, f"{block.where}: say why it is not run"


def test_a_console_block_gives_its_commands_and_a_marked_block_is_left_out(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("Run:\n\n```console\n$ finplane login \\\n    --url U\nlogged in\n$ finplane teams list\n"
                   "NAME\n```\n\nNot here:\n\n<!-- not-run: needs a real cluster -->\n```sh\nhelm install x\n```\n\n"
                   "New:\n\n```bash\nkubectl get ns\n```\n\n<!-- not-run: -->\n```sh\nfoo\n```\n")
    first, marked, new, empty = blocks(doc)
    assert first.commands == "finplane login \\\n    --url U\nfinplane teams list\n" and first.not_run is None
    assert marked.not_run == "needs a real cluster" and new.not_run is None and empty.not_run == ""


def test_the_script_of_a_file_stops_at_the_first_failing_command_and_names_its_block(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("```sh\necho one > one.txt\n```\n\n<!-- not-run: it would fail here -->\n```sh\nfalse\n```\n\n"
                   "```console\n$ echo two > two.txt\ntwo\n$ curl -s http://127.0.0.1:9/nothing\n```\n\n"
                   "```bash\necho three > three.txt\n```\n")
    result = subprocess.run(["bash", "-c", script(doc)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and f"FAILED IN {doc}:10: " in result.stderr
    assert (tmp_path / "one.txt").exists() and (tmp_path / "two.txt").exists()
    assert not (tmp_path / "three.txt").exists()
