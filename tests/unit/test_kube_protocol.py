"""The `Kube` Protocol and the real client agree, so a fake written to the Protocol fits where the client does.

Covers: every Protocol method exists on `KubeClient` with the same parameters and defaults (a method
added to the client's callers' vocabulary, or a renamed parameter, fails here before a fake silently
drifts); the old name `finplane.kube.client.Kube` still constructs the client.
"""

from __future__ import annotations

import inspect

import pytest

from finplane.kube import client, protocol


def _protocol_methods() -> list[str]:
    return sorted(name for name, value in vars(protocol.Kube).items()
                  if not name.startswith("_") and inspect.isfunction(value))


def test_the_protocol_names_the_gateway_calls_callers_make() -> None:
    assert _protocol_methods() == ["apply", "close", "create", "delete", "get", "get_or_none", "list",
                                   "patch_merge", "patch_status", "replace"]


@pytest.mark.parametrize("name", _protocol_methods())
def test_the_client_implements_each_protocol_method_with_the_same_signature(name: str) -> None:
    wanted = inspect.signature(getattr(protocol.Kube, name))
    actual = inspect.signature(getattr(client.KubeClient, name))
    assert str(actual) == str(wanted)
    assert inspect.iscoroutinefunction(getattr(client.KubeClient, name))


def test_the_old_name_still_builds_the_real_client() -> None:
    assert client.Kube is client.KubeClient
    assert callable(client.Kube.from_config)
