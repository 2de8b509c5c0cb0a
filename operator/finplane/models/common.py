"""Shared building blocks of the Finplane custom resource models.

Every kind module (`business_capability`, `channel`, ...) builds on the base models, the
references, the enums and the constrained types defined here; `finplane.crdgen` turns the
resulting JSON schemas into CRD schemas, so every field carries a description (it becomes the
CRD description, the `kubectl explain` text and the field reference in docs/).

Callers: the kind modules, the renderers and reconcilers (through `dump`), the status helpers
(through `Condition`), and the platform API (to validate requests before writing CRs).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, WithJsonSchema
from pydantic.alias_generators import to_camel

__all__ = [
    "AWS_ROLE_ARN",
    "DNS_LABEL",
    "DNS_SUBDOMAIN",
    "ENV_NAME",
    "QUANTITY",
    "CapabilityRef",
    "ClusterCapabilityRef",
    "Condition",
    "ConditionStatus",
    "Criticality",
    "DataClassification",
    "DnsLabel",
    "DnsSubdomain",
    "EnvName",
    "LabelSelector",
    "LabelSelectorRequirement",
    "NamespacedSecretRef",
    "Quantity",
    "SecretKeyRef",
    "Severity",
    "SpecModel",
    "StatusModel",
    "cel",
    "check_unique",
    "describe_errors",
    "dump",
    "list_map",
    "list_set",
]

#: A DNS-1123 label: namespaces, most object names, env-free identifiers.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
#: A DNS-1123 subdomain: Secret, ServiceAccount and cluster-scoped object names.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
#: A C identifier, as Kubernetes requires for environment variable names.
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: A Kubernetes resource quantity (the same pattern the API server uses).
QUANTITY = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"

#: An IAM role ARN (sandboxes' per-partner roles, ECR registries' assumed roles).
AWS_ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$"

DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL, max_length=63)]
DnsSubdomain = Annotated[str, StringConstraints(pattern=DNS_SUBDOMAIN, max_length=253)]
EnvName = Annotated[str, StringConstraints(pattern=ENV_NAME, max_length=128)]


def _check_quantity(value: int | str) -> int | str:
    if isinstance(value, str) and not re.fullmatch(QUANTITY, value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (for example 500m, 256Mi, 2)")
    return value


class _QuantityCheck:
    """Pydantic hook checking the quantity pattern (kept apart so the schema stays int-or-string)."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(_check_quantity, handler(source))


#: An int-or-string Kubernetes quantity such as ``500m``, ``256Mi`` or ``2``.
Quantity = Annotated[
    int | str,
    _QuantityCheck,
    WithJsonSchema({
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": QUANTITY,
        "x-kubernetes-int-or-string": True,
    }),
]


def cel(*rules: tuple[str, str]) -> dict[str, Any]:
    """JSON-schema extra carrying `x-kubernetes-validations` CEL rules as (rule, message) pairs.

    The same rules are also enforced by the models' own validators, so a CR is refused
    identically by the API server (422) and by the platform API or `finplane render`.
    """
    return {"x-kubernetes-validations": [{"rule": rule, "message": message} for rule, message in rules]}


def list_map(*keys: str) -> dict[str, Any]:
    """JSON-schema extra for a list of named objects (merge key(s) for server-side apply)."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys or ("name",))}


def list_set() -> dict[str, Any]:
    """JSON-schema extra for a list of unique scalars."""
    return {"x-kubernetes-list-type": "set"}


_T = TypeVar("_T")


def check_unique(items: list[_T], *, key: Any, what: str) -> list[_T]:
    """Refuse duplicates in a list-type map (the API server refuses them too)."""
    seen: set[Any] = set()
    for item in items:
        k = key(item)
        if k in seen:
            raise ValueError(f"duplicate {what} {k!r}")
        seen.add(k)
    return items


class SpecModel(BaseModel):
    """Base of every spec model: camelCase aliases, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid",
        use_attribute_docstrings=False, validate_default=False,
    )


class StatusModel(BaseModel):
    """Base of every status model: camelCase aliases, unknown fields ignored (older operators)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


def describe_errors(exc: ValidationError, *, prefix: str = "spec", most: int = 5) -> str:
    """A pydantic ValidationError as one line naming each field (`spec.replicas: ...`), for conditions."""
    return "; ".join(f"{'.'.join([prefix, *map(str, e['loc'])])}: {e['msg']}" for e in exc.errors()[:most])


def dump(model: BaseModel) -> dict[str, Any]:
    """The model as a Kubernetes object fragment: camelCase keys, no nulls, JSON-compatible values."""
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


class ConditionStatus(StrEnum):
    """Status of a condition."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class DataClassification(StrEnum):
    """Data classification of the data a workload handles, from least to most sensitive."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class Criticality(StrEnum):
    """Business criticality of a capability (drives minimum replicas and disruption budgets)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Severity(StrEnum):
    """Severity of a compliance finding (the PolicyReport severities)."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Condition(StatusModel):
    """One observation about the object, in the Kubernetes condition shape."""

    type: str = Field(
        description="Condition type in CamelCase, for example Ready, Progressing or Compliant.",
        pattern=r"^[A-Z][A-Za-z0-9]*$", max_length=64,
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        description="CamelCase word a script can match, for example NameConflict.",
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", min_length=1, max_length=1024,
    )
    message: str = Field(default="", description="Human-readable details: what is wrong and what to do.",
                         max_length=32768)
    last_transition_time: str = Field(
        description="When the status last changed (RFC 3339); it does not move when only the message changes.",
        json_schema_extra={"format": "date-time"}, max_length=64,
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation this condition was computed from.",
    )


class SecretKeyRef(SpecModel):
    """A key of a Secret in the same namespace as the referring object."""

    name: DnsSubdomain = Field(description="Name of the Secret.")
    key: str = Field(description="Key inside the Secret's data.", pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)


class NamespacedSecretRef(SpecModel):
    """A Secret referenced from a cluster-scoped object, so its namespace is explicit."""

    name: DnsSubdomain = Field(description="Name of the Secret.")
    namespace: DnsLabel = Field(description="Namespace of the Secret.")


class CapabilityRef(SpecModel):
    """A reference to a BusinessCapability."""

    namespace: DnsLabel | None = Field(
        default=None, description="Namespace of the capability; defaults to the referring object's namespace.",
    )
    name: DnsLabel = Field(description="Name of the BusinessCapability.")


class ClusterCapabilityRef(SpecModel):
    """A reference to a BusinessCapability from a cluster-scoped object (namespace required)."""

    namespace: DnsLabel = Field(description="Namespace of the capability.")
    name: DnsLabel = Field(description="Name of the BusinessCapability.")


class LabelSelectorRequirement(SpecModel):
    """One label requirement, as in Kubernetes label selectors."""

    key: str = Field(description="The label key.", max_length=317,
                     pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="In, NotIn, Exists or DoesNotExist.",
    )
    values: list[Annotated[str, StringConstraints(max_length=63)]] = Field(
        default_factory=list, max_length=64,
        description="Values for In and NotIn; empty for Exists and DoesNotExist.",
    )


class LabelSelector(SpecModel):
    """A Kubernetes label selector; an empty selector selects everything."""

    match_labels: dict[str, Annotated[str, StringConstraints(max_length=63)]] | None = Field(
        default=None, description="Labels that must all be present with these values.",
        json_schema_extra={"maxProperties": 32},
    )
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, max_length=32, description="Requirements that must all hold.",
    )
