"""Where each kind lives in the API: (apiVersion, kind) -> resource path pieces.

A static table of the kinds Finplane reads and writes, so that the gateway needs no discovery
round-trips at start-up. Called by `finplane.kube.client` and the informer.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Resource", "resource_for", "register"]


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, *, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The URL path of the collection, or of one object (and its subresource)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


_TABLE: dict[tuple[str, str], Resource] = {}


def register(group: str, version: str, plural: str, kind: str, *, namespaced: bool) -> Resource:
    res = Resource(group, version, plural, kind, namespaced)
    _TABLE[(res.api_version, kind)] = res
    return res


for _g, _v, _p, _k, _n in [
    ("", "v1", "namespaces", "Namespace", False),
    ("", "v1", "serviceaccounts", "ServiceAccount", True),
    ("", "v1", "services", "Service", True),
    ("", "v1", "secrets", "Secret", True),
    ("", "v1", "configmaps", "ConfigMap", True),
    ("", "v1", "events", "Event", True),
    ("", "v1", "pods", "Pod", True),
    ("", "v1", "resourcequotas", "ResourceQuota", True),
    ("", "v1", "limitranges", "LimitRange", True),
    ("apps", "v1", "deployments", "Deployment", True),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", True),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", False),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings",
     "ValidatingAdmissionPolicyBinding", False),
    ("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", True),
    ("gateway.envoyproxy.io", "v1alpha1", "securitypolicies", "SecurityPolicy", True),
    ("gateway.envoyproxy.io", "v1alpha1", "backendtrafficpolicies", "BackendTrafficPolicy", True),
    ("gateway.envoyproxy.io", "v1alpha1", "clienttrafficpolicies", "ClientTrafficPolicy", True),
    ("cert-manager.io", "v1", "certificates", "Certificate", True),
    ("cert-manager.io", "v1", "issuers", "Issuer", True),
    ("wgpolicyk8s.io", "v1alpha2", "policyreports", "PolicyReport", True),
    ("wgpolicyk8s.io", "v1alpha2", "clusterpolicyreports", "ClusterPolicyReport", False),
    ("finplane.io", "v1alpha1", "businesscapabilities", "BusinessCapability", True),
    ("finplane.io", "v1alpha1", "channels", "Channel", False),
    ("finplane.io", "v1alpha1", "tenantsandboxes", "TenantSandbox", False),
    ("finplane.io", "v1alpha1", "imageregistries", "ImageRegistry", False),
    ("finplane.io", "v1alpha1", "compliancepolicies", "CompliancePolicy", False),
    ("finplane.io", "v1alpha1", "teams", "Team", False),
]:
    register(_g, _v, _p, _k, namespaced=_n)


def resource_for(api_version: str, kind: str) -> Resource:
    """The resource of a kind; KeyError names the kind when Finplane does not know it."""
    try:
        return _TABLE[(api_version, kind)]
    except KeyError:
        raise KeyError(f"unknown kind {kind} in {api_version}") from None
