"""Render a TenantSandbox into its children: Namespace, ResourceQuota, LimitRange, NetworkPolicies, Role, RoleBinding.

Pure: (name, spec, settings) -> complete manifests, no I/O. Called by the sandbox reconciler and by
`finplane render`. The partner credential Secret is NOT rendered here: its value is generated once
by the reconciler (`credential_secret`) and never appears in any rendering or log.

Members may manage workloads only (`MEMBER_RULES`). RBAC has no deny rule, so the rules simply never
name secrets, resourcequotas, limitranges, networkpolicies, roles or rolebindings: whatever is not
granted is refused, and the credential Secret stays out of the members' reach through the API.

Where the rules live depends on `settings.sandbox_member_cluster_role`. Unset (the embedded API server,
`finplane dev`): a Role `sandbox-member` per sandbox namespace, bound by the RoleBinding. Set (the Helm
chart): only the RoleBinding, to that ClusterRole. A real API server refuses to let the operator write a
Role granting permissions the operator does not hold itself (RBAC escalation prevention); with the
ClusterRole the operator needs only `bind` on that one name. The chart's ClusterRole is generated from
`MEMBER_RULES` (`member_rules_yaml`, written by charts/finplane/hack/sandbox_member_rules.py), so both
modes grant exactly the same rules.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import yaml

from finplane import SANDBOX_CREDENTIAL_KEY, SANDBOX_CREDENTIAL_SECRET
from finplane.models.tenant_sandbox import RESERVED_MEMBER_PREFIX, TenantSandboxSpec
from finplane.names import ROTATION_ANNOTATION
from finplane.render.labels import MANAGED_BY
from finplane.render.operator_access import operator_binding
from finplane.settings import Settings, TierPreset

__all__ = ["CREDENTIAL_KEY", "CREDENTIAL_SECRET", "MEMBER_ROLE", "MEMBER_ROLE_BINDING", "MEMBER_RULES",
           "RESERVED_NAMESPACES", "ROTATION_ANNOTATION", "credential_secret", "fingerprint", "member_problem",
           "member_rules_yaml",
           "namespace_problem", "render_sandbox", "sandbox_labels", "sandbox_namespace"]

Obj = dict[str, Any]
CREDENTIAL_SECRET = SANDBOX_CREDENTIAL_SECRET
CREDENTIAL_KEY = SANDBOX_CREDENTIAL_KEY
MEMBER_ROLE = "sandbox-member"
MEMBER_ROLE_BINDING = "sandbox-members"
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

#: What members may do in their namespace. Deliberately absent: secrets, resourcequotas, limitranges,
#: networkpolicies, roles, rolebindings, serviceaccounts/token (RBAC cannot deny, so we never grant), and
#: writes to services: a Service's `externalIPs` intercepts traffic to those addresses cluster-wide
#: (CVE-2020-8554). Members call capabilities through the capabilities' own Services and reach their own
#: pods directly (allow-same-namespace), so read access is all they need; no admission policy is required.
_RW = ["get", "list", "watch", "create", "update", "patch", "delete"]
MEMBER_RULES: list[Obj] = [
    {"apiGroups": [""], "resources": ["pods", "configmaps", "persistentvolumeclaims"], "verbs": _RW},
    {"apiGroups": [""], "resources": ["pods/log", "events", "endpoints", "services"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "replicasets"], "verbs": _RW},
    {"apiGroups": ["apps"], "resources": ["deployments/scale", "statefulsets/scale"], "verbs": ["get", "update", "patch"]},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": _RW},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": _RW},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": _RW},
    {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "list", "watch"]},
]


def sandbox_namespace(name: str, settings: Settings) -> str:
    """The namespace of sandbox `name`: prefix + name as a DNS-1123 label of at most 63 characters.

    Dots (allowed in cluster-scoped names) become dashes; a name too long keeps a hash suffix so
    two long names never map to the same namespace.
    """
    base = (settings.sandbox_namespace_prefix + name).replace(".", "-")
    if len(base) <= 63:
        return base
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{base[:54].rstrip('-')}-{digest}"


def namespace_problem(namespace: str) -> str | None:
    """Why `namespace` may never be a sandbox's namespace, or None when it may."""
    if namespace in RESERVED_NAMESPACES or namespace.startswith("kube-"):
        return f"namespace {namespace} is reserved for the platform; change FINPLANE_SANDBOX_NAMESPACE_PREFIX"
    return None


def member_problem(spec: TenantSandboxSpec) -> str | None:
    """Why the members may not be bound (a `system:` name: the CRD refuses it, a CR stored before may have it)."""
    bad = [f"spec.members[{i}].name" for i, m in enumerate(spec.members) if m.name.startswith(RESERVED_MEMBER_PREFIX)]
    if bad:
        return (f"{', '.join(bad)}: members may not be {RESERVED_MEMBER_PREFIX} names, the API server reserves them "
                "(system:masters is cluster-admin, system:authenticated is everyone)")
    return None


def sandbox_labels(name: str, spec: TenantSandboxSpec) -> dict[str, str]:
    return {
        **MANAGED_BY,
        "app.kubernetes.io/component": "tenant-sandbox",
        "app.kubernetes.io/instance": name[:63].rstrip(".-"),
        "finplane.io/sandbox": name[:63].rstrip(".-"),
        "finplane.io/partner": spec.partner.name,
        "finplane.io/tier": str(spec.tier),
    }


def _quota_hard(spec: TenantSandboxSpec, preset: TierPreset) -> dict[str, str]:
    q = spec.quota
    def pick(explicit: object, default: object) -> str:
        return str(explicit if explicit is not None else default)
    return {
        "requests.cpu": pick(q and q.requests_cpu, preset.cpu),
        "requests.memory": pick(q and q.requests_memory, preset.memory),
        "limits.cpu": pick(q and q.limits_cpu, preset.cpu),
        "limits.memory": pick(q and q.limits_memory, preset.memory),
        "requests.storage": pick(q and q.requests_storage, preset.storage),
        "persistentvolumeclaims": pick(q and q.persistent_volume_claims, preset.pvcs),
        "pods": pick(q and q.pods, preset.pods),
        "services": pick(q and q.services, preset.services),
        "secrets": pick(q and q.secrets, preset.secrets),
        "configmaps": pick(q and q.config_maps, preset.configmaps),
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }


def render_sandbox(*, name: str, spec: TenantSandboxSpec, settings: Settings) -> list[Obj]:
    """Every child of the sandbox, in apply order (the Namespace first)."""
    ns = sandbox_namespace(name, settings)
    labels = sandbox_labels(name, spec)

    def meta(obj_name: str) -> Obj:
        return {"name": obj_name, "namespace": ns, "labels": dict(labels)}

    ns_labels = {**labels, "kubernetes.io/metadata.name": ns}
    for mode in ("enforce", "warn", "audit"):
        ns_labels[f"pod-security.kubernetes.io/{mode}"] = "restricted"
        ns_labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
    if spec.registry_ref:
        ns_labels["finplane.io/registry"] = spec.registry_ref[:63].rstrip(".-")
    preset = settings.tiers.get(str(spec.tier)) or settings.tiers["small"]
    hard = _quota_hard(spec, preset)
    d = settings.default_resources
    children: list[Obj] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": ns_labels}},
        *operator_binding(namespace=ns, labels=labels, settings=settings),  # first in it: the operator's rights
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta("sandbox-quota"), "spec": {"hard": hard}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": meta("sandbox-limits"), "spec": {"limits": [{
            "type": "Container",
            "default": {"cpu": d.cpu_limit, "memory": d.memory_limit},
            "defaultRequest": {"cpu": d.cpu_request, "memory": d.memory_request},
            "max": {"cpu": hard["limits.cpu"], "memory": hard["limits.memory"]},
        }]}},
        *_network_policies(meta, spec, settings),
    ]
    cluster_role = settings.sandbox_member_cluster_role
    if not cluster_role:
        children.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(MEMBER_ROLE),
                         "rules": _member_rules()})
    if spec.members:
        role_ref = ({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role}
                    if cluster_role else {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": MEMBER_ROLE})
        children.append({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(MEMBER_ROLE_BINDING),
            "roleRef": role_ref,
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": str(m.kind), "name": m.name}
                         for m in spec.members],
        })
    return children


def _member_rules() -> list[Obj]:
    """A deep copy of MEMBER_RULES, so no rendering shares lists with the constant (or with another rendering)."""
    return [{key: list(value) for key, value in rule.items()} for rule in MEMBER_RULES]


def member_rules_yaml() -> str:
    """MEMBER_RULES as the YAML list the chart's sandbox-member ClusterRole includes (one source of truth)."""
    header = ("# Generated from finplane.render.sandbox.MEMBER_RULES by charts/finplane/hack/sandbox_member_rules.py:\n"
              "# do not edit; tests/chart/test_chart_sandbox_rbac.py checks it. The rules of a sandbox member.\n")
    return header + yaml.safe_dump(_member_rules(), sort_keys=False, default_flow_style=None, width=120)


def _network_policies(meta: Any, spec: TenantSandboxSpec, settings: Settings) -> list[Obj]:
    def policy(name: str, body: Obj) -> Obj:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(name),
                "spec": {"podSelector": {}, **body}}

    dns_key, _, dns_value = settings.dns_pod_label.partition("=")
    out = [
        policy("default-deny", {"policyTypes": ["Ingress", "Egress"]}),
        # Pods of one sandbox may talk to each other: a peer without namespaceSelector is this namespace only.
        policy("allow-same-namespace", {"policyTypes": ["Ingress", "Egress"],
                                        "ingress": [{"from": [{"podSelector": {}}]}],
                                        "egress": [{"to": [{"podSelector": {}}]}]}),
        policy("allow-dns", {"policyTypes": ["Egress"], "egress": [{
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.dns_namespace}},
                    "podSelector": {"matchLabels": {dns_key: dns_value}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}),
    ]
    if spec.allowed_capabilities:
        out.append(policy("allow-capabilities", {"policyTypes": ["Egress"], "egress": [{"to": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": c.namespace}},
             "podSelector": {"matchLabels": {"finplane.io/capability": c.name}}}
            for c in spec.allowed_capabilities]}]}))
    return out


def fingerprint(key: str) -> tuple[str, str]:
    """(`sha256:<hex>`, short fingerprint) of a credential: safe to show, useless to an attacker."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"sha256:{digest}", digest[:12]


def credential_secret(*, namespace: str, key: str, rotation: int, labels: dict[str, str]) -> Obj:
    """The Secret holding the partner credential (only ever sent to the API server, never rendered or logged)."""
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": CREDENTIAL_SECRET, "namespace": namespace, "labels": dict(labels),
                     "annotations": {ROTATION_ANNOTATION: str(rotation)}},
        "data": {CREDENTIAL_KEY: base64.b64encode(key.encode()).decode()},
    }

