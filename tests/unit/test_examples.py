"""The example CRs in examples/: what a newcomer applies first.

Covers: every Finplane object parses with its model and validates against its generated CRD
schema (OpenAPI types, patterns, bounds, and every CEL rule evaluated with celpy); built-in
objects validate against the Kubernetes schemas; files apply in lexical order (namespaces
first); references between the examples resolve (dependencies, routes, sandbox capabilities,
registries); and the CEL rules refuse what the models refuse.
"""

from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import pytest
import yaml

from finplane.crdgen import build_crd
from finplane.models.registry import KINDS, kind_info

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "examples").rglob("*.yaml"))


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


ALL = [(p.relative_to(ROOT).as_posix(), d) for p in FILES for d in documents(p)]
FINPLANE = [(f, d) for f, d in ALL if d["apiVersion"].startswith("finplane.io/")]
BUILTIN = [(f, d) for f, d in ALL if not d["apiVersion"].startswith("finplane.io/")]


def ids(items: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [f"{f}:{d['kind']}/{d['metadata']['name']}" for f, d in items]


def schema_of(kind: str) -> dict[str, Any]:
    return build_crd(kind_info(kind))["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def cel_failures(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Messages of the CEL rules `value` breaks, evaluated where the API server evaluates them."""
    failures = []
    env = celpy.Environment()
    for rule in schema.get("x-kubernetes-validations", []):
        program = env.program(env.compile(rule["rule"]))
        if not program.evaluate({"self": celpy.json_to_cel(value)}):
            failures.append(f"{path}: {rule['message']}")
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                failures += cel_failures(sub, value[name], f"{path}.{name}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            failures += cel_failures(schema["items"], item, f"{path}[{i}]")
    return failures


def test_examples_exist_for_every_kind() -> None:
    kinds = {d["kind"] for _f, d in FINPLANE}
    assert kinds == {info.kind for info in KINDS}


def test_top_level_files_apply_in_lexical_order_namespaces_first() -> None:
    top = sorted(p.name for p in (ROOT / "examples").glob("*.yaml"))
    assert all(name[:2].isdigit() and name[2] == "-" for name in top)
    assert {d["kind"] for d in documents(ROOT / "examples" / top[0])} == {"Namespace"}


@pytest.mark.parametrize(("file", "body"), FINPLANE, ids=ids(FINPLANE))
def test_finplane_example_parses_with_its_model(file: str, body: dict[str, Any]) -> None:
    kind_info(body["kind"]).spec_model.model_validate(body["spec"])


@pytest.mark.parametrize(("file", "body"), FINPLANE, ids=ids(FINPLANE))
def test_finplane_example_validates_against_its_crd_schema(file: str, body: dict[str, Any]) -> None:
    schema = schema_of(body["kind"])
    jsonschema.Draft7Validator(schema).validate(body)
    assert cel_failures(schema, body) == []


@pytest.mark.parametrize(("file", "body"), BUILTIN, ids=ids(BUILTIN))
def test_builtin_example_validates_against_the_kubernetes_schema(file: str, body: dict[str, Any]) -> None:
    kubernetes_validate.validate(body, "1.33", strict=True)


def test_namespaced_examples_live_in_namespaces_the_examples_create() -> None:
    namespaces = {d["metadata"]["name"] for _f, d in ALL if d["kind"] == "Namespace"}
    used = {d["metadata"]["namespace"] for _f, d in ALL if "namespace" in d["metadata"]}
    assert used <= namespaces


def test_references_between_examples_resolve() -> None:
    capabilities = {(d["metadata"]["namespace"], d["metadata"]["name"]) for _f, d in FINPLANE
                    if d["kind"] == "BusinessCapability"}
    registries = {d["metadata"]["name"] for _f, d in FINPLANE if d["kind"] == "ImageRegistry"}
    referenced: set[tuple[str, str]] = set()
    for _f, d in FINPLANE:
        spec = d["spec"]
        if d["kind"] == "BusinessCapability":
            referenced |= {(dep.get("namespace", d["metadata"]["namespace"]), dep["name"])
                           for dep in spec.get("dependencies", [])}
            assert spec.get("registryRef") in registries
        elif d["kind"] == "Channel":
            for route in spec["routes"]:
                referenced.add((route["capability"]["namespace"], route["capability"]["name"]))
                if "canary" in route:
                    referenced.add((route["canary"]["capability"]["namespace"],
                                    route["canary"]["capability"]["name"]))
        elif d["kind"] == "TenantSandbox":
            referenced |= {(c["namespace"], c["name"]) for c in spec.get("allowedCapabilities", [])}
    assert referenced and referenced <= capabilities


def test_open_api_channel_sends_ten_percent_to_the_canary() -> None:
    channel = next(d for _f, d in FINPLANE if d["metadata"]["name"] == "open-api")
    assert [r["canary"]["weight"] for r in channel["spec"]["routes"] if "canary" in r] == [10]


def test_cel_rules_refuse_what_the_models_refuse() -> None:
    registry = next(d for _f, d in FINPLANE if d["kind"] == "ImageRegistry" and d["spec"]["kind"] == "static")
    broken = {**registry, "spec": {**registry["spec"], "kind": "ecr"}}
    assert cel_failures(schema_of("ImageRegistry"), broken) == [
        ".spec: ecr must be set exactly when kind is ecr", ".spec: static must be set exactly when kind is static"]
    policy = next(d for _f, d in FINPLANE if d["kind"] == "CompliancePolicy")
    waiver = {**policy["spec"]["waivers"][0], "approvedBy": policy["spec"]["waivers"][0]["requestedBy"]}
    self_approved = {**policy, "spec": {**policy["spec"], "waivers": [waiver]}}
    assert cel_failures(schema_of("CompliancePolicy"), self_approved) == [
        ".spec.waivers[0]: a waiver must be approved by someone other than its requester"]


def test_schema_refuses_an_unknown_classification_naming_the_field() -> None:
    capability = next(d for _f, d in FINPLANE if d["kind"] == "BusinessCapability")
    bad = {**capability, "spec": {**capability["spec"], "dataClassification": "secret"}}
    with pytest.raises(jsonschema.ValidationError) as err:
        jsonschema.Draft7Validator(schema_of("BusinessCapability")).validate(bad)
    assert list(err.value.absolute_path) == ["spec", "dataClassification"]
