"""values.schema.json refuses wrong values at install time with a message naming the offending key, and
accepts the values the install guide tells a bank to use (docs/install.md), which also render."""

from __future__ import annotations

import re
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.support.chart import CHART, NAMESPACE, RELEASE, REPO, find, render

WRONG_VALUES = [
    ({"operator": {"replicas": 0}}, "/operator/replicas"),
    ({"operator": {"replicas": "two"}}, "/operator/replicas"),
    ({"image": {"digest": "latest"}}, "/image/digest"),
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ({"operatr": {"replicas": 2}}, "operatr"),
    ({"securityContext": {"runAsNonRoot": False, "readOnlyRootFilesystem": True,
                          "allowPrivilegeEscalation": False}}, "/securityContext/runAsNonRoot"),
    ({"operator": {"resources": {"requests": {"cpu": "lots"}}}}, "/operator/resources/requests/cpu"),
    ({"api": {"resources": {"limits": None}}}, "/api/resources"),
    ({"operator": {"settings": {"awsRegion": "Frankfurt"}}}, "/operator/settings/awsRegion"),
    ({"operator": {"settings": {"aws_region": "eu-west-1"}}}, "'aws_region' does not match"),
    ({"watchNamespaces": ["Payments"]}, "/watchNamespaces/0"),
    ({"api": {"settings": {"jwks": "http://idp.internal/keys"}}}, "/api/settings/jwks"),
    ({"api": {"service": {"type": "ExternalName"}}}, "/api/service/type"),
    ({"networkPolicy": {"apiServerCIDRs": ["10.0.0.1"]}}, "/networkPolicy/apiServerCIDRs/0"),
]


@pytest.mark.parametrize(("values", "where"), WRONG_VALUES, ids=[w for _, w in WRONG_VALUES])
def test_a_wrong_value_fails_the_install_naming_the_key(values: dict[str, Any], where: str) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError) as failure:
        chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    assert where in str(failure.value)


def test_the_default_values_satisfy_the_schema() -> None:
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema({})
        chart.validate_schema(chart.values)


def bank_values_from_install_guide() -> dict[str, Any]:
    text = (REPO / "docs" / "install.md").read_text()
    match = re.search(r"<!-- bank-values -->\s*```yaml\n(.*?)```", text, re.S)
    assert match, "docs/install.md has no ```yaml block after <!-- bank-values -->"
    values: dict[str, Any] = yaml.safe_load(match.group(1))
    return values


def test_the_bank_values_of_the_install_guide_are_valid_and_render() -> None:
    values = bank_values_from_install_guide()
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(values)
    objects = render(values)
    sa = find(objects, "ServiceAccount", "finplane-operator")[0]
    assert "eks.amazonaws.com/role-arn" in sa["metadata"]["annotations"]
    images = {c["image"] for d in find(objects, "Deployment") for c in d["spec"]["template"]["spec"]["containers"]}
    assert images and all(".dkr.ecr." in image and "@sha256:" in image for image in images)


def test_the_api_settings_of_the_install_guide_reach_the_apis_own_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import platform_api.settings as api_settings
    values = bank_values_from_install_guide()
    config = find(render(values), "ConfigMap", "finplane-api")[0]["data"]
    fields = set(api_settings.ApiSettings.model_fields)
    unknown = sorted(k for k in config if k.removeprefix("FINPLANE_API_").lower() not in fields)
    assert unknown == [], f"the API ignores these variables (extra='ignore'): {unknown}"
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    settings = api_settings.ApiSettings()
    wanted = values["api"]["settings"]
    assert (settings.issuer, settings.audience, settings.jwks) == (wanted["issuer"], wanted["audience"], wanted["jwks"])
