"""The platform API's rights over waiver requests, as the chart renders them.

Covers: pending waiver requests are ConfigMaps in the release namespace only, so the API's ConfigMap rights
are a Role there (never a ClusterRole rule: it cannot read or write the teams' ConfigMaps); the API is told
that namespace (from the pod's own) and the operator's sandbox lifetime bound (from the operator's
ConfigMap), and its settings accept both.
"""

from __future__ import annotations

from typing import Any

from tests.support.chart import NAMESPACE, find

Obj = dict[str, Any]


def test_the_api_may_touch_configmaps_only_in_its_own_namespace(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["default"]
    (role,) = find(objects, "Role", "finplane-api")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                              "verbs": ["get", "list", "watch", "create", "update", "delete"]}]
    (binding,) = find(objects, "RoleBinding", "finplane-api")
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "finplane-api"}
    cluster_rules = find(objects, "ClusterRole", "finplane-api")[0]["rules"]
    assert not any("configmaps" in r["resources"] for r in cluster_rules)


def test_the_api_learns_its_waiver_namespace_and_the_operators_lifetime_bound(rendered: dict[str, list[Obj]]) -> None:
    container = find(rendered["default"], "Deployment", "finplane-api")[0]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("valueFrom") for e in container["env"]}
    assert env["FINPLANE_API_WAIVER_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["FINPLANE_SANDBOX_MAX_TTL_SECONDS"]["configMapKeyRef"] == {
        "name": "finplane-operator", "key": "FINPLANE_SANDBOX_MAX_TTL_SECONDS", "optional": True}


def test_the_apis_settings_accept_both_variables(monkeypatch: Any) -> None:
    from platform_api.settings import ApiSettings

    monkeypatch.setenv("FINPLANE_API_WAIVER_NAMESPACE", "bank-finplane")
    monkeypatch.setenv("FINPLANE_SANDBOX_MAX_TTL_SECONDS", "604800")
    settings = ApiSettings()
    assert (settings.waiver_namespace, settings.sandbox_max_ttl_seconds) == ("bank-finplane", 604800)
