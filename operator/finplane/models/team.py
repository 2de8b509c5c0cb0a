"""The Team custom resource: a product team as a first-class tenant that owns its namespaces.

Cluster-scoped. The team renderer (`render.team`) turns a `TeamSpec` into, per namespace, the
Namespace labels, a default-deny NetworkPolicy, a ResourceQuota, a LimitRange and RoleBindings for
owners and members; `render.team_checks` derives a capability's team from its namespace and checks
the team-wide quota and allow-lists; the Team reconciler writes a `TeamStatus` (namespaces and what
happened to each, usage against the quota). The platform API maps IdP users and groups to teams
through `owners` and `members` (platform_api.services.teams).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from finplane.models.common import (
    Condition,
    DataClassification,
    DnsLabel,
    DnsSubdomain,
    Quantity,
    SpecModel,
    StatusModel,
    check_unique,
    list_map,
    list_set,
)
from finplane.models.tenant_sandbox import Member, MemberKind

__all__ = [
    "Member",
    "MemberKind",
    "NamespaceDefaults",
    "NamespaceDeletion",
    "NamespaceState",
    "TeamContact",
    "TeamNamespace",
    "TeamQuota",
    "TeamSpec",
    "TeamStatus",
    "TeamUsage",
]


class NamespaceDeletion(StrEnum):
    """What deleting the Team does to the namespaces it created (adopted ones are always kept)."""

    KEEP = "Keep"
    DELETE_EMPTY = "DeleteEmpty"
    DELETE = "Delete"


class NamespaceState(StrEnum):
    """What happened to one namespace of the Team."""

    CREATED = "Created"
    ADOPTED = "Adopted"
    REFUSED = "Refused"
    LEFT = "Left"


class TeamContact(SpecModel):
    """How to reach the team."""

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$",
                       description="E-mail address of the team.")
    on_call: str | None = Field(default=None, min_length=1, max_length=512,
                                description="On-call rota, pager or chat channel for incidents.")


class TeamQuota(SpecModel):
    """Team-wide totals across all its namespaces; an unset value is unlimited."""

    cpu: Quantity | None = Field(default=None, description="Total CPU requests of all capabilities "
                                                           "(replicas, or maxReplicas when autoscaling).")
    memory: Quantity | None = Field(default=None, description="Total memory requests of all capabilities.")
    pods: int | None = Field(default=None, ge=0, le=100000, description="Total replicas of all capabilities.")
    capabilities: int | None = Field(default=None, ge=0, le=10000, description="Number of BusinessCapabilities.")


class NamespaceDefaults(SpecModel):
    """The ResourceQuota and LimitRange every namespace of the team gets."""

    requests_cpu: Quantity = Field(default="4", description="ResourceQuota requests.cpu of each namespace.")
    requests_memory: Quantity = Field(default="8Gi", description="ResourceQuota requests.memory of each namespace.")
    limits_cpu: Quantity = Field(default="8", description="ResourceQuota limits.cpu of each namespace.")
    limits_memory: Quantity = Field(default="16Gi", description="ResourceQuota limits.memory of each namespace.")
    pods: int = Field(default=50, ge=0, le=10000, description="ResourceQuota pods of each namespace.")
    default_cpu_request: Quantity = Field(default="100m", description="LimitRange defaultRequest.cpu.")
    default_memory_request: Quantity = Field(default="128Mi", description="LimitRange defaultRequest.memory.")
    default_cpu_limit: Quantity = Field(default="500m", description="LimitRange default.cpu.")
    default_memory_limit: Quantity = Field(default="256Mi", description="LimitRange default.memory.")


class TeamSpec(SpecModel):
    """Desired state of a product team."""

    display_name: str = Field(min_length=1, max_length=128, description="Human name of the team.")
    description: str | None = Field(default=None, max_length=1024, description="What the team does.")
    contact: TeamContact = Field(description="How to reach the team.")
    owners: list[Member] = Field(min_length=1, max_length=64, json_schema_extra=list_map("kind", "name"),
                                 description="IdP users and groups who own the team (same namespace rights as "
                                             "members; named as the team's owners in the API).")
    members: list[Member] = Field(default_factory=list, max_length=256, json_schema_extra=list_map("kind", "name"),
                                  description="IdP users and groups who manage the team's capabilities.")
    namespaces: list[DnsLabel] = Field(
        min_length=1, max_length=64, json_schema_extra=list_set(),
        description="Namespaces the team owns: created when absent, adopted when they exist and no other team "
                    "owns them; default, kube-* and Finplane's own namespace are never a team's.")
    quota: TeamQuota | None = Field(default=None, description="Team-wide totals; unset means no team-wide limit.")
    namespace_defaults: NamespaceDefaults = Field(default_factory=NamespaceDefaults,
                                                  description="ResourceQuota and LimitRange of each namespace.")
    allowed_registries: list[DnsSubdomain] | None = Field(
        default=None, max_length=64, json_schema_extra=list_set(),
        description="ImageRegistries the team's capabilities may name in registryRef; unset allows all.")
    allowed_classifications: list[DataClassification] | None = Field(
        default=None, max_length=4, json_schema_extra=list_set(),
        description="Data classifications the team's capabilities may hold; unset allows all.")
    namespace_deletion: NamespaceDeletion = Field(
        default=NamespaceDeletion.DELETE_EMPTY,
        description="On deleting the Team, what happens to namespaces it created: Keep, DeleteEmpty (only those "
                    "holding no BusinessCapability) or Delete. Adopted namespaces are always kept.")

    @field_validator("owners", "members")
    @classmethod
    def _unique_members(cls, value: list[Member]) -> list[Member]:
        return check_unique(value, key=lambda m: (m.kind, m.name), what="member")

    @field_validator("namespaces")
    @classmethod
    def _unique_namespaces(cls, value: list[str]) -> list[str]:
        return check_unique(value, key=lambda n: n, what="namespace")


class TeamNamespace(StatusModel):
    """One namespace of the team and what the operator did with it."""

    name: str = Field(max_length=63, description="The namespace.")
    state: NamespaceState = Field(description="Created, Adopted, Refused (see message) or Left (no longer listed, "
                                              "or kept after the Team was deleted).")
    capabilities: int = Field(default=0, ge=0, description="BusinessCapabilities in the namespace.")
    message: str | None = Field(default=None, max_length=1024, description="Why it was refused or left.")


class TeamUsage(StatusModel):
    """Team-wide usage of admitted capabilities, next to the quota."""

    cpu: str = Field(default="0", max_length=64, description="CPU requests in use (cores, e.g. 1.5).")
    memory: str = Field(default="0", max_length=64, description="Memory requests in use (e.g. 768Mi).")
    pods: int = Field(default=0, ge=0, description="Replicas in use.")
    capabilities: int = Field(default=0, ge=0, description="Admitted capabilities.")


class TeamStatus(StatusModel):
    """Observed state of a team."""

    observed_generation: int | None = Field(default=None, ge=0,
                                            description="The metadata.generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, max_length=16, json_schema_extra=list_map("type"),
                                        description="Ready and QuotaExceeded.")
    namespaces: list[TeamNamespace] = Field(default_factory=list, max_length=128, json_schema_extra=list_map("name"),
                                            description="Namespaces and what happened to each.")
    namespace_count: int | None = Field(default=None, ge=0, description="Namespaces the team owns.")
    usage: TeamUsage | None = Field(default=None, description="Team-wide usage of admitted capabilities.")
    refused_capabilities: list[Annotated[str, StringConstraints(max_length=128)]] = Field(
        default_factory=list, max_length=256,
        description="Capabilities refused by the team's quota or allow-lists, as namespace/name.")
