"""Request and response bodies of the API (the OpenAPI document is generated from these).

Named after the full-stack FastAPI template: ``XCreate`` (request), ``XUpdate``, ``XPublic``
(response). Specs are passed through as the CRD's camelCase objects and validated against the
kind's pydantic model by the services, so the API and the CRD never disagree.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from finplane.models.compliance_policy import RiskRating, RuleId, SelectableKind
from platform_api.security import Timestamp

__all__ = [
    "CapabilityCreate", "CapabilityPublic", "CapabilityUpdate", "CatalogDetail", "CatalogEntry", "ChannelCreate",
    "ChannelPublic", "ChannelUpdate", "CredentialPublic", "DependencyRef", "EvidenceBundle", "EvidencePublicKey",
    "EvidenceVerification",
    "ExtensionRequest", "NAME_PATTERN", "Page", "PolicyPublic", "PreviewPublic", "RefusedObject", "ResultPublic",
    "SandboxCreate", "SandboxDecision", "SandboxPublic", "SandboxUpdate", "WaiverCreate", "WaiverObject", "WaiverPublic",
]

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
Name = Field(pattern=NAME_PATTERN, min_length=1, max_length=63, description="A DNS-1123 label.")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    nextCursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end.")


class CapabilityCreate(_Body):
    name: str = Name
    spec: dict[str, Any] = Field(description="A BusinessCapability spec (camelCase, as in the CRD).")


class CapabilityUpdate(_Body):
    spec: dict[str, Any] = Field(description="The complete new spec.")


class CapabilityPublic(BaseModel):
    name: str
    namespace: str
    team: str | None
    resourceVersion: str
    spec: dict[str, Any]
    status: dict[str, Any]
    ready: bool | None


class DependencyRef(BaseModel):
    namespace: str
    name: str
    exists: bool
    ready: bool | None


class PartnerUsageRow(BaseModel):
    sandbox: str
    requestsPerSecond: float
    requestsLast30Days: int


class PartnerUsageSummary(BaseModel):
    scope: Literal["partner"] = Field(description="The figures are per partner, over every route it calls.")
    source: dict[str, str]
    partners: list[PartnerUsageRow]


class CatalogEntry(BaseModel):
    name: str
    namespace: str
    team: str | None
    domain: str | None
    description: str | None
    version: str | None
    classification: str | None
    ready: bool | None
    compliant: bool | None
    channels: list[str]
    partnerUsage: PartnerUsageSummary | None = Field(
        default=None, description="Present only when a usage source (FINPLANE_API_PROMETHEUS_URL) is configured and "
                                  "answers: the metered usage of each partner sandbox that may call the capability.")


class CatalogDetail(CatalogEntry):
    dependsOn: list[DependencyRef]
    dependedOnBy: list[DependencyRef]


class ChannelCreate(_Body):
    name: str = Name
    spec: dict[str, Any] = Field(description="A Channel spec (camelCase, as in the CRD).")


class ChannelUpdate(_Body):
    spec: dict[str, Any]


class ChannelPublic(BaseModel):
    name: str
    type: str | None
    resourceVersion: str
    spec: dict[str, Any]
    status: dict[str, Any]


class SandboxCreate(_Body):
    name: str = Name
    spec: dict[str, Any] = Field(description="A TenantSandbox spec; a partner's own name is filled in.")
    termsAccepted: bool = Field(description="The partner accepts the sandbox terms; must be true.")


class SandboxUpdate(_Body):
    spec: dict[str, Any] = Field(description="The complete new TenantSandbox spec of a pending request (admin).")


class SandboxDecision(_Body):
    comment: str | None = Field(default=None, max_length=1024)


class PromotionRequest(_Body):
    capabilities: list[str] = Field(min_length=1, max_length=64, description="namespace/name of the sandbox's "
                                    "allowed capabilities to open in production.")
    tier: str | None = Field(default=None, max_length=32, description="The production quota tier (default: the "
                             "sandbox's tier).")


class ExtensionRequest(_Body):
    expiresAt: Timestamp = Field(description="The new expiry (RFC 3339, with a time zone).", max_length=64)
    reason: str = Field(min_length=1, max_length=1024)


class CredentialPublic(BaseModel):
    fingerprint: str | None
    value: str | None = Field(default=None, description="The API key itself: present in exactly one response.")
    shown: bool = Field(description="True once the key has been handed out.")


class SandboxPublic(BaseModel):
    name: str
    partner: str | None
    approval: Literal["pending", "approved", "rejected"]
    requestedBy: str | None
    amendedBy: str | None = Field(default=None, description="The admin who changed the pending request.")
    decidedBy: str | None
    phase: str | None
    namespace: str | None
    expiresAt: str | None
    resourceVersion: str
    etag: str = Field(description="The review tag: send it as If-Match to approve, reject or amend what you read.")
    spec: dict[str, Any]
    platformFields: list[str] = Field(default_factory=list,
                                      description="Platform-only fields the spec sets (an admin set them).")
    conditions: list[dict[str, Any]]
    credential: CredentialPublic | None
    extensionRequest: dict[str, Any] | None
    promotion: dict[str, Any] | None = Field(default=None, description="Production access: state, capabilities, "
                                             "tier, who requested, decided and revoked it; once approved, productionCredential "
                                             "{value, shown}: the production key, present in exactly one response "
                                             "to the partner the sandbox names.")


class PolicyPublic(BaseModel):
    name: str
    mode: str | None
    resourceVersion: str
    spec: dict[str, Any]
    status: dict[str, Any]


class ResultPublic(BaseModel):
    policy: str | None
    rule: str | None
    result: str | None
    severity: str | None
    category: str | None
    message: str | None
    namespace: str | None
    resources: list[dict[str, Any]]
    team: str | None
    timestamp: Any = None
    properties: dict[str, str] = Field(default_factory=dict)


class WaiverObject(_Body):
    """Objects a waiver covers (the CompliancePolicy's ``ObjectRef``): a kind, optionally a namespace and a name."""

    kind: SelectableKind
    namespace: str | None = Field(default=None, pattern=NAME_PATTERN, max_length=63)
    name: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)


class WaiverCreate(_Body):
    """A waiver request; on approval it becomes an entry of the policy's ``spec.waivers`` (the CRD's shape)."""

    policy: str = Field(min_length=1, max_length=253)
    rule: RuleId = Field(description="The waived rule's id (the CRD's ruleId).")
    resources: list[WaiverObject] = Field(min_length=1, max_length=32,
                                          description="Objects covered (the CRD's objects).")
    justification: str = Field(min_length=10, max_length=2048)
    risk: RiskRating = Field(description="Residual risk accepted (the CRD's riskRating).")
    ticket: str = Field(min_length=1, max_length=256)
    expiresAt: Timestamp = Field(max_length=64, description="RFC 3339 with a time zone.")


class WaiverPublic(BaseModel):
    id: str
    policy: str
    state: Literal["pending", "approved", "rejected", "withdrawn"]
    rule: str
    requestedBy: str
    team: str | None = Field(default=None, description="The requesting team (pending requests; null for admins).")
    approver: str | None = None
    expiresAt: str
    details: dict[str, Any]


class RefusedObject(BaseModel):
    kind: str
    namespace: str
    name: str
    team: str | None
    channels: list[str] = Field(description="Channels routing to it (they would lose the route).")
    violations: list[dict[str, str]] = Field(description="{rule, message} of every enforced rule it breaks.")


class AdmissionReach(BaseModel):
    """The ValidatingAdmissionPolicy enforce mode would apply, and how far it reaches."""

    name: str = Field(description="The ValidatingAdmissionPolicy's name (finplane-<policy>).")
    rendered: bool = Field(description="False when no enabled rule is checkable at admission (see note).")
    failurePolicy: str = Field(description="Fail or Ignore (the operator's admission_failure_policy setting).")
    rules: list[str] = Field(description="The rules admission checks; the others are enforced by refusal.")
    resources: list[str] = Field(description="The resources it intercepts (pods, deployments).")
    excludedNamespaces: list[str] = Field(description="Namespaces it never covers, whatever the policy selects.")
    namespaceSelector: dict[str, Any] | None = Field(description="The binding's namespace selector.")
    objectSelector: dict[str, Any] | None = Field(description="The object selector (labels, classifications).")
    namespaces: list[str] | None = Field(
        description="Namespaces it reaches today; null here (the API does not read namespaces: the CLI lists them).")
    note: str


class PreviewPublic(BaseModel):
    """What switching the policy to enforce would refuse (``finplane compliance preview``)."""

    policy: str
    mode: str
    evaluated: int = Field(description="Capabilities evaluated.")
    refused: list[RefusedObject]
    teams: list[str]
    channels: list[str]
    admission: AdmissionReach = Field(description="The admission policy's reach in enforce mode.")


class EvidenceVerification(BaseModel):
    """The evidence chain's verification (``finplane evidence verify``)."""

    present: bool = Field(description="False when no evidence has been recorded yet.")
    ok: bool
    entries: int = Field(description="Entries verified (before the broken line, if any).")
    head: str = Field(description="Hash of the last verified entry (64 zeros for an empty chain).")
    badLine: int | None = Field(description="The first line that fails verification.")
    reason: str
    anchors: list[str] = Field(default_factory=list, description="The heads recorded outside the log that it reaches.")
    notes: list[str] = Field(default_factory=list, description="A torn last line, or that nothing anchored the log.")


class EvidencePublicKey(BaseModel):
    """The key evidence entries are signed with (``finplane evidence public-key``)."""

    kid: str = Field(description="Key id: the first 16 hex digits of the SHA-256 of the raw public key.")
    algorithm: str
    pem: str = Field(description="The public key, PEM (SubjectPublicKeyInfo).")


class EvidenceBundle(BaseModel):
    """The point-in-time bundle (``finplane evidence export``'s bundle.json)."""

    model_config = ConfigDict(populate_by_name=True)

    generatedAt: str
    from_: str = Field(alias="from")
    to: str
    team: str | None
    chainVerified: bool
    chainHead: str
    chainHeadAtTo: str | None = Field(description="Head of the chain as it stood at `to`.")
    brokenAtLine: int | None
    stateAtTo: list[dict[str, Any]] = Field(description="The last result of every object and rule at `to`.")
    entries: list[dict[str, Any]] = Field(description="Entries recorded between `from` and `to`.")
