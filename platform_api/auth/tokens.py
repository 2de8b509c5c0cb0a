"""Bearer token verification: PyJWT against the configured issuer, audience and JWKS.

Called by the ``current_identity`` dependency (:mod:`platform_api.deps`) for every
authenticated request. The JWKS comes from a file (re-read when it changes) or a URL (PyJWT's
caching client, run in a worker thread); the development key is trusted only in dev mode.
Every refusal is an :class:`AuthError` (a 401 with a reason): the header is checked by
:mod:`platform_api.auth.headers` before a key is chosen, the ``alg`` must fit the chosen key's type,
and whatever PyJWT raises while decoding is mapped to a reason, never left to become a 500.

A token that verified is remembered by its exact text (:class:`_Verified`, bounded) until it expires, so
a client's next requests skip the signature check (issue 19: a tenth of a catalog request's CPU). A
remembered token is still refused once ``exp`` (plus the leeway) has passed, and forgotten when the key
set it was checked against may have changed: a JWKS file whose modification time differs, or, for a
JWKS URL, after the 300 s PyJWT keeps fetched keys anyway. The identity is the token's alone (its claims):
the caller's team and role are resolved again on every request (services/teams.py).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import jwt

from platform_api.auth import devkey
from platform_api.auth.headers import AuthError, check_key_fits, parse_header
from platform_api.auth.identity import ClaimsError, Identity, SubjectError, identity_from_claims
from platform_api.settings import ApiSettings

__all__ = ["AuthError", "TokenVerifier"]

_ASYMMETRIC = {"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"}
_URL_KEYS_LIFESPAN = 300  # seconds PyJWKClient keeps a fetched key set; a remembered token lives no longer


class _Verified:
    """Tokens that verified, by their exact text: the identity, until when it holds, the key set's version.

    Bounded (the oldest entry goes first); only tokens whose signature verified ever enter."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Identity, float, float | None]] = {}

    def get(self, token: str, *, now: float, keys_version: Callable[[str], float | None]) -> Identity | None:
        """The remembered identity, if ``token`` has not expired and its key set is unchanged; else None."""
        hit = self._entries.get(token)
        if hit is None:
            return None
        identity, until, version = hit
        if now >= until or version != keys_version(identity.issuer):
            del self._entries[token]  # verified again from scratch: expired is then TokenExpired, as always
            return None
        return identity

    def put(self, token: str, identity: Identity, *, until: float, keys_version: float | None) -> None:
        if len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[token] = (identity, until, keys_version)

    def __len__(self) -> int:
        return len(self._entries)


class _FileJwks:
    """A JWKS file, re-read when its modification time changes (key rotation without restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: float | None = None
        self._keys: dict[str, jwt.PyJWK] = {}

    @property
    def version(self) -> float | None:
        """The modification time of the keys last read (None before the first read)."""
        return self._mtime

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
        self.verified = _Verified()

    def _keys_version(self, issuer: str) -> float | None:
        """What a remembered token's key set must still be: the JWKS file's mtime (None: fixed keys)."""
        if issuer == self.settings.dev_issuer or self._file is None:
            return None
        try:
            return os.stat(self._file.path).st_mtime  # one stat, no read: the file is re-read only on a miss
        except OSError:
            return -1.0  # matches no remembered version: the full check answers KeysUnavailable

    async def _key_for(self, token: str, header: dict[str, Any], issuer: str) -> tuple[Any, str, str]:
        """The key to check the signature with, the issuer it binds the token to, and the algorithm."""
        kid: str | None = header.get("kid")  # a string or absent: parse_header checked it
        alg: str = header["alg"]
        if issuer == self.settings.dev_issuer:
            if self._dev_key is None:
                raise AuthError("UntrustedIssuer", "development tokens are trusted only in dev mode")
            check_key_fits(alg, self._dev_key)
            return self._dev_key, self.settings.dev_issuer, alg
        if issuer != self.settings.issuer:
            raise AuthError("WrongIssuer", "the token was issued by an issuer this API does not trust")
        if alg not in self.algorithms:
            raise AuthError("UnsupportedAlgorithm", f"tokens must be signed with one of {self.algorithms}")
        jwk: jwt.PyJWK | None = None
        if self._file is not None:
            try:
                keys = await anyio.to_thread.run_sync(self._file.keys)
            except (OSError, ValueError, jwt.PyJWTError) as exc:
                raise AuthError("KeysUnavailable", "the signing keys cannot be read") from exc
            jwk = keys.get(kid or "") or (next(iter(keys.values())) if len(keys) == 1 and not kid else None)
        elif self._url is not None:
            try:
                jwk = await anyio.to_thread.run_sync(self._url.get_signing_key_from_jwt, token)
            except jwt.PyJWKClientConnectionError as exc:
                raise AuthError("KeysUnavailable", "the signing keys cannot be fetched") from exc
            except jwt.PyJWTError:
                jwk = None
        else:
            raise AuthError("UntrustedIssuer", "no trusted key set is configured for this issuer")
        if jwk is None:
            raise AuthError("UnknownKey", "the token's key id is not in the trusted key set")
        jwk_data = getattr(jwk, "_jwk_data", None)
        check_key_fits(alg, jwk.key, jwk=jwk_data if isinstance(jwk_data, dict) else None)
        return jwk.key, self.settings.issuer, alg

    async def verify(self, token: str) -> Identity:
        """Verify signature, issuer, audience, exp and nbf; raise :class:`AuthError` with a reason."""
        now = time.time()
        remembered = self.verified.get(token, now=now, keys_version=self._keys_version)
        if remembered is not None:
            return remembered
        identity, claims = await self._verify(token)
        issuer = str(claims["iss"])
        until = float(claims["exp"]) + self.settings.leeway_seconds  # PyJWT: expired once exp <= now - leeway
        if issuer != self.settings.dev_issuer and self._url is not None:
            until = min(until, now + _URL_KEYS_LIFESPAN)
        used = None if issuer == self.settings.dev_issuer or self._file is None else self._file.version
        self.verified.put(token, identity, until=until, keys_version=used)
        return identity

    async def _verify(self, token: str) -> tuple[Identity, dict[str, Any]]:
        header = parse_header(token)
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError, RecursionError) as exc:
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
        except jwt.InvalidKeyError as exc:
            raise AuthError("AlgorithmMismatch", "the token's algorithm does not fit its key") from exc
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError) as exc:
            # Claims of the wrong type (an aud that is a number, an exp that is a string...) and anything
            # else PyJWT refuses: the token is not valid, whatever the precise flaw.
            raise AuthError("InvalidToken", "the token is not valid") from exc
        try:
            return identity_from_claims(claims), claims
        except SubjectError as exc:
            raise AuthError("InvalidSubject", str(exc)) from exc
        except ClaimsError as exc:
            raise AuthError("InvalidClaims", str(exc)) from exc
