"""The README tells the truth about the code: its generated reference sections are current.

Covers: the CRD field reference and the platform API route table embedded in README.md equal what
`finplane docs` generates from the models and from the API's OpenAPI document; the README's two
commands are the Makefile targets and `.ci/run` calls the test one.
"""

from __future__ import annotations

from pathlib import Path

from finplane.docsgen import sync_readme

REPO = Path(__file__).resolve().parents[2]


def test_the_readme_reference_sections_are_current() -> None:
    assert sync_readme(REPO / "README.md", check=True) == [], "run `finplane docs` and commit README.md"


def test_the_readme_documents_every_api_route_and_every_crd_kind() -> None:
    text = (REPO / "README.md").read_text()
    for kind in ("BusinessCapability", "Channel", "TenantSandbox", "ImageRegistry", "CompliancePolicy"):
        assert f"### {kind} `spec`" in text
    assert "| `POST` | `/api/v1/sandboxes/{name}/approve` |" in text


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make test    # every test" in readme and "make dev     # the main job" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()
