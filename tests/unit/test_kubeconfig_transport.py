"""How Finplane finds and proves itself to the API server, without the `kubernetes` package.

Covers `finplane.kube.kubeconfig` (kubeconfig files merged as kubectl merges them, the in-cluster account,
token files, exec credential plugins, refusals that say what to fix) and `finplane.kube.transport` (TLS
verified against the kubeconfig's CA, a 401 answered by a fresh credential, no environment read per request,
the proxy the kubeconfig or the environment names, watch lines as long as an object).

Written partly as the people it keeps out: a server whose certificate the kubeconfig's CA did not sign, a
server that refuses a stale token, a credential plugin that fails, a ~/.netrc that must not leak.
"""

from __future__ import annotations

import asyncio
import base64
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from finplane.handlers.main import kopf_connection
from finplane.kube import kubeconfig
from finplane.kube.client import KubeClient
from finplane.kube.errors import KubeError
from finplane.kube.informer import informer_for
from finplane.kube.resources import resource_for
from finplane.kube.transport import Transport, env_proxy
from finplane_emulator.testing import start_apiserver


def _write(path: Path, *, server: str, user: dict[str, Any], cluster: dict[str, Any] | None = None,
           name: str = "c", current: str | None = "c") -> Path:
    doc: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, **(cluster or {})}}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": "team-a"}}],
    }
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


# -- a fake API server that accepts exactly one token ------------------------------------------------------
class Fake:
    def __init__(self) -> None:
        self.accepted = "t1"
        self.seen: list[str | None] = []

    async def handle(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization")
        self.seen.append(auth)
        if auth != f"Bearer {self.accepted}":
            return web.json_response({"kind": "Status", "code": 401, "reason": "Unauthorized",
                                      "message": "Unauthorized"}, status=401)
        return web.json_response({"kind": "NamespaceList", "items": [], "metadata": {"resourceVersion": "1"}})


@pytest.fixture
async def fake() -> AsyncIterator[tuple[Fake, str]]:
    f = Fake()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", f.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
                "all_proxy", "KUBECONFIG"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


# -- TLS and tokens against the embedded API server -----------------------------------------------------------
@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with start_apiserver(tmp_path_factory.mktemp("tls"), tls=True) as handle:
        yield handle


async def test_a_kubeconfig_with_the_servers_ca_and_token_reads_and_writes(tls_server: Any, tmp_path: Path) -> None:
    # The CA given as a path relative to the kubeconfig, as kubectl resolves it.
    (tmp_path / "ca.crt").write_bytes(tls_server.ca_file.read_bytes())
    path = _write(tmp_path / "config", server=tls_server.url, user={"token": tls_server.token},
                  cluster={"certificate-authority": "ca.crt"})
    kube = await KubeClient.from_config(kubeconfig=str(path))
    try:
        made = await kube.apply({"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": "via-transport", "namespace": "default"}, "data": {"a": "1"}})
        assert made["data"] == {"a": "1"}
        assert (await kube.get("v1", "ConfigMap", "via-transport", "default"))["metadata"]["uid"]
    finally:
        await kube.close()


async def test_a_server_the_kubeconfigs_ca_did_not_sign_is_refused(tls_server: Any, tmp_path: Path) -> None:
    # The man in the middle: the kubeconfig names no CA, so the system's roots apply; the self-signed certificate fails.
    path = _write(tmp_path / "config", server=tls_server.url, user={"token": tls_server.token})
    kube = await KubeClient.from_config(kubeconfig=str(path))
    kube.retry_delays = ()
    try:
        with pytest.raises(KubeError) as err:
            await kube.list("v1", "Namespace")
        assert err.value.status == 0
        assert "certificate" in str(err.value).lower()
        assert tls_server.token not in str(err.value)
    finally:
        await kube.close()


async def test_insecure_skip_tls_verify_is_honoured_only_when_asked(tls_server: Any, tmp_path: Path) -> None:
    path = _write(tmp_path / "config", server=tls_server.url, user={"token": tls_server.token},
                  cluster={"insecure-skip-tls-verify": True})
    kube = await KubeClient.from_config(kubeconfig=str(path))
    try:
        assert any(ns["metadata"]["name"] == "default" for ns in await kube.list("v1", "Namespace"))
    finally:
        await kube.close()


async def test_a_watch_delivers_an_object_far_longer_than_aiohttps_line_limit(tls_server: Any, tmp_path: Path) -> None:
    path = _write(tmp_path / "config", server=tls_server.url, user={"token": tls_server.token},
                  cluster={"certificate-authority-data": base64.b64encode(tls_server.ca_file.read_bytes()).decode()})
    kube = await KubeClient.from_config(kubeconfig=str(path))
    informer = informer_for(kube, resource_for("v1", "ConfigMap"), namespace="default", backoff_max=1.0)
    seen: list[int] = []

    def listener(kind: str, obj: dict[str, Any]) -> None:
        if obj["metadata"]["name"] == "big":
            seen.append(len(obj.get("data", {}).get("blob", "")))

    informer.subscribe(listener)
    informer.start()
    try:
        await informer.ready.wait()
        await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": "default"},
                           "data": {"blob": "x" * 700_000}})
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.05)
        assert seen == [700_000]
        assert informer.relists == 1  # the stream was not broken and re-listed
    finally:
        await informer.stop()
        await kube.close()


# -- credentials that change ----------------------------------------------------------------------------------
async def test_a_rotated_token_file_is_read_again_after_a_401(fake: tuple[Fake, str], tmp_path: Path) -> None:
    server, url = fake
    token = tmp_path / "token"
    token.write_text("t1\n")
    kube = await KubeClient.from_config(kubeconfig=str(_write(tmp_path / "config", server=url,
                                                                user={"tokenFile": "token"})))
    try:
        await kube.list("v1", "Namespace")
        token.write_text("t2")  # the kubelet rotates the projected token; the server stops taking the old one
        server.accepted = "t2"
        await kube.list("v1", "Namespace")
        assert server.seen == ["Bearer t1", "Bearer t1", "Bearer t2"]
    finally:
        await kube.close()


def _plugin(tmp_path: Path, *, tokens: list[str], expiry: str | None = None, fail: bool = False) -> Path:
    """A credential plugin that hands out `tokens` in turn and counts its runs."""
    script = tmp_path / "plugin.py"
    script.write_text(textwrap.dedent(f"""
        import json, os, sys
        runs = os.path.join({str(tmp_path)!r}, "runs")
        n = len(open(runs).read()) if os.path.exists(runs) else 0
        open(runs, "a").write("x")
        info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
        assert info["spec"]["interactive"] is False
        if {fail!r}:
            print(json.dumps({{"status": {{"token": "must-not-leak"}}}}))
            sys.stderr.write("warming up\\nyour SSO session expired: run 'aws sso login'\\n")
            sys.exit(3)
        status = {{"token": {tokens!r}[min(n, {len(tokens) - 1})] + os.environ.get("SUFFIX", "")}}
        if {expiry!r}:
            status["expirationTimestamp"] = {expiry!r}
        print(json.dumps({{"apiVersion": info["apiVersion"], "kind": "ExecCredential", "status": status}}))
    """))
    return script


def _exec_user(script: Path, **extra: Any) -> dict[str, Any]:
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(script)], "env": [{"name": "SUFFIX", "value": ""}], **extra}}


def _runs(tmp_path: Path) -> int:
    return len((tmp_path / "runs").read_text())


async def test_an_exec_plugin_runs_once_for_many_requests_and_again_after_a_401(fake: tuple[Fake, str],
                                                                                  tmp_path: Path) -> None:
    server, url = fake
    script = _plugin(tmp_path, tokens=["t1", "t2"], expiry="2999-01-01T00:00:00Z")
    kube = await KubeClient.from_config(kubeconfig=str(_write(tmp_path / "config", server=url,
                                                                user=_exec_user(script))))
    try:
        for _ in range(5):
            await kube.list("v1", "Namespace")
        assert _runs(tmp_path) == 1
        server.accepted = "t2"  # the identity provider revoked the first token
        await kube.list("v1", "Namespace")
        assert _runs(tmp_path) == 2
        assert server.seen[-2:] == ["Bearer t1", "Bearer t2"]
    finally:
        await kube.close()


async def test_an_expired_exec_token_is_renewed_before_it_is_sent(fake: tuple[Fake, str], tmp_path: Path) -> None:
    server, url = fake
    server.accepted = "t2"
    script = _plugin(tmp_path, tokens=["t1", "t2"], expiry="2000-01-01T00:00:00Z")
    conn = await kubeconfig.load(_write(tmp_path / "config", server=url, user=_exec_user(script)))
    async with Transport(conn, user_agent="test") as transport:
        status, _, _ = await transport.call("GET", "/api/v1/namespaces")
    assert status == 200
    assert server.seen == ["Bearer t2"]  # the stale t1 was never sent


async def test_a_failing_exec_plugin_is_refused_with_its_own_message_and_no_credential(tmp_path: Path) -> None:
    script = _plugin(tmp_path, tokens=["x"], fail=True)
    with pytest.raises(kubeconfig.KubeconfigError) as err:
        await kubeconfig.load(_write(tmp_path / "config", server="https://k.example", user=_exec_user(script)))
    message = str(err.value)
    assert "exit 3" in message and "aws sso login" in message
    assert "must-not-leak" not in message


async def test_a_missing_exec_plugin_says_how_to_install_it(tmp_path: Path) -> None:
    user = {"exec": {"command": "no-such-plugin-here", "installHint": "install it with: brew install it"}}
    with pytest.raises(kubeconfig.KubeconfigError, match="brew install it"):
        await kubeconfig.load(_write(tmp_path / "config", server="https://k.example", user=user))


# -- what the kubeconfig may say --------------------------------------------------------------------------------
async def test_kubeconfig_files_merge_as_kubectl_merges_them(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = _write(tmp_path / "a", server="https://first.example", user={"token": "a"}, name="shared", current="shared")
    second = tmp_path / "b"
    second.write_text(yaml.safe_dump({
        "current-context": "other",
        "clusters": [{"name": "shared", "cluster": {"server": "https://second.example"}},
                     {"name": "o", "cluster": {"server": "https://other.example"}}],
        "users": [{"name": "o", "user": {"token": "o"}}],
        "contexts": [{"name": "other", "context": {"cluster": "o", "user": "o"}}]}))
    clean_env.setenv("KUBECONFIG", f"{tmp_path / 'not-there'}:{first}:{second}")  # a missing file is skipped
    conn = await kubeconfig.load()
    assert conn.server == "https://first.example"  # the first current-context and the first "shared" win
    assert conn.credential.token_now() == "a"
    assert conn.namespace == "team-a"


@pytest.mark.parametrize(("doc", "says"), [
    ({"current-context": "nope", "contexts": []}, "no context 'nope'"),
    ({"contexts": [{"name": "c", "context": {"cluster": "c"}}]}, "no current-context"),
    ({"current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "gone"}}]}, "cluster 'gone'"),
], ids=["unknown-context", "no-current-context", "unknown-cluster"])
async def test_an_unusable_kubeconfig_says_what_is_missing(tmp_path: Path, doc: dict[str, Any], says: str) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(kubeconfig.KubeconfigError, match=says):
        await kubeconfig.load(path)


async def test_removed_auth_providers_and_half_client_certificates_are_refused(tmp_path: Path) -> None:
    with pytest.raises(kubeconfig.KubeconfigError, match="auth-provider 'gcp'.*exec"):
        await kubeconfig.load(_write(tmp_path / "a", server="https://k.example",
                                     user={"auth-provider": {"name": "gcp"}}))
    with pytest.raises(kubeconfig.KubeconfigError, match="without its key"):
        await kubeconfig.load(_write(tmp_path / "b", server="https://k.example",
                                     user={"client-certificate-data": base64.b64encode(b"PEM").decode()}))


async def test_a_missing_kubeconfig_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(kubeconfig.KubeconfigError, match=str(tmp_path / "absent")):
        await kubeconfig.load(tmp_path / "absent")


def test_the_in_cluster_account_is_found_and_its_absence_explained(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("PEM")
    (tmp_path / "namespace").write_text("finplane-system\n")
    conn = kubeconfig.load_incluster(tmp_path, {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"})
    assert conn.server == "https://[fd00::1]:443"
    assert conn.ca_file == str(tmp_path / "ca.crt")
    assert conn.namespace == "finplane-system"
    assert conn.credential.token_now() == "sa-token"
    with pytest.raises(kubeconfig.KubeconfigError, match="not in a cluster"):
        kubeconfig.load_incluster(tmp_path, {})


async def test_kopf_is_given_the_same_server_and_credentials(tmp_path: Path) -> None:
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    conn = await kubeconfig.load(_write(tmp_path / "a", server="https://k.example:6443/", user={"token": "tok"},
                                        cluster={"certificate-authority-data": ca, "proxy-url": "http://p:3128"}))
    info = kopf_connection(conn)
    assert (info.server, info.scheme, info.token, info.proxy_url) == ("https://k.example:6443", "Bearer", "tok",
                                                                       "http://p:3128")
    assert info.ca_data == "-----BEGIN CERTIFICATE-----\n"
    basic = kopf_connection(await kubeconfig.load(_write(tmp_path / "b", server="https://k.example",
                                                         user={"username": "u", "password": "p:w"})))
    assert (basic.username, basic.password, basic.token) == ("u", "p:w", None)


# -- the environment: read once, never per request ------------------------------------------------------------
async def test_a_netrc_never_adds_credentials(fake: tuple[Fake, str], tmp_path: Path,
                                              clean_env: pytest.MonkeyPatch) -> None:
    server, url = fake
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login admin password hunter2\n")
    netrc.chmod(0o600)
    clean_env.setenv("NETRC", str(netrc))
    conn = await kubeconfig.load(_write(tmp_path / "config", server=url, user={}))
    async with Transport(conn, user_agent="test") as transport:
        await transport.call("GET", "/api/v1/namespaces")
    assert server.seen == [None]


def test_a_proxy_named_in_the_environment_is_used_and_no_proxy_bypasses_it(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HTTPS_PROXY", "http://proxy.bank.example:3128")
    assert env_proxy("https://api.cluster.example:6443") == "http://proxy.bank.example:3128"
    clean_env.setenv("NO_PROXY", ".cluster.example")
    assert env_proxy("https://api.cluster.example:6443") is None


def test_the_kubeconfigs_proxy_wins_over_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HTTPS_PROXY", "http://other.example:1")
    conn = kubeconfig.Connection(server="https://api.cluster.example:6443", proxy="http://kubeconfig-proxy.example:8080")
    assert Transport(conn, user_agent="t").proxy == "http://kubeconfig-proxy.example:8080"
    assert Transport(kubeconfig.Connection(server="https://api.cluster.example:6443"), user_agent="t").proxy == \
        "http://other.example:1"


def test_no_secret_is_in_a_connections_repr(tmp_path: Path) -> None:
    conn = kubeconfig.Connection(server="https://k", credential=kubeconfig.StaticToken("s3cret"),
                                 client_cert=("CERT", "KEY"))
    assert "s3cret" not in repr(conn) and "KEY" not in repr(conn)


def test_a_cluster_command_without_a_usable_kubeconfig_says_so_in_one_line(tmp_path: Path) -> None:
    import os
    import subprocess

    env = {**os.environ, "KUBECONFIG": str(tmp_path / "absent")}
    done = subprocess.run([sys.executable, "-m", "finplane", "compliance", "preview", "require-owner"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"finplane: error: cannot read the kubeconfig {tmp_path / 'absent'}: No such file or directory "
        "(hint: point KUBECONFIG at your cluster's kubeconfig)"]
