"""GET /api/v1/sandboxes/{name}/usage: per-partner usage read from a (fake) Prometheus HTTP server.

The figures are the metering rules' values for the sandbox's client id only; another partner cannot read
them; without a Prometheus configured, or with one that fails, the answer is a 503 saying why.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from platform_api.settings import ApiSettings

ACME = {"role": "partner", "partner": "acme", "subject": "acme-bot"}
GLOBEX = {"role": "partner", "partner": "globex", "subject": "globex-bot"}
ADA = {"role": "admin", "subject": "ada"}
BOB = {"role": "admin", "subject": "bob"}
#: What the fake Prometheus holds: (rule, partner label) -> value.
SERIES = {("finplane:partner_api_requests:rate5m", "acme--sbx"): "2.5",
          ("finplane:partner_api_requests:increase30d", "acme--sbx"): "123456.7",
          ("finplane:partner_api_requests:increase30d", "globex--sbx"): "999"}


class FakePrometheus(BaseHTTPRequestHandler):
    fail = False
    queries: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        query = parse_qs(url.query).get("query", [""])[0]
        FakePrometheus.queries.append(query)
        if FakePrometheus.fail or url.path != "/api/v1/query":
            self._send(500, {"status": "error", "error": "boom"})
            return
        rule, _, rest = query.partition("{")
        partner = rest.removeprefix('partner="').removesuffix('"}')
        result = [{"metric": {"partner": p}, "value": [1767225600, v]} for (r, p), v in SERIES.items()
                  if r == rule and (p == partner or not rest)]  # no selector: every partner (the catalog's query)
        self._send(200, {"status": "success", "data": {"resultType": "vector", "result": result}})

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), FakePrometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakePrometheus.fail, FakePrometheus.queries = False, []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(settings: ApiSettings, prometheus: str) -> ApiSettings:
    settings.prometheus_url = prometheus
    return settings


@pytest.fixture
def sandbox(client, as_, make_sandbox_spec):  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/sandboxes", headers=as_(**ACME),
                       json={"name": "acme--sbx", "spec": make_sandbox_spec("acme"), "termsAccepted": True})
    assert resp.status_code == 201, resp.text


def test_the_partner_reads_its_own_usage_from_the_metering_rules(sandbox, client, as_):
    resp = client.get("/api/v1/sandboxes/acme--sbx/usage", headers=as_(**ACME))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["partner"], body["requestsPerSecond"], body["requestsLast30Days"]) == ("acme", 2.5, 123457)
    assert FakePrometheus.queries == ['finplane:partner_api_requests:rate5m{partner="acme--sbx"}',
                                      'finplane:partner_api_requests:increase30d{partner="acme--sbx"}']


def test_another_partner_cannot_read_it(sandbox, client, as_):
    assert client.get("/api/v1/sandboxes/acme--sbx/usage", headers=as_(**GLOBEX)).status_code == 404
    assert FakePrometheus.queries == []


def test_a_failing_prometheus_is_a_503_saying_so(sandbox, client, as_):
    FakePrometheus.fail = True
    resp = client.get("/api/v1/sandboxes/acme--sbx/usage", headers=as_(**ADA))
    assert resp.status_code == 503
    assert resp.json()["reason"] == "UsageUnavailable"


def test_without_prometheus_configured_the_answer_says_what_to_set(sandbox, client, as_, settings):
    settings.prometheus_url = None
    resp = client.get("/api/v1/sandboxes/acme--sbx/usage", headers=as_(**ADA))
    assert resp.status_code == 503
    assert resp.json()["reason"] == "UsageNotConfigured"
    assert "FINPLANE_API_PROMETHEUS_URL" in resp.json()["detail"]
