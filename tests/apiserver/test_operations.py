"""Operational features: request counters at /_finplane/stats and /metrics and fault injection (semantic 11),
--data-dir persistence across a restart (semantic 12), the simulated Deployment controller, and a load check
with 10,000 ConfigMaps (semantic 13; timings live in bench/apiserver_raw.py, not here)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import httpx

from finplane.apiserver.testing import start_apiserver


def _deployment(name: str, image: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"a": name}},
                     "template": {"metadata": {"labels": {"a": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


def _wait(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_requests_are_counted_by_verb_resource_and_user_agent(server, ns):
    """Like apiserver_request_total: each request is counted by verb, group, resource, subresource, client."""
    client = httpx.Client(base_url=server.url, headers={"User-Agent": "counter-test/1"})
    client.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "a"}})
    client.get(f"/api/v1/namespaces/{ns}/configmaps/a")
    client.get(f"/api/v1/namespaces/{ns}/configmaps")
    mine = {(r["verb"], r["resource"]): r["count"] for r in server.stats()["by"] if r["userAgent"] == "counter-test/1"}
    assert mine == {("create", "configmaps"): 1, ("get", "configmaps"): 1, ("list", "configmaps"): 1}
    metrics = client.get("/metrics").text
    assert 'finplane_apiserver_requests_total{group="",resource="configmaps",subresource="",user_agent="counter-test/1",verb="create"} 1.0' in metrics


def test_injected_faults_answer_errors_for_a_count_then_stop(server, ns):
    """Fault injection: the next N matching requests get the asked code (429 with Retry-After), then normal service."""
    client = httpx.Client(base_url=server.url, headers={"User-Agent": "faulty-client/1"})
    server.set_faults(errors=[{"code": 429, "count": 2, "userAgent": "faulty-client"}])
    try:
        codes = [client.get(f"/api/v1/namespaces/{ns}/configmaps").status_code for _ in range(3)]
        assert codes == [429, 429, 200]
        server.set_faults(code=503, count=1, verb="create")
        assert client.get(f"/api/v1/namespaces/{ns}/configmaps").status_code == 200
        failed = client.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "f"}})
        assert failed.status_code == 503 and failed.json()["reason"] == "ServiceUnavailable"
    finally:
        server.set_faults()


def test_fault_injection_is_off_unless_the_server_was_started_with_faults(tmp_path):
    """The test-only endpoint does not exist on a server started without --faults."""
    with start_apiserver(tmp_path) as handle:
        assert httpx.post(handle.url + "/_finplane/faults", json={"code": 500}).status_code == 404


def test_cut_watches_end_streams_early(server, ns):
    """Fault injection: cutWatchesEverySeconds ends every watch stream after that long."""
    server.set_faults(cutWatchesEverySeconds=0.5)
    try:
        started = time.monotonic()
        with httpx.stream("GET", f"{server.url}/api/v1/namespaces/{ns}/configmaps",
                          params={"watch": "1", "timeoutSeconds": "20"}, timeout=30) as resp:
            list(resp.iter_lines())
        print(f"watch cut after {time.monotonic() - started:.2f}s (asked for a 20s timeout)")
        assert time.monotonic() - started < 10
    finally:
        server.set_faults()


def test_stalled_watches_stay_open_send_nothing_and_a_resumed_watch_gets_what_was_missed(server, api, ns):
    """Fault injection: stallWatches keeps streams open but silent (a hung connection: no events, no
    bookmarks) until their timeout; like the real server's watch cache, a client that watches again from
    its last resourceVersion once the stall is lifted gets the events it missed."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    rv = api.cm(ns, "before").json()["metadata"]["resourceVersion"]
    server.set_faults(stallWatches=True)
    try:
        with httpx.stream("GET", server.url + path, params={"watch": "1", "resourceVersion": rv,
                                                            "allowWatchBookmarks": "true", "timeoutSeconds": "2"},
                          timeout=30) as resp:
            assert resp.status_code == 200
            assert api.cm(ns, "during").status_code == 201
            lines = list(resp.iter_lines())
        assert lines == []
    finally:
        server.set_faults()
    with httpx.stream("GET", server.url + path, params={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "1"},
                      timeout=30) as resp:
        events = [json.loads(line) for line in resp.iter_lines() if line]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "during")]


def test_state_survives_a_restart_with_a_data_dir(tmp_path: Path):
    """--data-dir: objects, CRDs and the resourceVersion counter survive a restart; older watches get 410."""
    data = tmp_path / "data"
    with start_apiserver(tmp_path / "one", data_dir=data) as first:
        httpx.post(first.url + "/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "kept"}})
        rv = int(httpx.get(first.url + "/api/v1/namespaces/default/configmaps/kept").json()["metadata"]["resourceVersion"])
    with start_apiserver(tmp_path / "two", data_dir=data) as second:
        body = httpx.get(second.url + "/api/v1/namespaces/default/configmaps/kept").json()
        assert int(body["metadata"]["resourceVersion"]) == rv
        created = httpx.post(second.url + "/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "new"}})
        assert int(created.json()["metadata"]["resourceVersion"]) > rv


def test_the_simulated_controller_marks_deployments_available_and_then_stays_quiet(server, api, ns):
    """SIMULATED (not Kubernetes): Deployments get ready status under user agent finplane-simulator, which
    writes nothing more while the status is right; images with simulate-fail never become available."""
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    api.post(path, _deployment("ok", "nginx:1"))
    api.post(path, _deployment("bad", "registry/simulate-fail:1"))
    assert _wait(lambda: (api.get(f"{path}/ok").json().get("status") or {}).get("availableReplicas") == 2)
    ok = api.get(f"{path}/ok").json()
    assert {c["type"]: c["status"] for c in ok["status"]["conditions"]} == {"Available": "True", "Progressing": "True"}
    assert ok["status"]["observedGeneration"] == ok["metadata"]["generation"]
    assert _wait(lambda: "conditions" in (api.get(f"{path}/bad").json().get("status") or {}))
    bad = api.get(f"{path}/bad").json()
    assert {c["type"]: c["status"] for c in bad["status"]["conditions"]} == {"Available": "False", "Progressing": "False"}
    def simulator_writes() -> int:
        return sum(r["count"] for r in server.stats()["by"] if r["userAgent"] == "finplane-simulator")

    before = simulator_writes()
    api.patch(f"{path}/ok", {"metadata": {"labels": {"touch": "1"}}})
    time.sleep(0.6)
    assert simulator_writes() == before
    server.fail_deployment(ns, "ok")
    assert _wait(lambda: (api.get(f"{path}/ok").json()["status"].get("availableReplicas")) is None)


def test_ten_thousand_config_maps_stay_listable_with_a_selector(tmp_path: Path):
    """Load: 10,000 objects in one namespace; a selector list returns exactly the matching ones."""

    async def fill(url: str) -> None:
        async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=8)) as session:
            async def create(i: int) -> None:
                body = {"metadata": {"name": f"cm-{i:05d}", "labels": {"shard": str(i % 100)}}}
                async with session.post("/api/v1/namespaces/default/configmaps", json=body) as resp:
                    assert resp.status == 201

            for start in range(0, 10_000, 200):
                await asyncio.gather(*(create(i) for i in range(start, start + 200)))

    with start_apiserver(tmp_path) as handle:
        asyncio.run(fill(handle.url))
        with httpx.Client(base_url=handle.url, timeout=60) as client:
            started = time.monotonic()
            items = client.get("/api/v1/namespaces/default/configmaps", params={"labelSelector": "shard=7"}).json()["items"]
            print(f"selector list over 10,000 objects: {time.monotonic() - started:.3f}s")
            assert sorted(i["metadata"]["name"] for i in items) == [f"cm-{i:05d}" for i in range(7, 10_000, 100)]
            assert handle.stats()["objects"] >= 10_004
