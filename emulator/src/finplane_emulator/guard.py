"""Authentication, impersonation and authorization of each request: the server's front door.

Built by `app.build_app` from the command-line options and called by `app.py` (non-resource paths:
discovery, /version, /openapi, health, /metrics) and `http.py` (resource requests, after the URL is
parsed). `--authorization-mode AlwaysAllow` lets every authenticated (or anonymous) request through,
as before RBAC existed here; `RBAC` asks `rbac.Authorizer`. Test-only `/_finplane/` endpoints are not
guarded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from finplane_emulator.authn import Authenticator, User, impersonation, service_account_user
from finplane_emulator.rbac import Attributes, Authorizer, forbidden_error

__all__ = ["MODES", "Guard"]

MODES = ("AlwaysAllow", "RBAC")
_METHOD_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}


@dataclass
class Guard:
    authenticator: Authenticator
    authorizer: Authorizer | None  # None: AlwaysAllow

    @property
    def mode(self) -> str:
        return "RBAC" if self.authorizer else "AlwaysAllow"

    def allowed(self, user: User, attrs: Attributes) -> bool:
        return self.authorizer is None or self.authorizer.allowed(user, attrs)

    def check(self, user: User, attrs: Attributes) -> None:
        if not self.allowed(user, attrs):
            raise forbidden_error(user, attrs)

    def authenticate(self, headers: Any) -> User:
        """The requesting user, after impersonation (which needs `impersonate` on what it claims)."""
        user = self.authenticator.authenticate(headers)
        wanted = impersonation(headers)
        if wanted is None:
            return user
        name, groups, uid, extra = wanted
        if name.startswith("system:serviceaccount:") and name.count(":") == 3:
            _, _, ns, sa = name.split(":")
            self.check(user, Attributes(verb="impersonate", resource="serviceaccounts", namespace=ns, name=sa))
            target = service_account_user(ns, sa)
        else:
            self.check(user, Attributes(verb="impersonate", resource="users", name=name))
            target = User(name=name)
        for group in groups:
            self.check(user, Attributes(verb="impersonate", resource="groups", name=group))
        if uid:
            self.check(user, Attributes(verb="impersonate", group="authentication.k8s.io", resource="uids", name=uid))
        implicit = ("system:unauthenticated",) if name == "system:anonymous" else ("system:authenticated",)
        all_groups = tuple(dict.fromkeys([*groups, *target.groups, *implicit]))
        return User(name=name, uid=uid, groups=all_groups, extra=extra)

    def check_path(self, user: User, method: str, path: str) -> None:
        verb = _METHOD_VERBS.get(method, method.lower())
        self.check(user, Attributes(verb=verb, path=path, resource_request=False))
