"""Operator settings, read once at start-up from FINPLANE_* environment variables.

Called by the operator's start-up (`finplane.handlers.main`), the renderers (defaults such as
resources) and `finplane render`. pydantic-settings validates them, so a wrong value stops the
operator at start with a message naming the variable instead of failing later.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ResourceDefaults", "Settings", "TierPreset", "get_settings"]


class ResourceDefaults(BaseModel):
    """Requests and limits given to a container whose spec names none."""

    cpu_request: str = "100m"
    memory_request: str = "128Mi"
    cpu_limit: str = "500m"
    memory_limit: str = "256Mi"


class TierPreset(BaseModel):
    """Quota of a sandbox tier (small, medium, large)."""

    cpu: str
    memory: str
    pods: int
    services: int
    secrets: int
    configmaps: int
    pvcs: int = 0
    storage: str = "0"
    api_requests_per_second: int = Field(5, ge=1, description="Partner API calls per second on the open-api routes.")
    api_requests_per_day: int = Field(10000, ge=1, description="Partner API calls per day on the open-api routes.")


def _default_tiers() -> dict[str, TierPreset]:
    return {
        "small": TierPreset(cpu="2", memory="4Gi", pods=10, services=5, secrets=10, configmaps=10),
        "medium": TierPreset(cpu="8", memory="16Gi", pods=40, services=20, secrets=40, configmaps=40,
                             pvcs=5, storage="50Gi", api_requests_per_second=20, api_requests_per_day=100000),
        "large": TierPreset(cpu="32", memory="64Gi", pods=150, services=60, secrets=150, configmaps=150,
                            pvcs=20, storage="500Gi", api_requests_per_second=100,
                            api_requests_per_day=1000000),
    }


class Settings(BaseSettings):
    """Everything the operator can be told from outside; FINPLANE_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="FINPLANE_", env_nested_delimiter="__", extra="ignore")

    field_manager: str = Field("finplane-operator", description="Server-side apply field manager.")
    default_resources: ResourceDefaults = Field(default_factory=ResourceDefaults)
    drift_check_interval_seconds: float = Field(
        300.0, gt=0, description="How often a timer compares children with their rendering (drift).")
    dns_namespace: str = Field("kube-system", description="Namespace of the cluster DNS (egress allowance).")
    dns_pod_label: str = Field("k8s-app=kube-dns", description="Label of the cluster DNS pods.")
    channel_gateway_namespace: str = Field(
        "ingress-nginx", description="Namespace of the default ingress controller / gateway.")
    channel_default_gateway: str = Field(
        "envoy-gateway-system/finplane", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="namespace/name of the Gateway that channels of kind gateway attach to without a gatewayRef.")
    channel_jwt_verifier_url: str = Field(
        "http://jwt-verifier.finplane-system.svc.cluster.local:8080/verify",
        description="External JWT verifier that ingress-nginx asks (auth-url) on channels with JWT authentication.")
    sandbox_max_ttl_seconds: int = Field(90 * 24 * 3600, gt=0, description="Longest sandbox lifetime.")
    sandbox_expiry_warning_seconds: int = Field(
        3 * 24 * 3600, ge=0, description="Default warning window before a sandbox expires.")
    sandbox_namespace_prefix: str = Field("sbx-", max_length=10, pattern=r"^[a-z0-9-]*$")
    sandbox_member_cluster_role: str | None = Field(
        None, min_length=1, pattern=r"^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$",
        description="ClusterRole (shipped by the Helm chart) that a sandbox's members are bound to in their "
                    "namespace; unset renders a Role per sandbox instead (embedded API server, `finplane dev`). "
                    "A real API server refuses a Role granting what the operator itself does not hold, so on a "
                    "cluster the operator may only `bind` this one ClusterRole.")
    tiers: dict[str, TierPreset] = Field(default_factory=_default_tiers)
    operator_namespaced_cluster_role: str | None = Field(
        None, min_length=1, pattern=r"^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$",
        description="ClusterRole (shipped by the Helm chart) holding the operator's workload and Secret verbs; the "
                    "operator binds it to its own ServiceAccount (operator_service_account in pod_namespace) in "
                    "each team and sandbox namespace it manages, first. Unset: no such RoleBinding is rendered.")
    operator_service_account: str | None = Field(
        None, min_length=1, description="The operator's ServiceAccount (the chart sets it), the subject of that "
                                        "RoleBinding.")
    team_member_cluster_role: str | None = Field(
        None, min_length=1, pattern=r"^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$",
        description="ClusterRole (shipped by the Helm chart) that a Team's owners and members are bound to in its "
                    "namespaces; unset renders a Role `team-member` per namespace instead (embedded API server).")
    team_ownership: Literal["enforce", "migrate"] = Field(
        "migrate", description="enforce: a BusinessCapability in a namespace no Team owns is refused (TeamNotFound). "
                               "migrate: such a capability keeps working as before Teams (its spec.owner.team), "
                               "so hand-labelled namespaces run until a Team adopts them (docs/teams.md). "
                               "In a namespace a Team owns, the Team's rules hold in both modes.")
    registry_refresh_margin_seconds: int = Field(
        3600, ge=60, description="Refresh a registry token at once when less than this remains.")
    registry_min_refresh_seconds: int = Field(
        60, ge=1, description="Never refresh one registry more often than this, whatever its token says.")
    registry_prune_grace_seconds: float = Field(
        10.0, ge=0, description="After start-up, wait this long before removing pull Secrets (until the "
                                "watches have listed every capability, sandbox and namespace).")
    policy_reports_enabled: bool = Field(
        True, description="Write wgpolicyk8s.io PolicyReports/ClusterPolicyReports (chart: features.policyReports); "
                          "off, results stay in each CompliancePolicy's status and the Compliant conditions.")
    policy_report_api: Literal["wgpolicyk8s", "openreports", "both"] = Field(
        "both", description="Which report API the results go to: wgpolicyk8s.io PolicyReports, OpenReports "
                            "(openreports.io Report/ClusterReport), or both (OpenReports written when served).")
    admission_policies_enabled: bool = Field(
        True, description="Write ValidatingAdmissionPolicies and bindings in enforce mode (chart: "
                          "features.admissionPolicies); off, the operator's own refusal and Pod Security labels remain.")
    prometheus_url: str | None = Field(
        None, description="Prometheus query endpoint (http(s)://host:port) the channel reconciler reads gated "
                          "canaries' burn rates from; unset, a gated canary stays at weight 0.")
    prometheus_namespace: str = Field(
        "monitoring", description="Namespace of the Prometheus that scrapes capabilities with spec.slo (their "
                                  "NetworkPolicy admits it on the capability's port).")
    monitoring_labels: dict[str, str] = Field(
        default_factory=dict, description="Labels put on rendered ServiceMonitors and PrometheusRules so that "
                                          "a Prometheus selects them, e.g. {\"release\": \"kube-prometheus-stack\"}.")
    admission_failure_policy: Literal["Fail", "Ignore"] = Field(
        "Fail", description="failurePolicy of the ValidatingAdmissionPolicies of enforce mode: Fail refuses a "
                            "Pod or Deployment the check cannot evaluate, Ignore admits it (inside the policy's "
                            "reach only; protected namespaces are never covered).")
    admission_protected_namespaces: list[str] = Field(
        default_factory=list, description="Namespaces that enforced admission never covers, besides kube-system, "
                                          "kube-public, kube-node-lease and Finplane's own (pod_namespace).")
    pod_namespace: str | None = Field(
        None, description="The namespace Finplane runs in (the chart sets it from the pod); never covered by "
                          "enforced admission.")
    aws_region: str | None = Field(None, description="Default AWS region for ECR and S3.")
    aws_endpoint_url: str | None = Field(None, description="AWS endpoint override (tests: moto server).")
    evidence_dir: str = Field(".finplane/evidence", description="Local folder of the evidence log.")
    evidence_s3_bucket: str | None = Field(None, description="S3 bucket (Object Lock) to ship evidence to.")
    evidence_key_file: str | None = Field(
        None, description="Ed25519 key that signs evidence entries (on a cluster, a mounted Secret); unset: "
                          "keys/evidence-ed25519.pem in evidence_dir, generated when absent.")
    backoff_seconds: float = Field(5.0, gt=0, description="First retry delay after a temporary error.")
    backoff_max_seconds: float = Field(300.0, gt=0, description="Longest retry delay.")
    forbidden_report_after: int = Field(
        3, ge=1, description="After this many attempts refused with 403, report Ready=False/Forbidden (retries go on).")
    peering_lifetime_seconds: int = Field(
        60, ge=5, description="kopf peering keep-alive lifetime: a killed active replica is replaced after this long.")
    watch_inactivity_seconds: float = Field(
        70.0, gt=0, description="A watch stream silent this long (no event, no bookmark) is re-established.")
    watch_liveness_seconds: float = Field(
        150.0, gt=0, description="/healthz fails while no watch stream delivered anything for this long.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests call `get_settings.cache_clear()` after changing the env)."""
    return Settings()
