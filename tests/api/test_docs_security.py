"""docs/security.md tells the truth about its proofs: every test it cites by name (a backticked
``test_...``) is a test function that exists in the repository's tests."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_test_docs_security_cites_exists() -> None:
    cited = set(re.findall(r"`(test_\w+)`", (REPO / "docs" / "security.md").read_text(encoding="utf-8")))
    defined = {name for path in (REPO / "tests").rglob("test_*.py")
               for name in re.findall(r"^(?:async )?def (test_\w+)\(", path.read_text(encoding="utf-8"), re.M)}
    assert cited, "docs/security.md cites no test"
    assert sorted(cited - defined) == [], "docs/security.md cites tests that do not exist"
