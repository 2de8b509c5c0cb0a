"""The Ed25519 key that signs evidence entries, and the public keys a verifier trusts.

The writer (`evidence.EvidenceLog`) signs the hash of every entry it appends with the operator's
private key. Where the key lives: the file named by `FINPLANE_EVIDENCE_KEY_FILE` (on a cluster, a
Secret mounted read-only into the operator and API pods), else `keys/evidence-ed25519.pem` next to
the log (a development default: whoever can write that folder can also read that key). A missing
key file is generated on first start (created exclusively, mode 0600, so that two processes starting
together end up with one key). The public key is written next to it (`.pub`) and served by
`finplane evidence public-key` and `GET /api/v1/evidence/public-key`; auditors verify with it.

On a cluster the key is a Secret: `signing_secret` builds it (the operator or the API creates it on first
start when `get` finds none), `signer_from_secret` reads it back, and `public_key_configmap` builds the
ConfigMap that publishes the public half to auditors (labelled `finplane.io/evidence-public-key`). These are
pure manifests; `finplane.kube.evidence_key` writes and reads them at start-up.

Signatures cover `finplane-evidence-v1:` + the entry's hash, so they bind its sequence number, time,
link and content. `kid` is the first 16 hex digits of the SHA-256 of the raw public key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["KEY_ENV", "PUBLIC_KEY_LABEL", "SECRET_KEY", "Signer", "TrustedKeys", "default_key_file", "key_id", "load_or_create_signer",
           "load_public_key", "public_key_configmap", "public_pem", "signer_from_secret", "signing_secret"]

KEY_ENV = "FINPLANE_EVIDENCE_KEY_FILE"
SECRET_KEY = "evidence-ed25519.pem"  # the data key of the Secret (its file name when mounted)
PUBLIC_KEY_LABEL = "finplane.io/evidence-public-key"  # on the ConfigMap auditors read the public key from
_DOMAIN = b"finplane-evidence-v1:"


def default_key_file(log: Path) -> Path:
    """The private key file for `log`: $FINPLANE_EVIDENCE_KEY_FILE, else keys/evidence-ed25519.pem beside it."""
    configured = os.environ.get(KEY_ENV)
    return Path(configured) if configured else log.parent / "keys" / "evidence-ed25519.pem"


def _raw(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(pub: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw(pub)).hexdigest()[:16]


def public_pem(pub: Ed25519PublicKey) -> str:
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass(frozen=True)
class Signer:
    """The operator's private key; `sign` returns (kid, base64 signature) for an entry hash."""
    private: Ed25519PrivateKey
    path: Path | None = None

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def kid(self) -> str:
        return key_id(self.public)

    def sign(self, entry_hash: str) -> tuple[str, str]:
        return self.kid, base64.b64encode(self.private.sign(_DOMAIN + entry_hash.encode())).decode()

    def trusted(self) -> TrustedKeys:
        return TrustedKeys({self.kid: self.public})


@dataclass(frozen=True)
class TrustedKeys:
    """Public keys by kid; `check` says why an entry's signature is not acceptable (None when it is)."""
    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)

    def check(self, *, entry_hash: str, kid: object, sig: object) -> str | None:
        if not sig or not kid:
            return "the entry is not signed (appended by someone without the operator's key)"
        pub = self.keys.get(str(kid))
        if pub is None:
            return f"the entry is signed by key {kid}, which is not a trusted evidence key"
        try:
            pub.verify(base64.b64decode(str(sig), validate=True), _DOMAIN + entry_hash.encode())
        except (InvalidSignature, ValueError):
            return (f"the signature does not verify with key {kid} (the entry was changed after it was signed, "
                    "or signed by another key)")
        return None

    def __bool__(self) -> bool:
        return bool(self.keys)

    def merged(self, other: TrustedKeys) -> TrustedKeys:
        return TrustedKeys({**self.keys, **other.keys})


def _write_exclusive(path: Path, data: bytes, mode: int) -> bool:
    """Create `path` with `data` unless it exists; False when another process created it first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic and exclusive: the complete file or nothing, never two keys
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def load_or_create_signer(path: Path) -> Signer:
    """The key in `path` (PEM, PKCS#8); generated there first when absent, its public key beside it."""
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        if _write_exclusive(path, _private_pem(key), 0o600):
            pub = path.with_suffix(".pub")
            if not pub.exists():
                _write_exclusive(pub, public_pem(key.public_key()).encode(), 0o644)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return Signer(loaded, path)


def load_public_key(path: Path) -> TrustedKeys:
    """The key(s) in a PEM file: a public key, or a private key (its public half is taken)."""
    data = path.read_bytes()
    pub: object
    if b"PRIVATE KEY" in data:
        pub = serialization.load_pem_private_key(data, password=None).public_key()
    else:
        pub = serialization.load_pem_public_key(data)
    if not isinstance(pub, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 key")
    return TrustedKeys({key_id(pub): pub})


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def signing_secret(signer: Signer, *, name: str, namespace: str) -> dict[str, Any]:
    """The Secret holding `signer`'s private key (immutable: a key is replaced, never edited)."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "immutable": True,
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/part-of": "finplane"},
                         "annotations": {"finplane.io/evidence-key-id": signer.kid}},
            "data": {SECRET_KEY: base64.b64encode(_private_pem(signer.private)).decode()}}


def signer_from_secret(body: dict[str, Any]) -> Signer:
    """The signer in a Secret built by `signing_secret`; ValueError naming what is wrong otherwise."""
    raw = (body.get("data") or {}).get(SECRET_KEY)
    if not raw:
        raise ValueError(f"Secret {body.get('metadata', {}).get('name')} has no {SECRET_KEY}")
    key = serialization.load_pem_private_key(base64.b64decode(raw), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"Secret {body.get('metadata', {}).get('name')}: {SECRET_KEY} is not an Ed25519 key")
    return Signer(key)


def public_key_configmap(signer: Signer, *, name: str, namespace: str) -> dict[str, Any]:
    """The ConfigMap publishing the public key auditors verify with (never the private key)."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/part-of": "finplane", PUBLIC_KEY_LABEL: "true"}},
            "data": {"kid": signer.kid, "algorithm": "Ed25519", "public-key.pem": public_pem(signer.public)}}
