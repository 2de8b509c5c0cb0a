"""Watches (semantic 7): events from a resourceVersion, BOOKMARKs, timeoutSeconds, selector transitions
and 410 Gone for versions older than the kept history, as the kube-apiserver's watch cache does."""

from __future__ import annotations

import json

import httpx

from finplane_emulator.testing import start_apiserver


def _watch(url: str, path: str, **params) -> list[dict]:
    with httpx.stream("GET", url + path, params={"watch": "true", **params}, timeout=30) as resp:
        assert resp.status_code == 200
        return [json.loads(line) for line in resp.iter_lines() if line]


def test_a_watch_from_a_version_replays_added_modified_deleted(server, api, ns):
    """kube-apiserver: watching from resourceVersion R streams every later change in order."""
    rv = api.get(f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]
    api.cm(ns, "w", data={"a": "1"})
    api.patch(f"/api/v1/namespaces/{ns}/configmaps/w", {"data": {"a": "2"}})
    api.delete(f"/api/v1/namespaces/{ns}/configmaps/w")
    events = _watch(server.url, f"/api/v1/namespaces/{ns}/configmaps", resourceVersion=rv, timeoutSeconds=1)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


def test_a_watch_without_a_version_starts_with_the_current_objects(server, api, ns):
    """kube-apiserver: a watch with no resourceVersion first sends synthetic ADDED events for what exists."""
    api.cm(ns, "x")
    api.cm(ns, "y")
    events = _watch(server.url, f"/api/v1/namespaces/{ns}/configmaps", timeoutSeconds=1)
    assert sorted(e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED") == ["x", "y"]


def test_bookmarks_are_sent_when_allowed_and_the_stream_ends_at_the_timeout(server, api, ns):
    """kube-apiserver: allowWatchBookmarks yields BOOKMARK events carrying only a resourceVersion,
    and timeoutSeconds closes the stream cleanly."""
    rv = api.get(f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]
    events = _watch(server.url, f"/api/v1/namespaces/{ns}/configmaps", resourceVersion=rv,
                    allowWatchBookmarks="true", timeoutSeconds=2)
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks
    assert set(bookmarks[0]["object"]["metadata"]) == {"resourceVersion"}
    assert bookmarks[0]["object"]["kind"] == "ConfigMap"


def test_objects_leaving_a_label_selector_are_seen_as_deleted(server, api, ns):
    """kube-apiserver: for a selector watch, a change that moves an object out of the selection is DELETED."""
    api.cm(ns, "sel", labels={"team": "a"})
    rv = api.get(f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]
    api.patch(f"/api/v1/namespaces/{ns}/configmaps/sel", {"metadata": {"labels": {"team": "b"}}})
    events = _watch(server.url, f"/api/v1/namespaces/{ns}/configmaps", resourceVersion=rv,
                    labelSelector="team=a", timeoutSeconds=1)
    assert [e["type"] for e in events] == ["DELETED"]


def test_a_version_older_than_the_history_gets_a_410_expired_error_event(tmp_path):
    """kube-apiserver: watching from a compacted resourceVersion sends an ERROR event with a 410 Expired Status."""
    handle = start_apiserver(tmp_path, env={"FINPLANE_APISERVER_WATCH_HISTORY": "5"})
    try:
        client = httpx.Client(base_url=handle.url)
        first = None
        for i in range(12):
            body = client.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": f"c{i}"}}).json()
            first = first or body["metadata"]["resourceVersion"]
        events = _watch(handle.url, "/api/v1/namespaces/default/configmaps", resourceVersion=first, timeoutSeconds=1)
        assert len(events) == 1 and events[0]["type"] == "ERROR"
        assert (events[0]["object"]["code"], events[0]["object"]["reason"]) == (410, "Expired")
        assert "too old resource version" in events[0]["object"]["message"]
        token_list = client.get("/api/v1/namespaces/default/configmaps", params={"limit": 2}).json()
        for i in range(12, 20):
            client.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": f"c{i}"}})
        stale = client.get("/api/v1/namespaces/default/configmaps",
                           params={"limit": 2, "continue": token_list["metadata"]["continue"]})
        assert stale.status_code == 410 and stale.json()["reason"] == "Expired"
    finally:
        handle.stop()
