"""The compliance docs describe every rule of the library with its parameters and an example."""

from __future__ import annotations

import re
from pathlib import Path

from finplane.policy.library import RULES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "compliance.md").read_text()


def test_every_rule_has_a_section_with_an_example_using_its_id() -> None:
    assert RULES
    for rule_id in RULES:
        section = DOC.split(f"### {rule_id}\n", 1)
        assert len(section) == 2, f"no section for {rule_id}"
        body = section[1].split("\n### ", 1)[0]
        assert f"- id: {rule_id}" in body and "```yaml" in body


def test_every_parameter_named_in_the_library_is_documented_in_its_rule_section() -> None:
    named = {rule_id: re.findall(r"(\w+) \(", info.parameters) for rule_id, info in RULES.items()}
    assert any(named.values()), "no rule names a parameter: the pattern no longer matches the library"
    for rule_id, names in named.items():
        body = DOC.split(f"### {rule_id}\n", 1)[1].split("\n### ", 1)[0]
        for name in names:
            assert f"`{name}`" in body, f"{rule_id}: parameter {name} undocumented"
