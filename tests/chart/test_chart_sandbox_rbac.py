"""The chart and the operator agree on sandboxes and compliance results.

Covers: the chart's `<release>-sandbox-member` ClusterRole holds exactly the operator's MEMBER_RULES (the rules of
the Role the operator renders without the chart), and its generated rules file is current; the operator is told
that ClusterRole's name (FINPLANE_SANDBOX_MEMBER_CLUSTER_ROLE), its settings accept it, and the operator may
`bind` that one ClusterRole and no other, never `escalate`, and only read Roles; the partner credential Secret the API may read
(resourceNames) is the one the operator writes (finplane.SANDBOX_CREDENTIAL_SECRET); the PolicyReport CRDs are
copies of the repository's crds/extra/, rendered unless features.policyReportCRDs (or policyReports) is off,
and kept on uninstall; every FINPLANE_* variable of the operator ConfigMap is a setting the operator reads; without the Gateway API, HTTPRoutes stay readable (the channel reconciler lists them) but not writable.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest
import yaml

from finplane import SANDBOX_CREDENTIAL_SECRET
from finplane.models.tenant_sandbox_promotion import PRODUCTION_CREDENTIAL_SECRET
from finplane.render.sandbox import MEMBER_RULES, member_rules_yaml
from finplane.settings import Settings
from tests.support.chart import CHART, REPO, find, render

Obj = dict[str, Any]


def rules_of(objects: list[Obj], kind: str, name: str) -> list[Obj]:
    return list(find(objects, kind, name)[0]["rules"])


def test_the_sandbox_member_cluster_role_holds_exactly_the_operators_member_rules(
        rendered: dict[str, list[Obj]]) -> None:
    assert rules_of(rendered["default"], "ClusterRole", "finplane-sandbox-member") == MEMBER_RULES


def test_the_generated_member_rules_file_is_current() -> None:
    assert (CHART / "files" / "sandbox-member-rules.yaml").read_text() == member_rules_yaml(), \
        "run: python charts/finplane/hack/sandbox_member_rules.py"


def test_the_operator_is_told_the_member_cluster_role_and_its_settings_accept_it(
        rendered: dict[str, list[Obj]], monkeypatch: pytest.MonkeyPatch) -> None:
    config = find(rendered["default"], "ConfigMap", "finplane-operator")[0]["data"]
    assert config["FINPLANE_SANDBOX_MEMBER_CLUSTER_ROLE"] == "finplane-sandbox-member"
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    assert Settings().sandbox_member_cluster_role == "finplane-sandbox-member"


def test_the_operator_may_bind_only_the_member_cluster_roles_and_its_own_namespaced_role_and_never_escalate(
        rendered: dict[str, list[Obj]]) -> None:
    rules = rules_of(rendered["default"], "ClusterRole", "finplane-operator")
    rbac = [r for r in rules if "rbac.authorization.k8s.io" in r["apiGroups"]]
    assert not any("escalate" in r["verbs"] for r in rbac)
    binds = [r for r in rbac if "bind" in r["verbs"]]
    assert binds == [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"],
                      "resourceNames": ["finplane-operator-namespaced", "finplane-sandbox-member",
                                        "finplane-team-member"]}]
    # The operator writes no Role on a cluster installed by the chart: it may only read Roles.
    role_verbs = {v for r in rbac if "roles" in r["resources"] for v in r["verbs"]}
    assert role_verbs == {"list", "watch"}


def test_without_sandboxes_there_is_no_member_cluster_role_and_no_setting_naming_it() -> None:
    objects = render({"features": {"sandboxes": False}})
    assert find(objects, "ClusterRole", "finplane-sandbox-member") == []
    assert "FINPLANE_SANDBOX_MEMBER_CLUSTER_ROLE" not in (
        find(objects, "ConfigMap", "finplane-operator")[0]["data"] or {})


def test_the_api_may_read_exactly_the_credential_secret_the_operator_writes(rendered: dict[str, list[Obj]]) -> None:
    secrets = [r for r in rules_of(rendered["default"], "ClusterRole", "finplane-api") if "secrets" in r["resources"]]
    assert secrets == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                        "resourceNames": [SANDBOX_CREDENTIAL_SECRET, PRODUCTION_CREDENTIAL_SECRET]}]
    from finplane.render.sandbox import credential_secret

    written = credential_secret(namespace="sbx-x", key="k", rotation=0, labels={})
    assert written["metadata"]["name"] == SANDBOX_CREDENTIAL_SECRET


def test_the_policy_report_crds_are_copies_of_the_repositorys_extra_crds(rendered: dict[str, list[Obj]]) -> None:
    extra = {p.name: p.read_bytes() for p in (REPO / "crds" / "extra").glob("*.yaml")}
    shipped = {p.name: p.read_bytes() for p in (CHART / "files" / "crds").glob("*.yaml")}
    assert extra and shipped == extra, "run: python charts/finplane/hack/sync_crds.py"
    crds = {c["metadata"]["name"]: c for c in find(rendered["default"], "CustomResourceDefinition")}
    for text in extra.values():
        source = yaml.safe_load(text)
        crd = crds[source["metadata"]["name"]]
        assert crd["spec"] == source["spec"]
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert sorted(crds) == ["clusterpolicyreports.wgpolicyk8s.io", "clusterreports.openreports.io",
                            "policyreports.wgpolicyk8s.io", "reports.openreports.io"]


@pytest.mark.parametrize("features", [{"policyReportCRDs": False}, {"policyReports": False}])
def test_the_policy_report_crds_are_left_out_when_another_tool_owns_them_or_reports_are_off(
        features: dict[str, bool]) -> None:
    assert find(render({"features": features}), "CustomResourceDefinition") == []


def test_the_sync_script_copies_the_extra_crds_and_removes_stale_copies(tmp_path: Any) -> None:
    spec = importlib.util.spec_from_file_location("finplane_chart_sync_crds_extra", CHART / "hack" / "sync_crds.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    source, target = tmp_path / "extra", tmp_path / "files"
    source.mkdir()
    (source / "wgpolicyk8s.io_policyreports.yaml").write_text("kind: CustomResourceDefinition\n")
    target.mkdir()
    (target / "gone.yaml").write_text("old\n")
    assert module.sync_extra(source, target) == ["removed files/crds/gone.yaml",
                                                 "copied files/crds/wgpolicyk8s.io_policyreports.yaml"]
    assert module.sync_extra(source, target) == []


def test_every_operator_setting_the_chart_writes_is_one_the_operator_reads(rendered: dict[str, list[Obj]]) -> None:
    fields = set(Settings.model_fields)
    for name in ("default", "bank"):
        config = find(rendered[name], "ConfigMap", "finplane-operator")[0]["data"]
        unknown = sorted(k for k in config if k.removeprefix("FINPLANE_").lower() not in fields)
        assert unknown == [], f"the operator ignores these variables (extra='ignore'): {unknown}"


def test_without_the_gateway_api_the_operator_may_still_list_httproutes_but_never_write_them() -> None:
    rules = rules_of(render({"features": {"gatewayApi": False}}), "ClusterRole", "finplane-operator")
    verbs = {v for r in rules if "httproutes" in r["resources"] for v in r["verbs"]}
    assert verbs == {"list", "watch"}
