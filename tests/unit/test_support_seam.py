"""The shared test seam (tests/support) does what the tests relying on it assume.

Covers: every builder, called with only what it requires, makes a body its kind's spec model accepts,
namespaced exactly when the kind is, with the kind's apiVersion; a test's keywords replace the
defaults and reach metadata or spec where they belong; `wait_for` hands back the value it waited for
and, when it gives up, says what it waited for and the last value it saw; `free_port` gives a port a
process can listen on.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from finplane.models import kind_info
from tests.support import builders, free_port, wait_for

MINIMAL: dict[str, dict[str, Any]] = {
    "BusinessCapability": builders.capability("payments-api"),
    "TenantSandbox": builders.sandbox("acme"),
    "Channel": builders.channel("mobile", [builders.route("pay", "payments", "payments-api", "/pay")]),
    "ImageRegistry": builders.image_registry(
        "local", kind="static", server="registry.bank.example",
        static={"secretRef": {"name": "harbor-bot", "namespace": "finplane"}}),
    "CompliancePolicy": builders.compliance_policy("baseline", [{"id": "no-latest-tag"}]),
    "Team": builders.team("payments"),
}


@pytest.mark.parametrize("kind", list(MINIMAL))
def test_every_builder_makes_a_body_its_kind_accepts(kind: str) -> None:
    body, info = MINIMAL[kind], kind_info(kind)
    assert (body["apiVersion"], body["kind"]) == (info.api_version, kind)
    assert ("namespace" in body["metadata"]) == info.namespaced
    info.spec_model.model_validate(body["spec"])


def test_the_builders_cover_every_finplane_kind() -> None:
    from finplane.models import KINDS

    assert sorted(MINIMAL) == sorted(k.kind for k in KINDS)


def test_keywords_replace_the_defaults_and_land_in_metadata_or_spec() -> None:
    body = builders.capability("pay", "cards", image="registry.bank.example/pay:2", replicas=3,
                               labels={"a": "b"}, uid="u1", status={"phase": "Ready"})
    assert body["metadata"] == {"name": "pay", "namespace": "cards", "labels": {"a": "b"}, "uid": "u1"}
    assert body["spec"]["image"] == "registry.bank.example/pay:2" and body["spec"]["replicas"] == 3
    assert body["status"] == {"phase": "Ready"}
    assert builders.sandbox("acme", expiresAt="2030-01-01T00:00:00Z")["spec"].get("ttlSeconds") is None


def test_wait_for_returns_what_it_waited_for() -> None:
    seen = iter([None, [], {"ready": True}])
    assert wait_for(lambda: next(seen), interval=0) == {"ready": True}


def test_wait_for_says_what_it_waited_for_and_the_last_value_when_it_gives_up() -> None:
    with pytest.raises(AssertionError, match=r"waiting for the Deployment; last value: \[\]"):
        wait_for(lambda: [], timeout=0.05, interval=0.01, what="the Deployment")


def test_free_port_is_one_a_process_can_listen_on() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
