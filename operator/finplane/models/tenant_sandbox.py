"""The TenantSandbox custom resource: an isolated, expiring sandbox for an external partner.

Cluster-scoped; it owns its namespace. The sandbox renderer turns a `TenantSandboxSpec` into
Namespace, ResourceQuota, LimitRange, NetworkPolicies, Role/RoleBinding, pull secret wiring
and the partner credential; the reconciler writes a `TenantSandboxStatus` whose `phase` is
only a display value derived from the conditions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints, field_validator, model_validator

from finplane.models.common import (
    AWS_ROLE_ARN,
    ClusterCapabilityRef,
    Condition,
    DnsLabel,
    DnsSubdomain,
    Quantity,
    SpecModel,
    StatusModel,
    cel,
    check_unique,
    list_map,
    list_set,
)

__all__ = [
    "MAX_TTL_SECONDS",
    "RESERVED_MEMBER_PREFIX",
    "CredentialRef",
    "Member",
    "MemberKind",
    "Partner",
    "Quota",
    "SandboxPhase",
    "TeardownReport",
    "TenantSandboxSpec",
    "TenantSandboxStatus",
    "Tier",
]

#: Schema-level ceiling of ttlSeconds (366 days); the platform's own maximum is a setting.
MAX_TTL_SECONDS = 366 * 24 * 3600


class Tier(StrEnum):
    """Quota preset of a sandbox."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class MemberKind(StrEnum):
    """Kind of RBAC subject."""

    USER = "User"
    GROUP = "Group"


class SandboxPhase(StrEnum):
    """Display phase derived from the conditions."""

    PROVISIONING = "Provisioning"
    ACTIVE = "Active"
    EXPIRING = "Expiring"
    EXPIRED = "Expired"
    FAILED = "Failed"


class Partner(SpecModel):
    """The external partner using the sandbox."""

    name: DnsLabel = Field(description="Short partner identifier; becomes the finplane.io/partner label.")
    organisation: str = Field(min_length=1, max_length=256, description="Legal name of the partner.")
    contact: str = Field(min_length=1, max_length=254, description="E-mail address of the partner's contact.")


class Quota(SpecModel):
    """Explicit quota values; each one set overrides the tier's preset."""

    requests_cpu: Quantity | None = Field(default=None, description="Total CPU requests.")
    requests_memory: Quantity | None = Field(default=None, description="Total memory requests.")
    limits_cpu: Quantity | None = Field(default=None, description="Total CPU limits.")
    limits_memory: Quantity | None = Field(default=None, description="Total memory limits.")
    requests_storage: Quantity | None = Field(default=None, description="Total storage requests.")
    pods: int | None = Field(default=None, ge=0, le=10000, description="Maximum number of pods.")
    services: int | None = Field(default=None, ge=0, le=1000, description="Maximum number of Services.")
    secrets: int | None = Field(default=None, ge=0, le=1000, description="Maximum number of Secrets.")
    config_maps: int | None = Field(default=None, ge=0, le=1000, description="Maximum number of ConfigMaps.")
    persistent_volume_claims: int | None = Field(default=None, ge=0, le=1000,
                                                 description="Maximum number of PersistentVolumeClaims.")
    api_requests_per_second: int | None = Field(default=None, ge=1, le=100000,
                                                description="Partner API calls per second on open-api routes.")
    api_requests_per_day: int | None = Field(default=None, ge=1, le=1000000000,
                                             description="Partner API calls per day on open-api routes.")


#: Names the API server reserves for itself (`system:masters` is cluster-admin, `system:authenticated` is every
#: signed-in user, `system:serviceaccount:...` are workloads): never a sandbox member.
RESERVED_MEMBER_PREFIX = "system:"


class Member(SpecModel):
    """A user or group allowed to manage workloads in the sandbox namespace."""

    # The CRD refuses system: names (CEL); the sandbox reconciler refuses them again (render.sandbox.member_problem)
    # for objects stored before the rule. Not a model validator: the platform API reports them with its own rule.
    model_config = ConfigDict(json_schema_extra=cel(
        (f"!self.name.startsWith('{RESERVED_MEMBER_PREFIX}')",
         f"members may not be {RESERVED_MEMBER_PREFIX} names: the API server reserves them "
         "(system:masters is cluster-admin, system:authenticated is everyone)"),
    ))

    kind: MemberKind = Field(description="User or Group.")
    name: str = Field(min_length=1, max_length=253,
                      description="User or group name as the API server sees it; never a system: name.")


class TenantSandboxSpec(SpecModel):
    """Desired state of a partner sandbox."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("has(self.ttlSeconds) != has(self.expiresAt)", "set exactly one of ttlSeconds and expiresAt"),
    ))

    partner: Partner = Field(description="The partner.")
    tier: Tier = Field(default=Tier.SMALL, description="Quota preset: small, medium or large.")
    quota: Quota | None = Field(default=None, description="Explicit values overriding the tier's preset.")
    members: list[Member] = Field(default_factory=list, max_length=64, json_schema_extra=list_map("kind", "name"),
                                  description="Users and groups that manage workloads in the sandbox.")
    allowed_capabilities: list[ClusterCapabilityRef] = Field(
        default_factory=list, max_length=32, json_schema_extra=list_map("namespace", "name"),
        description="Capabilities the sandbox may call; all other egress except DNS is denied.",
    )
    registry_ref: DnsSubdomain | None = Field(default=None,
                                              description="ImageRegistry providing the sandbox's pull secret.")
    allowed_images: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9*][a-zA-Z0-9._:/@*+-]*$",
                                                          max_length=512)]] = Field(
        default_factory=list, max_length=32, json_schema_extra=list_set(),
        description="Image patterns the sandbox may run; * matches any characters.",
    )
    ttl_seconds: int | None = Field(default=None, ge=1, le=MAX_TTL_SECONDS,
                                    description="Lifetime counted from creation; exclusive with expiresAt.")
    expires_at: AwareDatetime | None = Field(default=None,
                                             description="Expiry time (RFC 3339); exclusive with ttlSeconds.")
    expiry_warning_seconds: int | None = Field(
        default=None, ge=0, le=MAX_TTL_SECONDS,
        description="How long before expiry the sandbox turns Expiring; defaults to the platform's setting.")
    credential_rotation: int = Field(default=0, ge=0, le=1000000,
                                     description="Increase to replace the partner API credential.")
    aws_role_arn: str | None = Field(default=None, pattern=AWS_ROLE_ARN, max_length=2048,
                                     description="IAM role whose ECR pull token the sandbox gets "
                                                 "(least privilege per partner).")

    @field_validator("members")
    @classmethod
    def _unique_members(cls, value: list[Member]) -> list[Member]:
        return check_unique(value, key=lambda m: (m.kind, m.name), what="member")

    @field_validator("allowed_capabilities")
    @classmethod
    def _unique_capabilities(cls, value: list[ClusterCapabilityRef]) -> list[ClusterCapabilityRef]:
        return check_unique(value, key=lambda c: (c.namespace, c.name), what="allowed capability")

    @field_validator("expires_at")
    @classmethod
    def _representable(cls, value: datetime | None) -> datetime | None:
        """An instant Python's datetime can hold in UTC, with room for the warning window before it.

        `9999-12-31T23:59:59-23:59` is valid RFC 3339 but is in the year 10000 in UTC: without this every
        pass failed with "date value out of range" and retried forever with no condition.
        """
        if value is None:
            return None
        try:
            value.astimezone(UTC) - timedelta(seconds=MAX_TTL_SECONDS)
        except OverflowError:
            raise ValueError("expiresAt is out of range: it must lie between the years 0002 and 9999 in UTC") \
                from None
        return value

    @model_validator(mode="after")
    def _one_expiry(self) -> TenantSandboxSpec:
        if (self.ttl_seconds is None) == (self.expires_at is None):
            raise ValueError("set exactly one of ttlSeconds and expiresAt")
        return self

    def expiry(self, *, created: datetime) -> datetime:
        """When the sandbox expires, given its creation time (metadata.creationTimestamp)."""
        if self.expires_at is not None:
            return self.expires_at
        return created + timedelta(seconds=self.ttl_seconds or 0)


class CredentialRef(StatusModel):
    """Where the partner API credential is stored (never the credential itself)."""

    name: str = Field(max_length=253, description="Name of the Secret.")
    namespace: str = Field(max_length=63, description="Namespace of the Secret.")
    key: str = Field(default="api-key", max_length=253, description="Key of the credential in the Secret.")


class TeardownReport(StatusModel):
    """What happened when the sandbox was torn down."""

    time: str = Field(max_length=64, json_schema_extra={"format": "date-time"}, description="When.")
    reason: str = Field(max_length=1024, description="Expired or Deleted.")
    removed: list[Annotated[str, StringConstraints(max_length=512)]] = Field(
        default_factory=list, max_length=256, description="Objects removed, as Kind/namespace/name.")


class TenantSandboxStatus(StatusModel):
    """Observed state of a partner sandbox."""

    observed_generation: int | None = Field(default=None, ge=0,
                                            description="The metadata.generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, max_length=16, json_schema_extra=list_map("type"),
                                        description="Ready, Expiring, Expired and Compliant.")
    phase: SandboxPhase | None = Field(default=None, description="Display value derived from the conditions.")
    namespace: str | None = Field(default=None, max_length=63, description="The sandbox's namespace.")
    expires_at: str | None = Field(default=None, max_length=64, json_schema_extra={"format": "date-time"},
                                   description="When the sandbox expires.")
    credential_secret_ref: CredentialRef | None = Field(default=None,
                                                        description="Secret holding the partner API credential.")
    credential_hash: str | None = Field(default=None, pattern=r"^sha256:[a-f0-9]{64}$", max_length=71,
                                        description="SHA-256 of the current credential.")
    credential_fingerprint: str | None = Field(default=None, max_length=32,
                                               description="Short fingerprint of the credential for humans.")
    credential_rotation: int | None = Field(default=None, ge=0,
                                            description="The spec.credentialRotation the credential was made for.")
    teardown: TeardownReport | None = Field(default=None, description="Set once the sandbox is torn down.")
