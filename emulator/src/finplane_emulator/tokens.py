"""ServiceAccount tokens: signed JWTs the server issues (TokenRequest, legacy token Secrets) and verifies.

Called by `authn.py` (to verify a bearer token) and by `authz_api.py` (TokenRequest) and
`admission_serviceaccount.py` (legacy `kubernetes.io/service-account-token` Secrets). The real
kube-apiserver signs with an RSA or ECDSA key (`--service-account-signing-key-file`); this emulator signs
with HS256 and a random per-process key, so tokens are opaque to other verifiers and do not survive a
restart. The claims are the real ones: a bound token carries `iss`, `aud`, `sub`, `exp`, `iat`, `nbf`,
`jti` and `kubernetes.io` (namespace, serviceaccount name and uid); a legacy one carries the
`kubernetes.io/serviceaccount/*` claims. Pure apart from the clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

__all__ = ["ISSUER", "LEGACY_ISSUER", "Claims", "Signer", "TokenError"]

ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"


class TokenError(ValueError):
    """A token that is not one of ours: bad shape, bad signature, expired, wrong audience."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Claims:
    """What a verified token says: the ServiceAccount, and for legacy tokens the Secret holding it."""

    namespace: str
    name: str
    uid: str
    secret_name: str = ""  # legacy tokens only
    expires: float | None = None


class Signer:
    """Issues and verifies this server's ServiceAccount tokens."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def _sign(self, payload: dict[str, Any]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "finplane-emulator"}).encode())
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        sig = hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64(sig)}"

    def issue(self, *, namespace: str, name: str, uid: str, audiences: list[str], seconds: int,
              now: float | None = None) -> tuple[str, float]:
        """A bound token (TokenRequest); returns (token, expiry as a UNIX time)."""
        now = time.time() if now is None else now
        exp = int(now) + seconds
        payload = {"aud": audiences, "exp": exp, "iat": int(now), "nbf": int(now), "iss": ISSUER,
                   "jti": str(uuid.uuid4()), "sub": f"system:serviceaccount:{namespace}:{name}",
                   "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}}
        return self._sign(payload), float(exp)

    def issue_legacy(self, *, namespace: str, name: str, uid: str, secret_name: str) -> str:
        """A non-expiring token for a `kubernetes.io/service-account-token` Secret."""
        return self._sign({"iss": LEGACY_ISSUER, "sub": f"system:serviceaccount:{namespace}:{name}",
                           "kubernetes.io/serviceaccount/namespace": namespace,
                           "kubernetes.io/serviceaccount/secret.name": secret_name,
                           "kubernetes.io/serviceaccount/service-account.name": name,
                           "kubernetes.io/serviceaccount/service-account.uid": uid})

    def verify(self, token: str, *, audiences: list[str], now: float | None = None) -> Claims:
        """The claims of a token this server signed; TokenError for anything else."""
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("not a JWT")
        try:
            header = json.loads(_unb64(parts[0]))
            payload = json.loads(_unb64(parts[1]))
            sig = _unb64(parts[2])
        except (ValueError, UnicodeDecodeError) as exc:
            raise TokenError(f"malformed JWT: {exc}") from None
        if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(payload, dict):
            raise TokenError("unsupported JWT")
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(sig, expected):
            raise TokenError("invalid signature")
        now = time.time() if now is None else now
        if payload.get("iss") == LEGACY_ISSUER:
            ns = payload.get("kubernetes.io/serviceaccount/namespace")
            name = payload.get("kubernetes.io/serviceaccount/service-account.name")
            uid = payload.get("kubernetes.io/serviceaccount/service-account.uid")
            secret = payload.get("kubernetes.io/serviceaccount/secret.name")
            if not all(isinstance(v, str) and v for v in (ns, name, uid, secret)):
                raise TokenError("incomplete legacy token")
            return Claims(namespace=str(ns), name=str(name), uid=str(uid), secret_name=str(secret))
        if payload.get("iss") != ISSUER:
            raise TokenError("unknown issuer")
        exp = payload.get("exp")
        if not isinstance(exp, int) or exp <= now:
            raise TokenError("token has expired")
        nbf = payload.get("nbf")
        if isinstance(nbf, int) and nbf > now + 60:
            raise TokenError("token is not valid yet")
        aud = payload.get("aud") or []
        if not set(aud if isinstance(aud, list) else [aud]) & set(audiences):
            raise TokenError("token audiences do not include this server")
        k8s = payload.get("kubernetes.io") or {}
        sa = k8s.get("serviceaccount") or {}
        ns, name, uid = k8s.get("namespace"), sa.get("name"), sa.get("uid")
        if not all(isinstance(v, str) and v for v in (ns, name, uid)):
            raise TokenError("incomplete token")
        return Claims(namespace=str(ns), name=str(name), uid=str(uid), expires=float(exp))
