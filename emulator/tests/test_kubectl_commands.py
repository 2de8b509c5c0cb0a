"""The imperative kubectl commands people type, with the oldest and the newest kubectl installed.

Mirrors what a real kube-apiserver accepts from them:
- kubectl 1.32+ sends `create namespace|configmap|secret|deployment` bodies as `application/vnd.kubernetes.protobuf`
  (typed client-go), which the real server decodes like JSON (this server reads those kinds' protobuf);
- kubectl 1.27-1.29 fetch `/openapi/v2` (protobuf) before `apply` and `edit`, and take patch strategies
  from compiled-in types for kinds the document does not describe;
- `kubectl scale` patches the `deployments/NAME/scale` subresource (an autoscaling/v1 `Scale`), which
  changes only `spec.replicas`; `kubectl rollout status` then waits on the status the (here simulated)
  Deployment controller writes;
- `label`, `annotate`, `edit` (KUBE_EDITOR) and `patch --type=strategic` are PATCHes the server merges
  with the built-in kinds' merge keys.
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from pathlib import Path

import pytest

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
_INSTALLED = sorted((p for p in KUBECTL_DIR.glob("kubectl.1.*")),
                    key=lambda p: tuple(int(x) for x in p.name.removeprefix("kubectl.").split(".")))
# The oldest and the newest: the protocol changes (protobuf bodies, /openapi/v2) sit between them.
VERSIONS = [p.name for p in (_INSTALLED[:1] + _INSTALLED[-1:])] if _INSTALLED else []

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: "nginx:1.27", env: [{name: A, value: "1"}]}]
"""


@pytest.mark.skipif(not VERSIONS, reason="no versioned kubectl installed under /usr/lib/google-cloud-sdk/bin")
@pytest.mark.parametrize("kubectl", VERSIONS)
def test_kubectl_creates_labels_annotates_scales_rolls_out_edits_and_patches(kubectl, kubectl_env, api,
                                                                              tmp_path: Path):
    """The commands of a newcomer's first hour, each checked against the object the server then holds."""
    env = kubectl_env

    def run(*args: str, extra_env: dict[str, str] | None = None) -> str:
        done = subprocess.run([str(KUBECTL_DIR / kubectl), *args], env={**env, **(extra_env or {})},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    ns = f"k{uuid.uuid4().hex[:8]}"
    assert f"namespace/{ns} created" in run("create", "namespace", ns)
    assert api.get(f"/api/v1/namespaces/{ns}").json()["status"]["phase"] == "Active"

    run("create", "configmap", "settings", "-n", ns, "--from-literal=mode=fast", "--from-literal=empty=")
    cm = api.get(f"/api/v1/namespaces/{ns}/configmaps/settings").json()
    assert cm["data"] == {"mode": "fast", "empty": ""}

    run("create", "secret", "generic", "creds", "-n", ns, "--from-literal=password=hunter2")
    secret = api.get(f"/api/v1/namespaces/{ns}/secrets/creds").json()
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"

    run("label", "configmap", "settings", "-n", ns, "tier=gold")
    run("annotate", "configmap", "settings", "-n", ns, "owner=payments")
    md = api.get(f"/api/v1/namespaces/{ns}/configmaps/settings").json()["metadata"]
    assert md["labels"] == {"tier": "gold"} and md["annotations"] == {"owner": "payments"}

    run("create", "deployment", "api", "-n", ns, "--image=registry.example/api:1", "--port=8080", "--replicas=2")
    created = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/api").json()
    assert created["spec"]["replicas"] == 2 and created["spec"]["selector"] == {"matchLabels": {"app": "api"}}
    assert created["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 8080}]

    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(DEPLOYMENT)
    run("apply", "-n", ns, "-f", str(manifest))
    assert "scaled" in run("scale", "deployment", "web", "-n", ns, "--replicas=3")
    deployment = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json()
    assert deployment["spec"]["replicas"] == 3
    assert "successfully rolled out" in run("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
    assert api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json()["status"]["readyReplicas"] == 3

    # KUBE_EDITOR gets the object as a YAML file; sed changes it in place, kubectl sends the difference.
    run("edit", "configmap", "settings", "-n", ns, extra_env={"KUBE_EDITOR": "sed -i s/mode:\\ fast/mode:\\ safe/"})
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/settings").json()["data"]["mode"] == "safe"

    # Strategic merge: the container list merges by name, env by name; nothing else is lost.
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}}}}
    run("patch", "deployment", "web", "-n", ns, "--type=strategic", "-p", json.dumps(patch))
    container = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json()["spec"]["template"]["spec"][
        "containers"]
    assert [(c["name"], c["image"]) for c in container] == [("app", "nginx:1.27")]
    assert sorted(e["name"] for e in container[0]["env"]) == ["A", "B"]


def test_the_scale_subresource_reads_and_writes_only_replicas(api, ns):
    """deployments/NAME/scale: GET answers an autoscaling/v1 Scale with the selector as a string; PUT with a
    stale resourceVersion is a 409 Conflict; a merge patch changes spec.replicas and bumps generation only."""
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    assert api.post(path, body).status_code == 201
    scale = api.get(f"{path}/d/scale").json()
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2} and scale["status"]["selector"] == "app=d"
    stale = {**scale, "metadata": {**scale["metadata"], "resourceVersion": "1"}, "spec": {"replicas": 4}}
    assert api.put(f"{path}/d/scale", stale).json()["reason"] == "Conflict"
    patched = api.patch(f"{path}/d/scale", {"spec": {"replicas": 5}})
    assert patched.status_code == 200 and patched.json()["spec"]["replicas"] == 5
    after = api.get(f"{path}/d").json()
    assert after["spec"]["replicas"] == 5 and after["metadata"]["generation"] == 2
    assert after["spec"]["template"] == body["spec"]["template"]
    negative = api.patch(f"{path}/d/scale", {"spec": {"replicas": -1}})
    assert negative.status_code == 422 and negative.json()["reason"] == "Invalid"
    resources = api.get("/apis/apps/v1").json()["resources"]
    assert {"deployments/scale", "statefulsets/scale"} <= {r["name"] for r in resources}


def test_protobuf_bodies_of_kinds_the_server_cannot_read_get_415(api, ns):
    """A protobuf body of a kind this server has no field table for is refused with 415 UnsupportedMediaType
    (the real server reads every built-in kind; the CRD endpoints of a real server answer the same 415)."""
    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    type_meta = field(1, b"v1") + field(2, b"Service")
    body = b"k8s\x00" + field(1, type_meta) + field(2, field(1, field(1, b"s")))
    resp = api.post(f"/api/v1/namespaces/{ns}/services", body, ctype="application/vnd.kubernetes.protobuf")
    assert resp.status_code == 415 and resp.json()["reason"] == "UnsupportedMediaType"
