"""The rendering hash (`finplane.io/rendered-hash`) is taken of the same bytes whichever encoder makes them.

Covers `finplane.reconcile.children.canonical`: orjson's sorted compact form for ASCII renderings, json's for the
rest. If the bytes changed, an upgraded operator would see every child's hash differ from the live one and
re-apply every child of every object once (an update storm, with no drift to show for it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from finplane.reconcile.children import canonical, stamp
from finplane.render.offline import render_documents

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").rglob("*.yaml"))


def _json_form(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _children() -> list[dict[str, object]]:
    docs = [d for path in EXAMPLES for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return render_documents(docs)


def test_every_examples_children_hash_the_same_bytes_as_before() -> None:
    children = _children()
    assert len(children) > 40
    for child in children:
        assert canonical(child) == _json_form(child), child.get("kind")


@pytest.mark.parametrize("value", ["Zahlungsverkehr für Händler", "支付", 2**70, {"nested": ["é", 1, None, True]}],
                         ids=["latin", "cjk", "big-int", "nested"])
def test_what_orjson_would_encode_differently_falls_back_to_json(value: object) -> None:
    child = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "annotations": {"d": "a"}},
             "data": {"v": value}}
    assert canonical(child) == _json_form(child)


def test_a_stamped_childs_hash_follows_its_content() -> None:
    one = stamp({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"ports": [{"port": 80}]}},
                None)
    two = stamp({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"ports": [{"port": 81}]}},
                None)
    key = "finplane.io/rendered-hash"
    assert one["metadata"]["annotations"][key] != two["metadata"]["annotations"][key]
