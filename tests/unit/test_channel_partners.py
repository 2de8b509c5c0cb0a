"""Which sandboxes' keys open a channel's partner routes (reconcile.channel_partners), over the fake gateway.

Covers: an active, approved sandbox's current key (read from its credential Secret) is offered for the
capabilities it may call; attacks: a sandbox awaiting approval, an expired (torn down) one, one being
deleted, one whose Secret is gone and one not allowed the capability open nothing; the keys and quotas
come from the sandbox, never from anything a partner writes on the channel; and a sandbox rotating its
key, expiring or disappearing wakes exactly the channels routing to its capabilities.
"""

from __future__ import annotations

import asyncio
import base64
import copy
from typing import Any

import pytest

from finplane.reconcile.channel import _refs
from finplane.reconcile.channel_partners import active_partners, sandbox_is_active, sandbox_wakes
from finplane.settings import Settings
from tests.support.fake_kube import FakeKube

Obj = dict[str, Any]
API = "finplane.io/v1alpha1"


def sandbox(name: str, *caps: tuple[str, str], phase: str = "Active", approval: str = "approved",
            **status: Any) -> Obj:
    return {"apiVersion": API, "kind": "TenantSandbox",
            "metadata": {"name": name, "uid": f"{name}-uid", "annotations": {"finplane.io/approval": approval}},
            "spec": {"partner": {"name": name.split("--")[0], "organisation": "Org", "contact": "c@org.example"},
                     "tier": "medium", "ttlSeconds": 86400,
                     "allowedCapabilities": [{"namespace": ns, "name": n} for ns, n in caps]},
            "status": {"phase": phase, "namespace": f"sbx-{name}", "credentialHash": "sha256:" + "0" * 64,
                       "conditions": [{"type": "Ready", "status": "True" if phase in ("Active", "Expiring") else
                                       "False", "reason": "Provisioned"}], **status}}


def credential(name: str, key: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "partner-api-credential",
                                                               "namespace": f"sbx-{name}"},
            "data": {"api-key": base64.b64encode(key.encode()).decode()}}


def channel(name: str, *caps: tuple[str, str]) -> Obj:
    return {"apiVersion": API, "kind": "Channel", "metadata": {"name": name},
            "spec": {"type": "open-api", "hostnames": ["api.bank.example"],
                     "routes": [{"name": n, "capability": {"namespace": ns, "name": n}} for ns, n in caps]}}


def offered(kube: FakeKube, sandboxes: list[Obj], wanted: set[tuple[str, str]]) -> dict[str, str | None]:
    stores = {("", s["metadata"]["name"]): s for s in sandboxes}
    found = asyncio.run(active_partners(kube, stores, wanted=wanted, settings=Settings()))
    return {p.client_id: p.key for p in found}


def test_an_active_sandboxs_current_key_is_offered_for_the_capabilities_it_may_call() -> None:
    kube = FakeKube()
    kube.put(credential("acme--dev", "acme-key"))
    (only,) = asyncio.run(active_partners(kube, {("", "acme--dev"): sandbox("acme--dev", ("risk", "kyc"))},
                                          wanted={("risk", "kyc")}, settings=Settings()))
    assert (only.client_id, only.key, only.capabilities) == ("acme--dev", "acme-key", frozenset({("risk", "kyc")}))
    assert (only.requests_per_second, only.requests_per_day) == (20, 100000)  # the medium tier


@pytest.mark.parametrize("body", [
    sandbox("acme--dev", ("risk", "kyc"), approval="pending"),
    sandbox("acme--dev", ("risk", "kyc"), phase="Expired", teardown={"time": "2026-01-01T00:00:00Z",
                                                                     "reason": "Expired"}),
    sandbox("acme--dev", ("risk", "kyc"), phase="Provisioning"),
    sandbox("acme--dev", ("core", "ledger")),
], ids=["awaiting-approval", "torn-down", "not-provisioned", "not-allowed-this-capability"])
def test_a_sandbox_that_may_not_call_the_route_opens_nothing(body: Obj) -> None:
    kube = FakeKube()
    kube.put(credential("acme--dev", "acme-key"))
    assert offered(kube, [body], {("risk", "kyc")}) == {}


def test_a_sandbox_being_deleted_or_whose_secret_is_gone_opens_nothing() -> None:
    deleting = sandbox("acme--dev", ("risk", "kyc"))
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    kube = FakeKube()
    kube.put(credential("acme--dev", "acme-key"))
    assert offered(kube, [deleting], {("risk", "kyc")}) == {}
    assert offered(FakeKube(), [sandbox("acme--dev", ("risk", "kyc"))], {("risk", "kyc")}) == {}


def test_each_partner_is_offered_with_its_own_key_only() -> None:
    kube = FakeKube()
    kube.put(credential("acme--dev", "acme-key"), credential("globex--dev", "globex-key"))
    got = offered(kube, [sandbox("acme--dev", ("risk", "kyc")), sandbox("globex--dev", ("core", "ledger"))],
                  {("risk", "kyc"), ("core", "ledger")})
    assert got == {"acme--dev": "acme-key", "globex--dev": "globex-key"}


def test_an_expired_status_is_not_active_even_if_ready_was_left_true() -> None:
    body = sandbox("acme--dev", ("risk", "kyc"))
    body["status"]["phase"] = "Expired"
    assert not sandbox_is_active(body)


def test_a_rotation_expiry_or_deletion_wakes_the_channels_routing_to_its_capabilities() -> None:
    channels = {("", "partners"): channel("partners", ("risk", "kyc")),
                ("", "internal"): channel("internal", ("core", "ledger"))}
    old = sandbox("acme--dev", ("risk", "kyc"))
    rotated = copy.deepcopy(old)
    rotated["status"]["credentialHash"] = "sha256:" + "1" * 64
    expired = copy.deepcopy(old)
    expired["status"].update(phase="Expired", teardown={"time": "t", "reason": "Expired"})
    assert list(sandbox_wakes(rotated, old, channels, _refs)) == [("", "partners")]
    assert list(sandbox_wakes(expired, old, channels, _refs)) == [("", "partners")]
    assert list(sandbox_wakes(old, None, channels, _refs)) == [("", "partners")]  # added, or deleted
    assert list(sandbox_wakes(copy.deepcopy(old), old, channels, _refs)) == []  # nothing that matters changed
