"""The table of Finplane kinds: names, scope, models and printer columns of each CRD.

Callers: `finplane.crdgen` (to generate the CRDs), the handlers (to register one set of
handlers per kind), the kube gateway and the platform API (plural names, scope).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from finplane import GROUP, VERSION
from finplane.models.business_capability import BusinessCapabilitySpec, BusinessCapabilityStatus
from finplane.models.channel import ChannelSpec, ChannelStatus
from finplane.models.compliance_policy import CompliancePolicySpec, CompliancePolicyStatus
from finplane.models.image_registry import ImageRegistrySpec, ImageRegistryStatus
from finplane.models.team import TeamSpec, TeamStatus
from finplane.models.tenant_sandbox import TenantSandboxSpec, TenantSandboxStatus

__all__ = ["KINDS", "KindInfo", "PrinterColumn", "kind_info"]

_READY = '.status.conditions[?(@.type=="Ready")]'


@dataclass(frozen=True, kw_only=True)
class PrinterColumn:
    """One `kubectl get` column."""

    name: str
    type: Literal["string", "integer", "number", "boolean", "date"]
    json_path: str
    description: str = ""
    priority: int = 0

    def to_crd(self) -> dict[str, object]:
        """The additionalPrinterColumns entry."""
        col: dict[str, object] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            col["description"] = self.description
        if self.priority:
            col["priority"] = self.priority
        return col


def _common_head() -> tuple[PrinterColumn, ...]:
    return (PrinterColumn(name="Ready", type="string", json_path=f"{_READY}.status",
                          description="Status of the Ready condition."),)


def _common_tail() -> tuple[PrinterColumn, ...]:
    return (
        PrinterColumn(name="Reason", type="string", json_path=f"{_READY}.reason",
                      description="Reason of the Ready condition."),
        PrinterColumn(name="Age", type="date", json_path=".metadata.creationTimestamp"),
    )


@dataclass(frozen=True, kw_only=True)
class KindInfo:
    """Everything needed to generate and address one Finplane CRD."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    scope: Literal["Namespaced", "Cluster"]
    spec_model: type[BaseModel]
    status_model: type[BaseModel]
    description: str
    printer_columns: tuple[PrinterColumn, ...] = ()
    categories: tuple[str, ...] = field(default=("finplane",))
    #: Constraint on metadata.name beyond Kubernetes' own (e.g. a Service name must be a DNS-1035 label).
    #: Written twice into the CRD: as `pattern`/`maxLength` under metadata.name (documentation; a real API
    #: server does not enforce schemas on ObjectMeta) and as CEL rules at the root (`name_rules`), which it does.
    name_pattern: str | None = None
    name_max_length: int | None = None
    #: What the name becomes, for the CEL rule's message ("the name of its Service and a label value").
    name_use: str = "a label value"
    group: str = GROUP
    version: str = VERSION

    @property
    def namespaced(self) -> bool:
        return self.scope == "Namespaced"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"

    def name_rules(self) -> list[dict[str, str]]:
        """Root-level `x-kubernetes-validations` enforcing name_pattern and name_max_length on metadata.name."""
        rules: list[dict[str, str]] = []
        if self.name_pattern:
            rules.append({"rule": f"self.metadata.name.matches('{self.name_pattern}')",
                          "message": f"metadata.name must match {self.name_pattern}: it becomes {self.name_use}"})
        if self.name_max_length:
            rules.append({"rule": f"self.metadata.name.size() <= {self.name_max_length}",
                          "message": f"metadata.name must be at most {self.name_max_length} characters: it becomes "
                                     f"{self.name_use}"})
        return rules


KINDS: tuple[KindInfo, ...] = (
    KindInfo(
        kind="BusinessCapability", plural="businesscapabilities", singular="businesscapability",
        short_names=("bcap", "bcaps"), scope="Namespaced",
        # The name becomes the Service's name, which must be a DNS-1035 label, and label values (63 at most).
        name_pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$", name_max_length=63,
        name_use="the name of its Service (a DNS-1035 label) and label values",
        spec_model=BusinessCapabilitySpec, status_model=BusinessCapabilityStatus,
        description="A reusable business service (payments, KYC...) owned by a team and run by Finplane.",
        printer_columns=(
            *_common_head(),
            PrinterColumn(name="Replicas", type="integer", json_path=".status.readyReplicas",
                          description="Ready replicas."),
            PrinterColumn(name="Version", type="string", json_path=".spec.version"),
            PrinterColumn(name="Domain", type="string", json_path=".spec.domain", priority=1),
            PrinterColumn(name="Classification", type="string", json_path=".spec.dataClassification",
                          priority=1),
            *_common_tail(),
        ),
    ),
    KindInfo(
        kind="Channel", plural="channels", singular="channel", short_names=("chan",), scope="Cluster",
        spec_model=ChannelSpec, status_model=ChannelStatus,
        description="A customer channel (mobile, web, open API...) routing to business capabilities.",
        printer_columns=(
            *_common_head(),
            PrinterColumn(name="Type", type="string", json_path=".spec.type"),
            PrinterColumn(name="Routes", type="string", json_path=".status.readyRoutes",
                          description="Ready routes out of all."),
            PrinterColumn(name="Hosts", type="string", json_path=".spec.hostnames", priority=1),
            *_common_tail(),
        ),
    ),
    KindInfo(
        kind="TenantSandbox", plural="tenantsandboxes", singular="tenantsandbox", short_names=("tsb",),
        scope="Cluster", spec_model=TenantSandboxSpec, status_model=TenantSandboxStatus,
        # The sandbox's namespace name is derived from it, so it must stay a DNS-1123 label.
        name_pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", name_max_length=63,
        name_use="the name of its namespace (a DNS-1123 label) and label values",
        description="An isolated, expiring sandbox for an external partner.",
        printer_columns=(
            *_common_head(),
            PrinterColumn(name="Phase", type="string", json_path=".status.phase"),
            PrinterColumn(name="Partner", type="string", json_path=".spec.partner.name"),
            PrinterColumn(name="Tier", type="string", json_path=".spec.tier"),
            PrinterColumn(name="Expires", type="string", json_path=".status.expiresAt"),
            PrinterColumn(name="Namespace", type="string", json_path=".status.namespace", priority=1),
            *_common_tail(),
        ),
    ),
    KindInfo(
        kind="ImageRegistry", plural="imageregistries", singular="imageregistry", short_names=("ireg",),
        scope="Cluster", spec_model=ImageRegistrySpec, status_model=ImageRegistryStatus,
        # The name is the value of the pull Secrets' finplane.io/image-registry label.
        name_max_length=63, name_use="the value of its pull Secrets' finplane.io/image-registry label",
        description="A container registry whose pull credentials Finplane keeps fresh in the namespaces "
                    "that need them.",
        printer_columns=(
            *_common_head(),
            PrinterColumn(name="Kind", type="string", json_path=".spec.kind"),
            PrinterColumn(name="Server", type="string", json_path=".spec.server"),
            PrinterColumn(name="Refreshed", type="date", json_path=".status.lastRefreshTime"),
            PrinterColumn(name="Token-Expires", type="string", json_path=".status.tokenExpiresAt", priority=1),
            *_common_tail(),
        ),
    ),
    KindInfo(
        kind="CompliancePolicy", plural="compliancepolicies", singular="compliancepolicy",
        short_names=("cpol",), scope="Cluster",
        spec_model=CompliancePolicySpec, status_model=CompliancePolicyStatus,
        description="Compliance rules from Finplane's library, their waivers and evidence.",
        printer_columns=(
            *_common_head(),
            PrinterColumn(name="Mode", type="string", json_path=".spec.mode"),
            PrinterColumn(name="Compliant", type="integer", json_path=".status.compliant"),
            PrinterColumn(name="Violating", type="integer", json_path=".status.violating"),
            PrinterColumn(name="Evaluated", type="date", json_path=".status.lastEvaluationTime", priority=1),
            *_common_tail(),
        ),
    ),
    KindInfo(
        kind="Team", plural="teams", singular="team", short_names=("tm",), scope="Cluster",
        spec_model=TeamSpec, status_model=TeamStatus,
        # The name becomes the finplane.io/team label value of its namespaces and capabilities.
        name_pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", name_max_length=63,
        description="A product team: the namespaces it owns, its members, its quota and what it may use.",
        printer_columns=(
            *_common_head(),
            PrinterColumn(name="Display-Name", type="string", json_path=".spec.displayName"),
            PrinterColumn(name="Namespaces", type="integer", json_path=".status.namespaceCount",
                          description="Namespaces the team owns."),
            PrinterColumn(name="Capabilities", type="integer", json_path=".status.usage.capabilities",
                          description="Admitted capabilities."),
            PrinterColumn(name="CPU", type="string", json_path=".status.usage.cpu", priority=1,
                          description="CPU requests in use."),
            *_common_tail(),
        ),
    ),
)

_BY_KIND = {info.kind: info for info in KINDS}


def kind_info(kind: str) -> KindInfo:
    """The KindInfo of `kind` (e.g. "Channel"); KeyError names the known kinds."""
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise KeyError(f"unknown Finplane kind {kind!r}; known: {sorted(_BY_KIND)}") from None
