"""Graceful Pod deletion, against a server of its own whose simulated kubelet takes an hour to stop containers
(`FINPLANE_SIMULATOR_POD_STOP_SECONDS=3600`), so that a Pod stays terminating for as long as its grace period
says and nothing here depends on timing. Mirrors kube-apiserver's podStrategy.CheckGracefulDelete and the
kubelet's final DELETE with grace 0, and kubectl's printing of a terminating Pod."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from finplane_emulator.testing import ApiServerHandle, start_apiserver


class Api:
    """Raw JSON over HTTP against the module's own server (the suite's `api` fixture talks to the shared one)."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(path, json=body)

    def patch(self, path: str, body: Any) -> httpx.Response:
        return self.http.patch(path, json=body, headers={"Content-Type": "application/merge-patch+json"})

    def delete(self, path: str, body: Any = None, *, params: dict[str, str] | None = None) -> httpx.Response:
        return self.http.request("DELETE", path, json=body, params=params)


def _pod(name: str, **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **metadata},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServerHandle, Api]]:
    handle = start_apiserver(tmp_path_factory.mktemp("slowkubelet"),
                             env={"FINPLANE_SIMULATOR_POD_STOP_SECONDS": "3600"})
    client = Api(handle.url)
    try:
        resp = client.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": "grace"}})
        assert resp.status_code == 201, resp.text
        yield handle, client
    finally:
        client.http.close()
        handle.stop()


def _gone_eventually(api: Api, path: str) -> None:
    deadline = time.monotonic() + 30
    while api.get(path).status_code == 200:
        assert time.monotonic() < deadline, f"{path} was never deleted"
        time.sleep(0.2)


def test_a_pod_with_a_grace_period_stays_terminating_and_a_shorter_grace_ends_it(slow):
    """CheckGracefulDelete: DELETE sets deletionTimestamp (now + grace) and deletionGracePeriodSeconds and the
    Pod stays; a later DELETE may shorten the grace period but never lengthen it; the kubelet then deletes it."""
    _, api = slow
    path = "/api/v1/namespaces/grace/pods/slow"
    assert api.post("/api/v1/namespaces/grace/pods", _pod("slow")).status_code == 201
    resp = api.delete(path, {"gracePeriodSeconds": 60})
    assert resp.status_code == 200, resp.text
    assert resp.json()["metadata"]["deletionGracePeriodSeconds"] == 60 and resp.json()["metadata"]["deletionTimestamp"]
    assert api.get(path).json()["metadata"]["deletionGracePeriodSeconds"] == 60
    assert api.delete(path, {"gracePeriodSeconds": 600}).json()["metadata"]["deletionGracePeriodSeconds"] == 60
    assert api.delete(path, {"gracePeriodSeconds": 1}).json()["metadata"]["deletionGracePeriodSeconds"] == 1
    _gone_eventually(api, path)


def test_a_pods_own_termination_grace_period_is_the_default(slow):
    """Without gracePeriodSeconds the Pod's spec.terminationGracePeriodSeconds (defaulted to 30) applies."""
    _, api = slow
    body = _pod("own")
    body["spec"]["terminationGracePeriodSeconds"] = 45
    assert api.post("/api/v1/namespaces/grace/pods", body).status_code == 201
    assert api.delete("/api/v1/namespaces/grace/pods/own").json()["metadata"]["deletionGracePeriodSeconds"] == 45
    assert api.post("/api/v1/namespaces/grace/pods", _pod("dflt")).status_code == 201
    assert api.delete("/api/v1/namespaces/grace/pods/dflt").json()["metadata"]["deletionGracePeriodSeconds"] == 30


def test_grace_zero_or_a_finished_pod_is_deleted_at_once(slow):
    """A grace period of 0, or a Pod in phase Succeeded/Failed, is deleted immediately."""
    _, api = slow
    assert api.post("/api/v1/namespaces/grace/pods", _pod("now")).status_code == 201
    assert api.delete("/api/v1/namespaces/grace/pods/now", params={"gracePeriodSeconds": "0"}).status_code == 200
    assert api.get("/api/v1/namespaces/grace/pods/now").status_code == 404
    assert api.post("/api/v1/namespaces/grace/pods", _pod("done")).status_code == 201
    assert api.patch("/api/v1/namespaces/grace/pods/done/status", {"status": {"phase": "Succeeded"}}).status_code == 200
    api.delete("/api/v1/namespaces/grace/pods/done")
    assert api.get("/api/v1/namespaces/grace/pods/done").status_code == 404


def test_a_terminating_pod_outlives_the_removal_of_its_finalizers_until_the_kubelet_is_done(slow):
    """The registry deletes an object whose finalizers are gone only once deletionGracePeriodSeconds is 0: a Pod
    in its grace period stays after a patch that removes its finalizers, and goes when the kubelet finishes."""
    _, api = slow
    path = "/api/v1/namespaces/grace/pods/held"
    assert api.post("/api/v1/namespaces/grace/pods", _pod("held", finalizers=["example.com/hold"])).status_code == 201
    api.delete(path, {"gracePeriodSeconds": 120})
    resp = api.patch(path, {"metadata": {"finalizers": None}})
    assert resp.status_code == 200, resp.text
    assert api.get(path).status_code == 200
    api.delete(path, {"gracePeriodSeconds": 1})
    _gone_eventually(api, path)


def test_kubectl_shows_a_terminating_pod_with_the_real_columns(slow, tmp_path: Path):
    """printPod: NAME READY STATUS RESTARTS AGE (wide: IP NODE NOMINATED NODE READINESS GATES); a Pod with a
    deletionTimestamp prints as Terminating."""
    handle, api = slow
    assert api.post("/api/v1/namespaces/grace/pods", _pod("web")).status_code == 201
    api.delete("/api/v1/namespaces/grace/pods/web", {"gracePeriodSeconds": 120})
    env = {**os.environ, "KUBECONFIG": str(handle.kubeconfig), "HOME": str(tmp_path),
           "KUBECACHEDIR": str(tmp_path / "kcache")}
    done = subprocess.run(["kubectl", "get", "pod", "web", "-n", "grace", "-o", "wide"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                                "READINESS", "GATES"]
    assert lines[1].split()[:4] == ["web", "0/1", "Terminating", "0"]
