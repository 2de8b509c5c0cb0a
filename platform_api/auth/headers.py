"""Checks of a JWT's protected header before any key is looked up: shape, ``kid``, ``alg``, ``crit``.

Called by :class:`platform_api.auth.tokens.TokenVerifier` for every bearer token. Everything here is
pure and raises :class:`AuthError` (a 401 with a reason), never anything else, because the header is
attacker-controlled and read before the signature is checked: a ``kid`` that is a number, an ``alg``
meant for another key type or an unknown critical extension must be refused, not crash the route.
:func:`check_key_fits` then binds the header's ``alg`` to the type (and curve) of the key it selected.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = ["AuthError", "MAX_KID_LENGTH", "MAX_TOKEN_LENGTH", "check_key_fits", "parse_header"]

MAX_TOKEN_LENGTH = 16_384
"""Longer bearer tokens are refused before they are decoded (IdP access tokens are a few KiB)."""
MAX_KID_LENGTH = 256

_RSA_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


class AuthError(Exception):
    """The token was refused; ``reason`` is a CamelCase word and the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _b64decode(segment: str) -> bytes:
    padded = segment + "=" * (-len(segment) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def parse_header(token: str) -> dict[str, Any]:
    """The token's protected header, checked for shape; :class:`AuthError` when it is not usable."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise AuthError("MalformedToken", f"the bearer token is longer than {MAX_TOKEN_LENGTH} characters")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise AuthError("MalformedToken", "the bearer token is not a well-formed JWT (three segments)")
    try:
        header = json.loads(_b64decode(parts[0]))
    except (ValueError, UnicodeError, binascii.Error, RecursionError):
        raise AuthError("MalformedToken", "the bearer token is not a well-formed JWT (its header is not "
                                          "base64url-encoded JSON)") from None
    if not isinstance(header, dict):
        raise AuthError("MalformedHeader", "the token's header is not a JSON object")
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise AuthError("MalformedHeader", "the token's header has no algorithm (alg) string")
    if "kid" in header:
        kid = header["kid"]
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
            raise AuthError("MalformedHeader", f"the token's key id (kid) must be a string of 1 to "
                                               f"{MAX_KID_LENGTH} characters")
    if "crit" in header:
        # RFC 7515 §4.1.11: a recipient must refuse critical extensions it does not implement; we implement none.
        raise AuthError("UnsupportedHeader", "the token's header lists critical extensions (crit); none are accepted")
    if "b64" in header:
        raise AuthError("UnsupportedHeader", "unencoded payloads (b64, RFC 7797) are not accepted")
    return header


def check_key_fits(alg: str, key: Any, *, jwk: dict[str, Any] | None = None) -> None:
    """Refuse ``alg`` unless it is an algorithm of ``key``'s type (and curve), and of the JWK's own ``alg``/``use``."""
    if jwk is not None:
        declared = jwk.get("alg")
        if declared is not None and declared != alg:
            raise AuthError("AlgorithmMismatch", "the token's algorithm is not the one its key is published for")
        if jwk.get("use") not in (None, "sig"):
            raise AuthError("AlgorithmMismatch", "the token's key is not published for signatures (use)")
    if isinstance(key, rsa.RSAPublicKey):
        fits = alg in _RSA_ALGS
    elif isinstance(key, ec.EllipticCurvePublicKey):
        fits = _EC_ALGS.get(key.curve.name) == alg
    else:
        fits = False
    if not fits:
        raise AuthError("AlgorithmMismatch", f"the algorithm {alg} does not fit the type of the token's key")
