"""Start the embedded API server as a subprocess for tests and benchmarks.

`start_apiserver(tmp_dir)` runs `python -m finplane_emulator --port 0 ...`, waits for its
"listening on" line and returns an `ApiServerHandle` with the `url`, a `kubeconfig` path, and
helpers for the test-only endpoints (`stats()`, `reset_stats()`, `set_faults(**cfg)`,
`fail_deployment()`), plus `stop()`. Used by the pytest plugin's fixtures (`pytest_plugin.py`),
by Finplane's test fixtures and by its bench scripts. Imports nothing but the standard library, so
that loading the pytest plugin costs nothing.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ApiServerHandle", "start_apiserver", "start_emulator"]

READY_LINE = "finplane-emulator listening on "  # main.READY_PREFIX (not imported: it pulls aiohttp in)


@dataclass
class ApiServerHandle:
    url: str
    kubeconfig: Path
    process: subprocess.Popen[str]
    log_path: Path
    data_dir: Path | None = None
    ca_file: Path | None = None  # the server's self-signed certificate when it serves HTTPS
    _drain: threading.Thread | None = field(default=None, repr=False)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        context = ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None
        with urllib.request.urlopen(req, timeout=30, context=context) as resp:
            return json.loads(resp.read() or b"null")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_finplane/stats")

    def reset_stats(self) -> dict[str, Any]:
        return self._call("DELETE", "/_finplane/stats")

    def set_faults(self, **cfg: Any) -> dict[str, Any]:
        """Replace the fault configuration (see finplane_emulator.faults); no arguments clears it."""
        return self._call("POST", "/_finplane/faults", cfg)

    def fail_deployment(self, namespace: str, name: str, *, failing: bool = True) -> None:
        self._call("POST", f"/_finplane/deployments/{namespace}/{name}/{'fail' if failing else 'recover'}")

    @property
    def token(self) -> str:
        """The admin bearer token (group system:masters) of the kubeconfig the server wrote."""
        for line in self.kubeconfig.read_text().splitlines():
            key, _, value = line.strip().partition(":")
            if key == "token":
                return value.strip().strip("'\"")
        raise RuntimeError(f"no token in {self.kubeconfig}")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, *, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> ApiServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_apiserver(tmp_dir: Path | str, *, data_dir: Path | str | None = None, faults: bool = False,
                    port: int = 0, env: dict[str, str] | None = None, timeout: float = 30.0,
                    authorization_mode: str | None = None, token_auth_file: Path | str | None = None,
                    admission_plugins: tuple[str, ...] | list[str] = (), secure: bool = False,
                    anonymous_auth: bool = True, tls: bool | None = None) -> ApiServerHandle:
    """Run the server as a subprocess on 127.0.0.1 and return once it accepts requests.

    `secure=True` enforces RBAC and runs every admission plugin (`--secure`); `authorization_mode`,
    `token_auth_file`, `admission_plugins` and `anonymous_auth` are the options of the same names.
    With `secure`, RBAC or a token file the server serves HTTPS with a fresh self-signed certificate
    (`handle.ca_file`, also named in the kubeconfig): Go clients such as kubectl send no credentials over
    plain HTTP (clientcmd reads a kubeconfig's user only for TLS transports). `tls` overrides the choice.
    `FINPLANE_EMULATOR_SECURE=1` in the environment makes every server secure.
    """
    tmp = Path(tmp_dir)
    tmp.mkdir(parents=True, exist_ok=True)
    kubeconfig = tmp / "kubeconfig"
    log_path = tmp / "apiserver.log"
    cmd = [sys.executable, "-m", "finplane_emulator", "--host", "127.0.0.1", "--port", str(port),
           "--kubeconfig-out", str(kubeconfig)]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    if faults:
        cmd.append("--faults")
    if os.environ.get("FINPLANE_EMULATOR_SECURE") == "1":  # run a whole suite under enforcement to see what breaks
        secure = True
    if secure:
        cmd.append("--secure")
    if authorization_mode:
        cmd += ["--authorization-mode", authorization_mode]
    if token_auth_file is not None:
        cmd += ["--token-auth-file", str(token_auth_file)]
    if admission_plugins:
        cmd += ["--enable-admission-plugins", ",".join(admission_plugins)]
    if not anonymous_auth:
        cmd.append("--no-anonymous-auth")
    if tls is None:
        tls = secure or authorization_mode == "RBAC" or token_auth_file is not None
    ca_file = _self_signed(tmp) if tls else None
    if ca_file is not None:
        cmd += ["--tls-cert", str(ca_file), "--tls-key", str(ca_file.with_name("tls.key"))]
    log = open(log_path, "w")  # noqa: SIM115 - kept open for the child's lifetime
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True,
                            env={**os.environ, **(env or {})})
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    url = ""
    lines: list[str] = []

    def read_first() -> None:
        nonlocal url
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(READY_LINE):
                url = line[len(READY_LINE):].strip()
                return

    reader = threading.Thread(target=read_first, daemon=True)
    reader.start()
    reader.join(max(0.0, deadline - time.monotonic()))
    if not url:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the API server did not start: {''.join(lines)}\n{log_path.read_text()}")
    # Keep draining stdout so the child never blocks on a full pipe.
    drain = threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True)
    drain.start()
    return ApiServerHandle(url=url, kubeconfig=kubeconfig, process=proc, log_path=log_path,
                           data_dir=Path(data_dir) if data_dir else None, ca_file=ca_file, _drain=drain)


def _self_signed(tmp: Path) -> Path:
    """A certificate and key for 127.0.0.1 and localhost (openssl), valid two days; returns the certificate."""
    cert, key = tmp / "tls.crt", tmp / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=finplane-emulator",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert


start_emulator = start_apiserver  # the same function under the distribution's name
