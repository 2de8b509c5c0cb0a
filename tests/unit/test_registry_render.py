"""The pure parts of ImageRegistry: the dockerconfigjson pull Secret, its redacted offline rendering,
reading static credentials from a source Secret, the hash that hides credentials, and which
namespaces need the Secret (selector, capabilities, sandboxes, per-tenant roles, terminating namespaces)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from finplane.commands.render import render_file
from finplane.models.image_registry import ImageRegistrySpec
from finplane.reconcile.children import HASH_ANNOTATION
from finplane.reconcile.registry.creds import static_login
from finplane.reconcile.registry.pull_secrets import stamp_secret
from finplane.reconcile.registry.targets import ROLE_ANNOTATION, target_namespaces
from finplane.render.registry import render_pull_secret
from finplane.settings import Settings

STATIC = ImageRegistrySpec.model_validate({"kind": "static", "server": "registry.bank.local:5000",
                                           "static": {"secretRef": {"name": "src", "namespace": "finplane"}}})
ECR = ImageRegistrySpec.model_validate({"kind": "ecr", "ecr": {"region": "eu-west-1", "accountId": "123456789012"},
                                        "namespaceSelector": {"matchLabels": {"pulls": "yes"}}})
OWNER = {"apiVersion": "finplane.io/v1alpha1", "kind": "ImageRegistry", "metadata": {"name": "r", "uid": "u1"}}


def _config(secret: dict) -> dict:
    return json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))


def test_the_pull_secret_is_a_dockerconfigjson_for_the_registry_server() -> None:
    secret = render_pull_secret(registry="harbor", spec=STATIC, namespace="payments", username="bot", password="pw")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"]["name"] == "harbor-pull"
    entry = _config(secret)["auths"]["registry.bank.local:5000"]
    assert base64.b64decode(entry["auth"]).decode() == "bot:pw"


def test_an_ecr_registry_serves_its_account_and_region_host() -> None:
    secret = render_pull_secret(registry="ecr", spec=ECR, namespace="payments", username="AWS", password="t")
    assert list(_config(secret)["auths"]) == ["123456789012.dkr.ecr.eu-west-1.amazonaws.com"]


def test_the_rendering_hash_changes_with_the_password_but_does_not_reveal_it() -> None:
    a = stamp_secret(render_pull_secret(registry="r", spec=STATIC, namespace="n", username="u", password="1"), OWNER)
    b = stamp_secret(render_pull_secret(registry="r", spec=STATIC, namespace="n", username="u", password="2"), OWNER)
    assert a["metadata"]["annotations"][HASH_ANNOTATION] != b["metadata"]["annotations"][HASH_ANNOTATION]
    assert _config(a)["auths"]["registry.bank.local:5000"]["password"] == "1"  # the real data is written


def test_finplane_render_shows_the_secret_shape_with_credentials_redacted(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text("apiVersion: finplane.io/v1alpha1\nkind: ImageRegistry\nmetadata: {name: harbor}\n"
                 "spec: {kind: static, server: registry.bank.local, static: {secretRef: {name: s, namespace: f}}}\n")
    out = render_file(f)
    assert "kubernetes.io/dockerconfigjson" in out and "REDACTED" in out
    assert "auth" not in out.replace("auths", "")


@pytest.mark.parametrize("data", [
    {"username": "bot", "password": "pw"},
    {".dockerconfigjson": json.dumps({"auths": {"registry.bank.local:5000": {"username": "bot", "password": "pw"}}})},
    {".dockerconfigjson": json.dumps({"auths": {"https://registry.bank.local:5000": {
        "auth": base64.b64encode(b"bot:pw").decode()}}})},
])
def test_static_credentials_are_read_from_username_password_or_a_dockerconfigjson(data: dict) -> None:
    secret = {"data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}
    assert static_login(secret, "registry.bank.local:5000") == ("bot", "pw")


def test_a_source_secret_without_credentials_is_refused_without_echoing_its_content() -> None:
    secret = {"data": {"token": base64.b64encode(b"hunter2").decode()}}
    with pytest.raises(ValueError) as err:
        static_login(secret, "registry.bank.local")
    assert "hunter2" not in str(err.value)


def _ns(name: str, labels: dict | None = None, **meta: object) -> tuple[tuple[str, str], dict]:
    return ("", name), {"metadata": {"name": name, "labels": labels or {}, **meta}}


def _registry(spec: ImageRegistrySpec, **extra: object) -> dict:
    return {"metadata": {"name": "ecr"}, "spec": {**spec.model_dump(by_alias=True, exclude_none=True), **extra}}


def test_targets_are_selected_namespaces_plus_those_of_granted_capabilities_and_sandboxes_naming_the_registry() -> None:
    namespaces = dict([_ns("a", {"pulls": "yes"}), _ns("b"), _ns("payments", {"finplane.io/team": "payments"}),
                       _ns("cards", {"finplane.io/team": "cards"}), _ns("sbx-acme")])
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments/api:1"
    caps = {("payments", "api"): {"spec": {"registryRef": "ecr", "image": image}},
            ("cards", "api"): {"spec": {"registryRef": "ecr", "image": image}},  # cards is not granted
            ("b", "x"): {"spec": {"registryRef": "other"}}}
    sbx = {("", "acme"): {"spec": {"registryRef": "ecr", "awsRoleArn": "arn:aws:iam::123456789012:role/acme"}}}
    got = target_namespaces(registry=_registry(ECR, allowedTeams=["payments"], allowSandboxes=True),
                            namespaces=namespaces, capabilities=caps, sandboxes=sbx, teams={}, settings=Settings())
    assert got == {"a": None, "payments": None, "sbx-acme": "arn:aws:iam::123456789012:role/acme"}


def test_a_namespace_that_stops_matching_or_is_terminating_is_no_longer_a_target() -> None:
    namespaces = dict([_ns("a", {"pulls": "no"}), _ns("c", {"pulls": "yes"}, deletionTimestamp="2026-01-01T00:00:00Z")])
    assert target_namespaces(registry=_registry(ECR), namespaces=namespaces,
                             capabilities={}, sandboxes={}, teams={}, settings=Settings()) == {}


def test_a_team_namespace_can_name_its_own_role_by_annotation() -> None:
    namespaces = dict([_ns("a", {"pulls": "yes"}, annotations={ROLE_ANNOTATION: "arn:aws:iam::1:role/team-a"})])
    assert target_namespaces(registry=_registry(ECR), namespaces=namespaces,
                             capabilities={}, sandboxes={}, teams={}, settings=Settings()) == {"a": "arn:aws:iam::1:role/team-a"}


def test_match_expressions_select_like_kubernetes() -> None:
    spec = ImageRegistrySpec.model_validate({**ECR.model_dump(by_alias=True, exclude_none=True), "namespaceSelector": {
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]},
                             {"key": "legacy", "operator": "DoesNotExist"}]}})
    namespaces = dict([_ns("x", {"tier": "gold"}), _ns("y", {"tier": "gold", "legacy": "1"}), _ns("z", {"tier": "x"})])
    assert set(target_namespaces(registry=_registry(spec), namespaces=namespaces,
                                 capabilities={}, sandboxes={}, teams={}, settings=Settings())) == {"x"}


def test_an_image_from_another_host_than_the_ecr_accounts_is_refused_pull_access() -> None:
    from finplane.reconcile.registry.access import image_allowed

    registry = {"metadata": {"name": "ecr"}, "spec": {"kind": "ecr", "allowedRepositories": ["payments/*"],
                                                      "ecr": {"region": "eu-west-1", "accountId": "123456789012"}}}
    host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert image_allowed(registry, f"{host}/payments/api:1.0")[:2] == (True, "PullSecretWired")
    assert image_allowed(registry, "docker.io/library/nginx:1.27")[1] == "RegistryMismatch"
    assert image_allowed(registry, f"{host}/cards/api:1.0")[1] == "RepositoryNotAllowed"
