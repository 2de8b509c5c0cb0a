"""The chart, linted and rendered by the real Helm library, produces objects a cluster accepts and a bank's
security review expects: every object validates against the Kubernetes schemas (oldest and newest supported
version), carries the app.kubernetes.io labels, pods are restricted with resources, probes and topology
spread, the operator runs two peered replicas with a rollout that cannot freeze kopf peering, settings reach
the containers as FINPLANE_* variables, and the optional parts (namespaced mode, Ingress, ServiceMonitor,
helm test) render what they promise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.support.chart import CHART, NAMESPACE, VALUE_SETS, find

SET_NAMES = list(VALUE_SETS)
KUBE_VERSIONS = ["1.27.0", kubernetes_validate.latest_version()]
# Kinds whose schema is not in kubernetes-validate: CRs of the chart's own CRDs are checked against those
# CRDs below; ServiceMonitor's and PrometheusRule's CRDs belong to the Prometheus Operator, checked by shape in
# their own tests (test_chart_metering.py for the rule).
CUSTOM_KINDS = {"ClusterKopfPeering", "KopfPeering", "ServiceMonitor", "PrometheusRule"}


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    specs = [(o["metadata"]["name"], o["spec"]["template"]["spec"]) for o in objects if o["kind"] == "Deployment"]
    specs += [(o["metadata"]["name"], o["spec"]) for o in objects if o["kind"] == "Pod"]
    return specs


@pytest.mark.parametrize("name", SET_NAMES)
def test_the_chart_lints_without_warnings(name: str) -> None:
    report = helm.lint(CHART, VALUE_SETS[name], strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], problems


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("name", SET_NAMES)
def test_every_rendered_object_validates_against_the_kubernetes_schemas(
        rendered: dict[str, list[dict[str, Any]]], name: str, kube_version: str) -> None:
    checked = 0
    for obj in rendered[name]:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} invalid for {kube_version}: {e.message} at {e.path}")
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize("name", SET_NAMES)
def test_peering_objects_validate_against_the_chart_crds(rendered: dict[str, list[dict[str, Any]]], name: str) -> None:
    crds = {d["spec"]["names"]["kind"]: d for d in yaml.safe_load_all((CHART / "crds/kopf.dev_peerings.yaml").read_text())}
    peerings = [o for o in rendered[name] if o["kind"] in ("ClusterKopfPeering", "KopfPeering")]
    assert peerings
    for obj in peerings:
        crd = crds[obj["kind"]]
        assert obj["apiVersion"] == f"{crd['spec']['group']}/{crd['spec']['versions'][0]['name']}"
        assert ("namespace" in obj["metadata"]) == (crd["spec"]["scope"] == "Namespaced")
        jsonschema.validate(obj, crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


@pytest.mark.parametrize("name", SET_NAMES)
def test_every_object_carries_the_standard_labels(rendered: dict[str, list[dict[str, Any]]], name: str) -> None:
    assert len(rendered[name]) >= 15
    for obj in rendered[name]:
        labels = obj["metadata"].get("labels", {})
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                    "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of", "app.kubernetes.io/component"):
            assert key in labels, f"{obj['kind']}/{obj['metadata']['name']} lacks {key}"


@pytest.mark.parametrize("name", SET_NAMES)
def test_every_pod_runs_under_the_restricted_profile_with_resources(
        rendered: dict[str, list[dict[str, Any]]], name: str) -> None:
    pods = pod_specs(rendered[name])
    assert {"finplane-operator", "finplane-api"} <= {pod_name for pod_name, _ in pods}
    for pod_name, spec in pods:
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["seccompProfile"]["type"] == "RuntimeDefault", pod_name
        assert spec.get("hostNetwork") is not True and spec.get("hostPID") is not True, pod_name
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and isinstance(sc["runAsUser"], int) and sc["runAsUser"] > 0
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
            assert sc["seccompProfile"]["type"] == "RuntimeDefault"
            for part in ("requests", "limits"):
                assert set(c["resources"][part]) == {"cpu", "memory"}, (pod_name, c["name"])


def test_long_running_containers_have_liveness_and_readiness_probes_on_their_health_endpoints(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    deployments = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]
                   for d in find(rendered["default"], "Deployment")}
    operator, api = deployments["finplane-operator"], deployments["finplane-api"]
    assert operator["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"name": "health", "containerPort": 8080, "protocol": "TCP"} in operator["ports"]
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in operator["ports"]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["args"] == ["api", "--host", "0.0.0.0", "--port", "8000"]


def test_pods_spread_over_zones_and_nodes_without_blocking_scheduling(rendered: dict[str, list[dict[str, Any]]]) -> None:
    deployments = pod_specs(find(rendered["default"], "Deployment"))
    assert sorted(name for name, _ in deployments) == ["finplane-api", "finplane-operator"]
    for _, spec in deployments:
        keys = {c["topologyKey"]: c["whenUnsatisfiable"] for c in spec["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone": "ScheduleAnyway", "kubernetes.io/hostname": "ScheduleAnyway"}


def test_the_operator_runs_two_peered_replicas_that_cannot_freeze_during_a_rollout(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    deployment = find(rendered["default"], "Deployment", "finplane-operator")[0]
    assert deployment["spec"]["replicas"] == 2
    # Old and new versions never overlap (kopf #734), and each pod gets a distinct peering priority source.
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--peering=finplane" in container["args"]
    pod_ip = next(e for e in container["env"] if e["name"] == "FINPLANE_POD_IP")
    assert pod_ip["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    peering = find(rendered["default"], "ClusterKopfPeering")
    assert [p["metadata"]["name"] for p in peering] == ["finplane"]
    pdb = find(rendered["default"], "PodDisruptionBudget", "finplane-operator")[0]
    assert pdb["spec"]["minAvailable"] == 1


def test_namespaced_mode_watches_only_the_listed_namespaces_with_a_peering_object_in_each(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["namespaced"]
    args = find(objects, "Deployment", "finplane-operator")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [a for a in args if a.startswith("--namespace=")] == ["--namespace=payments", "--namespace=cards"]
    assert not find(objects, "ClusterKopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in find(objects, "KopfPeering")) == ["cards", "payments"]
    roles = find(objects, "Role", "finplane-operator")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["cards", "payments"]
    bindings = find(objects, "RoleBinding", "finplane-operator")
    assert all(b["subjects"] == [{"kind": "ServiceAccount", "name": "finplane-operator", "namespace": NAMESPACE}]
               for b in bindings) and len(bindings) == 2
    cluster_resources = {r for rule in find(objects, "ClusterRole", "finplane-operator")[0]["rules"]
                         for r in rule["resources"]}
    assert "deployments" not in cluster_resources and "services" not in cluster_resources
    assert "deployments" in {r for rule in roles[0]["rules"] for r in rule["resources"]}


def test_settings_reach_the_containers_as_finplane_environment_variables(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    config = find(rendered["bank"], "ConfigMap", "finplane-operator")[0]["data"]
    assert config["FINPLANE_AWS_REGION"] == "eu-central-1"
    assert config["FINPLANE_EVIDENCE_S3_BUCKET"] == "bank-finplane-evidence"
    assert config["FINPLANE_SANDBOX_MAX_TTL_SECONDS"] == "7776000"
    assert "FINPLANE_OIDC_ISSUER" not in config  # null settings are left out
    operator = find(rendered["bank"], "Deployment", "finplane-operator")[0]["spec"]["template"]["spec"]["containers"][0]
    assert operator["envFrom"] == [{"configMapRef": {"name": "finplane-operator"}}]
    api = find(rendered["default"], "ConfigMap", "finplane-api")[0]["data"]
    # every API setting but the team ownership mode defaults to null, and null settings are left out
    assert api == {"FINPLANE_API_TEAM_OWNERSHIP": "enforce"}


def test_operator_settings_are_accepted_by_the_operators_own_settings_model(
        rendered: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch) -> None:
    import finplane.settings as settings_module
    for key, value in find(rendered["bank"], "ConfigMap", "finplane-operator")[0]["data"].items():
        monkeypatch.setenv(key, value)
    settings = settings_module.Settings()
    assert settings.aws_region == "eu-central-1"
    assert settings.evidence_s3_bucket == "bank-finplane-evidence"
    assert settings.sandbox_max_ttl_seconds == 7776000


def test_a_digest_pins_the_image_and_wins_over_the_tag(rendered: dict[str, list[dict[str, Any]]]) -> None:
    images = {c["image"] for _, spec in pod_specs(rendered["bank"]) for c in spec["containers"]}
    assert images == {"123456789012.dkr.ecr.eu-central-1.amazonaws.com/platform/finplane@sha256:" + "a" * 64}
    sa = find(rendered["bank"], "ServiceAccount", "finplane-operator")[0]
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/finplane-operator")


def test_the_api_ingress_routes_its_host_to_the_api_service_with_tls(rendered: dict[str, list[dict[str, Any]]]) -> None:
    assert not find(rendered["default"], "Ingress")
    ingress = find(rendered["ingress"], "Ingress")[0]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["platform.bank.example"], "secretName": "platform-tls"}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "finplane-api", "port": {"name": "http"}}


def test_service_monitors_scrape_the_operator_and_the_api_only_when_enabled(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    assert not find(rendered["default"], "ServiceMonitor")
    monitors = {m["metadata"]["name"]: m for m in find(rendered["servicemonitor"], "ServiceMonitor")}
    assert set(monitors) == {"finplane-operator", "finplane-api"}
    services = {s["metadata"]["name"]: s for s in find(rendered["servicemonitor"], "Service")}
    for name, monitor in monitors.items():
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus"
        endpoint = monitor["spec"]["endpoints"][0]
        assert endpoint["path"] == "/metrics"
        # The monitor selects a Service that exposes the named port it scrapes.
        matching = [s for s in services.values()
                    if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
        assert matching, name
        assert endpoint["port"] in {p["name"] for p in matching[0]["spec"]["ports"]}


def test_the_helm_test_pod_checks_the_api_readiness_through_its_service(rendered: dict[str, list[dict[str, Any]]]) -> None:
    pod = find(rendered["default"], "Pod")[0]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["command"][-1]
    assert f"http://finplane-api.{NAMESPACE}.svc:80/readyz" in script
    compile(script, "helm-test", "exec")  # the inline check is valid Python


def test_network_policies_isolate_finplanes_own_pods(rendered: dict[str, list[dict[str, Any]]]) -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in find(rendered["bank"], "NetworkPolicy")}
    assert set(policies) == {"finplane-operator", "finplane-api", "finplane-test"}
    test_egress = policies.pop("finplane-test")["egress"]
    assert test_egress[1]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    for spec in policies.values():
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        dns = spec["egress"][0]
        assert {p["port"] for p in dns["ports"]} == {53}
        assert spec["egress"][1]["to"] == [{"ipBlock": {"cidr": "10.0.0.0/16"}}]
    api_from = policies["finplane-api"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in api_from
    operator_ingress = policies["finplane-operator"]["ingress"]
    assert [p["port"] for rule in operator_ingress for p in rule["ports"]] == [9090]


def test_turning_off_network_policies_and_the_api_removes_them(tmp_path: Path) -> None:
    from tests.support.chart import render

    objects = render({"networkPolicy": {"enabled": False}, "api": {"enabled": False}})
    assert not find(objects, "NetworkPolicy")
    assert not [o for o in objects if "api" in o["metadata"]["name"]]
