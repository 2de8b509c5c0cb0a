"""Pagination and errors: pages follow a stable key so concurrent inserts neither duplicate nor
skip items; a forged cursor is a 400 problem; every error is RFC 9457 problem+json (unknown
route, wrong method, invalid body with field errors); an unexpected failure is a 500 problem that
reveals nothing; the rate limit answers 429 with Retry-After; health, readiness and metrics."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from platform_api.app import create_app
from platform_api.cache import MemoryCache
from platform_api.pagination import decode_cursor, encode_cursor, paginate

AUD = {"role": "auditor", "subject": "audrey"}


def test_a_cursor_round_trips_its_key():
    assert decode_cursor(encode_cursor(("ns", "name"))) == ("ns", "name")


def test_pages_stay_stable_while_items_are_inserted_between_requests():
    items = [("", f"c{i:02d}") for i in range(0, 20, 2)]
    seen: list[tuple[str, str]] = []
    cursor = None
    inserted = iter(("", f"c{i:02d}") for i in range(1, 20, 2))
    while True:
        page = paginate(items, key=lambda k: k, limit=3, cursor=cursor)
        seen.extend(page)
        items.append(next(inserted, ("", "a-before-everything")))  # someone creates objects meanwhile
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert set(("", f"c{i:02d}") for i in range(0, 20, 2)) <= set(seen)  # nothing that existed was skipped
    assert seen == sorted(seen)


@pytest.fixture
def many(writer, make_capability):  # type: ignore[no-untyped-def]
    for i in range(7):
        writer.seed(make_capability(f"cap{i}", "payments"))


def test_the_catalog_pages_through_every_item_once(many, client, as_):
    names, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/catalog", headers=as_(**AUD), params=params).json()
        names += [i["name"] for i in body["items"]]
        cursor = body["nextCursor"]
        if not cursor:
            break
    assert names == [f"cap{i}" for i in range(7)]


@pytest.mark.parametrize("cursor", ["!!!", "e30", encode_cursor(("a",))[:-2] + "xx", "W1sxXV0"])
def test_a_forged_cursor_is_a_400_problem(client, as_, cursor):
    resp = client.get("/api/v1/catalog", headers=as_(**AUD), params={"cursor": cursor})
    assert resp.status_code == 400
    assert resp.json()["reason"] == "InvalidCursor"


def test_an_unknown_route_is_a_problem_document(client):
    resp = client.get("/api/v1/nowhere")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert set(resp.json()) >= {"type", "title", "status", "detail"}


def test_a_wrong_method_is_a_problem_document(client, as_):
    resp = client.patch("/api/v1/catalog", headers=as_(**AUD))
    assert resp.status_code == 405
    assert resp.json()["status"] == 405


def test_an_invalid_body_lists_every_field_error(client, as_):
    resp = client.post("/api/v1/teams/payments/capabilities", headers=as_(role="team", team="payments"),
                       json={"name": "Not_A_Label", "extra": 1})
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.json()["errors"]}
    assert {"body.name", "body.spec", "body.extra"} <= fields


def test_a_body_that_is_not_json_is_a_422_problem_not_a_500(client, as_):
    resp = client.post("/api/v1/sandboxes", headers={**as_(role="partner", partner="acme"),
                                                     "Content-Type": "application/json"}, content=b"{nope")
    assert resp.status_code == 422


def test_an_unexpected_failure_is_a_500_problem_that_reveals_nothing(settings, mint, cache):
    class Exploding(MemoryCache):
        def list(self, kind):  # type: ignore[no-untyped-def]
            raise RuntimeError("secret internal detail /etc/passwd")

        def ordered(self, kind, after=None):  # type: ignore[no-untyped-def]  # the catalog's paged read
            raise RuntimeError("secret internal detail /etc/passwd")

    with TestClient(create_app(settings, cache=Exploding(), writer=object()), raise_server_exceptions=False) as c:
        resp = c.get("/api/v1/catalog", headers={"Authorization": f"Bearer {mint('admin')}"})
    assert resp.status_code == 500
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "secret" not in resp.text and "RuntimeError" not in resp.text


def test_a_caller_over_its_rate_limit_gets_429_with_retry_after_and_others_are_unaffected(settings, mint, cache):
    cfg = settings.model_copy(update={"rate_limit_per_second": 0.5, "rate_limit_burst": 3})
    with TestClient(create_app(cfg, cache=cache, writer=object())) as c:
        noisy = {"Authorization": f"Bearer {mint('team', team='a', subject='noisy')}"}
        codes = [c.get("/api/v1/channels", headers=noisy).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = c.get("/api/v1/channels", headers=noisy)
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["reason"] == "RateLimited"
        quiet = {"Authorization": f"Bearer {mint('team', team='b', subject='quiet')}"}
        assert c.get("/api/v1/channels", headers=quiet).status_code == 200


def test_readiness_waits_for_the_cache_and_health_does_not(settings):
    with TestClient(create_app(settings, cache=MemoryCache(ready=False), writer=object())) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 503
        assert c.get("/api/v1/channels").status_code == 401  # auth is checked before anything else
    with TestClient(create_app(settings, cache=MemoryCache(), writer=object())) as c:
        assert c.get("/readyz").status_code == 200


def test_metrics_count_requests_by_route_template_and_status(client, as_):
    client.get("/api/v1/teams/payments/capabilities/x", headers=as_(role="team", team="payments"))
    client.get("/api/v1/teams/payments/capabilities/y", headers=as_(role="team", team="payments"))
    text = client.get("/metrics").text
    assert ('finplane_api_requests_total{method="GET",route="/api/v1/teams/{team}/capabilities/{name}",'
            'status="404"} 2.0') in text
    assert "finplane_api_request_duration_seconds_bucket" in text
