"""docs/platform-api.md lists every route of the API: each method and path of the OpenAPI document
has a row (method, path, roles, purpose) in its routes table, and the table lists no route the API
does not serve. Path parameters are compared by position, not by name."""

from __future__ import annotations

import re
from pathlib import Path

from platform_api.app import create_app
from platform_api.cache import MemoryCache

DOC = Path(__file__).resolve().parents[2] / "docs" / "platform-api.md"
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE)` \| `(/[^`]*)` \| ([^|]+) \| ([^|]+) \|$", re.M)


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_api_route_has_a_row_with_roles_and_purpose_in_the_docs_and_no_row_is_stale() -> None:
    spec = create_app(cache=MemoryCache(), writer=None).openapi()  # type: ignore[arg-type]
    served = {(m.upper(), _shape(p.removeprefix("/api/v1"))) for p, ops in spec["paths"].items() for m in ops}
    rows = ROW.findall(DOC.read_text(encoding="utf-8"))
    documented = {(m, _shape(p)) for m, p, roles, purpose in rows if roles.strip() and purpose.strip()}
    assert served - documented == set(), "routes missing from docs/platform-api.md"
    assert documented - served == set(), "docs/platform-api.md lists routes the API does not serve"
