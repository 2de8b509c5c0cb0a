"""The generated CRDs: what `kubectl apply -f crds/` installs.

Covers: the committed crds/*.yaml and docs/crd-reference.md equal a fresh generation; each CRD
is a valid apiextensions.k8s.io/v1 object and a structural schema (a type on every node, no
references or unions); every CEL rule compiles; names, short names, the finplane category,
the status subresource and the Ready printer column; writing twice changes nothing.
"""

from pathlib import Path
from typing import Any

import celpy
import kubernetes_validate
import pytest
import yaml

from finplane.crdgen import build_crd, crd_filename, render_crd, write_crds
from finplane.crdref import reference_markdown
from finplane.models.registry import KINDS, kind_info

ROOT = Path(__file__).resolve().parents[2]
KIND_IDS = [info.kind for info in KINDS]

# Keywords a structural schema may not use anywhere (anyOf only under int-or-string).
FORBIDDEN = {"$ref", "$defs", "definitions", "oneOf", "allOf", "not", "const", "title"}


def structural_problems(node: dict[str, Any], path: str = "") -> list[str]:
    """Why `node` is not a structural schema (empty when it is)."""
    problems = [f"{path}: uses {key}" for key in FORBIDDEN if key in node]
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    if "anyOf" in node and not int_or_string:
        problems.append(f"{path}: anyOf outside int-or-string")
    if "type" not in node and not int_or_string and not node.get("x-kubernetes-preserve-unknown-fields"):
        problems.append(f"{path}: no type")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{path}: properties and additionalProperties together")
    if node.get("type") == "array" and "items" not in node:
        problems.append(f"{path}: array without items")
    for name, sub in node.get("properties", {}).items():
        problems += structural_problems(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        problems += structural_problems(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        problems += structural_problems(node["additionalProperties"], f"{path}{{}}")
    return problems


def cel_rules(node: dict[str, Any], path: str = "") -> list[tuple[str, str]]:
    rules = [(path, r["rule"]) for r in node.get("x-kubernetes-validations", [])]
    for name, sub in node.get("properties", {}).items():
        rules += cel_rules(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        rules += cel_rules(node["items"], f"{path}[]")
    return rules


def schema_of(kind: str) -> dict[str, Any]:
    return build_crd(kind_info(kind))["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("kind", KIND_IDS)
def test_committed_crd_equals_a_fresh_generation(kind: str) -> None:
    info = kind_info(kind)
    committed = (ROOT / "crds" / crd_filename(info)).read_text(encoding="utf-8")
    assert committed == render_crd(info), "crds/ is stale: run `finplane crds`"


def test_committed_field_reference_equals_a_fresh_generation() -> None:
    committed = (ROOT / "docs" / "crd-reference.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), "docs/crd-reference.md is stale: run `finplane crds`"


def test_crds_folder_holds_exactly_one_file_per_kind() -> None:
    assert sorted(p.name for p in (ROOT / "crds").glob("*.yaml")) == sorted(crd_filename(i) for i in KINDS)


@pytest.mark.parametrize("kind", KIND_IDS)
def test_crd_is_a_valid_custom_resource_definition(kind: str) -> None:
    kubernetes_validate.validate(build_crd(kind_info(kind)), "1.33", strict=True)


@pytest.mark.parametrize("kind", KIND_IDS)
def test_crd_schema_is_structural(kind: str) -> None:
    assert structural_problems(schema_of(kind)) == []


def test_structural_checker_spots_a_node_without_type() -> None:
    bad = {"type": "object", "properties": {"a": {"description": "x"}, "b": {"$ref": "#/x"}}}
    assert structural_problems(bad) == [".a: no type", ".b: uses $ref", ".b: no type"]


@pytest.mark.parametrize("kind", KIND_IDS)
def test_every_cel_rule_compiles(kind: str) -> None:
    env = celpy.Environment()
    for _path, rule in cel_rules(schema_of(kind)):
        env.compile(rule)


def test_cross_field_rules_are_carried_as_cel() -> None:
    rules = {rule for kind in KIND_IDS for _p, rule in cel_rules(schema_of(kind))}
    assert "self.minReplicas <= self.maxReplicas" in rules
    assert "has(self.ttlSeconds) != has(self.expiresAt)" in rules
    assert "has(self.ecr) == (self.kind == 'ecr')" in rules
    assert "self.requestedBy != self.approvedBy" in rules


@pytest.mark.parametrize("kind", KIND_IDS)
def test_crd_has_names_category_status_subresource_and_ready_column(kind: str) -> None:
    info = kind_info(kind)
    spec = build_crd(info)["spec"]
    assert spec["group"] == "finplane.io"
    assert spec["names"]["categories"] == ["finplane"]
    assert spec["names"]["shortNames"]
    version = spec["versions"][0]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Ready"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Age"] == ".metadata.creationTimestamp"


def test_short_names_are_unique_across_kinds() -> None:
    names = [n for info in KINDS for n in info.short_names]
    assert len(names) == len(set(names))
    assert {"bcap", "chan", "tsb", "ireg", "cpol"} <= set(names)


def test_quantities_are_int_or_string() -> None:
    cpu = schema_of("BusinessCapability")["properties"]["spec"]["properties"]["resources"]["properties"][
        "requests"]["properties"]["cpu"]
    assert cpu["x-kubernetes-int-or-string"] is True and "type" not in cpu


def test_lists_of_named_objects_are_list_maps() -> None:
    spec = schema_of("Channel")["properties"]["spec"]
    assert spec["properties"]["routes"]["x-kubernetes-list-type"] == "map"
    assert spec["properties"]["routes"]["x-kubernetes-list-map-keys"] == ["name"]


def test_defaults_reach_the_schema() -> None:
    props = schema_of("BusinessCapability")["properties"]["spec"]["properties"]
    assert (props["replicas"]["default"], props["port"]["default"], props["healthPath"]["default"]) == (
        2, 8080, "/healthz")
    registry = schema_of("ImageRegistry")["properties"]["spec"]["properties"]
    assert registry["refreshIntervalSeconds"]["default"] == 21600


def test_every_field_has_a_description() -> None:
    def missing(node: dict[str, Any], path: str) -> list[str]:
        out = [] if node.get("description") else [path]
        for name, sub in node.get("properties", {}).items():
            out += missing(sub, f"{path}.{name}")
        if isinstance(node.get("items"), dict) and "properties" in node["items"]:
            out += [p for p in missing(node["items"], f"{path}[]") if p != f"{path}[]"]
        return out

    assert KIND_IDS
    for kind in KIND_IDS:
        for part in ("spec", "status"):
            assert missing(schema_of(kind)["properties"][part], f"{kind}.{part}") == []


def test_writing_the_crds_twice_gives_identical_files(tmp_path: Path) -> None:
    paths = write_crds(tmp_path / "crds")
    first = {p: p.read_bytes() for p in paths}
    assert write_crds(tmp_path / "crds") == paths
    assert {p: p.read_bytes() for p in paths} == first
    assert (tmp_path / "docs" / "crd-reference.md") in paths
    assert yaml.safe_load((tmp_path / "crds" / "finplane.io_channels.yaml").read_text())["kind"] == (
        "CustomResourceDefinition")
