"""Fixtures of the platform API tests: settings with a throw-away dev key, token minting, an app
wired to in-memory doubles at the API's own seam (a fake writer and the MemoryCache)."""

from __future__ import annotations

import base64
import copy
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from finplane import SANDBOX_CREDENTIAL_SECRET
from finplane.kube import errors as kerr
from platform_api.app import create_app
from platform_api.auth import devkey
from platform_api.cache import MemoryCache
from platform_api.settings import ApiSettings
from tests.support import builders, wait_for

Obj = dict[str, Any]


class FakeWriter:
    """An in-memory stand-in for finplane.kube.client.Kube: versions, 409s, and an instant 'watch'."""

    def __init__(self, cache: MemoryCache) -> None:
        self.cache = cache
        self.objects: dict[tuple[str, str, str, str], Obj] = {}
        self._rv = itertools.count(100)
        self.writes: list[tuple[str, Obj]] = []

    @staticmethod
    def _key(api_version: str, kind: str, name: str, namespace: str | None) -> tuple[str, str, str, str]:
        return (api_version, kind, namespace or "", name)

    def _of(self, body: Obj) -> tuple[str, str, str, str]:
        meta = body["metadata"]
        return self._key(body["apiVersion"], body["kind"], meta["name"], meta.get("namespace"))

    def seed(self, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        obj.setdefault("metadata", {})["resourceVersion"] = str(next(self._rv))
        self.objects[self._of(obj)] = obj
        if obj["kind"] != "Secret":
            self.cache.observe(copy.deepcopy(obj))
        return obj

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj:
        try:
            return copy.deepcopy(self.objects[self._key(api_version, kind, name, namespace)])
        except KeyError:
            raise kerr.NotFound("not found", status=404) from None

    async def create(self, body: Obj) -> Obj:
        if self._of(body) in self.objects:
            raise kerr.AlreadyExists("exists", status=409, reason="AlreadyExists")
        self.writes.append(("create", body))
        return copy.deepcopy(self.seed(body))

    async def replace(self, body: Obj) -> Obj:
        current = self.objects.get(self._of(body))
        if current is None:
            raise kerr.NotFound("not found", status=404)
        if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise kerr.Conflict("stale", status=409, reason="Conflict")
        body = copy.deepcopy(body)
        body["status"] = copy.deepcopy(current.get("status", {}))
        self.writes.append(("replace", body))
        return copy.deepcopy(self.seed(body))

    async def patch_merge(self, api_version: str, kind: str, name: str, patch: Obj,
                          namespace: str | None = None) -> Obj:
        raise AssertionError("the API writes with replace (guarded by resourceVersion), not merge patches")

    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        obj = self.objects.pop(self._key(api_version, kind, name, namespace), None)
        if obj is None:
            raise kerr.NotFound("not found", status=404)
        self.writes.append(("delete", obj))
        self.cache.forget(obj)

    def set_status(self, api_version: str, kind: str, name: str, status: Obj, namespace: str | None = None) -> Obj:
        """What the operator does: write status (a new resourceVersion)."""
        obj = copy.deepcopy(self.objects[self._key(api_version, kind, name, namespace)])
        obj["status"] = status
        return self.seed(obj)


def capability(name: str, team: str, *, domain: str = "payments", ready: bool | None = True,
               deps: list[Obj] | None = None, classification: str = "internal", channels: list[str] = ()) -> Obj:
    conditions = [] if ready is None else [{"type": "Ready", "status": "True" if ready else "False",
                                            "reason": "Ready" if ready else "Progressing", "message": "",
                                            "lastTransitionTime": "2024-01-01T00:00:00Z"}]
    return builders.capability(name, team, owner={"team": team, "contact": f"{team}@bank.example"}, domain=domain,
                               image="registry.bank.example/x:1.0", labels={"finplane.io/team": team},
                               status={"conditions": conditions,
                                       "exposedOn": [{"channel": c, "route": "r"} for c in channels]},
                               description=f"{name} of {team}", dataClassification=classification,
                               dependencies=deps or [])


def sandbox_spec(partner: str) -> Obj:
    return {"partner": {"name": partner, "organisation": f"{partner} Ltd", "contact": f"ops@{partner}.example"},
            "tier": "small", "ttlSeconds": 86400}


@pytest.fixture
def make_capability() -> Callable[..., Obj]:
    return capability


@pytest.fixture
def make_sandbox_spec() -> Callable[[str], Obj]:
    return sandbox_spec


@pytest.fixture
def settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(dev_mode=True, dev_key_dir=tmp_path / "keys", audit_log=tmp_path / "audit.jsonl",
                       evidence_dir=tmp_path / "evidence",  # never the working directory's evidence log
                       rate_limit_per_second=1000, rate_limit_burst=1000)


@pytest.fixture
def mint(settings: ApiSettings) -> Callable[..., str]:
    def _mint(role: str, team: str | None = None, partner: str | None = None, subject: str | None = None,
              ttl: int = 600, **kw: Any) -> str:
        return devkey.mint(role=role, team=team, partner=partner, subject=subject, ttl=ttl, settings=settings, **kw)
    return _mint


@pytest.fixture
def cache() -> MemoryCache:
    return MemoryCache()


@pytest.fixture
def writer(cache: MemoryCache) -> FakeWriter:
    return FakeWriter(cache)


@pytest.fixture
def client(settings: ApiSettings, cache: MemoryCache, writer: FakeWriter) -> Iterator[TestClient]:
    with TestClient(create_app(settings, cache=cache, writer=writer), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def as_(client: TestClient, mint: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """Headers for a caller: as_("team", team="payments")."""
    def _headers(role: str, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(role, **kw)}"}
    return _headers


@pytest.fixture
def provision(writer: FakeWriter) -> Callable[..., str]:
    """Play the operator: give sandbox NAME a namespace, a credential Secret and its fingerprint."""
    def _provision(name: str, *, key: str = "fpk_first_key", rotation: int = 0) -> str:
        ns = f"sbx-{name}"
        writer.seed({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": SANDBOX_CREDENTIAL_SECRET, "namespace": ns},
                     "data": {"api-key": base64.b64encode(key.encode()).decode()}})
        writer.set_status("finplane.io/v1alpha1", "TenantSandbox", name, {
            "phase": "Active", "namespace": ns,
            "credentialSecretRef": {"name": SANDBOX_CREDENTIAL_SECRET, "namespace": ns, "key": "api-key"},
            "credentialFingerprint": key[-6:], "credentialRotation": rotation})
        return key
    return _provision


class ApiStack:
    """The embedded API server with the CRDs, and the real `finplane api` process against it."""

    def __init__(self, tmp: Path) -> None:
        import os
        import subprocess
        import sys
        import threading

        from finplane_emulator.testing import start_apiserver

        self.tmp = tmp
        self.apiserver = start_apiserver(tmp / "apiserver")
        self.kubeconfig = Path(self.apiserver.kubeconfig)
        self.settings = ApiSettings(dev_mode=True, dev_key_dir=tmp / "keys")
        self.audit_log = tmp / "audit.jsonl"
        self.kubectl("apply", "--server-side", "-f", str(Path(__file__).resolve().parents[2] / "crds"))
        self.evidence_dir = tmp / "evidence"
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "FINPLANE_API_DEV_MODE": "true",
               "FINPLANE_EVIDENCE_DIR": str(self.evidence_dir),
               "FINPLANE_API_DEV_KEY_DIR": str(tmp / "keys"), "FINPLANE_API_AUDIT_LOG": str(self.audit_log),
               "FINPLANE_API_RATE_LIMIT_PER_SECOND": "1000", "FINPLANE_API_RATE_LIMIT_BURST": "5000",
               # every test here talks from 127.0.0.1, and the fuzzer sends hundreds of requests without a
               # valid token on purpose: the lockout (tested in-process in test_hardening_tokens.py) would
               # answer 429 to the rest of the module.
               "FINPLANE_API_AUTH_FAILURE_LIMIT": "100000"}
        self.log = open(tmp / "api.log", "w")  # noqa: SIM115 - the child's stderr for its lifetime
        self.process = subprocess.Popen([sys.executable, "-m", "finplane", "api", "--port", "0"], env=env,
                                        stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"the API did not start: {line}{(tmp / 'api.log').read_text()}")
        self.url = line.rsplit(" ", 1)[-1].strip()
        threading.Thread(target=lambda: [None for _ in self.process.stdout or ()], daemon=True).start()
        import httpx

        self.http = httpx.Client(base_url=self.url, timeout=10)
        wait_for(lambda: self.http.get("/readyz").status_code == 200, timeout=15, interval=0.1,
                 what="the API answering /readyz with 200")

    def kubectl(self, *args: str, input: str | None = None) -> str:
        import subprocess
        out = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *args], input=input,
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {out.stderr}")
        return out.stdout

    def apply(self, obj: Obj) -> None:
        import json
        self.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def headers(self, role: str, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {devkey.mint(role=role, settings=self.settings, **kw)}"}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except Exception:
                self.process.kill()
                self.process.wait()
        self.log.close()
        self.apiserver.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiStack]:
    s = ApiStack(tmp_path_factory.mktemp("stack"))
    try:
        yield s
    finally:
        s.stop()
