"""The operator's rights in the platform Gateway's namespace, as the chart renders them, read as someone who took
over the operator's ServiceAccount.

Covers: partner mTLS on the default Gateway (settings.channelDefaultGateway) needs the operator to write a
ClientTrafficPolicy, Certificates and an Issuer in that Gateway's namespace; without a grant there every mTLS
channel on it stays withdrawn (Forbidden). The chart grants exactly those, in that namespace only: no Secret,
workload, RoleBinding or other write; it follows the setting; nothing is rendered without gatewayApi or RBAC.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.chart import find, render

Obj = dict[str, Any]
NAME = "finplane-operator-gateway"


def _grants(objects: list[Obj]) -> dict[str, set[tuple[str, str, str]]]:
    """namespace -> {(apiGroup, resource, verb)} of the gateway Role bound to the operator's ServiceAccount."""
    bindings = [b for b in find(objects, "RoleBinding", NAME)
                if b["subjects"] == [{"kind": "ServiceAccount", "name": "finplane-operator",
                                      "namespace": "finplane-system"}]]
    out: dict[str, set[tuple[str, str, str]]] = {}
    for b in bindings:
        ns = b["metadata"]["namespace"]
        role = [r for r in find(objects, "Role", b["roleRef"]["name"]) if r["metadata"]["namespace"] == ns]
        out[ns] = {(g, res, v) for r in role for rule in r["rules"] for g in rule["apiGroups"]
                   for res in rule["resources"] for v in rule["verbs"]}
    return out


def test_the_operator_may_write_partner_mtls_objects_in_the_platform_gateways_namespace_and_nothing_else() -> None:
    grants = _grants(render({}))
    assert set(grants) == {"envoy-gateway-system"}
    assert grants["envoy-gateway-system"] == {
        (g, r, v) for g, r in (("gateway.envoyproxy.io", "clienttrafficpolicies"), ("cert-manager.io", "certificates"),
                               ("cert-manager.io", "issuers")) for v in ("get", "create", "patch", "delete")}


def test_the_grant_follows_the_platform_gateway_setting() -> None:
    grants = _grants(render({"operator": {"settings": {"channelDefaultGateway": "edge/public"}}}))
    assert set(grants) == {"edge"}


@pytest.mark.parametrize("values", [{"features": {"gatewayApi": False}}, {"features": {"channels": False}},
                                    {"rbac": {"create": False}}], ids=["no-gateway-api", "no-channels", "no-rbac"])
def test_nothing_is_granted_there_when_the_feature_is_off(values: dict[str, Any]) -> None:
    objects = render(values)
    assert not find(objects, "Role", NAME) and not find(objects, "RoleBinding", NAME)
