"""The RoleBinding that gives the operator its namespaced rights inside one namespace it manages.

Called by `render.team` and `render.sandbox`, which put it first among a namespace's children: on a cluster
installed with the Helm chart, the operator's ClusterRole grants no workload, Secret or guard-rail writes
anywhere; the chart's `<release>-operator-namespaced` ClusterRole does, and the operator binds it itself, only
in the team and sandbox namespaces it manages (it holds `bind` on that one ClusterRole name). Unset settings
(embedded API server, `finplane dev`) render nothing: the operator's own rights then come from elsewhere.
"""

from __future__ import annotations

from typing import Any

from finplane.settings import Settings

__all__ = ["OPERATOR_BINDING", "operator_binding"]

#: Name of the RoleBinding in every managed namespace.
OPERATOR_BINDING = "finplane-operator-access"  # never a name the chart gives its own objects (<release>-operator*)


def operator_binding(*, namespace: str, labels: dict[str, str], settings: Settings) -> list[dict[str, Any]]:
    """[RoleBinding of the operator's ServiceAccount to the namespaced ClusterRole in `namespace`], or []."""
    role = settings.operator_namespaced_cluster_role
    account = settings.operator_service_account
    home = settings.pod_namespace
    if not (role and account and home):
        return []
    return [{
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": OPERATOR_BINDING, "namespace": namespace, "labels": dict(labels)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": home}],
    }]
