"""The pydantic models of the five custom resources, as the operator and the API parse them.

Covers: camelCase input and output, defaults the renderers rely on, and invalid specs refused
with a message naming the problem (unknown fields, bad names, quantities, the cross-field rules
that are also CEL rules in the CRDs: autoscaling bounds, ttl/expiresAt, registry kind, canary,
backend and authentication, four-eyes waivers, duplicate names in lists).
"""

from typing import Any

import pytest
from pydantic import ValidationError

from finplane.models import (
    BusinessCapabilitySpec,
    BusinessCapabilityStatus,
    ChannelSpec,
    CompliancePolicySpec,
    ImageRegistrySpec,
    TenantSandboxSpec,
    dump,
    kind_info,
)


def capability(**extra: Any) -> dict[str, Any]:
    return {"owner": {"team": "payments", "contact": "payments@bank.example"}, "domain": "payments",
            "image": "registry.finplane.local/payments/payments-api:1.4.2", **extra}


def sandbox(**extra: Any) -> dict[str, Any]:
    return {"partner": {"name": "acme", "organisation": "Acme Fintech Ltd", "contact": "dev@acme.example"},
            **extra}


def channel(**extra: Any) -> dict[str, Any]:
    return {"type": "mobile", "hostnames": ["m.bank.example"],
            "routes": [{"name": "payments", "capability": {"namespace": "payments", "name": "payments-api"}}],
            **extra}


def waiver(**extra: Any) -> dict[str, Any]:
    return {"name": "legacy", "ruleId": "no-latest-tag", "objects": [{"kind": "BusinessCapability"}],
            "justification": "Vendor image has no tags yet", "riskRating": "low",
            "requestedBy": "alice", "approvedBy": "bob", "ticket": "RISK-1",
            "expiresAt": "2030-01-01T00:00:00Z", **extra}


def refusal(model: Any, data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as err:
        model.model_validate(data)
    return str(err.value)


def test_capability_defaults_fill_what_the_spec_leaves_out() -> None:
    spec = BusinessCapabilitySpec.model_validate(capability())
    assert (spec.replicas, spec.port, spec.health_path) == (2, 8080, "/healthz")
    assert spec.data_classification == "internal" and spec.criticality == "medium"


def test_dump_gives_camel_case_without_nulls() -> None:
    spec = BusinessCapabilitySpec.model_validate(capability(autoscaling={"maxReplicas": 6}))
    out = dump(spec)
    assert out["healthPath"] == "/healthz"
    assert out["autoscaling"] == {"minReplicas": 2, "maxReplicas": 6, "targetCPUUtilizationPercentage": 70}
    assert "registryRef" not in out
    assert BusinessCapabilitySpec.model_validate(out) == spec


def test_unknown_spec_field_is_refused_by_name() -> None:
    assert "replica" in refusal(BusinessCapabilitySpec, capability(replica=3))


def test_status_ignores_fields_it_does_not_know() -> None:
    status = BusinessCapabilityStatus.model_validate({"readyReplicas": 1, "kopf": {"progress": {}}})
    assert status.ready_replicas == 1 and not status.ready


def test_status_reports_ready_from_the_ready_condition() -> None:
    status = BusinessCapabilityStatus.model_validate({"conditions": [
        {"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": "2025-01-01T00:00:00Z"}]})
    assert status.ready and status.condition("Ready") is not None


def test_condition_reason_must_be_camel_case() -> None:
    message = refusal(BusinessCapabilityStatus, {"conditions": [
        {"type": "Ready", "status": "True", "reason": "not ok", "lastTransitionTime": "2025-01-01T00:00:00Z"}]})
    assert "reason" in message


def test_team_name_must_be_a_dns_label() -> None:
    assert "owner.team" in refusal(BusinessCapabilitySpec, capability(owner={"team": "Payments_Team",
                                                                            "contact": "x"}))


def test_bad_quantity_is_refused_with_an_example_of_a_good_one() -> None:
    message = refusal(BusinessCapabilitySpec, capability(resources={"requests": {"cpu": "lots"}}))
    assert "not a Kubernetes quantity" in message and "500m" in message


def test_autoscaling_minimum_above_maximum_is_refused() -> None:
    message = refusal(BusinessCapabilitySpec, capability(autoscaling={"minReplicas": 5, "maxReplicas": 3}))
    assert "minReplicas must not exceed maxReplicas" in message


def test_duplicate_config_names_are_refused() -> None:
    message = refusal(BusinessCapabilitySpec, capability(config=[{"name": "A", "value": "1"},
                                                                 {"name": "A", "value": "2"}]))
    assert "duplicate config name 'A'" in message


def test_sandbox_needs_exactly_one_of_ttl_and_expiry() -> None:
    assert "exactly one of ttlSeconds and expiresAt" in refusal(TenantSandboxSpec, sandbox())
    both = sandbox(ttlSeconds=60, expiresAt="2030-01-01T00:00:00Z")
    assert "exactly one of ttlSeconds and expiresAt" in refusal(TenantSandboxSpec, both)


def test_sandbox_expiry_is_computed_from_creation_and_ttl() -> None:
    from datetime import UTC, datetime

    spec = TenantSandboxSpec.model_validate(sandbox(ttlSeconds=3600))
    created = datetime(2025, 1, 1, tzinfo=UTC)
    assert spec.expiry(created=created) == datetime(2025, 1, 1, 1, tzinfo=UTC)


def test_sandbox_expiry_without_time_zone_is_refused() -> None:
    assert "expiresAt" in refusal(TenantSandboxSpec, sandbox(expiresAt="2030-01-01T00:00:00"))


def test_ecr_registry_without_ecr_settings_is_refused() -> None:
    assert "ecr must be set exactly when kind is ecr" in refusal(ImageRegistrySpec, {"kind": "ecr"})


def test_static_registry_with_ecr_settings_is_refused() -> None:
    data = {"kind": "static", "server": "registry.finplane.local",
            "static": {"secretRef": {"name": "creds", "namespace": "finplane-system"}},
            "ecr": {"region": "eu-west-1", "accountId": "123456789012"}}
    assert "ecr must be set exactly when kind is ecr" in refusal(ImageRegistrySpec, data)


def test_ecr_registry_server_is_derived_from_account_and_region() -> None:
    spec = ImageRegistrySpec.model_validate({"kind": "ecr", "ecr": {"region": "eu-west-1",
                                                                   "accountId": "123456789012"}})
    assert spec.effective_server() == "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert spec.refresh_interval_seconds == 21600


def test_canary_weight_above_100_is_refused() -> None:
    route = {"name": "pay", "capability": {"namespace": "payments", "name": "payments-api"},
             "canary": {"capability": {"namespace": "payments", "name": "payments-api-next"}, "weight": 110}}
    assert "weight" in refusal(ChannelSpec, channel(routes=[route]))


def test_canary_without_weight_or_header_is_refused() -> None:
    route = {"name": "pay", "capability": {"namespace": "payments", "name": "payments-api"},
             "canary": {"capability": {"namespace": "payments", "name": "payments-api-next"}}}
    assert "needs a weight, a headerMatch or a gate" in refusal(ChannelSpec, channel(routes=[route]))


def test_channel_route_needs_the_capability_namespace() -> None:
    route = {"name": "pay", "capability": {"name": "payments-api"}}
    assert "namespace" in refusal(ChannelSpec, channel(routes=[route]))


def test_the_gateway_api_is_the_default_backend_and_an_ingress_backend_refuses_a_gateway_ref() -> None:
    assert ChannelSpec.model_validate(channel()).backend.kind == "gateway"  # the platform's Gateway by default
    ref = {"name": "public", "namespace": "gateway-system"}
    assert "gatewayRef is only allowed" in refusal(ChannelSpec, channel(backend={"kind": "ingress", "gatewayRef": ref}))


def test_jwt_authentication_needs_an_issuer() -> None:
    assert "jwt is required when mode is jwt" in refusal(ChannelSpec, channel(authentication={"mode": "jwt"}))


def test_self_approved_waiver_is_refused() -> None:
    policy = {"rules": [{"id": "no-latest-tag"}], "waivers": [waiver(approvedBy="alice")]}
    assert "approved by someone other than its requester" in refusal(CompliancePolicySpec, policy)


def test_unknown_rule_id_is_refused() -> None:
    assert "rules.0.id" in refusal(CompliancePolicySpec, {"rules": [{"id": "no-bitcoin"}]})


def test_rule_parameters_are_kept_as_given() -> None:
    spec = CompliancePolicySpec.model_validate({"rules": [
        {"id": "allowed-registries", "parameters": {"registries": ["registry.finplane.local"]}}]})
    assert spec.rules[0].parameters == {"registries": ["registry.finplane.local"]}
    assert spec.mode == "audit"


def test_kind_info_names_the_known_kinds_when_asked_for_an_unknown_one() -> None:
    assert kind_info("Channel").plural == "channels"
    with pytest.raises(KeyError, match="BusinessCapability"):
        kind_info("Pipeline")
