"""Render a Team into its children, per namespace: Namespace labels, default-deny NetworkPolicy, ResourceQuota,
LimitRange and the owners' and members' RoleBindings.

Pure: (name, spec, namespaces, settings) -> complete manifests, no I/O. Called by the Team reconciler and by
`finplane render`. Which namespaces the Team may hold is decided before (`render.team_checks.namespace_plan`);
this module renders only those.

Owners and members get ONE rule set (`MEMBER_RULES`): manage BusinessCapabilities, read their workloads,
events and logs. RBAC has no deny rule, so the rules never name secrets, roles, rolebindings, resourcequotas,
limitranges or networkpolicies: nobody in a team reads Secrets or changes RBAC and guard rails through these
bindings. As for sandboxes (`render.sandbox`), `settings.team_member_cluster_role` set (the Helm chart) binds
that ClusterRole; unset (embedded API server, `finplane dev`) renders a Role `team-member` per namespace with
the same rules, since a real API server refuses a Role granting more than its writer holds.

The Namespace carries no owner reference: deleting the Team must not garbage-collect a namespace that holds
capabilities (the reconciler decides, `spec.namespaceDeletion`). The other children do carry one.
"""

from __future__ import annotations

from typing import Any

import yaml

from finplane import GROUP
from finplane.models.team import TeamSpec
from finplane.render.labels import MANAGED_BY
from finplane.render.operator_access import operator_binding
from finplane.settings import Settings

__all__ = ["CREATED_ANNOTATION", "MEMBER_ROLE", "MEMBER_RULES", "OWNER_BINDING", "MEMBERS_BINDING", "TEAM_LABEL",
           "member_rules_yaml", "render_namespace", "render_team", "team_labels"]

Obj = dict[str, Any]
TEAM_LABEL = "finplane.io/team"
#: On a Namespace the Team created (not adopted): only such a namespace may be deleted with its Team.
CREATED_ANNOTATION = "finplane.io/created-by-team"
MEMBER_ROLE = "team-member"
OWNER_BINDING = "team-owners"
MEMBERS_BINDING = "team-members"

_READ = ["get", "list", "watch"]
#: What a team's owners and members may do in each of its namespaces. Deliberately absent: secrets,
#: roles, rolebindings, resourcequotas, limitranges, networkpolicies, serviceaccounts/token.
MEMBER_RULES: list[Obj] = [
    {"apiGroups": [GROUP], "resources": ["businesscapabilities"],
     "verbs": [*_READ, "create", "update", "patch", "delete"]},
    {"apiGroups": [GROUP], "resources": ["businesscapabilities/status"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods", "pods/log", "services", "endpoints", "events", "serviceaccounts",
                                      "configmaps"], "verbs": _READ},
    {"apiGroups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": _READ},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": _READ},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": _READ},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": _READ},
]


def team_labels(name: str) -> dict[str, str]:
    """Labels on every child of Team `name` (the team label is what capabilities and policies read)."""
    return {**MANAGED_BY, "app.kubernetes.io/component": "team", TEAM_LABEL: name}


def render_namespace(*, name: str, namespace: str, created: bool) -> Obj:
    """The Namespace as the Team applies it: team label, restricted Pod Security (no owner reference)."""
    labels = {**team_labels(name), "kubernetes.io/metadata.name": namespace}
    for mode in ("enforce", "warn", "audit"):
        labels[f"pod-security.kubernetes.io/{mode}"] = "restricted"
        labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
    meta: Obj = {"name": namespace, "labels": labels}
    if created:
        meta["annotations"] = {CREATED_ANNOTATION: name}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def render_team(*, name: str, spec: TeamSpec, namespaces: list[str], settings: Settings) -> list[Obj]:
    """The namespaced children of the Team in `namespaces`, in apply order (default deny before anything else)."""
    out: list[Obj] = []
    for ns in namespaces:
        out.extend(_namespace_children(name, spec, ns, settings))
    return out


def _namespace_children(name: str, spec: TeamSpec, ns: str, settings: Settings) -> list[Obj]:
    labels = team_labels(name)

    def meta(obj_name: str) -> Obj:
        return {"name": obj_name, "namespace": ns, "labels": dict(labels)}

    d = spec.namespace_defaults
    children: list[Obj] = [
        *operator_binding(namespace=ns, labels=labels, settings=settings),  # first: the operator's rights here
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("team-default-deny"),
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta("team-quota"), "spec": {"hard": {
            "requests.cpu": str(d.requests_cpu), "requests.memory": str(d.requests_memory),
            "limits.cpu": str(d.limits_cpu), "limits.memory": str(d.limits_memory), "pods": str(d.pods),
            "services.loadbalancers": "0", "services.nodeports": "0"}}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": meta("team-limits"), "spec": {"limits": [{
            "type": "Container",
            "default": {"cpu": str(d.default_cpu_limit), "memory": str(d.default_memory_limit)},
            "defaultRequest": {"cpu": str(d.default_cpu_request), "memory": str(d.default_memory_request)},
        }]}},
    ]
    cluster_role = settings.team_member_cluster_role
    if cluster_role:
        role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role}
    else:
        children.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(MEMBER_ROLE),
                         "rules": _member_rules()})
        role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": MEMBER_ROLE}
    for binding, subjects in ((OWNER_BINDING, spec.owners), (MEMBERS_BINDING, spec.members)):
        if subjects:
            children.append({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(binding),
                "roleRef": dict(role_ref),
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": str(m.kind), "name": m.name}
                             for m in subjects],
            })
    return children


def _member_rules() -> list[Obj]:
    """A deep copy of MEMBER_RULES (no rendering shares lists with the constant)."""
    return [{key: list(value) for key, value in rule.items()} for rule in MEMBER_RULES]


def member_rules_yaml() -> str:
    """MEMBER_RULES as the YAML list the chart's team-member ClusterRole includes (one source of truth)."""
    header = ("# Generated from finplane.render.team.MEMBER_RULES by charts/finplane/hack/team_member_rules.py:\n"
              "# do not edit; tests/chart/test_chart_team_rbac.py checks it. The rules of a team's owners and members.\n")
    return header + str(yaml.safe_dump(_member_rules(), sort_keys=False, default_flow_style=None, width=120))

