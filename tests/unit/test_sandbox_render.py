"""Pure rendering and lifecycle of a TenantSandbox, without a cluster.

Covers: the namespace name is a DNS-1123 label of at most 63 characters, distinct for long names,
and reserved names are refused; the namespace enforces the restricted Pod Security profile; the
quota takes the tier's numbers, explicit values override them, and LoadBalancer/NodePort services
are forbidden; the members' Role never grants Secrets, quotas, limit ranges, network policies or
RBAC; with FINPLANE_SANDBOX_MEMBER_CLUSTER_ROLE set (the Helm chart) the members are bound to that
ClusterRole and no Role is rendered, without it the Role holds exactly MEMBER_RULES (the rules the chart's
ClusterRole is generated from), and renderings never share lists with MEMBER_RULES; egress is allowed to DNS and the permitted capabilities only; the timeline gives Active,
Expiring and Expired at the right instants and the next wake-up; a lifetime above the maximum is
refused; four-eyes approval blocks provisioning until approved; the display phase follows the
conditions; the credential fingerprint is a hash, never the key.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from finplane.models.tenant_sandbox import TenantSandboxSpec
from finplane.render.sandbox import (
    MEMBER_RULES,
    fingerprint,
    namespace_problem,
    render_sandbox,
    sandbox_namespace,
)
from finplane.render.sandbox_lifecycle import Stage, approval, lifetime_problem, phase_of, timeline
from finplane.settings import Settings

SETTINGS = Settings()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def spec(**extra: Any) -> TenantSandboxSpec:
    return TenantSandboxSpec.model_validate({
        "partner": {"name": "acme", "organisation": "Acme", "contact": "a@acme.example"},
        "members": [{"kind": "User", "name": "jane"}], "ttlSeconds": 3600,
        "allowedCapabilities": [{"namespace": "kyc", "name": "kyc-check"}], **extra})


def by_kind(children: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [c for c in children if c["kind"] == kind]


def test_namespace_names_are_valid_labels_even_for_long_sandbox_names() -> None:
    long_a, long_b = "a" * 200 + ".x", "a" * 200 + ".y"
    ns_a, ns_b = sandbox_namespace(long_a, SETTINGS), sandbox_namespace(long_b, SETTINGS)
    for ns in (ns_a, ns_b, sandbox_namespace("acme.pay", SETTINGS)):
        assert len(ns) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", ns)
    assert ns_a != ns_b


def test_reserved_namespaces_are_refused() -> None:
    assert namespace_problem("default") and namespace_problem("kube-foo")
    assert namespace_problem("sbx-acme") is None


def test_the_namespace_enforces_restricted_pod_security() -> None:
    ns = by_kind(render_sandbox(name="acme", spec=spec(), settings=SETTINGS), "Namespace")[0]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ns["metadata"]["labels"]["finplane.io/tier"] == "small"


def test_the_quota_takes_tier_numbers_and_explicit_overrides() -> None:
    hard = by_kind(render_sandbox(name="acme", spec=spec(tier="large", quota={"pods": 7}), settings=SETTINGS),
                   "ResourceQuota")[0]["spec"]["hard"]
    assert hard["pods"] == "7" and hard["requests.cpu"] == "32" and hard["secrets"] == "150"
    assert hard["services.loadbalancers"] == "0" and hard["services.nodeports"] == "0"


def test_members_are_never_granted_guard_rails_or_secrets() -> None:
    role = by_kind(render_sandbox(name="acme", spec=spec(), settings=SETTINGS), "Role")[0]
    granted = {r for rule in role["rules"] for r in rule["resources"]}
    assert not granted & {"secrets", "resourcequotas", "limitranges", "networkpolicies", "roles", "rolebindings",
                          "serviceaccounts/token", "*"}
    assert "deployments" in granted


def test_without_the_chart_members_get_a_role_of_exactly_the_member_rules() -> None:
    children = render_sandbox(name="acme", spec=spec(), settings=SETTINGS)
    assert by_kind(children, "Role")[0]["rules"] == MEMBER_RULES
    binding = by_kind(children, "RoleBinding")[0]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "sandbox-member"}


def test_with_the_charts_cluster_role_members_are_bound_to_it_and_no_role_is_rendered() -> None:
    settings = Settings(sandbox_member_cluster_role="finplane-sandbox-member")
    children = render_sandbox(name="acme", spec=spec(), settings=settings)
    assert by_kind(children, "Role") == []
    binding = by_kind(children, "RoleBinding")[0]
    assert binding["metadata"]["namespace"] == "sbx-acme"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "finplane-sandbox-member"}
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "jane"}]


def test_changing_a_rendered_role_never_changes_the_member_rules() -> None:
    before = [dict(rule) for rule in MEMBER_RULES]
    role = by_kind(render_sandbox(name="acme", spec=spec(), settings=SETTINGS), "Role")[0]
    role["rules"][0]["verbs"].append("escalate")
    assert MEMBER_RULES == before


def test_egress_goes_only_to_dns_and_the_allowed_capabilities() -> None:
    policies = by_kind(render_sandbox(name="acme", spec=spec(), settings=SETTINGS), "NetworkPolicy")
    peers = [p for pol in policies for rule in pol["spec"].get("egress", []) for p in rule["to"]
             if "namespaceSelector" in p]
    targets = {(p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
                tuple(sorted(p["podSelector"]["matchLabels"].items()))) for p in peers}
    assert targets == {("kube-system", (("k8s-app", "kube-dns"),)),
                       ("kyc", (("finplane.io/capability", "kyc-check"),))}


def test_the_timeline_turns_expiring_then_expired_and_says_when_to_wake_up() -> None:
    tl = timeline(spec(expiryWarningSeconds=600), created=T0, settings=SETTINGS)
    assert tl.stage(T0) is Stage.ACTIVE and tl.seconds_to_next(T0) == 3000
    assert tl.stage(T0 + timedelta(seconds=3000)) is Stage.EXPIRING
    assert tl.seconds_to_next(T0 + timedelta(seconds=3000)) == 600
    assert tl.stage(T0 + timedelta(seconds=3600)) is Stage.EXPIRED
    assert tl.seconds_to_next(T0 + timedelta(seconds=3600)) is None


def test_the_warning_window_defaults_to_the_platform_setting() -> None:
    tl = timeline(spec(), created=T0, settings=Settings(sandbox_expiry_warning_seconds=100))
    assert tl.warn_at == T0 + timedelta(seconds=3500)


def test_a_lifetime_above_the_platform_maximum_is_refused() -> None:
    small = Settings(sandbox_max_ttl_seconds=60)
    assert lifetime_problem(timeline(spec(), created=T0, settings=small), small)
    assert lifetime_problem(timeline(spec(), created=T0, settings=SETTINGS), SETTINGS) is None


def test_provisioning_waits_for_four_eyes_approval() -> None:
    assert approval(None) is None and approval({"finplane.io/approval": "approved"}) is None
    assert approval({"finplane.io/approval": "pending"})[0] == "AwaitingApproval"
    assert approval({"finplane.io/approval": "rejected"})[0] == "Rejected"


def test_the_phase_follows_the_conditions() -> None:
    def c(t: str, s: str, r: str = "X") -> dict[str, str]:
        return {"type": t, "status": s, "reason": r}
    assert phase_of([c("Ready", "True"), c("Expiring", "False")]) == "Active"
    assert phase_of([c("Ready", "True"), c("Expiring", "True")]) == "Expiring"
    assert phase_of([c("Ready", "False", "Expired"), c("Expired", "True")]) == "Expired"
    assert phase_of([c("Ready", "False", "TTLTooLong")]) == "Failed"
    assert phase_of([c("Ready", "False", "AwaitingApproval")]) == "Provisioning"


def test_the_fingerprint_is_a_hash_and_not_the_key() -> None:
    digest, short = fingerprint("s3cr3t-key")
    assert digest.startswith("sha256:") and len(digest) == 71 and digest[7:19] == short
    assert "s3cr3t" not in digest
