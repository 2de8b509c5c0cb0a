"""The chart and the operator agree on Teams.

Covers: the chart's `<release>-team-member` ClusterRole holds exactly the operator's team MEMBER_RULES (the rules of
the Role the operator renders without the chart) and its generated rules file is current; the operator is told that
ClusterRole's name (FINPLANE_TEAM_MEMBER_CLUSTER_ROLE) and the ownership mode, and its settings accept both; the
operator may watch and patch Teams and write their status, create, label and delete namespaces, and write the
guard rails and RoleBindings of team namespaces; the API may only read Teams; without features.teams there is no
team-member ClusterRole and nothing names it.
"""

from __future__ import annotations

from typing import Any

import pytest

from finplane.render.team import MEMBER_RULES, member_rules_yaml
from finplane.settings import Settings
from tests.support.chart import CHART, find, render

Obj = dict[str, Any]


def grants(objects: list[Obj], name: str) -> set[tuple[str, str, str]]:
    rules = find(objects, "ClusterRole", name)[0]["rules"]
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def test_the_team_member_cluster_role_holds_exactly_the_operators_member_rules(
        rendered: dict[str, list[Obj]]) -> None:
    assert find(rendered["default"], "ClusterRole", "finplane-team-member")[0]["rules"] == MEMBER_RULES


def test_the_generated_team_member_rules_file_is_current() -> None:
    assert (CHART / "files" / "team-member-rules.yaml").read_text() == member_rules_yaml(), \
        "run: python charts/finplane/hack/team_member_rules.py"


def test_the_operator_is_told_the_team_cluster_role_and_enforced_ownership(
        rendered: dict[str, list[Obj]], monkeypatch: pytest.MonkeyPatch) -> None:
    config = find(rendered["default"], "ConfigMap", "finplane-operator")[0]["data"]
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.team_member_cluster_role == "finplane-team-member"
    assert settings.team_ownership == "enforce"


def test_the_operator_may_provision_teams_and_the_api_only_read_them(rendered: dict[str, list[Obj]]) -> None:
    # cluster-wide, plus the namespaced role the operator binds to itself in each team namespace
    operator = grants(rendered["default"], "finplane-operator") | grants(rendered["default"], "finplane-operator-namespaced")
    for rule in [("finplane.io", "teams", "watch"), ("finplane.io", "teams", "patch"),
                 ("finplane.io", "teams/status", "patch"), ("", "namespaces", "create"), ("", "namespaces", "patch"),
                 ("", "namespaces", "delete"), ("", "resourcequotas", "create"), ("", "limitranges", "patch"),
                 ("networking.k8s.io", "networkpolicies", "create"), ("rbac.authorization.k8s.io", "rolebindings",
                                                                       "delete")]:
        assert rule in operator, rule
    api = {(g, r, v) for g, r, v in grants(rendered["default"], "finplane-api") if r == "teams"}
    assert api == {("finplane.io", "teams", "get"), ("finplane.io", "teams", "list"), ("finplane.io", "teams", "watch")}


def test_without_teams_there_is_no_team_member_cluster_role_and_no_setting_naming_it() -> None:
    objects = render({"features": {"teams": False}})
    assert find(objects, "ClusterRole", "finplane-team-member") == []
    assert "FINPLANE_TEAM_MEMBER_CLUSTER_ROLE" not in (find(objects, "ConfigMap", "finplane-operator")[0]["data"] or {})
    binds = [r for r in find(objects, "ClusterRole", "finplane-operator")[0]["rules"] if "bind" in r["verbs"]]
    assert binds[0]["resourceNames"] == ["finplane-operator-namespaced", "finplane-sandbox-member"]
