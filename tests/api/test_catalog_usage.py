"""Partner usage in the catalog: each capability entry carries the metered usage of the partner sandboxes that may
call it, read from a (fake) Prometheus once per request, and only when a usage source is configured.

Covers: the rows are the approved sandboxes allowed to call the capability (a pending one is not listed) with
their figures from the metering rules (a partner with no series reads 0, as the usage route does); a
capability no partner may call has an empty list; without FINPLANE_API_PROMETHEUS_URL, or when Prometheus
fails, the field is absent, never a made-up zero; the detail route carries the same field.
"""

from __future__ import annotations

import pytest

from platform_api.settings import ApiSettings
from tests.api.test_sandbox_usage import FakePrometheus, prometheus  # noqa: F401 (the fixture)

PAT = {"role": "team", "team": "payments", "subject": "pat"}
API = "finplane.io/v1alpha1"


def sandbox(name: str, approval: str, *caps: tuple[str, str]) -> dict[str, object]:
    return {"apiVersion": API, "kind": "TenantSandbox",
            "metadata": {"name": name, "annotations": {"finplane.io/approval": approval}},
            "spec": {"partner": {"name": name.split("--")[0]},
                     "allowedCapabilities": [{"namespace": ns, "name": n} for ns, n in caps]}}


@pytest.fixture
def bank(writer, make_capability):  # type: ignore[no-untyped-def]
    writer.seed(make_capability("ledger", "core", domain="accounts"))
    writer.seed(make_capability("pay", "payments"))
    writer.seed(sandbox("acme--sbx", "approved", ("core", "ledger")))
    writer.seed(sandbox("globex--sbx", "approved", ("core", "ledger")))
    writer.seed(sandbox("initech--sbx", "pending", ("core", "ledger")))


@pytest.fixture
def configured(settings: ApiSettings, prometheus: str) -> ApiSettings:  # noqa: F811 (the imported fixture)
    settings.prometheus_url = prometheus
    return settings


def items(client, as_) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    resp = client.get("/api/v1/catalog", headers=as_(**PAT))
    assert resp.status_code == 200, resp.text
    return {i["name"]: i for i in resp.json()["items"]}


def test_each_entry_carries_the_usage_of_the_partners_that_may_call_it(bank, configured, client, as_):
    found = items(client, as_)
    usage = found["ledger"]["partnerUsage"]
    assert usage["scope"] == "partner"
    assert usage["partners"] == [{"sandbox": "acme--sbx", "requestsPerSecond": 2.5, "requestsLast30Days": 123457},
                                 {"sandbox": "globex--sbx", "requestsPerSecond": 0.0, "requestsLast30Days": 999}]
    assert found["pay"]["partnerUsage"]["partners"] == []
    assert FakePrometheus.queries == ["finplane:partner_api_requests:rate5m",
                                      "finplane:partner_api_requests:increase30d"]  # once per page, not per entry
    detail = client.get("/api/v1/catalog/core/ledger", headers=as_(**PAT)).json()
    assert detail["partnerUsage"] == usage


def test_without_a_usage_source_the_field_is_absent_not_zero(bank, settings, client, as_):
    settings.prometheus_url = None
    found = items(client, as_)
    assert all("partnerUsage" not in e for e in found.values())
    assert "partnerUsage" not in client.get("/api/v1/catalog/core/ledger", headers=as_(**PAT)).json()
    # Only the usage is left out: the summary's other fields are there, null ones included.
    assert {"name", "namespace", "team", "domain", "version", "ready", "compliant", "channels"} <= set(found["ledger"])


def test_a_failing_usage_source_leaves_the_field_absent_and_the_catalog_working(bank, configured, client, as_):
    FakePrometheus.fail = True
    found = items(client, as_)
    assert set(found) == {"ledger", "pay"}
    assert all("partnerUsage" not in e for e in found.values())
