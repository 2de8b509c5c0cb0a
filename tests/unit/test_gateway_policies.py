"""The Envoy Gateway policies rendered next to a channel's HTTPRoutes (render.gateway via render.channel).

Covers: the Gateway API is the default backend, attached to the platform's Gateway; a partner-facing
(open-api) route gets its partner-keys Secret, a SecurityPolicy with apiKeyAuth naming that Secret (the
key is never in the policy) and a BackendTrafficPolicy with the partner's calls per second and per day,
all before the HTTPRoute (a refused policy leaves no unauthenticated route); JWT becomes the policy's
jwt provider; attacks: another partner's key is not on my route, nor is a partner's key on a route whose
canary it may not call, nor on a non-partner channel; quotas come from the tier with spec.quota
overrides; and every rendered policy validates against the Envoy Gateway schema the tests ship
(which refuses a misspelt field, so the check can fail).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from finplane.models.channel import ChannelSpec
from finplane.models.tenant_sandbox import TenantSandboxSpec
from finplane.reconcile.channel_partners import partner_quota
from finplane.render.channel import render_channel
from finplane.render.gateway import API_KEY_HEADER, PARTNER_HEADER, PartnerAccess
from finplane.settings import Settings

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "schemas" / "envoy-gateway" / "policies.schema.json")
                    .read_text(encoding="utf-8"))
Obj = dict[str, Any]
KYC, LEDGER, KYC_NEXT = ("risk", "kyc"), ("core", "ledger"), ("risk", "kyc-next")


def spec(type_: str = "open-api", **extra: Any) -> ChannelSpec:
    routes = [{"name": "kyc", "capability": {"namespace": "risk", "name": "kyc"}, "pathPrefix": "/kyc",
               "rateLimit": {"requestsPerSecond": 50}},
              {"name": "ledger", "capability": {"namespace": "core", "name": "ledger"}, "pathPrefix": "/ledger"}]
    return ChannelSpec.model_validate({"type": type_, "hostnames": ["api.bank.example"], "routes": routes, **extra})


def partner(client_id: str, *caps: tuple[str, str], key: str | None = None, rps: int = 5,
            per_day: int = 10000) -> PartnerAccess:
    return PartnerAccess(client_id=client_id, capabilities=frozenset(caps), requests_per_second=rps,
                         requests_per_day=per_day, key=key or f"key-of-{client_id}")


def rendered(channel_spec: ChannelSpec, partners: list[PartnerAccess]) -> dict[str, Obj]:
    objs = render_channel(channel="partners", spec=channel_spec, ports={}, settings=Settings(), partners=partners)
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objs}


def keys_of(secret: Obj) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def test_the_gateway_api_is_the_default_and_attaches_to_the_platforms_gateway() -> None:
    objs = rendered(spec("web"), [])
    route = objs["HTTPRoute/partners-kyc"]
    assert route["spec"]["parentRefs"][0] | {} == {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                                   "name": "finplane", "namespace": "envoy-gateway-system"}
    assert not [k for k in objs if k.startswith("Ingress/")]
    allowance = objs["NetworkPolicy/partners-kyc.from-gateway"]
    assert allowance["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "envoy-gateway-system"}


def test_policies_come_before_the_route_so_a_refused_policy_leaves_no_open_route() -> None:
    objs = render_channel(channel="partners", spec=spec(), ports={}, settings=Settings(),
                          partners=[partner("acme--dev", KYC)])
    kyc = [o["kind"] for o in objs if o["metadata"]["name"].startswith("partners-kyc")]
    assert kyc == ["Secret", "SecurityPolicy", "BackendTrafficPolicy", "HTTPRoute", "NetworkPolicy"]


def test_an_open_api_route_checks_the_partner_key_by_reference_to_an_operator_owned_secret() -> None:
    objs = rendered(spec(), [partner("acme--dev", KYC, key="s3cret-acme")])
    policy = objs["SecurityPolicy/partners-kyc"]
    assert policy["spec"]["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                             "name": "partners-kyc"}]
    api_key = policy["spec"]["apiKeyAuth"]
    assert api_key["credentialRefs"] == [{"group": "", "kind": "Secret", "name": "partners-kyc.partner-keys"}]
    assert api_key["extractFrom"][0]["headers"] == [API_KEY_HEADER]
    assert api_key["extractFrom"][0]["forwarding"]["clientIdentityHeader"] == PARTNER_HEADER
    assert keys_of(objs["Secret/partners-kyc.partner-keys"]) == {"acme--dev": "s3cret-acme"}
    for kind in ("SecurityPolicy", "BackendTrafficPolicy", "HTTPRoute"):
        assert "s3cret-acme" not in json.dumps(objs[f"{kind}/partners-kyc"])
    assert "s3cret-acme" not in repr(partner("acme--dev", KYC, key="s3cret-acme"))


def test_another_partners_key_is_not_on_my_route() -> None:
    objs = rendered(spec(), [partner("acme--dev", KYC), partner("globex--dev", LEDGER)])
    assert keys_of(objs["Secret/partners-kyc.partner-keys"]) == {"acme--dev": "key-of-acme--dev"}
    assert keys_of(objs["Secret/partners-ledger.partner-keys"]) == {"globex--dev": "key-of-globex--dev"}


def test_a_route_with_no_partner_admits_nobody() -> None:
    objs = rendered(spec(), [])
    assert "data" not in objs["Secret/partners-ledger.partner-keys"]
    assert "apiKeyAuth" in objs["SecurityPolicy/partners-ledger"]["spec"]


def test_a_partner_allowed_the_route_but_not_its_canary_gets_no_key_on_it() -> None:
    raw = spec().model_dump(by_alias=True, exclude_none=True)
    raw["routes"][0]["canary"] = {"capability": {"namespace": "risk", "name": "kyc-next"}, "weight": 10}
    with_canary = ChannelSpec.model_validate(raw)
    objs = rendered(with_canary, [partner("acme--dev", KYC), partner("initech--dev", KYC, KYC_NEXT)])
    assert keys_of(objs["Secret/partners-kyc.partner-keys"]) == {"initech--dev": "key-of-initech--dev"}


def test_a_channel_for_the_institutions_own_customers_carries_no_partner_keys() -> None:
    objs = rendered(spec("mobile"), [partner("acme--dev", KYC)])
    assert not [k for k in objs if k.startswith("Secret/")]
    assert "SecurityPolicy/partners-kyc" not in objs  # no authentication asked for, none rendered
    assert [r["limit"] for r in objs["BackendTrafficPolicy/partners-kyc"]["spec"]["rateLimit"]["local"]["rules"]] \
        == [{"requests": 50, "unit": "Second"}]


def test_jwt_authentication_becomes_the_security_policys_jwt_provider() -> None:
    jwt = {"mode": "jwt", "jwt": {"issuer": "https://login.bank.example", "audiences": ["partners"]}}
    objs = rendered(spec(authentication=jwt), [])
    (provider,) = objs["SecurityPolicy/partners-kyc"]["spec"]["jwt"]["providers"]
    assert provider == {"name": "channel", "issuer": "https://login.bank.example", "audiences": ["partners"],
                        "remoteJWKS": {"uri": "https://login.bank.example/.well-known/jwks.json"}}


def test_each_partner_gets_its_calls_per_second_and_per_day_on_the_routes_it_may_call() -> None:
    objs = rendered(spec(), [partner("acme--dev", KYC, rps=7, per_day=700)])
    limits = objs["BackendTrafficPolicy/partners-kyc"]["spec"]["rateLimit"]
    selector = [{"headers": [{"name": PARTNER_HEADER, "type": "Exact", "value": "acme--dev"}]}]
    assert limits["local"]["rules"] == [{"limit": {"requests": 50, "unit": "Second"}},
                                        {"clientSelectors": selector, "limit": {"requests": 7, "unit": "Second"}}]
    assert limits["global"]["rules"] == [{"clientSelectors": selector, "limit": {"requests": 700, "unit": "Day"}}]


@pytest.mark.parametrize(("tier", "quota", "expected"), [
    ("small", None, (5, 10000)),
    ("medium", None, (20, 100000)),
    ("small", {"apiRequestsPerDay": 50}, (5, 50)),
    ("large", {"apiRequestsPerSecond": 2}, (2, 1000000)),
], ids=["small", "medium", "day-override", "rps-override"])
def test_quotas_come_from_the_tier_and_spec_quota_overrides_them(tier: str, quota: Obj | None,
                                                                  expected: tuple[int, int]) -> None:
    raw: Obj = {"partner": {"name": "acme", "organisation": "Acme", "contact": "a@acme.example"}, "tier": tier,
                "ttlSeconds": 3600}
    if quota:
        raw["quota"] = quota
    assert partner_quota(TenantSandboxSpec.model_validate(raw), Settings()) == expected


def policies(objs: dict[str, Obj]) -> list[Obj]:
    return [o for o in objs.values() if o["apiVersion"].startswith("gateway.envoyproxy.io/")]


def test_every_rendered_policy_validates_against_the_envoy_gateway_schema() -> None:
    jwt = {"mode": "jwt", "jwt": {"issuer": "https://login.bank.example", "audiences": ["partners"]}}
    objs = rendered(spec(authentication=jwt), [partner("acme--dev", KYC), partner("globex--dev", KYC, LEDGER)])
    found = policies(objs)
    assert {o["kind"] for o in found} == {"SecurityPolicy", "BackendTrafficPolicy"}
    for obj in found:
        jsonschema.validate(obj, SCHEMA)


def test_the_schema_refuses_a_misspelt_field() -> None:
    policy = rendered(spec(), [partner("acme--dev", KYC)])["SecurityPolicy/partners-kyc"]
    policy["spec"]["apiKeyAuth"]["credentialRef"] = policy["spec"]["apiKeyAuth"].pop("credentialRefs")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(policy, SCHEMA)
