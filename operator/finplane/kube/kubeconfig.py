"""Where the API server is and how to prove who we are: kubeconfig files and the in-cluster service account.

Read once at start-up by `finplane.kube.client.KubeClient.from_config` (the operator, the platform API,
`finplane dev` and the CLI's cluster commands) and by the operator's kopf login handler
(`finplane.handlers.main`), so kopf's own requests (peering, the registry watches) and Finplane's use the
same server, CA and credentials.

What is understood, as kubectl understands it:
- `KUBECONFIG` as a list of files (`os.pathsep`), merged so the first file naming a cluster, user or
  context wins, and the first `current-context` wins (files of the list that do not exist are skipped); else `~/.kube/config`; else the in-cluster service
  account (`KUBERNETES_SERVICE_HOST`, the token and CA under
  /var/run/secrets/kubernetes.io/serviceaccount).
- clusters: `server`, `certificate-authority(-data)`, `insecure-skip-tls-verify`, `tls-server-name`,
  `proxy-url`;
- users: `token`, `tokenFile`, `client-certificate(-data)` with `client-key(-data)`, `username`/`password`,
  and `exec` credential plugins (client.authentication.k8s.io v1 and v1beta1: EKS's `aws eks get-token`,
  GKE's and AKS's plugins), whose token is cached until its `expirationTimestamp`.
- A token file (the in-cluster one is rotated by the kubelet) is re-read at most once a minute, and at
  once after a 401; an exec plugin is run again after a 401 or once its token expires.
Refused with a `KubeconfigError` that says what to change: a missing file, context, cluster or user; the
removed `auth-provider` plugins; a client certificate without its key.

Credentials never appear in an error message or a log line: messages name the file and the entry.
No `kubernetes` package: it imports every generated model (about 50 MiB of an idle operator; issue 19).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import ssl
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["BasicAuth", "Connection", "Credential", "ExecCredential", "KubeconfigError", "StaticToken", "TokenFile",
           "load", "load_incluster", "load_kubeconfig"]

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
#: How long a token file's content is trusted before it is read again (client-go's figure).
TOKEN_FILE_TTL_SECONDS = 60.0
#: An exec plugin's token is renewed this long before its stated expiry.
EXEC_EARLY_SECONDS = 10.0
EXEC_TIMEOUT_SECONDS = 60.0


class KubeconfigError(Exception):
    """The kubeconfig (or the in-cluster environment) cannot be used: the message says what to fix."""


class Credential:
    """Who we are, as a request header. No credential: anonymous requests."""

    async def authorization(self) -> str | None:
        """The Authorization header's value for the next request (None: send none)."""
        return None

    def invalidate(self) -> bool:
        """The server refused the last value (401): drop it. True when asking again may give another."""
        return False

    def token_now(self) -> str | None:
        """The current token without I/O (for kopf's login); None before the first `authorization`."""
        return None

    def expires(self) -> dt.datetime | None:
        return None


@dataclass
class StaticToken(Credential):
    token: str = field(repr=False)

    async def authorization(self) -> str | None:
        return f"Bearer {self.token}"

    def token_now(self) -> str | None:
        return self.token


@dataclass
class BasicAuth(Credential):
    username: str
    password: str = field(repr=False)

    async def authorization(self) -> str | None:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


@dataclass
class TokenFile(Credential):
    """A token read from a file that something else rotates (the kubelet's projected service-account token)."""

    path: Path
    ttl: float = TOKEN_FILE_TTL_SECONDS
    _token: str | None = field(default=None, repr=False)
    _read_at: float = 0.0

    async def authorization(self) -> str | None:
        if self._token is None or time.monotonic() - self._read_at > self.ttl:
            self._read()
        return f"Bearer {self._token}"

    def _read(self) -> None:
        try:
            token = self.path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise KubeconfigError(f"cannot read the token file {self.path}: {exc.strerror}") from None
        if not token:
            raise KubeconfigError(f"the token file {self.path} is empty")
        self._token, self._read_at = token, time.monotonic()

    def invalidate(self) -> bool:
        self._token = None
        return True

    def token_now(self) -> str | None:
        if self._token is None:
            self._read()
        return self._token


@dataclass
class ExecCredential(Credential):
    """A client-go credential plugin: a command that prints an ExecCredential with a (short-lived) token."""

    command: str
    args: list[str]
    env: dict[str, str]
    api_version: str
    source: str  # "user <name> in <file>": for messages
    install_hint: str = ""
    _token: str | None = field(default=None, repr=False)
    _expires: dt.datetime | None = None
    _lock: asyncio.Lock | None = field(default=None, repr=False)
    #: Client certificate and key (PEM) when the plugin gives those instead of a token (read at start-up).
    certificate: tuple[str, str] | None = field(default=None, repr=False)

    async def authorization(self) -> str | None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one run of the plugin however many requests wait for it
            if self._token is None or self._stale():
                await self.refresh()
        return f"Bearer {self._token}" if self._token else None

    def _stale(self) -> bool:
        if self._expires is None:
            return False
        return dt.datetime.now(dt.UTC) >= self._expires - dt.timedelta(seconds=EXEC_EARLY_SECONDS)

    async def refresh(self) -> None:
        info = {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
        env = {**os.environ, **self.env, "KUBERNETES_EXEC_INFO": json.dumps(info)}
        try:
            proc = await asyncio.create_subprocess_exec(
                self.command, *self.args, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            hint = f" ({self.install_hint.strip()})" if self.install_hint else ""
            raise KubeconfigError(f"cannot run the credential plugin {self.command!r} of {self.source}: "
                                  f"{exc.strerror}{hint}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), EXEC_TIMEOUT_SECONDS)
        except TimeoutError:
            proc.kill()
            raise KubeconfigError(f"the credential plugin {self.command!r} of {self.source} did not answer "
                                  f"within {EXEC_TIMEOUT_SECONDS:.0f} s") from None
        if proc.returncode != 0:
            # stderr is the plugin's own message to the user (never its credential, which goes to stdout).
            last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            raise KubeconfigError(f"the credential plugin {self.command!r} of {self.source} failed "
                                  f"(exit {proc.returncode}): {last[0][:300]}")
        self._accept(out)

    def _accept(self, out: bytes) -> None:
        try:
            doc = json.loads(out)
            status = doc["status"]
            if not isinstance(status, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise KubeconfigError(f"the credential plugin {self.command!r} of {self.source} printed no "
                                  "ExecCredential with a status") from None
        token = status.get("token")
        cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
        if not token and not (cert and key):
            raise KubeconfigError(f"the credential plugin {self.command!r} of {self.source} gave neither a "
                                  "token nor a client certificate and key")
        self._token = token or None
        if cert and key:
            self.certificate = (cert, key)
        self._expires = _timestamp(status.get("expirationTimestamp"))

    def invalidate(self) -> bool:
        self._token, self._expires = None, None
        return True

    def token_now(self) -> str | None:
        return self._token

    def expires(self) -> dt.datetime | None:
        return self._expires


@dataclass
class Connection:
    """One API server and how to reach it; build the TLS context with `ssl_context()`."""

    server: str
    credential: Credential = field(default_factory=Credential)
    ca_data: str | None = field(default=None, repr=False)  # PEM
    ca_file: str | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    client_cert: tuple[str, str] | None = field(default=None, repr=False)  # (certificate PEM, key PEM)
    client_cert_files: tuple[str, str] | None = None
    proxy: str | None = None
    namespace: str | None = None
    source: str = ""

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS settings (None for a plain-HTTP server)."""
        if not self.server.startswith("https://"):
            return None
        ctx = ssl.create_default_context(cafile=self.ca_file, cadata=self.ca_data)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        pair = self.client_cert or (self.credential.certificate if isinstance(self.credential, ExecCredential)
                                    else None)
        if self.client_cert_files:
            ctx.load_cert_chain(*self.client_cert_files)
        elif pair:
            _load_pem_pair(ctx, *pair)
        return ctx


def _load_pem_pair(ctx: ssl.SSLContext, cert: str, key: str) -> None:
    """`ssl` loads a client certificate only from files: write both to one private temporary file, then delete it."""
    fd, path = tempfile.mkstemp(prefix="finplane-client-", suffix=".pem")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(cert.rstrip("\n") + "\n" + key.rstrip("\n") + "\n")
        ctx.load_cert_chain(path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


async def load(kubeconfig: str | os.PathLike[str] | None = None) -> Connection:
    """`kubeconfig` if given; else KUBECONFIG or ~/.kube/config when present; else the in-cluster account."""
    if kubeconfig is not None:
        return await load_kubeconfig([Path(kubeconfig)])
    env = os.environ.get("KUBECONFIG", "")
    paths = [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    if not paths and (default := Path("~/.kube/config").expanduser()).exists():
        paths = [default]
    if paths:
        # As kubectl: a file of the list that does not exist is skipped; when none does, the first is named.
        return await load_kubeconfig([p for p in paths if p.exists()] or paths[:1])
    return load_incluster()


def load_incluster(root: Path = SERVICE_ACCOUNT_DIR, environ: Mapping[str, str] | None = None) -> Connection:
    environ = os.environ if environ is None else environ
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host or not (root / "token").exists():
        raise KubeconfigError("no kubeconfig (set KUBECONFIG or create ~/.kube/config) and not in a cluster "
                              "(no KUBERNETES_SERVICE_HOST or service-account token)")
    if ":" in host:  # IPv6
        host = f"[{host}]"
    ca = root / "ca.crt"
    ns = root / "namespace"
    return Connection(server=f"https://{host}:{port}", credential=TokenFile(root / "token"),
                      ca_file=str(ca) if ca.exists() else None,
                      namespace=ns.read_text(encoding="utf-8").strip() if ns.exists() else None,
                      source="the in-cluster service account")


async def load_kubeconfig(paths: list[Path]) -> Connection:
    """Merge `paths` as kubectl does and resolve the current context into a `Connection`."""
    merged: dict[str, dict[str, tuple[dict[str, Any], Path]]] = {"clusters": {}, "users": {}, "contexts": {}}
    current: str | None = None
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise KubeconfigError(f"cannot read the kubeconfig {path}: {exc.strerror}") from None
        except yaml.YAMLError:
            raise KubeconfigError(f"the kubeconfig {path} is not valid YAML") from None
        if not isinstance(doc, dict):
            raise KubeconfigError(f"the kubeconfig {path} is not a mapping")
        current = current or doc.get("current-context") or None
        for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for entry in doc.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") and entry["name"] not in merged[section]:
                    merged[section][entry["name"]] = (entry.get(inner) or {}, path)
    where = ", ".join(str(p) for p in paths)
    if not current:
        raise KubeconfigError(f"the kubeconfig ({where}) sets no current-context")
    if current not in merged["contexts"]:
        raise KubeconfigError(f"the kubeconfig ({where}) has no context {current!r}")
    context, _ = merged["contexts"][current]
    cluster_name, user_name = context.get("cluster"), context.get("user")
    if cluster_name not in merged["clusters"]:
        raise KubeconfigError(f"context {current!r} names the cluster {cluster_name!r}, which the kubeconfig "
                              f"({where}) does not define")
    cluster, cluster_file = merged["clusters"][cluster_name]
    if not cluster.get("server"):
        raise KubeconfigError(f"cluster {cluster_name!r} in {cluster_file} has no server")
    user: dict[str, Any] = {}
    user_file = cluster_file
    if user_name:
        if user_name not in merged["users"]:
            raise KubeconfigError(f"context {current!r} names the user {user_name!r}, which the kubeconfig "
                                  f"({where}) does not define")
        user, user_file = merged["users"][user_name]
    conn = Connection(server=str(cluster["server"]).rstrip("/"), source=f"context {current!r} of {where}",
                      insecure=bool(cluster.get("insecure-skip-tls-verify")),
                      tls_server_name=cluster.get("tls-server-name") or None,
                      proxy=cluster.get("proxy-url") or None, namespace=context.get("namespace") or None)
    if data := cluster.get("certificate-authority-data"):
        conn.ca_data = _b64(data, f"certificate-authority-data of cluster {cluster_name!r} in {cluster_file}")
    elif ca := cluster.get("certificate-authority"):
        conn.ca_file = str(_relative(ca, cluster_file))
    conn.credential = _credential(user, f"user {user_name!r} in {user_file}", user_file)
    _client_cert(conn, user, f"user {user_name!r} in {user_file}", user_file)
    if isinstance(conn.credential, ExecCredential):
        await conn.credential.refresh()  # fail at start-up, with the plugin's message, not on the first request
    return conn


def _credential(user: dict[str, Any], source: str, base: Path) -> Credential:
    if user.get("auth-provider"):
        name = (user["auth-provider"] or {}).get("name", "?")
        raise KubeconfigError(f"{source} uses the auth-provider {name!r}, which Kubernetes removed; use an exec "
                              "credential plugin instead (e.g. gke-gcloud-auth-plugin, kubelogin)")
    if token := user.get("token"):
        return StaticToken(str(token))
    if token_file := user.get("tokenFile"):
        return TokenFile(_relative(token_file, base))
    if spec := user.get("exec"):
        if not spec.get("command"):
            raise KubeconfigError(f"the exec plugin of {source} has no command")
        env = {str(e["name"]): str(e.get("value", "")) for e in spec.get("env") or [] if e.get("name")}
        command = str(spec["command"])
        if os.sep in command and not os.path.isabs(command):  # relative to the kubeconfig, as kubectl resolves it
            command = str(_relative(command, base))
        return ExecCredential(command=command, args=[str(a) for a in spec.get("args") or []], env=env,
                              api_version=str(spec.get("apiVersion") or "client.authentication.k8s.io/v1"),
                              source=source, install_hint=str(spec.get("installHint") or ""))
    if user.get("username") and user.get("password") is not None:
        return BasicAuth(str(user["username"]), str(user["password"]))
    return Credential()


def _client_cert(conn: Connection, user: dict[str, Any], source: str, base: Path) -> None:
    cert_data, key_data = user.get("client-certificate-data"), user.get("client-key-data")
    cert_file, key_file = user.get("client-certificate"), user.get("client-key")
    if bool(cert_data or cert_file) != bool(key_data or key_file):
        raise KubeconfigError(f"{source} has a client certificate without its key, or a key without its certificate")
    if cert_data or key_data:
        cert = _b64(cert_data, f"client-certificate-data of {source}") if cert_data else \
            _relative(cert_file, base).read_text(encoding="utf-8")
        key = _b64(key_data, f"client-key-data of {source}") if key_data else \
            _relative(key_file, base).read_text(encoding="utf-8")
        conn.client_cert = (cert, key)
    elif cert_file:
        conn.client_cert_files = (str(_relative(cert_file, base)), str(_relative(key_file, base)))


def _relative(value: Any, base: Path) -> Path:
    """A path in a kubeconfig is relative to the file that names it."""
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base.parent / path


def _b64(value: Any, what: str) -> str:
    try:
        return base64.b64decode(str(value), validate=False).decode()
    except (ValueError, UnicodeDecodeError):
        raise KubeconfigError(f"the {what} is not base64-encoded PEM") from None


def _timestamp(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
