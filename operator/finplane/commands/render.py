"""`finplane render -f FILE`: read Finplane CRs from a YAML file and print their children as YAML.

Called by `finplane.cli.render` (and `bench/render.py`). The rendering itself is the pure
`finplane.render.offline.render_documents`; this module only parses and prints YAML.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from finplane.render.offline import render_documents

__all__ = ["render_file"]

# libyaml's safe loader and dumper when PyYAML was built with it: printing is ~10x faster than the pure
# Python ones and was most of `finplane render`'s time for large inputs (bench/render.py); same output.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def render_file(path: Path) -> str:
    """The YAML stream of every child of every Finplane CR in `path`; ValueError naming a bad object."""
    docs = [d for d in yaml.load_all(path.read_text(), Loader=_Loader) if d]
    return yaml.dump_all(render_documents(docs), Dumper=_Dumper, sort_keys=False)
