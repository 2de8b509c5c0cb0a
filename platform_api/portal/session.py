"""The portal's session cookie: a signed, expiring value holding a session id and the caller's token.

Called by :mod:`platform_api.portal.web` (read on every portal request) and the sign-in pages (write).
The value is ``base64url(json).base64url(HMAC-SHA256)``: nobody without the key can forge or alter it,
and it expires. The cookie is HttpOnly and SameSite=Strict (Secure with the ``__Host-`` prefix outside dev
mode), so scripts cannot read the token and other sites cannot send it. A session without a token is an
anonymous one: it exists so that the sign-in form has a CSRF token to carry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["Session", "SessionCodec"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    """A portal session: its id (what CSRF tokens bind to), the bearer token when signed in, its expiry."""

    sid: str
    expires: int
    token: str | None = None

    @classmethod
    def anonymous(cls, *, ttl: int) -> Session:
        return cls(sid=secrets.token_urlsafe(18), expires=int(time.time()) + ttl)


class SessionCodec:
    """Signs, verifies and sets session cookies (and the short-lived OIDC state cookie) with one key."""

    def __init__(self, key: bytes, *, secure: bool) -> None:
        self._key = key
        self.secure = secure
        self.cookie = "__Host-finplane-session" if secure else "finplane-session"

    def _mac(self, purpose: str, payload: bytes) -> bytes:
        return hmac.new(self._key, purpose.encode() + b"\0" + payload, hashlib.sha256).digest()

    def sign(self, purpose: str, data: dict[str, Any]) -> str:
        payload = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._mac(purpose, payload))}"

    def unsign(self, purpose: str, value: str | None) -> dict[str, Any] | None:
        """The signed data, or None when absent, tampered with, signed for another purpose or expired."""
        if not value or value.count(".") != 1 or len(value) > 8192:
            return None
        body, mac = value.split(".")
        try:
            payload, given = _unb64(body), _unb64(mac)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(given, self._mac(purpose, payload)):
            return None
        try:
            data = json.loads(payload)
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("exp"), int) or data["exp"] < time.time():
            return None
        return data

    def read(self, request: Request) -> Session | None:
        data = self.unsign("session", request.cookies.get(self.cookie))
        if data is None or not isinstance(data.get("sid"), str):
            return None
        token = data.get("tok")
        return Session(sid=data["sid"], expires=data["exp"], token=token if isinstance(token, str) else None)

    def write(self, response: Response, session: Session) -> None:
        value = self.sign("session", {"sid": session.sid, "exp": session.expires, "tok": session.token})
        response.set_cookie(self.cookie, value, max_age=max(0, session.expires - int(time.time())), path="/",
                            httponly=True, samesite="strict", secure=self.secure)

    def clear(self, response: Response) -> None:
        response.delete_cookie(self.cookie, path="/", httponly=True, samesite="strict", secure=self.secure)

    def csrf_token(self, session: Session) -> str:
        """The CSRF token of a session: an HMAC of its id (a signed token, not stored anywhere)."""
        return _b64(self._mac("csrf", session.sid.encode()))

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given), self.csrf_token(session))
