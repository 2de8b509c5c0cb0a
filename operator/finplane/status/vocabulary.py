"""Finplane's status vocabulary: condition types, condition statuses and reasons, and the one Ready reader.

Pure. The enums are `StrEnum`s, so a member *is* its string: they serialise into status and events
unchanged and compare equal to what is read back from the API server. Reasons that name a problem
found by a pure check (render/*_checks, policy rules) are defined next to that check and are plain
strings of the same CamelCase form; the ones every reconciler shares live here.

`is_ready` is the one "is this object Ready?" reader for the operator (and exported for the platform
API, which still has its own copies; see the report of issue 14).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from finplane.models.common import ConditionStatus  # the models' own enum: one definition

__all__ = ["ConditionStatus", "ConditionType", "Reason", "condition_of", "is_ready", "ready_status"]


class ConditionType(StrEnum):
    READY = "Ready"
    PROGRESSING = "Progressing"
    AVAILABLE = "Available"
    VALID = "Valid"
    DEPENDENCIES_READY = "DependenciesReady"
    IMAGE_PULL_ACCESS = "ImagePullAccess"
    COMPLIANT = "Compliant"
    CREDENTIALS_FRESH = "CredentialsFresh"
    EXPIRING = "Expiring"
    EXPIRED = "Expired"
    REPORTS_WRITTEN = "ReportsWritten"
    ADMISSION_POLICIES_WRITTEN = "AdmissionPoliciesWritten"
    EVIDENCE_SHIPPED = "EvidenceShipped"


class Reason(StrEnum):
    """Reasons shared by the reconcilers (Ready and the per-kind conditions)."""

    # refusals and failures every kind can report
    INVALID_SPEC = "InvalidSpec"
    INVALID_NAME = "InvalidName"
    NAME_CONFLICT = "NameConflict"
    NAMESPACE_CONFLICT = "NamespaceConflict"
    CHILD_REFUSED = "ChildRefused"
    FORBIDDEN = "Forbidden"
    POLICY_VIOLATION = "PolicyViolation"
    RECONCILING = "Reconciling"
    # BusinessCapability
    READY = "Ready"
    VALID = "Valid"
    ROLLOUT_COMPLETE = "RolloutComplete"
    ROLLING_OUT = "RollingOut"
    MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
    REPLICAS_NOT_READY = "ReplicasNotReady"
    DEPENDENCIES_READY = "DependenciesReady"
    DEPENDENCIES_MISSING = "DependenciesMissing"
    DEPENDENCIES_NOT_READY = "DependenciesNotReady"
    NO_REGISTRY = "NoRegistry"
    REGISTRY_NOT_FOUND = "RegistryNotFound"
    # TenantSandbox
    PROVISIONED = "Provisioned"
    PULL_SECRET_MISSING = "PullSecretMissing"
    PULL_SECRET_NOT_WIRED = "PullSecretNotWired"
    PULL_SECRET_PRESENT = "PullSecretPresent"
    EXPIRES_SOON = "ExpiresSoon"
    NOT_EXPIRING = "NotExpiring"
    NOT_EXPIRED = "NotExpired"
    EXPIRED = "Expired"
    TTL_ELAPSED = "TTLElapsed"
    TTL_TOO_LONG = "TTLTooLong"
    # ImageRegistry
    SYNCED = "Synced"
    NAMESPACES_OUT_OF_SYNC = "NamespacesOutOfSync"
    REFRESHED = "Refreshed"
    TOKEN_REPORTED_EXPIRED = "TokenReportedExpired"
    SOURCE_SECRET_UNAVAILABLE = "SourceSecretUnavailable"
    SOURCE_SECRET_INVALID = "SourceSecretInvalid"
    # Channel
    ALL_ROUTES_READY = "AllRoutesReady"
    ROUTES_NOT_READY = "RoutesNotReady"
    # CompliancePolicy
    EVALUATED = "Evaluated"
    DISABLED = "Disabled"
    CRD_MISSING = "CRDMissing"
    REPORT_WRITE_FAILED = "ReportWriteFailed"
    REPORTS_WRITTEN = "ReportsWritten"
    ADMISSION_POLICY_WRITE_FAILED = "AdmissionPolicyWriteFailed"
    WRITTEN = "Written"
    EVIDENCE_STORE_UNREACHABLE = "EvidenceStoreUnreachable"
    SHIPPED = "Shipped"
    # the Compliant condition rolled up onto selected objects
    COMPLIANT = "Compliant"
    COMPLIANT_WITH_WAIVERS = "CompliantWithWaivers"
    RULES_FAILING = "RulesFailing"
    NO_POLICY_SELECTS = "NoPolicySelects"


def condition_of(body: Mapping[str, Any] | None, type_: str) -> Mapping[str, Any] | None:
    """The condition of `type_` in an object's status, or None."""
    for c in ((body or {}).get("status") or {}).get("conditions") or []:
        if isinstance(c, Mapping) and c.get("type") == type_:
            return c
    return None


def ready_status(body: Mapping[str, Any] | None) -> ConditionStatus:
    """The status of the Ready condition ("Unknown" when there is none or it holds something else)."""
    c = condition_of(body, ConditionType.READY)
    value = (c or {}).get("status")
    return ConditionStatus(value) if value in ("True", "False") else ConditionStatus.UNKNOWN


def is_ready(body: Mapping[str, Any] | None) -> bool:
    """The one "is this object Ready?" reader: its Ready condition has status True."""
    return ready_status(body) is ConditionStatus.TRUE
