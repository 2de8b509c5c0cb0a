"""Capabilities and the catalog: a team creates, updates and deletes its own capabilities; ETags
are resourceVersions and a stale If-Match gets 412 with the current version; specs the model
refuses get 422 with field errors; the catalog filters and shows the dependency graph."""

from __future__ import annotations

import pytest

API = "finplane.io/v1alpha1"
PAT = {"role": "team", "team": "payments", "subject": "pat"}
BASE = "/api/v1/teams/payments/capabilities"


def spec(**extra):  # type: ignore[no-untyped-def]
    return {"owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments",
            "image": "registry.bank.example/pay:1.0", **extra}


def test_a_team_creates_its_capability_in_its_namespace_with_an_etag(client, as_, writer):
    resp = client.post(BASE, headers=as_(**PAT), json={"name": "pay", "spec": spec()})
    assert resp.status_code == 201, resp.text
    stored = writer.objects[(API, "BusinessCapability", "payments", "pay")]
    assert resp.headers["etag"] == f'"{stored["metadata"]["resourceVersion"]}"'
    assert resp.headers["location"] == f"{BASE}/pay"
    assert stored["metadata"]["labels"]["finplane.io/team"] == "payments"
    # read-your-writes: the cache has it at once
    assert client.get(f"{BASE}/pay", headers=as_(**PAT)).status_code == 200


def test_the_owner_team_defaults_to_the_path_and_cannot_differ(client, as_):
    s = spec()
    del s["owner"]["team"]
    assert client.post(BASE, headers=as_(**PAT), json={"name": "a", "spec": s}).status_code == 201
    other = spec()
    other["owner"]["team"] = "cards"
    resp = client.post(BASE, headers=as_(**PAT), json={"name": "b", "spec": other})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "spec.owner.team"


def test_a_spec_the_model_refuses_gets_422_with_the_field(client, as_):
    resp = client.post(BASE, headers=as_(**PAT), json={"name": "pay", "spec": spec(replicas=-3)})
    assert resp.status_code == 422
    body = resp.json()
    assert body["type"].endswith("/validation")
    assert any(e["field"] == "spec.replicas" for e in body["errors"])


def test_creating_a_capability_twice_is_a_conflict(client, as_):
    client.post(BASE, headers=as_(**PAT), json={"name": "pay", "spec": spec()})
    resp = client.post(BASE, headers=as_(**PAT), json={"name": "pay", "spec": spec()})
    assert resp.status_code == 409
    assert resp.json()["reason"] == "AlreadyExists"


def test_an_update_with_the_current_etag_succeeds_and_a_stale_one_gets_412(client, as_):
    created = client.post(BASE, headers=as_(**PAT), json={"name": "pay", "spec": spec()})
    etag = created.headers["etag"]
    ok = client.put(f"{BASE}/pay", headers={**as_(**PAT), "If-Match": etag}, json={"spec": spec(version="2")})
    assert ok.status_code == 200
    assert ok.json()["spec"]["version"] == "2"
    assert ok.headers["etag"] != etag
    stale = client.put(f"{BASE}/pay", headers={**as_(**PAT), "If-Match": etag}, json={"spec": spec(version="3")})
    assert stale.status_code == 412
    assert stale.json()["currentVersion"] == ok.json()["resourceVersion"]
    assert stale.headers["etag"] == ok.headers["etag"]


def test_a_delete_with_a_stale_etag_is_refused_and_with_none_succeeds(client, as_, writer):
    client.post(BASE, headers=as_(**PAT), json={"name": "pay", "spec": spec()})
    assert client.delete(f"{BASE}/pay", headers={**as_(**PAT), "If-Match": '"1"'}).status_code == 412
    assert client.delete(f"{BASE}/pay", headers=as_(**PAT)).status_code == 204
    assert (API, "BusinessCapability", "payments", "pay") not in writer.objects
    assert client.get(f"{BASE}/pay", headers=as_(**PAT)).status_code == 404


def test_a_cache_behind_the_cluster_turns_a_write_conflict_into_412(client, as_, writer, cache):
    client.post(BASE, headers=as_(**PAT), json={"name": "pay", "spec": spec()})
    writer.set_status(API, "BusinessCapability", "pay", {"conditions": []}, "payments")
    old = writer.objects[(API, "BusinessCapability", "payments", "pay")]
    stale_copy = {**old, "metadata": {**old["metadata"], "resourceVersion": "1"}}
    cache.observe(stale_copy)  # the watch has not delivered the status write yet
    resp = client.put(f"{BASE}/pay", headers=as_(**PAT), json={"spec": spec(version="2")})
    assert resp.status_code == 412


@pytest.fixture
def bank(writer, make_capability):  # type: ignore[no-untyped-def]
    writer.seed(make_capability("ledger", "core", domain="accounts", classification="restricted"))
    writer.seed(make_capability("pay", "payments", deps=[{"namespace": "core", "name": "ledger"},
                                                         {"namespace": "core", "name": "ghost"}],
                                channels=["mobile"]))
    writer.seed(make_capability("cards", "cards", domain="cards", ready=False,
                                deps=[{"namespace": "core", "name": "ledger"}]))


def _names(resp):  # type: ignore[no-untyped-def]
    assert resp.status_code == 200, resp.text
    return [i["name"] for i in resp.json()["items"]]


def test_the_catalog_filters_by_team_domain_classification_readiness_channel_and_text(bank, client, as_):
    h = as_(**PAT)
    assert _names(client.get("/api/v1/catalog", headers=h)) == ["cards", "ledger", "pay"]
    assert _names(client.get("/api/v1/catalog?team=core", headers=h)) == ["ledger"]
    assert _names(client.get("/api/v1/catalog?domain=cards", headers=h)) == ["cards"]
    assert _names(client.get("/api/v1/catalog?classification=restricted", headers=h)) == ["ledger"]
    assert _names(client.get("/api/v1/catalog?ready=false", headers=h)) == ["cards"]
    assert _names(client.get("/api/v1/catalog?channel=mobile", headers=h)) == ["pay"]
    assert _names(client.get("/api/v1/catalog?q=LEDGER", headers=h)) == ["ledger"]


def test_the_catalog_detail_shows_what_a_capability_depends_on_and_what_depends_on_it(bank, client, as_):
    ledger = client.get("/api/v1/catalog/core/ledger", headers=as_(**PAT)).json()
    assert [(d["namespace"], d["name"]) for d in ledger["dependedOnBy"]] == [("cards", "cards"), ("payments", "pay")]
    pay = client.get("/api/v1/catalog/payments/pay", headers=as_(**PAT)).json()
    assert pay["dependsOn"] == [{"namespace": "core", "name": "ledger", "exists": True, "ready": True},
                                {"namespace": "core", "name": "ghost", "exists": False, "ready": None}]
    assert pay["channels"] == ["mobile"]
    assert "spec" not in pay  # the catalog is a summary; details stay with the owning team
