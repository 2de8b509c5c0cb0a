"""The catalog's rows are rendered once per capability version and never shown stale (TestClient, doubles).

Covers: a capability whose status changes (a new resourceVersion) shows its new state in the catalog at once,
though its old row was kept; a row is escaped like the rest of the page (a description cannot inject markup);
the kept rows are bounded, the least recently shown dropped first.
"""

from __future__ import annotations

import re

import jinja2
from fastapi.testclient import TestClient

from platform_api.portal.rows import RowCache
from platform_api.portal.web import TEMPLATES
from tests.portal.conftest import FakeWriter, capability, signin

CAP = "finplane.io/v1alpha1"


def _ready_cells(html: str) -> dict[str, str]:
    rows = re.findall(r'<tr><td><a href="/portal/capabilities/[^"]+">([^<]+)</a>.*?</td>\s*<td>.*?</td><td>.*?</td>'
                      r'<td>.*?</td>\s*<td>(.*?)</td>', html, re.S)
    return {name: re.sub(r"<[^>]+>", "", cell) for name, cell in rows}


def test_a_capability_that_changed_shows_its_new_state_at_once(client: TestClient, writer: FakeWriter) -> None:
    writer.seed(capability("ledger", "payments", ready=True))
    signin(client, "auditor", "audrey")
    assert _ready_cells(client.get("/portal/catalog").text) == {"ledger": "Ready"}
    writer.set_status(CAP, "BusinessCapability", "ledger", {"conditions": [
        {"type": "Ready", "status": "False", "reason": "Progressing", "message": "",
         "lastTransitionTime": "2026-12-01T00:00:00Z"}]}, namespace="payments")
    assert _ready_cells(client.get("/portal/catalog").text) == {"ledger": "not Ready"}


def test_a_description_cannot_inject_markup_into_its_row(client: TestClient, writer: FakeWriter) -> None:
    evil = capability("ledger", "payments")
    evil["spec"]["description"] = '<img src=x onerror="alert(1)">'
    writer.seed(evil)
    signin(client, "auditor", "audrey")
    page = client.get("/portal/catalog").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


def test_the_kept_rows_are_bounded_and_the_least_recently_shown_goes_first() -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    rows = RowCache(env, size=2)
    caps = []
    for i, name in enumerate(("a", "b", "c")):
        cap = capability(name, "payments")
        cap["metadata"]["resourceVersion"] = str(i + 1)
        caps.append(cap)
    first = rows.row(caps[0])
    rows.row(caps[1])
    assert rows.row(caps[0]) is first  # kept, and now the most recently shown
    rows.row(caps[2])
    assert len(rows) == 2
    assert rows.row(caps[0]) is first  # "b" went, not "a"
