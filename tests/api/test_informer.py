"""The informer behind the API's reads, against the embedded API server: it lists then watches
(adds, changes and deletes arrive without polling), sets `ready` after the first list, survives
watch streams cut by the server (reconnects from its version), relists after 410 Gone and tells
subscribers what changed meanwhile, and reports a resource the server does not serve as empty."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from finplane.kube.client import Kube
from finplane.kube.informer import Informer, informer_for
from finplane.kube.resources import resource_for
from finplane_emulator.testing import ApiServerHandle, start_apiserver
from tests.support import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-informer")]


def cm(name: str, value: str = "1") -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
            "data": {"v": value}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> ApiServerHandle:
    # A short watch history, so that a paused informer falls behind it (410 Gone) quickly.
    handle = start_apiserver(tmp_path_factory.mktemp("informer"), faults=True,
                             env={"FINPLANE_APISERVER_WATCH_HISTORY": "50"})
    yield handle
    handle.stop()


@pytest.fixture
async def kube(server: ApiServerHandle) -> AsyncIterator[Kube]:
    server.set_faults()
    k = await Kube.from_config(kubeconfig=str(server.kubeconfig))
    for obj in await k.list("v1", "ConfigMap", "default"):
        await k.delete("v1", "ConfigMap", obj["metadata"]["name"], "default")
    yield k
    await k.close()


async def test_the_store_follows_adds_changes_and_deletes_through_the_watch(kube):
    await kube.create(cm("before"))
    informer = informer_for(kube, resource_for("v1", "ConfigMap"), namespace="default", watch_timeout=30)
    events: list[tuple[str, str]] = []
    informer.subscribe(lambda kind, obj: events.append((kind, obj["metadata"]["name"])))
    informer.start()
    try:
        await asyncio.wait_for(informer.ready.wait(), 10)
        assert informer.get("before", "default") is not None
        await kube.create(cm("after"))
        await kube.patch_merge("v1", "ConfigMap", "before", {"data": {"v": "2"}}, "default")
        await kube.delete("v1", "ConfigMap", "after", "default")
        await eventually(lambda: ("DELETED", "after") in events)
        assert informer.get("before", "default")["data"] == {"v": "2"}
        assert informer.get("after", "default") is None
        assert events == [("ADDED", "before"), ("ADDED", "after"), ("MODIFIED", "before"), ("DELETED", "after")]
        assert informer.relists == 1
    finally:
        await informer.stop()


async def test_cut_watch_streams_are_resumed_without_losing_changes(kube, server):
    informer = informer_for(kube, resource_for("v1", "ConfigMap"), namespace="default", watch_timeout=30,
                            backoff_base=0.01)
    informer.start()
    try:
        await asyncio.wait_for(informer.ready.wait(), 10)
        server.set_faults(cutWatchesEverySeconds=0.3)
        for i in range(8):
            await kube.create(cm(f"c{i}"))
            await asyncio.sleep(0.1)
        await eventually(lambda: len(informer.items()) == 8)
        assert informer.relists == 1  # resumed from its version each time, no relist needed
    finally:
        server.set_faults()
        await informer.stop()


async def test_a_watch_from_a_compacted_version_relists_and_reports_what_changed(kube):
    informer = informer_for(kube, resource_for("v1", "ConfigMap"), namespace="default", watch_timeout=30)
    await kube.create(cm("doomed"))
    informer.start()
    await asyncio.wait_for(informer.ready.wait(), 10)
    await informer.stop()
    # While nobody watches, more changes happen than the server keeps in its history.
    await kube.delete("v1", "ConfigMap", "doomed", "default")
    for i in range(120):
        await kube.create(cm(f"n{i:03d}"))
    events: list[tuple[str, str]] = []
    informer.subscribe(lambda kind, obj: events.append((kind, obj["metadata"]["name"])))
    informer.start()
    try:
        await eventually(lambda: informer.relists == 2 and len(informer.items()) == 120)
        assert ("DELETED", "doomed") in events
        assert sum(1 for kind, _ in events if kind == "ADDED") == 120
    finally:
        await informer.stop()


async def test_a_resource_the_server_does_not_serve_is_ready_and_empty(kube):
    informer = informer_for(kube, resource_for("wgpolicyk8s.io/v1alpha2", "PolicyReport"))
    informer.start()
    try:
        await asyncio.wait_for(informer.ready.wait(), 10)
        assert informer.absent and informer.items() == []
    finally:
        await informer.stop()


def test_the_informer_module_is_the_only_kubernetes_importer_of_the_api():
    root = Path(__file__).resolve().parents[2] / "platform_api"
    offenders = [p for p in root.rglob("*.py") if "import kubernetes" in p.read_text()
                 or "from kubernetes" in p.read_text()]
    assert offenders == []
    assert Informer.__module__ == "finplane.kube.informer"
