"""Real clients against the embedded API server, unchanged: kubectl 1.32 (get with tables, apply client-side and
server-side, -o yaml, -l, delete, --watch, wait, explain), the official `kubernetes` client (sync and aio) and a
tiny kopf operator run through kopf.testing.KopfRunner."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import yaml
from kubernetes import client, config, watch
from kubernetes.aio import client as aclient
from kubernetes.aio import config as aconfig


def _kubectl(env, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_kubectl_applies_gets_watches_waits_explains_and_deletes(kubectl_env, widget_crd, tmp_path: Path, ns, api):
    """kubectl 1.32 works unchanged: it validates through /openapi/v3, prints server-side Tables, resolves
    short names and categories, applies client-side and server-side, waits on conditions and explains."""
    widget_crd["metadata"]["name"] = "gadgets.example.com"
    widget_crd["spec"]["names"] = {"plural": "gadgets", "singular": "gadget", "kind": "Gadget",
                                   "shortNames": ["gd"], "categories": ["finplane"]}
    crd_file = tmp_path / "crd.yaml"
    crd_file.write_text(yaml.safe_dump(widget_crd))
    objs = tmp_path / "objs.yaml"
    objs.write_text(yaml.safe_dump_all([
        {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g1", "namespace": ns,
                                                                        "labels": {"tier": "a"}}, "spec": {"size": 3}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "namespace": ns}, "data": {"k": "v"}},
    ]))
    env = kubectl_env
    assert _kubectl(env, "apply", "-f", str(crd_file)).returncode == 0
    done = _kubectl(env, "wait", "--for=condition=Established", "crd/gadgets.example.com", "--timeout=10s")
    assert done.returncode == 0, done.stderr
    applied = _kubectl(env, "apply", "-f", str(objs))
    assert applied.returncode == 0, applied.stderr
    assert "gadget.example.com/g1 created" in applied.stdout
    again = _kubectl(env, "apply", "-f", str(objs))
    assert "gadget.example.com/g1 unchanged" in again.stdout
    ssa = _kubectl(env, "apply", "--server-side", "-f", str(objs))
    assert ssa.returncode == 0 and "serverside-applied" in ssa.stdout, ssa.stderr
    table = _kubectl(env, "get", "gd", "-n", ns)
    assert table.stdout.split("\n")[0].split() == ["NAME", "SIZE", "READY"]
    assert table.stdout.split("\n")[1].split()[:2] == ["g1", "3"]
    assert "g1" in _kubectl(env, "get", "finplane", "-n", ns).stdout
    assert _kubectl(env, "get", "gadgets", "-n", ns, "-l", "tier=b").stdout == ""
    as_yaml = yaml.safe_load(_kubectl(env, "get", "gadget", "g1", "-n", ns, "-o", "yaml").stdout)
    assert as_yaml["spec"] == {"size": 3, "color": "red"}
    cms = _kubectl(env, "get", "cm", "-n", ns).stdout
    assert cms.split("\n")[0].split() == ["NAME", "DATA", "AGE"]
    explained = _kubectl(env, "explain", "gadgets.spec.size")
    assert explained.returncode == 0 and "<integer>" in explained.stdout, explained.stderr
    assert "replicas" in _kubectl(env, "explain", "deployment.spec").stdout

    watcher = subprocess.Popen(["kubectl", "get", "cm", "-n", ns, "--watch", "--request-timeout=3s"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    api.cm(ns, "c2")
    out, _ = watcher.communicate(timeout=15)
    assert "c1" in out and "c2" in out

    waiter = subprocess.Popen(["kubectl", "wait", "--for=condition=Ready", "gadget/g1", "-n", ns, "--timeout=20s"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    api.patch(f"/apis/example.com/v1/namespaces/{ns}/gadgets/g1/status",
              {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert "condition met" in out

    deleted = _kubectl(env, "delete", "gadget", "g1", "-n", ns)
    assert deleted.returncode == 0 and 'deleted' in deleted.stdout
    assert "NotFound" in _kubectl(env, "get", "gadget", "g1", "-n", ns).stderr


def test_the_official_sync_client_does_crud_status_and_watch(server, ns):
    """kubernetes client 37 (sync): typed CRUD, 409 as ApiException, status via /status, watch streams."""
    api_client = config.new_client_from_config(str(server.kubeconfig))
    v1, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    cm = v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="a"), data={"k": "v"}))
    assert cm.metadata.uid
    try:
        v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="a")))
        raise AssertionError("expected a conflict")
    except client.ApiException as exc:
        assert exc.status == 409
    dep = apps.create_namespaced_deployment(ns, {
        "metadata": {"name": "d"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    apps.patch_namespaced_deployment_status("d", ns, {"status": {"observedGeneration": dep.metadata.generation}})
    events = [e["type"] for e in watch.Watch().stream(v1.list_namespaced_config_map, ns, timeout_seconds=1)]
    assert events == ["ADDED"]
    v1.delete_namespaced_config_map("a", ns)
    assert v1.list_namespaced_config_map(ns).items == []
    api_client.close()


def test_the_official_aio_client_lists_creates_and_patches(server, ns):
    """kubernetes.aio (asyncio flavour of client 37) works against the server too."""

    async def scenario() -> list[str]:
        api_client = await aconfig.new_client_from_config(str(server.kubeconfig))
        async with api_client:
            v1 = aclient.CoreV1Api(api_client)
            await v1.create_namespaced_config_map(ns, {"metadata": {"name": "x", "labels": {"l": "1"}}})
            await v1.patch_namespaced_config_map("x", ns, {"data": {"k": "v"}})
            listed = await v1.list_namespaced_config_map(ns, label_selector="l=1")
            return [(i.metadata.name, i.data) for i in listed.items]

    assert asyncio.run(scenario()) == [("x", {"k": "v"})]
