"""Golden tests of the Channel renderer: tests/golden/channel/*.yaml hold an input channel and the expected children.

Covers: the rendered Ingresses (ingress-nginx rate-limit, timeout, JWT auth-url and mTLS annotations,
canary Ingress with weight and header), HTTPRoutes (parent Gateway, weighted backendRefs for canaries,
header matches for segments), the Envoy Gateway policies next to them (SecurityPolicy with jwt and the
partners' apiKeyAuth, BackendTrafficPolicy with route and per-partner limits, the partner-keys Secret;
a case's `partners` are the active sandboxes, with made-up keys), partner mTLS (Envoy Gateway's
ClientTrafficPolicy on the Gateway's listener, cert-manager Certificates for the server and the partner CA,
the partners' CA Issuer) and NetworkPolicy allowances equal the committed expectation; every Ingress,
Secret and NetworkPolicy validates against the Kubernetes OpenAPI schema (`kubernetes-validate`); every
HTTPRoute validates against the Gateway API's published schema (npm `@kubernetes-models/gateway-api`), every
Certificate and Issuer against cert-manager's (npm `@kubernetes-models/cert-manager`; both installed by
`npm ci --prefix tests/schemas`); every Envoy Gateway policy against
tests/schemas/envoy-gateway/policies.schema.json (no registry package ships Envoy Gateway's schemas).

Regenerate the expectations after an intended change with `FINPLANE_UPDATE_GOLDEN=1` and review the diff.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from finplane.models.channel import ChannelSpec
from finplane.render.channel import render_channel
from finplane.render.gateway import PartnerAccess
from finplane.settings import Settings

HERE = Path(__file__).resolve().parent
CASES = sorted((HERE / "channel").glob("*.yaml"))
SCHEMAS = HERE.parent / "schemas"
UPDATE = os.environ.get("FINPLANE_UPDATE_GOLDEN") == "1"


def load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def render_case(case: dict[str, Any]) -> list[dict[str, Any]]:
    ports = {(p["namespace"], p["name"]): p["port"] for p in case.get("capabilityPorts") or []}
    channel = case["channel"]
    partners = [PartnerAccess(client_id=p["clientId"], key=p["key"], requests_per_second=p["requestsPerSecond"],
                              requests_per_day=p["requestsPerDay"],
                              capabilities=frozenset((c["namespace"], c["name"]) for c in p["capabilities"]))
                for p in case.get("partners") or []]
    return render_channel(channel=channel["metadata"]["name"], spec=ChannelSpec.model_validate(channel["spec"]),
                          ports=ports, settings=Settings(), partners=partners)


ENVOY_GATEWAY_SCHEMA = json.loads((SCHEMAS / "envoy-gateway" / "policies.schema.json").read_text(encoding="utf-8"))


PUBLISHED = ("gateway.networking.k8s.io/", "cert-manager.io/")


def is_core(obj: dict[str, Any]) -> bool:
    return not obj["apiVersion"].startswith(("gateway.envoyproxy.io/", *PUBLISHED))


def all_rendered() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{p.stem}:{o['kind']}/{o['metadata']['name']}", o) for p in CASES for o in render_case(load(p))]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_rendered_children_equal_the_golden_file(path: Path) -> None:
    case = load(path)
    rendered = render_case(case)
    if UPDATE:
        header = "".join(line + "\n" for line in path.read_text(encoding="utf-8").splitlines()
                         if line.startswith("#"))
        body = {k: v for k, v in case.items() if k != "expected"}
        path.write_text(header + yaml.safe_dump({**body, "expected": rendered}, sort_keys=False), encoding="utf-8")
    assert "expected" in case, f"{path.name} has no expected output yet: run with FINPLANE_UPDATE_GOLDEN=1"
    assert rendered == case["expected"]


@pytest.mark.parametrize(("ident", "obj"), [(i, o) for i, o in all_rendered() if is_core(o)],
                         ids=[i for i, o in all_rendered() if is_core(o)])
def test_ingresses_secrets_and_network_policies_are_valid_kubernetes_objects(ident: str, obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, "1.33", strict=True)


def test_envoy_gateway_policies_are_valid_against_their_schema() -> None:
    policies = [(i, o) for i, o in all_rendered() if o["apiVersion"].startswith("gateway.envoyproxy.io/")]
    assert {o["kind"] for _, o in policies} == {"SecurityPolicy", "BackendTrafficPolicy", "ClientTrafficPolicy"}
    for _, obj in policies:
        jsonschema.validate(obj, ENVOY_GATEWAY_SCHEMA)


def validate_gateway_api(objs: list[dict[str, Any]]) -> list[list[str]]:
    """Errors per object from the Gateway API's and cert-manager's published schemas (a node script in tests/schemas)."""
    if not all((SCHEMAS / "node_modules" / "@kubernetes-models" / p).is_dir() for p in ("gateway-api", "cert-manager")):
        pytest.skip("published schemas not installed: run `npm ci --prefix tests/schemas`")
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (needed to run the Gateway API schema validator)")
    cp = subprocess.run([node, str(SCHEMAS / "validate-gateway-api.mjs")], input=json.dumps(objs),
                        capture_output=True, text=True, timeout=60, check=True)
    return list(json.loads(cp.stdout))


def test_http_routes_are_valid_against_the_gateway_api_schema() -> None:
    routes = [(i, o) for i, o in all_rendered() if o["kind"] == "HTTPRoute"]
    assert len(routes) >= 3
    errors = validate_gateway_api([o for _, o in routes])
    assert {i: e for (i, _), e in zip(routes, errors, strict=True) if e} == {}


def test_the_gateway_api_validator_refuses_a_broken_http_route() -> None:
    """The schema check can fail: a weight given as text and a path without its leading slash are refused."""
    route = next(o for _, o in all_rendered() if o["kind"] == "HTTPRoute")
    broken = json.loads(json.dumps(route))
    broken["spec"]["rules"][0]["backendRefs"][0]["weight"] = "ten"
    errors = validate_gateway_api([broken])
    assert any("weight" in e for e in errors[0])


def test_certificates_and_issuers_are_valid_against_cert_managers_schema() -> None:
    objs = [(i, o) for i, o in all_rendered() if o["apiVersion"].startswith("cert-manager.io/")]
    assert {o["kind"] for _, o in objs} == {"Certificate", "Issuer"}
    errors = validate_gateway_api([o for _, o in objs])
    assert {i: e for (i, _), e in zip(objs, errors, strict=True) if e} == {}


def test_the_cert_manager_validator_refuses_a_broken_certificate() -> None:
    """The schema check can fail: isCA given as text and an unknown issuerRef field are refused."""
    cert = next(o for _, o in all_rendered() if o["kind"] == "Certificate")
    broken = json.loads(json.dumps(cert))
    broken["spec"]["isCA"] = "yes"
    errors = validate_gateway_api([broken])
    assert any("isCA" in e for e in errors[0])


def test_the_envoy_gateway_schema_refuses_a_client_traffic_policy_on_a_route() -> None:
    """mTLS is a listener's: a ClientTrafficPolicy aimed at an HTTPRoute, or with a misspelt field, is refused."""
    policy = next(o for _, o in all_rendered() if o["kind"] == "ClientTrafficPolicy")
    on_route = json.loads(json.dumps(policy))
    on_route["spec"]["targetRefs"][0]["kind"] = "HTTPRoute"
    misspelt = json.loads(json.dumps(policy))
    misspelt["spec"]["tls"]["clientValidation"]["caCertificateRef"] = misspelt["spec"]["tls"]["clientValidation"].pop(
        "caCertificateRefs")
    for bad in (on_route, misspelt):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, ENVOY_GATEWAY_SCHEMA)
