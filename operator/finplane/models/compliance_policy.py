"""The CompliancePolicy custom resource: rules from the built-in library, waivers, evidence.

Cluster-scoped. The policy engine (`finplane.policy`) evaluates the selected objects against a
`CompliancePolicySpec`'s enabled rules, honours unexpired waivers, writes PolicyReports and the
evidence log, and reports a `CompliancePolicyStatus`. Rule parameters are free-form here; each
rule of the library validates its own parameters and reports bad ones as a condition.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from finplane.models.common import (
    Condition,
    DataClassification,
    DnsLabel,
    DnsSubdomain,
    LabelSelector,
    Severity,
    SpecModel,
    StatusModel,
    cel,
    check_unique,
    list_map,
    list_set,
)

__all__ = [
    "EvidenceSpec",
    "EvidenceStatus",
    "CompliancePolicySpec",
    "CompliancePolicyStatus",
    "Mode",
    "ObjectRef",
    "PolicyRule",
    "PolicySelector",
    "RiskRating",
    "RuleId",
    "RuleSummary",
    "S3Evidence",
    "SelectableKind",
    "Waiver",
]


class Mode(StrEnum):
    """audit records results only; enforce also renders native enforcement and refuses violations."""

    AUDIT = "audit"
    ENFORCE = "enforce"


class RuleId(StrEnum):
    """Stable ids of the built-in rule library."""

    ALLOWED_REGISTRIES = "allowed-registries"
    IMAGE_DIGEST_PINNED = "image-digest-pinned"
    NO_LATEST_TAG = "no-latest-tag"
    RUN_AS_NON_ROOT = "run-as-non-root"
    NO_PRIVILEGE_ESCALATION = "no-privilege-escalation"
    READ_ONLY_ROOT_FILESYSTEM = "read-only-root-filesystem"
    RESOURCE_LIMITS_SET = "resource-limits-set"
    DEFAULT_DENY_NETWORK = "default-deny-network"
    DATA_CLASSIFICATION_ISOLATION = "data-classification-isolation"
    MINIMUM_REPLICAS = "minimum-replicas"
    OWNER_LABELS_PRESENT = "owner-labels-present"
    SANDBOX_MAX_LIFETIME = "sandbox-max-lifetime"
    SANDBOX_QUOTA_PRESENT = "sandbox-quota-present"


class SelectableKind(StrEnum):
    """Kinds a policy can select."""

    BUSINESS_CAPABILITY = "BusinessCapability"
    TENANT_SANDBOX = "TenantSandbox"
    CHANNEL = "Channel"
    IMAGE_REGISTRY = "ImageRegistry"
    DEPLOYMENT = "Deployment"
    POD = "Pod"


class RiskRating(StrEnum):
    """Residual risk accepted by a waiver."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class PolicySelector(SpecModel):
    """Which objects the policy applies to; every part given must match, empty parts match all."""

    namespaces: list[DnsLabel] = Field(default_factory=list, max_length=256, json_schema_extra=list_set(),
                                       description="Only objects in these namespaces.")
    namespace_selector: LabelSelector | None = Field(default=None,
                                                     description="Only objects in namespaces with these labels.")
    label_selector: LabelSelector | None = Field(default=None, description="Only objects with these labels.")
    data_classifications: list[DataClassification] = Field(
        default_factory=list, max_length=4, json_schema_extra=list_set(),
        description="Only objects with these data classifications.",
    )
    kinds: list[SelectableKind] = Field(default_factory=list, max_length=6, json_schema_extra=list_set(),
                                        description="Only these kinds.")


#: Free-form rule parameters: kept as given, checked by the rule itself.
Parameters = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
]


class PolicyRule(SpecModel):
    """One rule of the built-in library, with its parameters."""

    id: RuleId = Field(description="Rule id from the built-in library (see the rule reference).")
    enabled: bool = Field(default=True, description="Set to false to keep the rule listed but not evaluated.")
    severity: Severity | None = Field(default=None, description="Severity of violations; defaults to the rule's own.")
    parameters: Parameters = Field(
        default_factory=dict,
        description="Rule parameters, e.g. {registries: [...]} for allowed-registries, {minReplicas: 2} for "
                    "minimum-replicas, {maxSeconds: 2592000} for sandbox-max-lifetime.",
    )


class ObjectRef(SpecModel):
    """Objects covered by a waiver: a kind, optionally narrowed to a namespace and a name."""

    kind: SelectableKind = Field(description="Kind of the objects.")
    namespace: DnsLabel | None = Field(default=None, description="Namespace; omit for every namespace.")
    name: DnsSubdomain | None = Field(default=None, description="Name; omit for every object of the kind.")


_Identity = Annotated[str, StringConstraints(min_length=1, max_length=253)]


class Waiver(SpecModel):
    """An approved, expiring exception to one rule for some objects."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("self.requestedBy != self.approvedBy", "a waiver must be approved by someone other than its requester"),
    ))

    name: DnsLabel = Field(description="Waiver name, unique in the policy.")
    rule_id: RuleId = Field(description="The waived rule.")
    objects: list[ObjectRef] = Field(min_length=1, max_length=32, description="Objects the waiver covers.")
    justification: str = Field(min_length=10, max_length=2048, description="Why the exception is acceptable.")
    risk_rating: RiskRating = Field(description="Residual risk accepted.")
    requested_by: _Identity = Field(description="Identity that requested the waiver.")
    approved_by: _Identity = Field(description="Identity that approved it (four-eyes: not the requester).")
    ticket: str = Field(min_length=1, max_length=256, description="Change or risk ticket reference.")
    expires_at: AwareDatetime = Field(description="When the waiver stops applying (RFC 3339).")

    @model_validator(mode="after")
    def _four_eyes(self) -> Waiver:
        if self.requested_by == self.approved_by:
            raise ValueError("a waiver must be approved by someone other than its requester")
        return self

    def active(self, *, now: datetime) -> bool:
        """Whether the waiver still applies at `now`."""
        return now < self.expires_at


class S3Evidence(SpecModel):
    """Ship the evidence log to an S3 bucket (with Object Lock in compliance mode)."""

    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="Bucket name.")
    prefix: str = Field(default="finplane/evidence/", max_length=512, pattern=r"^[A-Za-z0-9!_.*'()/-]*$",
                        description="Key prefix of the evidence objects.")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$", max_length=32, description="AWS region.")
    retention_days: int = Field(default=2557, ge=1, le=36500,
                                description="Object Lock retention in days (default about 7 years).")


class EvidenceSpec(SpecModel):
    """Where the evidence log goes besides the local log."""

    s3: S3Evidence | None = Field(default=None, description="S3 with Object Lock.")


class CompliancePolicySpec(SpecModel):
    """Desired state of a compliance policy."""

    mode: Mode = Field(default=Mode.AUDIT, description="audit or enforce.")
    description: str | None = Field(default=None, max_length=1024, description="What the policy is for.")
    selector: PolicySelector = Field(default_factory=PolicySelector, description="Objects the policy applies to.")
    rules: list[PolicyRule] = Field(min_length=1, max_length=32, json_schema_extra=list_map("id"),
                                    description="Rules to evaluate.")
    waivers: list[Waiver] = Field(default_factory=list, max_length=128, json_schema_extra=list_map(),
                                  description="Approved exceptions.")
    evidence: EvidenceSpec | None = Field(default=None, description="Evidence shipping.")

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, value: list[PolicyRule]) -> list[PolicyRule]:
        return check_unique(value, key=lambda r: r.id.value, what="rule id")

    @field_validator("waivers")
    @classmethod
    def _unique_waivers(cls, value: list[Waiver]) -> list[Waiver]:
        return check_unique(value, key=lambda w: w.name, what="waiver name")


class RuleSummary(StatusModel):
    """Result counts of one rule."""

    id: str = Field(max_length=64, description="Rule id.")
    passed: int = Field(default=0, ge=0, alias="pass", description="Objects passing.")
    fail: int = Field(default=0, ge=0, description="Objects failing.")
    skip: int = Field(default=0, ge=0, description="Objects waived.")


class EvidenceStatus(StatusModel):
    """State of the evidence log."""

    head_hash: str | None = Field(default=None, max_length=128, description="Hash of the last entry.")
    queued: int = Field(default=0, ge=0, description="Entries waiting to be shipped.")
    last_shipped_time: str | None = Field(default=None, max_length=64, json_schema_extra={"format": "date-time"},
                                          description="When entries were last shipped.")


class CompliancePolicyStatus(StatusModel):
    """Observed state of a compliance policy."""

    observed_generation: int | None = Field(default=None, ge=0,
                                            description="The metadata.generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, max_length=16, json_schema_extra=list_map("type"),
                                        description="Ready and EvidenceShipped.")
    last_evaluation_time: str | None = Field(default=None, max_length=64, json_schema_extra={"format": "date-time"},
                                             description="When the selected objects were last evaluated.")
    compliant: int = Field(default=0, ge=0, description="Objects passing every rule.")
    violating: int = Field(default=0, ge=0, description="Objects failing at least one rule.")
    waived: int = Field(default=0, ge=0, description="Objects whose failures are all waived.")
    rules: list[RuleSummary] = Field(default_factory=list, max_length=32, json_schema_extra=list_map("id"),
                                     description="Counts per rule.")
    evidence: EvidenceStatus | None = Field(default=None, description="Evidence log state.")
