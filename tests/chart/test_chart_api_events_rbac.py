"""The platform API's rights over Events, as the chart renders them, read as someone who took over its ServiceAccount.

Covers: the API's events informer (the portal's recent events and drift) may list and watch Events, which
RBAC can only grant in every namespace; it may not create, change or delete one (no forged or erased Drift
event, no event written as the operator), nor get one by name it has no use for; with RBAC off nothing is
rendered for it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.chart import VALUE_SETS, find

Obj = dict[str, Any]


def _event_verbs(rules: list[Obj]) -> set[str]:
    return {v for r in rules if {"", "*"} & set(r.get("apiGroups") or []) and {"events", "*"} & set(r.get("resources") or [])
            for v in r.get("verbs") or []}


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_the_api_lists_and_watches_events_and_writes_none(rendered: dict[str, list[Obj]], values: str) -> None:
    objects = rendered[values]
    roles = find(objects, "ClusterRole", "finplane-api")
    if not roles:
        pytest.skip(f"{values}: no API ClusterRole rendered")
    assert _event_verbs(roles[0]["rules"]) == {"list", "watch"}
    for role in find(objects, "Role", "finplane-api"):
        assert _event_verbs(role["rules"]) == set()
