"""The shell commands README.md and docs/*.md show, as the docs tests run them.

`blocks()` finds every fenced ```bash, ```sh, ```shell and ```console block (a console block's commands are
its `$ ` lines, with their `\\` continuations; the rest is output). A block is run against the dev stack
unless the line right before it is `<!-- not-run: REASON -->`; `script(path)` is one bash script of a file's
runnable blocks in order, as a reader types them into one terminal, stopping at the first failure and naming
its block, with `.venv/bin` on PATH as README.md says to put it. Used by tests/cli/test_doc_commands.py (the markers) and tests/cli/test_client_against_dev.py
(the run).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO

__all__ = ["DOCS", "Block", "blocks", "script"]

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(bash|sh|shell|console)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_MARKER = re.compile(r"<!--\s*not-run:\s*(.*?)\s*-->\s*\Z", re.S)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    commands: str
    not_run: str | None  # the reason, when the block is marked not to be run

    @property
    def where(self) -> str:
        name = self.path.relative_to(REPO) if self.path.is_relative_to(REPO) else self.path
        return f"{name}:{self.line}"


def _console_commands(text: str) -> str:
    out: list[str] = []
    continued = False
    for line in text.splitlines():
        if continued or line.startswith("$ "):
            out.append(line if continued else line[2:])
            continued = line.endswith("\\")
    return "\n".join(out) + "\n"


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n\n", 1)[-1]  # the paragraph right above the fence
        marker = _MARKER.search(before)
        body = match.group(2)
        found.append(Block(path, text.count("\n", 0, match.start()) + 1, match.group(1),
                           _console_commands(body) if match.group(1) == "console" else body,
                           marker.group(1) if marker else None))
    return found


def script(path: Path) -> str:
    """The file's runnable blocks as one bash script; a failing command prints `FAILED IN <file:line>`."""
    parts = ["set -Eeuo pipefail",  # -E: the ERR trap fires inside functions too
             "export PATH=$PWD/.venv/bin:$PATH",  # what README.md says to run to type just `finplane`
             # curl as written, except that it fails on an HTTP error, so a 4xx cannot pass unnoticed
             'curl() { command curl --fail-with-body --max-time 60 "$@"; }',
             "trap 'echo \"FAILED IN $BLOCK: $BASH_COMMAND\" >&2' ERR"]
    for block in blocks(path):
        if block.not_run is None:
            parts += [f"BLOCK={block.where}", block.commands]
    return "\n".join(parts) + "\n"
