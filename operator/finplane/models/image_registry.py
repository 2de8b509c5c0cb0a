"""The ImageRegistry custom resource: fresh, scoped pull credentials for a container registry.

Cluster-scoped. The registry reconciler reads an `ImageRegistrySpec`, obtains credentials
(ECR through `finplane.external`, or a static Secret), writes dockerconfigjson Secrets into the
namespaces that need them and reports an `ImageRegistryStatus`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from finplane.models.common import (
    AWS_ROLE_ARN,
    Condition,
    DnsLabel,
    DnsSubdomain,
    LabelSelector,
    NamespacedSecretRef,
    SpecModel,
    StatusModel,
    cel,
    list_map,
    list_set,
)

__all__ = [
    "EcrSource",
    "ImageRegistrySpec",
    "ImageRegistryStatus",
    "RegistryKind",
    "StaticSource",
]

#: host[:port] of a registry.
SERVER = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]{1,5})?$"


class RegistryKind(StrEnum):
    """Where the credentials come from."""

    ECR = "ecr"
    STATIC = "static"


class EcrSource(SpecModel):
    """AWS Elastic Container Registry: tokens from GetAuthorizationToken (valid 12 hours)."""

    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$", max_length=32, description="AWS region, e.g. eu-west-1.")
    account_id: str = Field(pattern=r"^[0-9]{12}$", description="12-digit AWS account id of the registry.")
    role_arn: str | None = Field(default=None, pattern=AWS_ROLE_ARN, max_length=2048,
                                 description="IAM role to assume before asking for the token.")


class StaticSource(SpecModel):
    """Static credentials from a Secret (dockerconfigjson, or username and password keys)."""

    secret_ref: NamespacedSecretRef = Field(description="The Secret holding the credentials.")


class ImageRegistrySpec(SpecModel):
    """Desired state of an image registry."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("has(self.ecr) == (self.kind == 'ecr')", "ecr must be set exactly when kind is ecr"),
        ("has(self.static) == (self.kind == 'static')", "static must be set exactly when kind is static"),
        ("self.kind == 'ecr' || has(self.server)", "server is required when kind is static"),
    ))

    kind: RegistryKind = Field(description="ecr or static.")
    server: str | None = Field(default=None, pattern=SERVER, max_length=253,
                               description="Registry host[:port]; for ecr, defaults to "
                                           "<accountId>.dkr.ecr.<region>.amazonaws.com.")
    ecr: EcrSource | None = Field(default=None, description="ECR settings, for kind ecr.")
    static: StaticSource | None = Field(default=None, description="Static credentials, for kind static.")
    refresh_interval_seconds: int = Field(default=21600, ge=60, le=43200,
                                          description="How often to refresh the credentials.")
    namespace_selector: LabelSelector | None = Field(
        default=None, description="Namespaces that get the pull secret, in addition to those whose "
                                  "capabilities or sandboxes name this registry.",
    )
    service_accounts: list[DnsSubdomain] = Field(default_factory=list, max_length=16,
                                                 json_schema_extra=list_set(),
                                                 description="ServiceAccounts whose imagePullSecrets get the "
                                                             "secret in each selected namespace.")
    allowed_repositories: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9*][a-z0-9._/*-]*$",
                                                                max_length=256)]] = Field(
        default_factory=list, max_length=64, json_schema_extra=list_set(),
        description="Repository patterns served (* matches any characters); empty allows every repository.",
    )
    allowed_teams: list[DnsLabel] = Field(
        default_factory=list, max_length=256, json_schema_extra=list_set(),
        description="Teams whose capabilities may use this registry (registryRef); empty grants no team. The "
                    "Team's own spec.allowedRegistries must agree. Namespaces selected by namespaceSelector are "
                    "granted by the selection itself.")
    allow_sandboxes: bool = Field(default=False, description="Whether approved partner sandboxes may name this "
                                                             "registry in their registryRef.")
    secret_name: DnsSubdomain | None = Field(default=None,
                                             description="Name of the pull secrets; defaults to "
                                                         "<registry name>-pull (the name capabilities and sandboxes reference).")

    @model_validator(mode="after")
    def _source_matches_kind(self) -> ImageRegistrySpec:
        if (self.ecr is not None) != (self.kind == RegistryKind.ECR):
            raise ValueError("ecr must be set exactly when kind is ecr")
        if (self.static is not None) != (self.kind == RegistryKind.STATIC):
            raise ValueError("static must be set exactly when kind is static")
        if self.kind == RegistryKind.STATIC and self.server is None:
            raise ValueError("server is required when kind is static")
        return self

    def effective_server(self) -> str:
        """The registry host, derived from the ECR account and region when not given."""
        if self.server:
            return self.server
        assert self.ecr is not None  # guaranteed by the validator
        return f"{self.ecr.account_id}.dkr.ecr.{self.ecr.region}.amazonaws.com"


_Ns = Annotated[str, StringConstraints(max_length=63)]


class ImageRegistryStatus(StatusModel):
    """Observed state of an image registry."""

    observed_generation: int | None = Field(default=None, ge=0,
                                            description="The metadata.generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list, max_length=16, json_schema_extra=list_map("type"),
                                        description="Ready and CredentialsFresh.")
    last_refresh_time: str | None = Field(default=None, max_length=64, json_schema_extra={"format": "date-time"},
                                          description="When credentials were last obtained.")
    token_expires_at: str | None = Field(default=None, max_length=64, json_schema_extra={"format": "date-time"},
                                         description="When the current credentials expire (ecr).")
    secret_name: str | None = Field(default=None, max_length=253, description="Name of the pull secrets.")
    namespaces_in_sync: list[_Ns] = Field(default_factory=list, max_length=4096,
                                          description="Namespaces holding the current pull secret.")
    namespaces_out_of_sync: list[_Ns] = Field(default_factory=list, max_length=4096,
                                              description="Namespaces that need it but do not hold it yet.")
