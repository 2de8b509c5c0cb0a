"""What the operator keeps and how it connects, made cheaper without changing what it does.

Covers: `finplane.kube.client.lean_session` (the HTTP session reads no environment per request, yet
a proxy the kubeconfig or the environment names is still used, and NO_PROXY still bypasses it) and
`finplane.reconcile.runtime.stored_copy` (the store's copy drops managedFields' field sets, but the
evidence recorder still names the same writer of the spec).
"""

from __future__ import annotations

import pytest
from kubernetes.aio import client as aclient

from finplane.kube.client import lean_session
from finplane.reconcile.recorder import spec_writer
from finplane.reconcile.runtime import stored_copy


def _config(host: str, proxy: str | None = None) -> aclient.Configuration:
    c = aclient.Configuration()
    c.host = host
    c.proxy = proxy
    return c


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
                "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_the_session_does_not_trust_the_environment_per_request(no_proxy_env: pytest.MonkeyPatch) -> None:
    c = _config("https://api.cluster.example:6443")
    lean_session(c)
    assert c.client_session_kwargs["trust_env"] is False
    assert c.proxy is None


def test_a_proxy_named_in_the_environment_is_still_used(no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy.bank.example:3128")
    c = _config("https://api.cluster.example:6443")
    lean_session(c)
    assert c.proxy == "http://proxy.bank.example:3128"


def test_no_proxy_still_bypasses_the_proxy(no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy.bank.example:3128")
    no_proxy_env.setenv("NO_PROXY", ".cluster.example")
    c = _config("https://api.cluster.example:6443")
    lean_session(c)
    assert c.proxy is None


def test_the_kubeconfigs_proxy_wins_over_the_environment(no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://other.example:1")
    c = _config("https://api.cluster.example:6443", proxy="http://kubeconfig-proxy.example:8080")
    lean_session(c)
    assert c.proxy == "http://kubeconfig-proxy.example:8080"


def _managed(manager: str, time: str, fields: dict[str, object], subresource: str | None = None) -> dict[str, object]:
    entry: dict[str, object] = {"manager": manager, "operation": "Update", "time": time, "fieldsType": "FieldsV1",
                                "fieldsV1": fields}
    if subresource:
        entry["subresource"] = subresource
    return entry


def test_the_stored_copy_drops_field_sets_but_names_the_same_spec_writer() -> None:
    body = {"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
            "metadata": {"name": "pay", "namespace": "a", "uid": "u1", "generation": 2, "managedFields": [
                _managed("finplane-api", "2026-01-01T00:00:00Z", {"f:spec": {"f:image": {}, "f:owner": {}}}),
                _managed("kubectl-edit", "2026-01-02T00:00:00Z", {"f:spec": {"f:replicas": {}}}),
                _managed("finplane-operator", "2026-01-03T00:00:00Z", {"f:status": {"f:conditions": {}}},
                         subresource="status"),
                _managed("labeller", "2026-01-04T00:00:00Z", {"f:metadata": {"f:labels": {"f:x": {}}}}),
            ]},
            "spec": {"image": "x:1", "replicas": 2}, "status": {"conditions": []}}
    stored = stored_copy(body)
    assert spec_writer(stored) == spec_writer(body)
    assert spec_writer(stored)["manager"] == "kubectl-edit"
    assert all(v == {} for m in stored["metadata"]["managedFields"] for v in m["fieldsV1"].values())
    assert len(repr(stored)) < len(repr(body))
    stored["spec"]["replicas"] = 3
    assert body["spec"]["replicas"] == 2  # a copy, not a view
