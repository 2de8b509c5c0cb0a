"""Team rendering and the pure ownership rules: what a Team becomes, and which namespaces and capabilities it may hold.

Covers: per namespace a restricted, team-labelled Namespace, a default-deny NetworkPolicy, a ResourceQuota and
LimitRange from the per-namespace defaults, and owners' and members' RoleBindings to one rule set (a Role per
namespace without the chart, the chart's ClusterRole with it); the rules never grant Secrets or RBAC; every
manifest validates against the Kubernetes 1.31 schemas; golden file tests/golden/team/payments.yaml.
Ownership: default, kube-* and Finplane's namespace are never a team's; an existing namespace is adopted only
when no other team holds it; a capability's team is the Team holding its namespace; the team quota admits
capabilities oldest first and names what a refused one exceeds and by how much; allow-lists of registries and
classifications.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.models.team import TeamQuota, TeamSpec
from finplane.render.team import MEMBER_RULES, render_namespace, render_team
from finplane.render.team_checks import (
    admit,
    check_allowed,
    namespace_plan,
    reserved_problem,
    team_of_namespace,
    use_of,
)
from finplane.settings import Settings

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "team" / "payments.yaml"
SPEC: dict[str, Any] = {
    "displayName": "Payments", "contact": {"email": "payments@bank.example", "onCall": "#payments-oncall"},
    "owners": [{"kind": "Group", "name": "payments-leads"}],
    "members": [{"kind": "Group", "name": "payments-devs"}, {"kind": "User", "name": "ada@bank.example"}],
    "namespaces": ["payments", "payments-batch"],
    "quota": {"cpu": "2", "memory": "4Gi", "pods": 8, "capabilities": 3},
}


def spec(**overrides: Any) -> TeamSpec:
    return TeamSpec.model_validate({**SPEC, **overrides})


def by_id(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}": o for o in objs}


def test_each_namespace_gets_default_deny_quota_limits_role_and_bindings() -> None:
    out = by_id(render_team(name="payments", spec=spec(), namespaces=["payments"], settings=Settings()))
    assert sorted(out) == ["LimitRange/payments/team-limits", "NetworkPolicy/payments/team-default-deny",
                           "ResourceQuota/payments/team-quota", "Role/payments/team-member",
                           "RoleBinding/payments/team-members", "RoleBinding/payments/team-owners"]
    assert out["NetworkPolicy/payments/team-default-deny"]["spec"] == {"podSelector": {},
                                                                       "policyTypes": ["Ingress", "Egress"]}
    assert out["ResourceQuota/payments/team-quota"]["spec"]["hard"]["pods"] == "50"
    owners = out["RoleBinding/payments/team-owners"]
    assert owners["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "team-member"}
    assert owners["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "payments-leads"}]
    assert out["RoleBinding/payments/team-members"]["roleRef"] == owners["roleRef"]  # one rule set


def test_with_the_chart_the_bindings_name_its_cluster_role_and_no_role_is_rendered() -> None:
    settings = Settings(team_member_cluster_role="finplane-team-member")
    out = by_id(render_team(name="payments", spec=spec(), namespaces=["payments"], settings=settings))
    assert not [k for k in out if k.startswith("Role/")]
    assert out["RoleBinding/payments/team-members"]["roleRef"]["kind"] == "ClusterRole"
    assert out["RoleBinding/payments/team-members"]["roleRef"]["name"] == "finplane-team-member"


def test_members_manage_capabilities_read_workloads_and_never_get_secrets_or_rbac() -> None:
    granted = {(g, r): set(rule["verbs"]) for rule in MEMBER_RULES for g in rule["apiGroups"] for r in rule["resources"]}
    assert {"create", "update", "delete"} <= granted[("finplane.io", "businesscapabilities")]
    assert granted[("", "pods/log")] == {"get", "list", "watch"}
    assert ("", "events") in granted and ("apps", "deployments") in granted
    assert all(verbs <= {"get", "list", "watch"} for (g, r), verbs in granted.items() if g != "finplane.io")
    forbidden = {"secrets", "roles", "rolebindings", "clusterroles", "resourcequotas", "limitranges", "networkpolicies",
                 "serviceaccounts/token", "*"}
    assert not forbidden & {r for _, r in granted}


def test_the_namespace_is_team_labelled_restricted_and_never_owned_by_the_team() -> None:
    ns = render_namespace(name="payments", namespace="payments", created=True)
    labels = ns["metadata"]["labels"]
    assert labels["finplane.io/team"] == "payments"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert "ownerReferences" not in ns["metadata"]  # garbage collection must not delete it with the Team
    assert ns["metadata"]["annotations"] == {"finplane.io/created-by-team": "payments"}
    assert "annotations" not in render_namespace(name="payments", namespace="payments", created=False)["metadata"]


def test_every_manifest_validates_against_the_kubernetes_schemas_and_matches_the_golden_file() -> None:
    objs = [render_namespace(name="payments", namespace="payments", created=True),
            *render_team(name="payments", spec=spec(), namespaces=["payments", "payments-batch"], settings=Settings())]
    for obj in objs:
        kubernetes_validate.validate(obj, "1.31", strict=True)
    text = yaml.safe_dump_all(objs, sort_keys=True)
    if os.environ.get("FINPLANE_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


@pytest.mark.parametrize("namespace", ["default", "kube-system", "kube-public", "kube-anything", "finplane-system"])
def test_platform_namespaces_are_never_a_teams(namespace: str) -> None:
    assert reserved_problem(namespace, own_namespace=None)
    plan = namespace_plan(name="evil", spec=spec(namespaces=[namespace]), teams=[], live_labels={namespace: {}},
                          own_namespace=None)
    assert plan[0].state == "Refused"


def test_finplanes_own_namespace_from_the_settings_is_reserved() -> None:
    assert reserved_problem("platform", own_namespace="platform")
    assert reserved_problem("finplane-system", own_namespace="platform") is None


def team(name: str, namespaces: list[str], *, created: str, held: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {"metadata": {"name": name, "creationTimestamp": created}, "spec": {"namespaces": namespaces},
            "status": {"namespaces": [{"name": n, "state": "Adopted"} for n in held]}}


def test_a_missing_namespace_is_created_and_a_free_one_adopted() -> None:
    plan = namespace_plan(name="payments", spec=spec(), teams=[], own_namespace=None,
                          live_labels={"payments": {"finplane.io/team": "payments"}, "payments-batch": None})
    assert [(d.namespace, d.state) for d in plan] == [("payments", "Adopted"), ("payments-batch", "Created")]


def test_adoption_never_takes_another_teams_namespace() -> None:
    kyc = team("kyc", ["kyc"], created="2026-01-01T00:00:00Z", held=["kyc"])
    plan = namespace_plan(name="payments", spec=spec(namespaces=["kyc"]), teams=[kyc], own_namespace=None,
                          live_labels={"kyc": {"finplane.io/team": "kyc"}})
    assert plan[0].state == "Refused" and "owned by team kyc" in str(plan[0].message)


def test_a_namespace_labelled_for_another_team_by_hand_is_not_adopted() -> None:
    plan = namespace_plan(name="payments", spec=spec(namespaces=["kyc"]), teams=[], own_namespace=None,
                          live_labels={"kyc": {"finplane.io/team": "kyc"}})
    assert plan[0].state == "Refused" and "finplane.io/team=kyc" in str(plan[0].message)


def test_of_two_new_teams_listing_one_namespace_the_older_gets_it() -> None:
    older = team("a", ["shared"], created="2026-01-01T00:00:00Z")
    newer = team("b", ["shared"], created="2026-01-02T00:00:00Z")
    plan_b = namespace_plan(name="b", spec=spec(namespaces=["shared"]), teams=[older, newer], own_namespace=None,
                            live_labels={"shared": None})
    plan_a = namespace_plan(name="a", spec=spec(namespaces=["shared"]), teams=[older, newer], own_namespace=None,
                            live_labels={"shared": None})
    assert plan_b[0].state == "Refused" and plan_a[0].state == "Created"


def test_a_capabilitys_team_is_the_team_holding_its_namespace() -> None:
    teams = [team("payments", ["payments"], created="1", held=["payments"]), team("kyc", ["kyc"], created="2")]
    assert team_of_namespace("payments", teams) == "payments"
    assert team_of_namespace("kyc", teams) is None  # listed but not (yet) held
    assert team_of_namespace("kube-system", teams) is None


def cap(**overrides: Any) -> BusinessCapabilitySpec:
    return BusinessCapabilitySpec.model_validate({
        "owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments",
        "image": "registry.finplane.local/payments/api:1", **overrides})


def use(name: str, created: str, **overrides: Any) -> Any:
    return use_of(key=("payments", name), created=created, spec=cap(**overrides), default_cpu="100m",
                  default_memory="128Mi")


def test_the_quota_admits_oldest_first_and_names_what_a_refused_one_exceeds_and_by_how_much() -> None:
    quota = TeamQuota(cpu="1", pods=10)
    uses = [use("a", "1", replicas=2, resources={"requests": {"cpu": "300m"}}),
            use("b", "2", replicas=2, resources={"requests": {"cpu": "300m"}}),
            use("c", "3", replicas=1, resources={"requests": {"cpu": "200m"}})]
    result = admit(team="payments", quota=quota, uses=uses)
    assert set(result.refused) == {("payments", "b")}
    message = result.refused[("payments", "b")].message
    assert result.refused[("payments", "b")].reason == "QuotaExceeded"
    assert "1200m cpu of its quota of 1 (over by 200m)" in message
    assert result.usage() == {"cpu": "800m", "memory": "384Mi", "pods": 3, "capabilities": 2}


def test_removing_a_capability_makes_room_for_the_refused_one() -> None:
    quota = TeamQuota(capabilities=1)
    assert ("payments", "b") in admit(team="payments", quota=quota, uses=[use("a", "1"), use("b", "2")]).refused
    assert admit(team="payments", quota=quota, uses=[use("b", "2")]).refused == {}


def test_a_newcomer_created_in_the_same_second_never_displaces_a_running_capability() -> None:
    """creationTimestamp has whole seconds: "payments/a-new" sorts before "payments/b" by name, yet b was
    admitted on its last pass, so the newcomer is the one refused."""
    quota = TeamQuota(capabilities=1)
    running = use_of(key=("payments", "b"), created="2026-12-01T12:00:00Z", spec=cap(), default_cpu="100m",
                     default_memory="128Mi", incumbent=True)
    newcomer = use("a-new", "2026-12-01T12:00:00Z")
    assert set(admit(team="payments", quota=quota, uses=[newcomer, running]).refused) == {("payments", "a-new")}
    # without the incumbent, the name decides (both new in the same second), the same way on every pass
    fresh_b = use("b", "2026-12-01T12:00:00Z")
    assert set(admit(team="payments", quota=quota, uses=[fresh_b, newcomer]).refused) == {("payments", "b")}


def test_an_autoscaled_capability_counts_at_its_maximum() -> None:
    u = use("a", "1", autoscaling={"minReplicas": 2, "maxReplicas": 6}, resources={"requests": {"memory": "256Mi"}})
    assert u.pods == 6 and u.memory == 6 * 256 * 2**20


def test_no_quota_admits_everything() -> None:
    assert admit(team="payments", quota=None, uses=[use("a", "1", replicas=100)]).refused == {}


def test_the_team_allow_lists_refuse_other_registries_and_classifications() -> None:
    t = spec(allowedRegistries=["internal"], allowedClassifications=["public", "internal"])
    assert check_allowed(team="payments", spec=t, capability=cap(registryRef="internal")) is None
    other = check_allowed(team="payments", spec=t, capability=cap(registryRef="docker-hub"))
    assert other is not None and other.reason == "RegistryNotAllowed"
    secret = check_allowed(team="payments", spec=t, capability=cap(dataClassification="restricted"))
    assert secret is not None and secret.reason == "ClassificationNotAllowed"
    assert check_allowed(team="payments", spec=spec(), capability=cap(dataClassification="restricted")) is None


def test_a_team_needs_an_owner_and_a_namespace() -> None:
    with pytest.raises(ValueError):
        spec(owners=[])
    with pytest.raises(ValueError):
        spec(namespaces=[])
    with pytest.raises(ValueError):
        spec(namespaces=["payments", "payments"])


def test_finplane_render_shows_a_teams_namespaces_and_refuses_a_reserved_one() -> None:
    from finplane.render.offline import render_documents

    doc = {"apiVersion": "finplane.io/v1alpha1", "kind": "Team", "metadata": {"name": "payments"}, "spec": SPEC}
    kinds = [o["kind"] for o in render_documents([doc], settings=Settings())]
    assert kinds.count("Namespace") == 2 and kinds.count("NetworkPolicy") == 2 and "Secret" not in kinds
    with pytest.raises(ValueError, match="kube-system"):
        render_documents([{**doc, "spec": {**SPEC, "namespaces": ["kube-system"]}}], settings=Settings())
