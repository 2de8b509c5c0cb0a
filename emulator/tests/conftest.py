"""Fixtures for the embedded API server's own tests: one server process per test session (per xdist
worker: tests stay apart by each working in a fresh namespace and undoing any faults they set), and
`Api`, a thin raw-HTTP client that returns status codes and bodies as they are (so tests see exactly
what a real client would)."""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from finplane_emulator.testing import ApiServerHandle, start_apiserver

_counter = itertools.count()

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"],
                  "categories": ["finplane"]},
        "versions": [{
            "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
            "additionalPrinterColumns": [
                {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
            ],
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "required": ["size"], "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                    "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                    "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                }},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            }}},
        }],
    },
}


class Api:
    """Raw HTTP against the server; `.json` bodies, no retries, no client-side validation."""

    def __init__(self, url: str, *, user_agent: str = "finplane-tests/1") -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30, headers={"User-Agent": user_agent})

    def request(self, method: str, path: str, body: Any = None, *, ctype: str = "application/json",
                params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        content = None
        if body is not None:
            content = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.http.request(method, path, content=content, params=params,
                                 headers={"Content-Type": ctype, **(headers or {})})

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any, *, ctype: str = "application/merge-patch+json", **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, body, ctype=ctype, **kw)

    def delete(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, body, **kw)

    def cm(self, ns: str, name: str, *, labels: dict[str, str] | None = None, data: dict[str, str] | None = None,
           **meta: Any) -> httpx.Response:
        return self.post(f"/api/v1/namespaces/{ns}/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels or {}, **meta}, "data": data or {}})


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerHandle]:
    handle = start_apiserver(tmp_path_factory.mktemp("apiserver"), faults=True,
                             env={"FINPLANE_APISERVER_BOOKMARK_SECONDS": "0.5"})
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def api(server: ApiServerHandle) -> Iterator[Api]:
    client = Api(server.url)
    yield client
    client.http.close()


@pytest.fixture
def ns(api: Api) -> str:
    name = f"t{next(_counter)}-{uuid.uuid4().hex[:6]}"
    resp = api.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert resp.status_code == 201, resp.text
    return name


@pytest.fixture(scope="session")
def widgets(api: Api) -> str:
    """The Widget CRD installed; returns the collection path prefix for a namespace format string."""
    resp = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
    assert resp.status_code in (201, 409), resp.text
    return "/apis/example.com/v1/namespaces/{ns}/widgets"


@pytest.fixture
def kubectl_env(server: ApiServerHandle, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(server.kubeconfig), "KUBECACHEDIR": str(tmp_path / "kcache"),
            "HOME": str(tmp_path)}


@pytest.fixture
def widget_crd() -> dict[str, Any]:
    """The Widget CRD manifest (as a dict), for tests that install it through a client."""
    return json.loads(json.dumps(WIDGET_CRD))
