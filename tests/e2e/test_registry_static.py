"""End-to-end: a static ImageRegistry against a real OCI registry (Debian's docker-registry, bcrypt htpasswd).

Covers, with the real operator against the embedded API server: the dockerconfigjson Secret Finplane
writes into a selected namespace authenticates a manifest pull (200); the named ServiceAccount gets the
Secret in imagePullSecrets while another controller's entry stays; a namespace that starts matching
the selector gets the Secret and one that stops matching loses it; a capability's namespace gets it
because the capability names the registry; rotating the password in the source Secret re-syncs, so
the old login gets 401 and the Secret's login 200; a missing source Secret keeps the last good pull
Secret and reports Ready=False; status lists namespaces in sync; the password never appears in the
operator log, events or status.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Cluster, OperatorProcess, condition, free_port, wait_for
from tests.support.builders import namespace
from tests.support.registry_peer import RegistryPeer

Obj = dict[str, Any]
REPO_NAME, TAG = "payments/api", "1.0"


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[RegistryPeer]:
    reg = RegistryPeer(tmp_path / "registry")
    reg.start("bot", "pw-one-Xq7")
    reg.push_image(REPO_NAME, TAG, ("bot", "pw-one-Xq7"))
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def registry_operator(cluster: Cluster, tmp_path: Path) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(cluster=cluster, log_path=tmp_path / "operator.log", liveness_port=free_port(),
                           metrics_port=free_port(), extra_env={"FINPLANE_REGISTRY_PRUNE_GRACE_SECONDS": "0"})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def ns(name: str, **labels: str) -> Obj:
    return namespace(name, labels=labels)


def source_secret(password: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "harbor-bot", "namespace": "finplane"},
            "type": "Opaque", "stringData": {"username": "bot", "password": password}}


def login_in(cluster: Cluster, namespace: str, host: str) -> tuple[str, str] | None:
    secret = cluster.get("secret", "local-pull", namespace)
    if secret is None:
        return None
    auth = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"][host]
    return auth["username"], auth["password"]


def test_pull_secrets_follow_selectors_capabilities_and_password_rotation(
        cluster: Cluster, registry_operator: OperatorProcess, peer: RegistryPeer) -> None:
    cluster.apply([ns("finplane"), ns("payments", pulls="yes"), ns("cards"), ns("kyc", **{"finplane.io/team": "kyc"}),
                   source_secret("pw-one-Xq7"),
                   {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "payments"},
                    "imagePullSecrets": [{"name": "someone-elses"}]}])
    cluster.apply({"apiVersion": "finplane.io/v1alpha1", "kind": "ImageRegistry", "metadata": {"name": "local"},
                   "spec": {"kind": "static", "server": peer.host,
                            "static": {"secretRef": {"name": "harbor-bot", "namespace": "finplane"}},
                            "namespaceSelector": {"matchLabels": {"pulls": "yes"}},
                            "serviceAccounts": ["default"], "allowedRepositories": ["payments/*"],
                            "allowedTeams": ["kyc"]}})

    login = wait_for(lambda: login_in(cluster, "payments", peer.host), what="pull Secret in payments")
    assert peer.pull_manifest(REPO_NAME, TAG, login) == 200
    sa = wait_for(lambda: (s := cluster.get("serviceaccount", "default", "payments")) and
                  len(s.get("imagePullSecrets") or []) == 2 and s, what="ServiceAccount wired")
    assert {e["name"] for e in sa["imagePullSecrets"]} == {"someone-elses", "local-pull"}
    assert cluster.get("secret", "local-pull", "cards") is None

    # a namespace that starts matching gets the Secret; one that stops matching loses it
    cluster.kubectl("label", "namespace", "cards", "pulls=yes")
    wait_for(lambda: login_in(cluster, "cards", peer.host), what="pull Secret in cards")
    cluster.kubectl("label", "namespace", "cards", "pulls-")
    wait_for(lambda: cluster.get("secret", "local-pull", "cards") is None, what="pull Secret removed from cards")

    # a capability naming the registry brings its namespace in (the registry grants its team, kyc: the
    # namespace's finplane.io/team label in migrate mode)
    cluster.apply({"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
                   "metadata": {"name": "kyc-check", "namespace": "kyc"},
                   "spec": {"owner": {"team": "kyc", "contact": "kyc@bank.example"}, "domain": "onboarding",
                            "image": f"{peer.host}/{REPO_NAME}:{TAG}", "registryRef": "local"}})
    wait_for(lambda: login_in(cluster, "kyc", peer.host), what="pull Secret in the capability's namespace")
    status = wait_for(lambda: (r := cluster.get("imageregistry", "local")) and
                      condition(r, "Ready") and condition(r, "Ready")["status"] == "True" and
                      "kyc" in r["status"].get("namespacesInSync", []) and r["status"], what="registry Ready")
    assert status["namespacesInSync"] == ["kyc", "payments"]
    assert status["secretName"] == "local-pull" and status["lastRefreshTime"]

    # rotation: the registry admin changes the password, then the source Secret
    peer.rotate("bot", "pw-two-Zr9")
    assert peer.pull_manifest(REPO_NAME, TAG, login) == 401
    cluster.apply(source_secret("pw-two-Zr9"))
    new_login = wait_for(lambda: (lg := login_in(cluster, "payments", peer.host)) and lg[1] == "pw-two-Zr9" and lg,
                         what="rotated pull Secret")
    assert peer.pull_manifest(REPO_NAME, TAG, new_login) == 200
    assert peer.pull_manifest(REPO_NAME, TAG, login) == 401

    # the source disappears: the last good Secret stays and the registry says why it is not Ready
    cluster.kubectl("delete", "secret", "harbor-bot", "-n", "finplane")
    wait_for(lambda: (c := condition(cluster.get("imageregistry", "local"), "Ready")) and
             c["reason"] == "SourceSecretUnavailable", what="Ready=False SourceSecretUnavailable")
    assert login_in(cluster, "payments", peer.host) == new_login

    events = cluster.kubectl("get", "events", "-A", "-o", "json").stdout
    registry_obj = json.dumps(cluster.get("imageregistry", "local"))
    for secret_text in ("pw-one-Xq7", "pw-two-Zr9"):
        assert secret_text not in registry_operator.logs()
        assert secret_text not in events
        assert secret_text not in registry_obj
