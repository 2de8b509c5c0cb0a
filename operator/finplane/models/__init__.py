"""Pydantic models of the Finplane custom resources: the single source of truth for the CRD schemas.

Import the spec and status models from here (`from finplane.models import BusinessCapabilitySpec`);
`finplane.models.registry.KINDS` lists the kinds with their CRD names.
"""

from finplane.models.business_capability import BusinessCapabilitySpec, BusinessCapabilityStatus
from finplane.models.channel import ChannelSpec, ChannelStatus
from finplane.models.common import (
    CapabilityRef,
    ClusterCapabilityRef,
    Condition,
    ConditionStatus,
    Criticality,
    DataClassification,
    LabelSelector,
    Severity,
    dump,
)
from finplane.models.compliance_policy import CompliancePolicySpec, CompliancePolicyStatus, Mode, RuleId
from finplane.models.image_registry import ImageRegistrySpec, ImageRegistryStatus, RegistryKind
from finplane.models.registry import KINDS, KindInfo, kind_info
from finplane.models.tenant_sandbox import SandboxPhase, TenantSandboxSpec, TenantSandboxStatus, Tier

__all__ = [
    "KINDS",
    "BusinessCapabilitySpec",
    "BusinessCapabilityStatus",
    "CapabilityRef",
    "ChannelSpec",
    "ChannelStatus",
    "ClusterCapabilityRef",
    "CompliancePolicySpec",
    "CompliancePolicyStatus",
    "Condition",
    "ConditionStatus",
    "Criticality",
    "DataClassification",
    "ImageRegistrySpec",
    "ImageRegistryStatus",
    "KindInfo",
    "LabelSelector",
    "Mode",
    "RegistryKind",
    "RuleId",
    "SandboxPhase",
    "Severity",
    "TenantSandboxSpec",
    "TenantSandboxStatus",
    "Tier",
    "dump",
    "kind_info",
]
