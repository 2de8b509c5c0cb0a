"""Authentication as the kube-apiserver does it: bearer tokens to a user with groups.

Called by `http.py` and `app.py` for every `/api`, `/apis`, `/openapi` and `/version` request. A
bearer token is, in this order: the admin token the server writes into its kubeconfig (user
`kubernetes-admin`, group `system:masters`), a line of the static token file
(`--token-auth-file`, the kube-apiserver's CSV format `token,user,uid,"group1,group2"`), or a
ServiceAccount token this server signed (`tokens.py`) whose ServiceAccount (and, for a legacy token,
its Secret holding that very token) still exists with the same uid. A ServiceAccount is the user
`system:serviceaccount:NS:NAME` in the groups `system:serviceaccounts` and `system:serviceaccounts:NS`.
Every authenticated user is also in `system:authenticated`. No token: `system:anonymous` in
`system:unauthenticated` when anonymous requests are allowed (the default, as `--anonymous-auth`), else
401. A token that is presented but not valid is always 401 Unauthorized, like the real server.
Impersonation headers (`Impersonate-User`, `-Group`, `-Uid`) are honoured when the authorizer
allows `impersonate` on users/groups/serviceaccounts/uids.
"""

from __future__ import annotations

import base64
import csv
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finplane_emulator.core import Core
from finplane_emulator.errors import ApiError
from finplane_emulator.tokens import ISSUER, Signer, TokenError

__all__ = ["ADMIN_USER", "Authenticator", "User", "load_token_file", "unauthorized"]

ADMIN_USER = "kubernetes-admin"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"


@dataclass(frozen=True)
class User:
    """An authenticated identity, as RBAC sees it."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict, compare=False, hash=False)

    def as_user_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            info["uid"] = self.uid
        if self.extra:
            info["extra"] = self.extra
        return info


ANONYMOUS = User(name="system:anonymous", groups=(UNAUTHENTICATED,))


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def _with_authenticated(user: User) -> User:
    if AUTHENTICATED in user.groups:
        return user
    return User(name=user.name, uid=user.uid, groups=(*user.groups, AUTHENTICATED), extra=user.extra)


def service_account_user(namespace: str, name: str, uid: str = "") -> User:
    return User(name=f"system:serviceaccount:{namespace}:{name}", uid=uid,
                groups=("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED))


def load_token_file(path: Path) -> dict[str, User]:
    """The static token file: `token,user,uid[,"group1,group2"]` per line (kube-apiserver's format)."""
    users: dict[str, User] = {}
    with open(path, newline="") as fh:
        for number, row in enumerate(csv.reader(fh), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) < 3:
                raise ValueError(f"{path}:{number}: need at least token,user,uid")
            token, name, uid = (c.strip() for c in row[:3])
            if not token or not name:
                raise ValueError(f"{path}:{number}: empty token or user name")
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            users[token] = _with_authenticated(User(name=name, uid=uid, groups=groups))
    return users


class Authenticator:
    """Turns a request's headers into a `User` (or raises 401)."""

    def __init__(self, core: Core, *, static: dict[str, User] | None = None, anonymous: bool = True,
                 admin_token: str | None = None, signer: Signer | None = None) -> None:
        self.core = core
        self.static = dict(static or {})
        self.anonymous = anonymous
        self.admin_token = admin_token or secrets.token_urlsafe(32)
        self.signer = signer or Signer()
        self.audiences = [ISSUER]

    def authenticate(self, headers: Any) -> User:
        auth = str(headers.get("Authorization", "") or "")
        if not auth:
            if not self.anonymous:
                raise unauthorized()
            return ANONYMOUS
        scheme, _, credential = auth.partition(" ")
        credential = credential.strip()
        if scheme.lower() == "basic":
            raise unauthorized()  # basic auth was removed from kube-apiserver in 1.19
        if scheme.lower() != "bearer" or not credential:
            raise unauthorized()
        user = self.from_token(credential)
        if user is None:
            raise unauthorized()
        return user

    def from_token(self, token: str) -> User | None:
        """The user a bearer token stands for, or None (also used by TokenReview)."""
        if hmac.compare_digest(token, self.admin_token):
            return User(name=ADMIN_USER, groups=("system:masters", AUTHENTICATED))
        static = self.static.get(token)
        if static is not None:
            return static
        if token.count(".") != 2:
            return None
        try:
            claims = self.signer.verify(token, audiences=self.audiences)
        except TokenError:
            return None
        sa = self._get("serviceaccounts", claims.namespace, claims.name)
        if sa is None or sa["metadata"].get("uid") != claims.uid:
            return None  # the ServiceAccount was deleted (or recreated): its tokens die with it
        if claims.secret_name:
            secret = self._get("secrets", claims.namespace, claims.secret_name)
            data = (secret or {}).get("data") or {}
            held = base64.b64decode(data.get("token", "") or "").decode(errors="replace")
            if not secret or not hmac.compare_digest(held, token):
                return None  # a legacy token lives only as long as its Secret
        return service_account_user(claims.namespace, claims.name, claims.uid)

    def _get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        info = self.core.registry.get("", "v1", plural)
        return self.core.store.get(info, namespace, name) if info else None


def impersonation(headers: Any) -> tuple[str, list[str], str, dict[str, list[str]]] | None:
    """The Impersonate-* headers: (user, groups, uid, extra), or None when there are none."""
    user = headers.get("Impersonate-User")
    groups = list(headers.getall("Impersonate-Group", [])) if hasattr(headers, "getall") else []
    uid = headers.get("Impersonate-Uid", "")
    extra: dict[str, list[str]] = {}
    for key in headers:
        if key.lower().startswith("impersonate-extra-"):
            extra.setdefault(key[len("impersonate-extra-"):].lower(), []).append(headers[key])
    if not user:
        if groups or uid or extra:
            raise ApiError(500, "InternalError",
                           "requested impersonation of groups or extra without a user")  # as the real server
        return None
    return user, groups, uid, extra
