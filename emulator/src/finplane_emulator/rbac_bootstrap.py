"""The bootstrap ClusterRoles and bindings of RBAC mode, and the clusterrole-aggregation controller.

Called by `app.build_app` when `--authorization-mode RBAC`: like kube-apiserver's rbac post-start
hook it creates cluster-admin, admin, edit, view (aggregated from system:aggregate-to-*),
system:discovery, system:basic-user, system:public-info-viewer and
system:service-account-issuer-discovery with their ClusterRoleBindings (those already present, e.g.
from a snapshot, are kept). The aggregation controller rewrites an aggregated ClusterRole's `rules`
whenever a ClusterRole changes. The rule lists are those of Kubernetes 1.32 for the kinds served
here (not every upstream resource exists in this emulator).
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from finplane_emulator.core import Core
from finplane_emulator.rbac import RBAC, Authorizer
from finplane_emulator.resources import ResourceInfo
from finplane_emulator.store import WatchEvent
from finplane_emulator.writes import create

__all__ = ["bootstrap", "start_aggregation"]

Obj = dict[str, Any]
_R = ["get", "list", "watch"]
_W = ["create", "delete", "deletecollection", "patch", "update"]
_AGG = "rbac.authorization.k8s.io/aggregate-to-"
_VIEW_CORE = ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
              "pods/log", "pods/status", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
              "services", "services/status", "bindings", "events", "limitranges", "resourcequotas",
              "resourcequotas/status", "namespaces/status"]
_APPS = ["daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status", "replicasets",
         "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"]


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> Obj:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _roles() -> list[Obj]:
    view = [_rule([""], _VIEW_CORE, _R), _rule([""], ["namespaces"], _R), _rule(["apps"], _APPS, _R),
            _rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], _R),
            _rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], _R),
            _rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], _R),
            _rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], _R),
            _rule(["discovery.k8s.io"], ["endpointslices"], _R)]
    edit = [_rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"], _R),
            _rule([""], ["serviceaccounts"], ["impersonate"]),
            _rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], _W),
            _rule([""], ["pods/eviction"], ["create"]),
            _rule([""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                         "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"], _W),
            _rule([""], ["serviceaccounts/token"], ["create"]),
            _rule(["apps"], [r for r in _APPS if not r.endswith("/status")], _W),
            _rule(["autoscaling"], ["horizontalpodautoscalers"], _W),
            _rule(["batch"], ["cronjobs", "jobs"], _W),
            _rule(["policy"], ["poddisruptionbudgets"], _W),
            _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], _W),
            _rule(["coordination.k8s.io"], ["leases"], [*_R, *_W])]
    admin = [_rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
             _rule([RBAC], ["rolebindings", "roles"], [*_W, "get", "list", "watch"])]
    defaults = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    info_urls = ["/healthz", "/livez", "/readyz", "/version", "/version/"]

    def role(name: str, *, rules: list[Obj] | None = None, labels: dict[str, str] | None = None,
             aggregate: str | None = None) -> Obj:
        obj: Obj = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
                    "metadata": {"name": name, "labels": {**defaults, **(labels or {})},
                                 "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
                    "rules": rules or []}
        if aggregate:
            obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {f"{_AGG}{aggregate}": "true"}}]}
        return obj

    return [
        role("cluster-admin", rules=[_rule(["*"], ["*"], ["*"]), {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        role("admin", aggregate="admin"),
        role("edit", aggregate="edit", labels={f"{_AGG}admin": "true"}),
        role("view", aggregate="view", labels={f"{_AGG}edit": "true"}),
        role("system:aggregate-to-admin", rules=admin, labels={f"{_AGG}admin": "true"}),
        role("system:aggregate-to-edit", rules=edit, labels={f"{_AGG}edit": "true"}),
        role("system:aggregate-to-view", rules=view, labels={f"{_AGG}view": "true"}),
        role("system:discovery", rules=[{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/openapi",
                                                              "/openapi/*", *info_urls], "verbs": ["get"]}]),
        role("system:basic-user", rules=[
            _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
            _rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"])]),
        role("system:public-info-viewer", rules=[{"nonResourceURLs": info_urls, "verbs": ["get"]}]),
        role("system:service-account-issuer-discovery", rules=[
            {"nonResourceURLs": ["/.well-known/openid-configuration", "/openid/v1/jwks"], "verbs": ["get"]}]),
    ]


def _binding(name: str, *groups: str) -> Obj:
    return {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                         "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": RBAC, "kind": "Group", "name": g} for g in groups]}


BINDINGS = [_binding("cluster-admin", "system:masters"), _binding("system:discovery", "system:authenticated"),
            _binding("system:basic-user", "system:authenticated"),
            _binding("system:public-info-viewer", "system:authenticated", "system:unauthenticated"),
            _binding("system:service-account-issuer-discovery", "system:serviceaccounts")]


def bootstrap(core: Core) -> None:
    """Create the bootstrap roles and bindings that are missing."""
    roles_info = core.registry.get(RBAC, "v1", "clusterroles")
    bindings_info = core.registry.get(RBAC, "v1", "clusterrolebindings")
    assert roles_info is not None and bindings_info is not None
    for info, objs in ((roles_info, _roles()), (bindings_info, BINDINGS)):
        for obj in objs:
            if core.store.get(info, "", obj["metadata"]["name"]) is None:
                create(core, info, None, obj, manager="kube-apiserver")
    _aggregate(core, roles_info)


def _aggregate(core: Core, info: ResourceInfo) -> None:
    authorizer = Authorizer(core)
    res = core.store.resources.get(info.key)
    for role in list(res.iter() if res else ()):
        if not isinstance(role.get("aggregationRule"), dict):
            continue
        rules = [r.as_dict() for r in authorizer.cluster_role_rules(role["metadata"]["name"])]
        if rules != role.get("rules"):
            core.store.commit(info, {**role, "rules": rules}, old=role)


def start_aggregation(core: Core) -> None:
    """Keep aggregated ClusterRoles' rules current (the clusterrole-aggregation controller)."""
    info = core.registry.get(RBAC, "v1", "clusterroles")
    assert info is not None
    pending = [False]

    def run() -> None:
        pending[0] = False
        _aggregate(core, info)

    def on_event(changed: ResourceInfo, event: WatchEvent) -> None:
        if changed.key != info.key or pending[0]:
            return
        pending[0] = True
        try:
            asyncio.get_running_loop().call_soon(run, context=contextvars.Context())
        except RuntimeError:
            run()

    core.store.listeners.append(on_event)
