"""`finplane render -f FILE`: read Finplane CRs from a YAML file and print their children as YAML.

Called by `finplane.cli.render` (and `bench/render.py`). The rendering itself is the pure
`finplane.render.offline.render_documents`; this module only reads, parses and prints YAML, and turns
what the user can fix (no such file, a folder, YAML that does not parse, an invalid spec) into a
`UserError` naming the file (exit code 2), never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from finplane.commands.errors import UserError
from finplane.render.offline import render_documents

__all__ = ["read_documents", "render_file", "render_files"]

# libyaml's safe loader and dumper when PyYAML was built with it: printing is ~10x faster than the pure
# Python ones and was most of `finplane render`'s time for large inputs (bench/render.py); same output.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def read_documents(path: Path) -> list[dict[str, Any]]:
    """The YAML objects of `path` (empty documents dropped); UserError when the file cannot be read or parsed."""
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a YAML file",
                        hint=f"give one file, e.g. -f {next(iter(sorted(path.glob('*.yaml'))), path / 'FILE.yaml')}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file", hint="check the path; it is relative to the current folder") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it ({exc.__class__.__name__}: {exc})") from None
    try:
        docs = [d for d in yaml.load_all(text, Loader=_Loader) if d]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"{path}: not valid YAML{where}: {problem}") from None
    bad = [d for d in docs if not isinstance(d, dict)]
    if bad:
        raise UserError(f"{path}: every document must be a Kubernetes object (a mapping), found {type(bad[0]).__name__}")
    return docs


def render_file(path: Path) -> str:
    """The YAML stream of every child of every Finplane CR in `path`; UserError naming a bad object."""
    return render_files([path])


def render_files(paths: list[Path]) -> str:
    """As `render_file` for several files read as one estate: a capability sees the registry, Teams,
    sandboxes and other capabilities of every file, as the operator sees them in the cluster."""
    docs = [d for path in paths for d in read_documents(path)]
    try:
        children = render_documents(docs)
    except ValueError as exc:
        where = str(paths[0]) if len(paths) == 1 else ", ".join(map(str, paths))
        raise UserError(f"{where}: {exc}", hint="fix the spec; `finplane crds` wrote its schema to crds/") from None
    return yaml.dump_all(children, Dumper=_Dumper, sort_keys=False)
