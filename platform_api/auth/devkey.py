"""The development signing key: an ES256 key pair kept in a state folder, for local use only.

``mint`` is called by `finplane token`; ``public_key`` by :class:`~platform_api.auth.TokenVerifier`,
which trusts this key only when the ``dev_mode`` setting is on (as `finplane dev` sets it).
The key is generated on first use (mode 0600) and never leaves the machine.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["KEY_FILE", "ensure_key", "mint", "public_key"]

KEY_FILE = "dev-signing-key.pem"
KID = "finplane-dev"


def ensure_key(key_dir: Path) -> ec.EllipticCurvePrivateKey:
    """Load the development key from ``key_dir``, generating it atomically if absent."""
    path = key_dir / KEY_FILE
    if not path.exists():
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = key_dir / f".{KEY_FILE}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        # Two processes racing (`finplane dev` and `finplane token`) must end with one key.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} is not an EC private key")
    return loaded


def public_key(key_dir: Path) -> ec.EllipticCurvePublicKey:
    """The public half of the development key (generated if absent)."""
    return ensure_key(key_dir).public_key()


def mint(role: str, team: str | None = None, partner: str | None = None, subject: str | None = None,
         ttl: int = 3600, *, settings: Any = None, not_before: int | None = None,
         groups: list[str] | None = None) -> str:
    """A development token for ``role`` signed with the development key.

    Only an API with ``dev_mode`` on trusts it. ``settings`` defaults to the environment's.
    """
    from platform_api.settings import get_settings

    cfg = settings or get_settings()
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": cfg.dev_issuer, "aud": cfg.audience, "sub": subject or f"dev-{role}",
        "iat": now, "nbf": not_before if not_before is not None else now, "exp": now + ttl,
        "jti": uuid.uuid4().hex, "role": role,
    }
    if team:
        claims["team"] = team
    if partner:
        claims["partner"] = partner
    if groups:
        claims["groups"] = list(groups)  # IdP groups: the Teams' owners and members map them to a team
    return jwt.encode(claims, ensure_key(cfg.dev_key_dir), algorithm="ES256", headers={"kid": KID})
