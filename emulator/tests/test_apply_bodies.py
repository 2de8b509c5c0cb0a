"""Server-side apply bodies: JSON (what kubectl, the kubernetes client and the operator send) and YAML.

The kube-apiserver converts an `application/apply-patch+yaml` body from YAML to JSON before
decoding it (sigs.k8s.io/yaml), and JSON is YAML, so the same configuration sent as JSON, as block
YAML or as flow YAML that is not JSON is the same apply: the second and third are no-ops that keep
the resourceVersion. The embedded server reads JSON bodies with its JSON codec and everything else
with a YAML parser; these tests pin that both paths mean the same thing.
"""

from __future__ import annotations

import json

import yaml

APPLY = "application/apply-patch+yaml"


def _cm(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": "x"}},
            "data": {"a": "1", "b": "two"}}


def test_the_same_config_as_json_block_yaml_and_flow_yaml_is_one_apply(api, ns):
    """kube-apiserver: apply bodies are YAML, JSON included; re-applying the same configuration in another
    syntax changes nothing (same resourceVersion)."""
    path = f"/api/v1/namespaces/{ns}/configmaps/bodies"
    params = {"fieldManager": "alice"}
    created = api.patch(path, json.dumps(_cm("bodies")), ctype=APPLY, params=params)
    assert created.status_code == 201, created.text
    rv = created.json()["metadata"]["resourceVersion"]
    assert created.json()["data"] == {"a": "1", "b": "two"}
    block = api.patch(path, yaml.safe_dump(_cm("bodies")), ctype=APPLY, params=params)
    assert block.status_code == 200 and block.json()["metadata"]["resourceVersion"] == rv
    flow = "{apiVersion: v1, kind: ConfigMap, metadata: {name: bodies, labels: {app: x}}, data: {a: '1', b: two}}"
    again = api.patch(path, flow, ctype=APPLY, params=params)
    assert again.status_code == 200, again.text
    assert again.json()["metadata"]["resourceVersion"] == rv
    assert again.json()["data"] == {"a": "1", "b": "two"}


def test_a_json_body_with_leading_whitespace_applies_and_a_broken_body_is_400(api, ns):
    """kube-apiserver: whitespace before a JSON document is still YAML; an undecodable body is 400 BadRequest."""
    path = f"/api/v1/namespaces/{ns}/configmaps/spaced"
    body = "\n  " + json.dumps({**_cm("spaced"), "data": {"n": "3"}})
    resp = api.patch(path, body, ctype=APPLY, params={"fieldManager": "alice"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["data"] == {"n": "3"}
    broken = api.patch(path, '{"apiVersion": "v1", "kind": [', ctype=APPLY, params={"fieldManager": "alice"})
    assert broken.status_code == 400
    assert broken.json()["reason"] == "BadRequest"
