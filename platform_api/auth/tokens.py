"""Bearer token verification: PyJWT against the configured issuer, audience and JWKS.

Called by the ``current_identity`` dependency (:mod:`platform_api.deps`) for every
authenticated request. The JWKS comes from a file (re-read when it changes) or a URL (PyJWT's
caching client, run in a worker thread); the development key is trusted only in dev mode.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import jwt

from platform_api.auth import devkey
from platform_api.auth.identity import ClaimsError, Identity, identity_from_claims
from platform_api.settings import ApiSettings

__all__ = ["AuthError", "TokenVerifier"]

_ASYMMETRIC = {"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"}


class AuthError(Exception):
    """The token was refused; ``reason`` is a CamelCase word and the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class _FileJwks:
    """A JWKS file, re-read when its modification time changes (key rotation without restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: float | None = None
        self._keys: dict[str, jwt.PyJWK] = {}

    def keys(self) -> dict[str, jwt.PyJWK]:
        mtime = self.path.stat().st_mtime
        if mtime != self._mtime:
            data = json.loads(self.path.read_text())
            self._keys = {k.key_id or "": k for k in jwt.PyJWKSet.from_dict(data).keys}
            self._mtime = mtime
        return self._keys


class TokenVerifier:
    """Verifies bearer tokens and returns the caller's :class:`Identity`."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.algorithms = [a for a in settings.algorithms if a in _ASYMMETRIC]
        self._file: _FileJwks | None = None
        self._url: jwt.PyJWKClient | None = None
        if settings.jwks:
            if settings.jwks.startswith(("https://", "http://")):
                self._url = jwt.PyJWKClient(settings.jwks, cache_keys=True, lifespan=300)
            else:
                self._file = _FileJwks(Path(settings.jwks))
        self._dev_key: Any = devkey.public_key(settings.dev_key_dir) if settings.dev_mode else None

    async def _key_for(self, token: str, header: dict[str, Any], issuer: str) -> tuple[Any, str, str]:
        """The key to check the signature with, and the issuer it binds the token to."""
        kid = header.get("kid")
        if issuer == self.settings.dev_issuer:
            if self._dev_key is None:
                raise AuthError("UntrustedIssuer", "development tokens are trusted only in dev mode")
            return self._dev_key, self.settings.dev_issuer, "ES256"
        if issuer != self.settings.issuer:
            raise AuthError("WrongIssuer", "the token was issued by an issuer this API does not trust")
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise AuthError("UnsupportedAlgorithm", f"tokens must be signed with one of {self.algorithms}")
        if self._file is not None:
            try:
                keys = await anyio.to_thread.run_sync(self._file.keys)
            except (OSError, ValueError, jwt.PyJWKSetError) as exc:
                raise AuthError("KeysUnavailable", "the signing keys cannot be read") from exc
            key = keys.get(kid or "") or (next(iter(keys.values())) if len(keys) == 1 and not kid else None)
            if key is None:
                raise AuthError("UnknownKey", "the token's key id is not in the trusted key set")
            return key.key, self.settings.issuer, alg
        if self._url is not None:
            try:
                signing = await anyio.to_thread.run_sync(self._url.get_signing_key_from_jwt, token)
            except jwt.PyJWKClientConnectionError as exc:
                raise AuthError("KeysUnavailable", "the signing keys cannot be fetched") from exc
            except jwt.PyJWKClientError as exc:
                raise AuthError("UnknownKey", "the token's key id is not in the trusted key set") from exc
            return signing.key, self.settings.issuer, alg
        raise AuthError("UntrustedIssuer", "no trusted key set is configured for this issuer")

    async def verify(self, token: str) -> Identity:
        """Verify signature, issuer, audience, exp and nbf; raise :class:`AuthError` with a reason."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.DecodeError as exc:
            raise AuthError("MalformedToken", "the bearer token is not a well-formed JWT") from exc
        issuer = unverified.get("iss")
        if not isinstance(issuer, str):
            raise AuthError("MissingClaim", "the token has no issuer (iss)")
        key, expected_issuer, alg = await self._key_for(token, header, issuer)
        try:
            claims = jwt.decode(
                token, key=key, algorithms=[alg], audience=self.settings.audience, issuer=expected_issuer,
                leeway=self.settings.leeway_seconds, options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("TokenExpired", "the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError("TokenNotYetValid", "the token is not valid yet (nbf/iat in the future)") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("WrongAudience", "the token is not meant for this API (aud)") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("WrongIssuer", "the token's issuer is not trusted") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError("BadSignature", "the token's signature does not verify") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError("MissingClaim", f"the token lacks the {exc.claim} claim") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise AuthError("UnsupportedAlgorithm", "the token's algorithm is not accepted") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError("InvalidToken", "the token is not valid") from exc
        try:
            return identity_from_claims(claims)
        except ClaimsError as exc:
            raise AuthError("InvalidClaims", str(exc)) from exc
