"""A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution) on loopback with bcrypt htpasswd.

Used by tests/e2e/test_registry_static.py. The htpasswd file is written by the test (Debian's server
would otherwise create one with a random `docker` user); distribution reads it only at start, so `rotate` rewrites it and restarts the server on the same port and storage.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port
from tests.support.waiting import wait_for

__all__ = ["RegistryPeer"]


@dataclass
class RegistryPeer:
    root: Path
    port: int = field(default_factory=free_port)
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
        try:
            wait_for(lambda: self.status("GET", "/v2/") == 401, timeout=20, interval=0.1,
                     what="docker-registry asking for credentials on /v2/")
        except AssertionError as exc:
            raise AssertionError(f"docker-registry did not start: {(self.root / 'registry.log').read_text()[-2000:]}"
                                 ) from exc

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
