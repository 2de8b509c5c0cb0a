"""Operational features: request counters at /_finplane/stats and /metrics and fault injection (semantic 11),
--data-dir persistence across a restart (semantic 12), the simulated Deployment controller, and a load check
with 10,000 ConfigMaps (semantic 13; timings live in bench/apiserver_raw.py, not here)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from finplane_emulator.testing import start_apiserver


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


def test_cut_watches_end_streams_early(server, ns):
    """Fault injection: cutWatchesEverySeconds ends every watch stream after that long, long before the
    timeoutSeconds the client asked for (here 300 s; a stream that is not cut would hit the client's
    30 s read timeout and fail the test)."""
    server.set_faults(cutWatchesEverySeconds=0.5)
    try:
        with httpx.stream("GET", f"{server.url}/api/v1/namespaces/{ns}/configmaps",
                          params={"watch": "1", "timeoutSeconds": "300"}, timeout=30) as resp:
            assert resp.status_code == 200
            list(resp.iter_lines())  # returns only because the server closed the stream
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


async def _post_all(url: str, path: str, bodies: list[dict], *, connections: int = 8, window: int = 64) -> list[int]:
    """POST every body over a few keep-alive connections, pipelining `window` requests at a time; the statuses.

    A bare HTTP/1.1 client: creating 10,000 objects through aiohttp's client costs the test more CPU than the
    server spends on them, on the same two cores."""
    where = urlsplit(url)
    statuses: list[int] = []

    def request(body: dict) -> bytes:
        raw = json.dumps(body).encode()
        return (f"POST {path} HTTP/1.1\r\nHost: {where.netloc}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(raw)}\r\n\r\n").encode() + raw

    async def response(reader: asyncio.StreamReader) -> int:
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return status

    async def run(chunk: list[dict]) -> None:
        reader, writer = await asyncio.open_connection(where.hostname, where.port)
        try:
            for start in range(0, len(chunk), window):
                batch = chunk[start:start + window]
                writer.write(b"".join(request(body) for body in batch))
                await writer.drain()
                for _ in batch:
                    statuses.append(await response(reader))
        finally:
            writer.close()

    await asyncio.gather(*(run(bodies[i::connections]) for i in range(connections)))
    return statuses


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory):
    """A server started without --faults, shared by the tests that need one and do not interfere."""
    with start_apiserver(tmp_path_factory.mktemp("plain")) as handle:
        yield handle


def test_fault_injection_is_off_unless_the_server_was_started_with_faults(plain_server):
    """The test-only endpoint does not exist on a server started without --faults."""
    assert httpx.post(plain_server.url + "/_finplane/faults", json={"code": 500}).status_code == 404


def test_ten_thousand_config_maps_stay_listable_with_a_selector(plain_server):
    """Load: 10,000 objects in one namespace, created over 8 concurrent connections, all accepted; a selector
    list over them returns exactly the matching ones (the real server answers from its watch cache)."""
    handle = plain_server
    bodies = [{"metadata": {"name": f"cm-{i:05d}", "labels": {"shard": str(i % 100)}}} for i in range(10_000)]
    statuses = asyncio.run(_post_all(handle.url, "/api/v1/namespaces/default/configmaps", bodies))
    assert statuses == [201] * 10_000
    with httpx.Client(base_url=handle.url, timeout=60) as client:
        started = time.monotonic()
        items = client.get("/api/v1/namespaces/default/configmaps", params={"labelSelector": "shard=7"}).json()["items"]
        print(f"selector list over 10,000 objects: {time.monotonic() - started:.3f}s")
        assert sorted(i["metadata"]["name"] for i in items) == [f"cm-{i:05d}" for i in range(7, 10_000, 100)]
        assert handle.stats()["objects"] >= 10_004
