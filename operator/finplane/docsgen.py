"""Keep the README's generated reference sections true: CRD fields and platform API routes.

`finplane docs` rewrites the sections between `<!-- BEGIN name -->` and `<!-- END name -->`
markers in README.md; `finplane docs --check` fails when they are stale (a test runs it).
The CRD section comes from the models (via `crdref`), the API section from the FastAPI app's
own OpenAPI document, so neither can drift from the code.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["api_reference", "crd_reference", "sync_readme"]

_HEALTH = [("GET", "/healthz", "Liveness: the process answers"),
           ("GET", "/readyz", "Readiness: every informer cache has synced"),
           ("GET", "/metrics", "Prometheus metrics: requests and latency by route and status")]


def crd_reference() -> str:
    """The field-by-field reference of every CRD, one heading level below the README's section."""
    from finplane.crdref import reference_markdown

    text = reference_markdown()
    body = text.split("\n", 1)[1].lstrip("\n")  # drop the page title: the README has its own heading
    return re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", body, flags=re.M)


def api_reference() -> str:
    """A table of every platform API route: method, path, what it does."""
    from platform_api.app import create_app
    from platform_api.cache import MemoryCache

    spec = create_app(cache=MemoryCache(), writer=None).openapi()
    rows = ["| method | path | what it does |", "|---|---|---|"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            rows.append(f"| `{method.upper()}` | `{path}` | {op.get('summary', '')} |")
    rows += [f"| `{m}` | `{p}` | {s} |" for m, p, s in _HEALTH]
    return "\n".join(rows) + "\n"


SECTIONS = {"crd-reference": crd_reference, "api-routes": api_reference}


def sync_readme(path: Path, *, check: bool = False) -> list[str]:
    """Rewrite (or, with `check`, compare) the generated sections; returns the names that were stale."""
    text = path.read_text(encoding="utf-8")
    stale: list[str] = []
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n)(.*?)(<!-- END {name} -->)", re.S)
        m = pattern.search(text)
        if not m:
            raise ValueError(f"README has no <!-- BEGIN {name} --> ... <!-- END {name} --> section")
        fresh = make()
        if m.group(2) != fresh:
            stale.append(name)
            text = text[: m.start(2)] + fresh + text[m.end(2):]
    if stale and not check:
        path.write_text(text, encoding="utf-8")
    return stale
