"""The portal's static files are what they claim: the vendored htmx is the exact npm file of the version
named in its folder, its README and the page's <script>, with its licence beside it; the portal's own
scripts are served with nosniff and the right types; every image the README shows exists, a small PNG."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from fastapi.testclient import TestClient

VENDOR = Path(__file__).resolve().parents[2] / "platform_api" / "portal" / "static" / "vendor"
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"  # htmx.org@2.0.11 dist/htmx.min.js


def test_the_vendored_htmx_is_the_exact_pinned_file_with_its_licence() -> None:
    data = (VENDOR / "htmx-2.0.11" / "htmx.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == HTMX_SHA256
    assert b'version:"2.0.11"' in data
    assert "Zero-Clause BSD" in (VENDOR / "htmx-2.0.11" / "LICENSE").read_text()
    assert HTMX_SHA256 in (VENDOR / "README.md").read_text()


def test_the_pages_load_the_vendored_htmx_and_the_files_are_served_with_nosniff(client: TestClient) -> None:
    page = client.get("/portal/signin").text
    assert '<script src="/portal/static/vendor/htmx-2.0.11/htmx.min.js" defer></script>' in page
    for url, kind in (("/portal/static/vendor/htmx-2.0.11/htmx.min.js", "javascript"),
                      ("/portal/static/portal.js", "javascript"), ("/portal/static/portal.css", "text/css")):
        answer = client.get(url)
        assert answer.status_code == 200 and kind in answer.headers["content-type"]
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_every_image_the_readme_shows_is_a_committed_small_png() -> None:
    repo = VENDOR.parents[3]
    links = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", (repo / "README.md").read_text())
    shots = [link for link in links if link.startswith("docs/screenshots/")]
    assert {Path(link).stem for link in shots} >= {"catalog", "capability", "sandbox-approval", "compliance"}
    for link in links:
        data = (repo / link).read_bytes()  # a missing file fails here
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), link
        assert len(data) < 200_000, f"{link} is {len(data)} bytes"
