"""Promoted partners on production channels (reconcile.channel_partners.promoted_partners), over the fake gateway.

An approved promotion opens the capabilities it names (never beyond the sandbox's own) with a production key
generated once into Finplane's namespace, with the promotion's tier quotas; attacks: a pending or rejected
promotion opens nothing; an expired, torn-down sandbox keeps its promoted access; a revoked promotion's key
is gone (and its Secret deleted) in the next pass; the sandbox's own key never opens a production route. The
key is copied into the sandbox's namespace for the API's once-only read; both copies are owned by the
TenantSandbox (deleting it, rather than revoking, leaves no key behind) and go at revocation.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from finplane.models.tenant_sandbox_promotion import (
    PRODUCTION_CREDENTIAL_SECRET,
    is_production_channel,
    production_key_secret,
)
from finplane.reconcile.channel_partners import promoted_partners, sandbox_wakes
from finplane.settings import Settings
from tests.support.fake_kube import FakeKube
from tests.unit.test_channel_partners import credential, sandbox

Obj = dict[str, Any]
NS = "finplane"
SETTINGS = Settings(pod_namespace=NS)


def promoted(body: Obj, state: str, *caps: str, tier: str | None = "large") -> Obj:
    body["metadata"]["annotations"].update({
        "finplane.io/promotion": state, "finplane.io/promotion-requested-by": "acme-bot",
        "finplane.io/promotion-request": json.dumps({"capabilities": list(caps), "tier": tier})})
    return body


def offer(kube: FakeKube, *bodies: Obj, wanted: set[tuple[str, str]]) -> dict[str, Any]:
    stores = {("", b["metadata"]["name"]): b for b in bodies}
    return {p.client_id: p for p in asyncio.run(promoted_partners(kube, stores, wanted=wanted, settings=SETTINGS))}


def test_an_approved_promotion_gets_a_production_key_and_its_tiers_quotas() -> None:
    kube = FakeKube()
    kube.put(credential("acme--dev", "sandbox-key"))
    body = promoted(sandbox("acme--dev", ("risk", "kyc"), ("risk", "aml")), "approved", "risk/kyc")
    first = offer(kube, body, wanted={("risk", "kyc"), ("risk", "aml")})["acme--dev"]
    assert first.capabilities == frozenset({("risk", "kyc")})  # only what the promotion names
    assert first.key and first.key != "sandbox-key"
    assert (first.requests_per_second, first.requests_per_day) == (100, 1000000)  # the large tier
    assert kube.find("Secret", production_key_secret("acme--dev"), NS) is not None
    again = offer(kube, body, wanted={("risk", "kyc")})["acme--dev"]
    assert again.key == first.key  # generated once, stable across passes


@pytest.mark.parametrize("state", ["pending", "rejected"], ids=["pending", "rejected"])
def test_an_undecided_or_rejected_promotion_opens_nothing(state: str) -> None:
    kube = FakeKube()
    assert offer(kube, promoted(sandbox("acme--dev", ("risk", "kyc")), state, "risk/kyc"), wanted={("risk", "kyc")}) == {}
    assert kube.find("Secret", production_key_secret("acme--dev"), NS) is None


def test_a_promotion_naming_what_the_sandbox_may_not_call_opens_nothing() -> None:
    body = promoted(sandbox("acme--dev", ("risk", "kyc")), "approved", "core/ledger")
    assert offer(FakeKube(), body, wanted={("core", "ledger")}) == {}


def test_an_expired_sandboxs_promoted_access_survives_until_revoked() -> None:
    kube = FakeKube()
    body = promoted(sandbox("acme--dev", ("risk", "kyc"), phase="Expired",
                            teardown={"time": "2026-01-01T00:00:00Z", "reason": "Expired"}), "approved", "risk/kyc")
    assert "acme--dev" in offer(kube, body, wanted={("risk", "kyc")})
    body["metadata"]["annotations"]["finplane.io/promotion"] = "revoked"
    assert offer(kube, body, wanted={("risk", "kyc")}) == {}  # one pass after revocation
    assert kube.find("Secret", production_key_secret("acme--dev"), NS) is None


def test_revocation_wakes_the_channels_routing_to_the_capability() -> None:
    old = promoted(sandbox("acme--dev", ("risk", "kyc")), "approved", "risk/kyc")
    new = promoted(sandbox("acme--dev", ("risk", "kyc")), "revoked", "risk/kyc")
    channels = {("", "prod"): {"spec": {"routes": [{"capability": {"namespace": "risk", "name": "kyc"}}]}}}
    from finplane.reconcile.channel import _refs
    assert list(sandbox_wakes(new, old, channels, _refs)) == [("", "prod")]


def test_only_a_channel_labelled_production_is_production() -> None:
    assert is_production_channel({"metadata": {"labels": {"finplane.io/environment": "production"}}})
    assert not is_production_channel({"metadata": {"labels": {"finplane.io/environment": "sandbox"}}})
    assert not is_production_channel({"metadata": {}})


def _key_of(secret: Obj | None) -> str | None:
    import base64

    raw = ((secret or {}).get("data") or {}).get("api-key")
    return base64.b64decode(raw).decode() if raw else None


def test_the_production_key_is_delivered_into_the_sandboxs_namespace_and_both_copies_are_owned_by_it() -> None:
    """The API hands the key out from the sandbox's namespace; deleting the TenantSandbox lets the garbage
    collector remove both Secrets (the owner reference), revoking removes them in the next pass."""
    kube = FakeKube()
    body = promoted(sandbox("acme--dev", ("risk", "kyc")), "approved", "risk/kyc")
    key = offer(kube, body, wanted={("risk", "kyc")})["acme--dev"].key
    gateway_copy = kube.find("Secret", production_key_secret("acme--dev"), NS)
    delivered = kube.find("Secret", PRODUCTION_CREDENTIAL_SECRET, "sbx-acme--dev")
    assert _key_of(gateway_copy) == key and _key_of(delivered) == key
    for secret in (gateway_copy, delivered):
        assert secret is not None
        assert [(r["kind"], r["name"], r["uid"]) for r in secret["metadata"]["ownerReferences"]] == [
            ("TenantSandbox", "acme--dev", "acme--dev-uid")]
    body["metadata"]["annotations"]["finplane.io/promotion"] = "revoked"
    offer(kube, body, wanted={("risk", "kyc")})
    assert kube.find("Secret", production_key_secret("acme--dev"), NS) is None
    assert kube.find("Secret", PRODUCTION_CREDENTIAL_SECRET, "sbx-acme--dev") is None


def test_a_production_key_secret_written_before_owner_references_is_adopted_by_its_sandbox() -> None:
    kube = FakeKube()
    kube.put({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": production_key_secret("acme--dev"),
                                                                 "namespace": NS},
              "data": {"api-key": "b2xkLWtleQ=="}})  # "old-key"
    body = promoted(sandbox("acme--dev", ("risk", "kyc")), "approved", "risk/kyc")
    assert offer(kube, body, wanted={("risk", "kyc")})["acme--dev"].key == "old-key"
    secret = kube.find("Secret", production_key_secret("acme--dev"), NS)
    assert secret is not None and secret["metadata"]["ownerReferences"][0]["uid"] == "acme--dev-uid"


def test_a_torn_down_sandbox_gets_no_delivery_copy_but_keeps_production_access() -> None:
    kube = FakeKube()
    body = promoted(sandbox("acme--dev", ("risk", "kyc"), phase="Expired",
                            teardown={"time": "2026-01-01T00:00:00Z", "reason": "Expired"}), "approved", "risk/kyc")
    assert offer(kube, body, wanted={("risk", "kyc")})["acme--dev"].key
    assert kube.find("Secret", PRODUCTION_CREDENTIAL_SECRET, "sbx-acme--dev") is None
