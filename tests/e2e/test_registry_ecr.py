"""End-to-end: an ECR ImageRegistry through a moto server, with the real operator and the embedded API server.

Covers: the pull Secret in a selected namespace carries ECR's login (user `AWS`, the decoded token)
for the account's `dkr.ecr` host; a TenantSandbox naming the registry (with its own IAM role) gets
the Secret in its namespace; status reports the token expiry, and moto's already-expired tokens
show as CredentialsFresh=False without making the operator hammer AWS (refreshes stay bounded);
when AWS is down the last good Secret stays and Ready=False says why and when the token expires;
when AWS is back the registry is Ready again; the credential-age metric is exported.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Cluster, OperatorProcess, condition, free_port, wait_for

Obj = dict[str, Any]
ACCOUNT = "123456789012"
HOST = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}


class Moto:
    def __init__(self, log: Path) -> None:
        self.port, self.log, self.proc = free_port(), log, None

    def start(self) -> None:
        import urllib.request

        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115

        def up() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/moto-api/", timeout=1):
                    return True
            except OSError:
                return False
        wait_for(up, timeout=30, what="moto server")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[Moto]:
    m = Moto(tmp_path / "moto.log")
    m.start()
    try:
        yield m
    finally:
        m.stop()


@pytest.fixture
def ecr_operator(cluster: Cluster, moto: Moto, tmp_path: Path) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(cluster=cluster, log_path=tmp_path / "operator.log", liveness_port=free_port(),
                           metrics_port=free_port(), extra_env={
                               **AWS_ENV, "FINPLANE_AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto.port}",
                               "FINPLANE_REGISTRY_MIN_REFRESH_SECONDS": "2", "FINPLANE_BACKOFF_SECONDS": "0.5",
                               "FINPLANE_BACKOFF_MAX_SECONDS": "2", "FINPLANE_REGISTRY_PRUNE_GRACE_SECONDS": "0"})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def login_in(cluster: Cluster, namespace: str) -> tuple[str, str] | None:
    secret = cluster.get("secret", "ecr-pull", namespace)
    if secret is None:
        return None
    auth = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"][HOST]
    assert base64.b64decode(auth["auth"]).decode() == f"{auth['username']}:{auth['password']}"
    return auth["username"], auth["password"]


def test_ecr_logins_reach_selected_and_sandbox_namespaces_and_survive_an_aws_outage(
        cluster: Cluster, ecr_operator: OperatorProcess, moto: Moto) -> None:
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments",
                                                                          "labels": {"pulls": "ecr"}}}])
    cluster.apply({"apiVersion": "finplane.io/v1alpha1", "kind": "ImageRegistry", "metadata": {"name": "ecr"},
                   "spec": {"kind": "ecr", "ecr": {"region": "eu-west-1", "accountId": ACCOUNT},
                            "namespaceSelector": {"matchLabels": {"pulls": "ecr"}}, "allowSandboxes": True}})
    login = wait_for(lambda: login_in(cluster, "payments"), timeout=60, what="ECR pull Secret in payments")
    assert login == ("AWS", f"{ACCOUNT}-auth-token")  # moto's token, decoded from base64("AWS:<password>")

    status = wait_for(lambda: (r := cluster.get("imageregistry", "ecr")) and condition(r, "Ready") and
                      condition(r, "Ready")["status"] == "True" and r["status"], what="registry Ready")
    assert status["tokenExpiresAt"].startswith("2015-01-01")
    fresh = condition({"status": status}, "CredentialsFresh")
    assert fresh and fresh["status"] == "False" and fresh["reason"] == "TokenReportedExpired"

    cluster.apply({"apiVersion": "finplane.io/v1alpha1", "kind": "TenantSandbox", "metadata": {"name": "acme"},
                   "spec": {"partner": {"name": "acme", "organisation": "Acme Ltd", "contact": "ops@acme.example"},
                            "members": [{"kind": "User", "name": "dev@acme.example"}], "ttlSeconds": 86400,
                            "registryRef": "ecr", "awsRoleArn": f"arn:aws:iam::{ACCOUNT}:role/acme-pull"}})
    wait_for(lambda: login_in(cluster, "sbx-acme"), timeout=60, what="ECR pull Secret in the sandbox namespace")

    # AWS goes down: the Secrets stay, the registry says why and until when the token was valid
    moto.stop()
    reason = wait_for(lambda: (c := condition(cluster.get("imageregistry", "ecr"), "Ready")) and
                      c["status"] == "False" and c, what="Ready=False during the outage")
    assert reason["reason"] == "CredentialRefreshFailed"
    assert "kept" in reason["message"] and "2015-01-01" in reason["message"]
    assert login_in(cluster, "payments") == login

    moto.start()  # same port
    wait_for(lambda: (c := condition(cluster.get("imageregistry", "ecr"), "Ready")) and c["status"] == "True",
             what="Ready again once AWS is back")
    metrics = ecr_operator.metrics()
    assert 'finplane_registry_credential_age_seconds{registry="ecr"}' in metrics
    assert f"{ACCOUNT}-auth-token" not in ecr_operator.logs()
