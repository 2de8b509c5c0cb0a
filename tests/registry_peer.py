"""A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution) on loopback with bcrypt htpasswd.

Used by tests/e2e/test_registry_static.py (tests/ is on sys.path through tests/conftest.py). The htpasswd file is written by the test (Debian's
server would otherwise create one with a random `docker` user); distribution reads it only at
start, so `rotate` rewrites it and restarts the server on the same port and storage.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RegistryPeer:
    root: Path
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, user: str, password: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        htpasswd = subprocess.run(["htpasswd", "-Bbn", user, password], capture_output=True, text=True, check=True)
        (self.root / "htpasswd").write_text(htpasswd.stdout)
        (self.root / "config.yml").write_text(json.dumps({
            "version": 0.1, "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(self.root / "data")}, "delete": {"enabled": True}},
            "http": {"addr": self.host},
            "auth": {"htpasswd": {"realm": "finplane-test", "path": str(self.root / "htpasswd")}},
        }))
        log = open(self.root / "registry.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(["docker-registry", "serve", str(self.root / "config.yml")],
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.status("GET", "/v2/") == 401:
                return
            time.sleep(0.1)
        raise AssertionError(f"docker-registry did not start: {(self.root / 'registry.log').read_text()[-2000:]}")

    def rotate(self, user: str, password: str) -> None:
        self.stop()
        self.start(user, password)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def status(self, method: str, path: str, *, auth: tuple[str, str] | None = None, data: bytes | None = None,
               headers: dict[str, str] | None = None) -> int:
        return self.call(method, path, auth=auth, data=data, headers=headers)[0]

    def call(self, method: str, path: str, *, auth: tuple[str, str] | None = None, data: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
        req = urllib.request.Request(f"http://{self.host}{path}", method=method, data=data, headers=headers or {})
        if auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, dict(r.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers)
        except OSError:
            return 0, {}

    def push_blob(self, repo: str, blob: bytes, auth: tuple[str, str]) -> str:
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        code, headers = self.call("POST", f"/v2/{repo}/blobs/uploads/", auth=auth)
        assert code == 202, code
        location = headers["Location"]
        location = location.split(self.host, 1)[-1]
        sep = "&" if "?" in location else "?"
        code = self.status("PUT", f"{location}{sep}digest={digest}", auth=auth, data=blob,
                           headers={"Content-Type": "application/octet-stream"})
        assert code == 201, code
        return digest

    def push_image(self, repo: str, tag: str, auth: tuple[str, str]) -> None:
        """A minimal image: one config blob, one layer blob, a schema 2 manifest naming them."""
        layer = b"finplane test layer"
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
                            ).encode()
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                               "digest": self.push_blob(repo, config, auth)},
                    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer),
                                "digest": self.push_blob(repo, layer, auth)}]}
        code = self.status("PUT", f"/v2/{repo}/manifests/{tag}", auth=auth, data=json.dumps(manifest).encode(),
                           headers={"Content-Type": manifest["mediaType"]})
        assert code == 201, code

    def pull_manifest(self, repo: str, tag: str, auth: tuple[str, str]) -> int:
        return self.status("GET", f"/v2/{repo}/manifests/{tag}", auth=auth,
                           headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
