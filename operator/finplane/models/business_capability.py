"""The BusinessCapability custom resource: a team's reusable business service (payments, KYC...).

Namespaced; the namespace belongs to the owning team. The renderer turns a
`BusinessCapabilitySpec` into ServiceAccount, Deployment, Service, PodDisruptionBudget, HPA and
NetworkPolicies; the reconciler writes a `BusinessCapabilityStatus`. Rules the schema cannot say
(dependency cycles, image references that do not parse, limits below requests) are checked by
the operator and reported as conditions, not here.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from finplane.models.common import (
    CapabilityRef,
    Condition,
    ConditionStatus,
    Criticality,
    DataClassification,
    DnsLabel,
    DnsSubdomain,
    EnvName,
    Quantity,
    SecretKeyRef,
    SpecModel,
    StatusModel,
    cel,
    check_unique,
    list_map,
    list_set,
)
from finplane.models.slo import ServiceLevelObjectives

__all__ = [
    "IMAGE_PATTERN",
    "AllowedCallers",
    "Autoscaling",
    "BusinessCapabilitySpec",
    "BusinessCapabilityStatus",
    "ChannelExposure",
    "ConfigEntry",
    "Owner",
    "ResourceList",
    "Resources",
    "SecretEnv",
]

#: Characters an image reference may use; the full parse (tag, digest) is the operator's job,
#: so that a reference that does not parse gets a precise condition rather than a bare 422.
IMAGE_PATTERN = r"^[a-z0-9][a-zA-Z0-9._:/@+-]*$"


class Owner(SpecModel):
    """The team that owns the capability and how to reach it."""

    team: DnsLabel = Field(description="Owning team; becomes the finplane.io/team label.")
    contact: str = Field(description="E-mail address or chat channel of the owning team.",
                         min_length=1, max_length=254)


class Autoscaling(SpecModel):
    """Horizontal autoscaling on CPU; when set, it replaces spec.replicas."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("self.minReplicas <= self.maxReplicas", "minReplicas must not exceed maxReplicas"),
    ))

    min_replicas: int = Field(default=2, ge=1, le=100, description="Lowest number of replicas.")
    max_replicas: int = Field(ge=1, le=100, description="Highest number of replicas.")
    target_cpu_utilization_percentage: int = Field(
        default=70, ge=1, le=100, alias="targetCPUUtilizationPercentage",
        description="Average CPU utilisation (percent of requests) to aim for.",
    )

    @model_validator(mode="after")
    def _min_below_max(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError("minReplicas must not exceed maxReplicas")
        return self


class ResourceList(SpecModel):
    """CPU and memory quantities."""

    cpu: Quantity | None = Field(default=None, description="CPU, for example 250m or 1.")
    memory: Quantity | None = Field(default=None, description="Memory, for example 256Mi.")


class Resources(SpecModel):
    """Compute resources of each replica; platform defaults fill what is left out."""

    requests: ResourceList | None = Field(default=None, description="Guaranteed resources.")
    limits: ResourceList | None = Field(default=None, description="Upper bounds (must not be below requests).")


class ConfigEntry(SpecModel):
    """A plain (non-secret) configuration value, passed as an environment variable."""

    name: EnvName = Field(description="Environment variable name.")
    value: str = Field(default="", description="The value.", max_length=4096)


class SecretEnv(SpecModel):
    """An environment variable taken from a Secret in the capability's namespace."""

    name: EnvName = Field(description="Environment variable name.")
    secret_ref: SecretKeyRef = Field(description="The Secret and key holding the value.")


class AllowedCallers(SpecModel):
    """Who may call the capability beyond its own namespace and team (the callee consents, callers never take).

    A capability in the same namespace, or in a namespace of the same Team, is always admitted. Anything
    else must be named here; a caller that is not gets only its own egress and reports CallerNotAllowed.
    """

    teams: list[DnsLabel] = Field(default_factory=list, max_length=64, json_schema_extra=list_set(),
                                  description="Teams whose capabilities may call this one.")
    namespaces: list[DnsLabel] = Field(default_factory=list, max_length=64, json_schema_extra=list_set(),
                                       description="Namespaces whose capabilities may call this one.")
    capabilities: list[CapabilityRef] = Field(default_factory=list, max_length=64,
                                              description="Individual capabilities that may call this one "
                                                          "(namespace defaults to this capability's).")
    sandboxes: bool | None = Field(
        default=None, description="Whether approved, provisioned partner sandboxes listing this capability in "
                                  "spec.allowedCapabilities may call it. Unset: yes, unless the data "
                                  "classification is restricted (restricted capabilities must say true).")


class BusinessCapabilitySpec(SpecModel):
    """Desired state of a business capability."""

    owner: Owner = Field(description="The owning team.")
    domain: DnsLabel = Field(description="Business domain, for example payments or onboarding; "
                                         "becomes the finplane.io/domain label.")
    description: str | None = Field(default=None, max_length=1024, description="What the capability does.")
    image: str = Field(description="Container image, by tag or digest, "
                                   "e.g. registry.finplane.local/payments/payments-api:1.4.2.",
                       pattern=IMAGE_PATTERN, max_length=512)
    version: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$", max_length=63)] | None = (
        Field(default=None, description="Version shown in the catalog and the app.kubernetes.io/version "
                                        "label; defaults to the image tag."))
    replicas: int = Field(default=2, ge=0, le=100,
                          description="Number of replicas; ignored when autoscaling is set.")
    autoscaling: Autoscaling | None = Field(default=None, description="Autoscale instead of fixed replicas.")
    resources: Resources | None = Field(default=None, description="CPU and memory requests and limits.")
    port: int = Field(default=8080, ge=1, le=65535, description="Container port serving HTTP.")
    health_path: str = Field(default="/healthz", pattern=r"^/[^\s?#]*$", max_length=256,
                             description="HTTP path of the liveness and readiness probes.")
    config: list[ConfigEntry] = Field(default_factory=list, max_length=64, json_schema_extra=list_map(),
                                      description="Plain configuration as environment variables.")
    secret_refs: list[SecretEnv] = Field(default_factory=list, max_length=64, json_schema_extra=list_map(),
                                         description="Environment variables taken from Secrets.")
    data_classification: DataClassification = Field(
        default=DataClassification.INTERNAL, description="Most sensitive class of data the capability handles.",
    )
    criticality: Criticality = Field(default=Criticality.MEDIUM, description="Business criticality.")
    dependencies: list[CapabilityRef] = Field(
        default_factory=list, max_length=32,
        description="Capabilities this one calls; egress is allowed to them only (plus DNS).",
    )
    registry_ref: DnsSubdomain | None = Field(
        default=None, description="Name of the ImageRegistry whose pull secret the pods use; the registry must "
                                  "grant the capability's team (spec.allowedTeams) and serve its image.",
    )
    allowed_callers: AllowedCallers | None = Field(
        default=None, description="Callers admitted beyond the same namespace and team; unset admits no other "
                                  "team (and partner sandboxes only when not restricted).",
    )
    slo: ServiceLevelObjectives | None = Field(
        default=None, description="Service-level objectives: rendered to a ServiceMonitor and a PrometheusRule "
                                  "whose burn-rate alerts carry the owner's team and contact (docs/slo.md).",
    )

    @field_validator("config")
    @classmethod
    def _unique_config(cls, value: list[ConfigEntry]) -> list[ConfigEntry]:
        return check_unique(value, key=lambda e: e.name, what="config name")

    @field_validator("secret_refs")
    @classmethod
    def _unique_secret_refs(cls, value: list[SecretEnv]) -> list[SecretEnv]:
        return check_unique(value, key=lambda e: e.name, what="secretRefs name")

    @model_validator(mode="after")
    def _env_names_distinct(self) -> BusinessCapabilitySpec:
        clash = {e.name for e in self.config} & {e.name for e in self.secret_refs}
        if clash:
            raise ValueError(f"environment variables set both in config and secretRefs: {sorted(clash)}")
        return self


class ChannelExposure(StatusModel):
    """A channel route that sends traffic to this capability."""

    channel: str = Field(description="Name of the Channel.", max_length=253)
    route: str = Field(description="Name of the route in that channel.", max_length=63)
    url: str | None = Field(default=None, description="Public URL of the route.", max_length=2048)
    canary: bool = Field(default=False, description="True when this capability is the route's canary.")


class BusinessCapabilityStatus(StatusModel):
    """Observed state of a business capability."""

    observed_generation: int | None = Field(default=None, ge=0,
                                            description="The metadata.generation last reconciled.")
    conditions: list[Condition] = Field(
        default_factory=list, max_length=16, json_schema_extra=list_map("type"),
        description="Ready, Progressing, DependenciesReady, ImagePullAccess, Compliant, SLORulesWritten (with "
                    "spec.slo) and the kstatus pair Reconciling and Stalled.",
    )
    replicas: int | None = Field(default=None, ge=0, description="Desired replicas.")
    ready_replicas: int | None = Field(default=None, ge=0, description="Replicas ready to serve.")
    image: str | None = Field(default=None, max_length=512, description="Image of the current rollout.")
    endpoint: str | None = Field(default=None, max_length=512,
                                 description="In-cluster URL, e.g. http://payments-api.payments.svc:8080.")
    exposed_on: list[ChannelExposure] = Field(default_factory=list, max_length=256,
                                              description="Channel routes that expose this capability.")

    def condition(self, type_: str) -> Condition | None:
        """The condition of this type, if any."""
        return next((c for c in self.conditions if c.type == type_), None)

    @property
    def ready(self) -> bool:
        """Whether the Ready condition is True."""
        c = self.condition("Ready")
        return c is not None and c.status == ConditionStatus.TRUE
