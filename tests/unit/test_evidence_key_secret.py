"""The evidence signing key from a shared Secret, at Finplane's gateway seam (the fake Kubernetes gateway).

Covers: the first start generates the key and creates the Secret (immutable), and publishes the public half in
a ConfigMap that holds no private key; two processes starting together (both find no Secret before either
creates it) end up signing with one key, the loser reading the winner's; a later start reads the key back and
publishes nothing new; the private key appears in no log line; and, as an attacker who holds another key (the
loser's discarded one), an entry signed with it fails verification of the record.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from finplane.kube.evidence_key import configured_secret, shared_signer
from finplane.policy.evidence import entry_hash, open_chain
from finplane.policy.evidence_keys import Signer, TrustedKeys, _private_pem
from finplane.policy.evidence_merge import verify_record
from tests.support.fake_kube import FakeKube

NS, NAME = "finplane-system", "finplane-evidence-key"


class RacingKube(FakeKube):
    """Both starters read "no Secret" before either creates it: the race a shared Secret must survive."""

    def __init__(self, racers: int = 2) -> None:
        super().__init__()
        self.racers, self.arrived, self.all_read = racers, 0, asyncio.Event()

    async def get_or_none(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        found = await super().get_or_none(api_version, kind, name, namespace)
        if kind == "Secret" and found is None and self.arrived < self.racers:
            self.arrived += 1
            if self.arrived == self.racers:
                self.all_read.set()
            await self.all_read.wait()
        return found


def test_two_processes_starting_together_sign_with_one_key(caplog: pytest.LogCaptureFixture) -> None:
    kube = RacingKube()
    caplog.set_level(logging.DEBUG, logger="finplane")

    async def start_both() -> list[Signer]:
        return list(await asyncio.gather(shared_signer(kube, namespace=NS, name=NAME),  # type: ignore[arg-type]
                                         shared_signer(kube, namespace=NS, name=NAME)))  # type: ignore[arg-type]

    first, second = asyncio.run(start_both())
    assert kube.arrived == 2  # both really found nothing before creating
    assert first.kid == second.kid
    [secret] = kube.of_kind("Secret")
    assert secret["immutable"] is True
    assert len([c for c in kube.calls if c.verb == "create" and c.kind == "Secret"]) == 2  # one lost with 409
    [published] = kube.of_kind("ConfigMap")
    assert published["metadata"]["name"] == f"{NAME}-public"
    assert published["data"]["kid"] == first.kid and "PRIVATE" not in json.dumps(published)
    private = base64.b64decode(secret["data"]["evidence-ed25519.pem"]).decode()
    assert "PRIVATE KEY" in private
    body = private.splitlines()[1]
    assert body not in caplog.text and "created by another process" in caplog.text


def test_a_later_start_reads_the_key_back_and_publishes_nothing_new() -> None:
    kube = FakeKube()
    key = asyncio.run(shared_signer(kube, namespace=NS, name=NAME))  # type: ignore[arg-type]
    writes = len(kube.writes())
    again = asyncio.run(shared_signer(kube, namespace=NS, name=NAME))  # type: ignore[arg-type]
    assert again.kid == key.kid and len(kube.writes()) == writes


def test_the_secret_is_named_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINPLANE_EVIDENCE_KEY_SECRET", raising=False)
    assert configured_secret() is None
    monkeypatch.setenv("FINPLANE_EVIDENCE_KEY_SECRET", NAME)
    monkeypatch.setenv("FINPLANE_POD_NAMESPACE", NS)
    assert configured_secret() == (NS, NAME)
    monkeypatch.setenv("FINPLANE_EVIDENCE_KEY_SECRET", f"other/{NAME}")
    assert configured_secret() == ("other", NAME)


def test_an_entry_signed_by_another_key_than_the_secrets_fails_verify(tmp_path: Path) -> None:
    kube = FakeKube()
    key = asyncio.run(shared_signer(kube, namespace=NS, name=NAME))  # type: ignore[arg-type]
    log = open_chain(tmp_path, writer="op-a", signer=key)
    log.append({"type": "mode", "policy": "baseline", "mode": "audit"})
    loser = Signer(serialization_roundtrip(key))  # a key that is not the Secret's (the race's loser)
    forged = {"seq": log.seq + 1, "time": "2026-03-02T10:00:00.000000Z", "type": "mode", "policy": "baseline",
              "mode": "enforce", "chain": "op-a", "prev": log.head}
    forged["hash"] = entry_hash(forged)
    forged["kid"], forged["sig"] = loser.sign(forged["hash"])
    with log.path.open("a") as fh:
        fh.write(json.dumps(forged) + "\n")
    trusted = TrustedKeys({key.kid: key.public})  # what the published ConfigMap says
    rv = verify_record(tmp_path, keys=trusted)
    assert not rv.ok
    assert any(f"signed by key {loser.kid}, which is not a trusted evidence key" in p for p in rv.problems)
    assert not (tmp_path / "keys").exists()  # with the Secret's key, nothing of it is on the evidence volume


def serialization_roundtrip(signer: Signer) -> Any:
    """Another Ed25519 key (never the Secret's): generated, then loaded from PEM like a stolen file would be."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate()
    assert Signer(other).kid != signer.kid
    return serialization.load_pem_private_key(_private_pem(other), password=None)
