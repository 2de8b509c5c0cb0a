"""The application's long-lived collaborators, kept on ``app.state.finplane``.

Built by :func:`platform_api.app.create_app` (real ones at startup, or doubles from tests) and
read by the dependencies in :mod:`platform_api.deps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from platform_api.audit import AuditLog
from platform_api.auth.failures import AuthFailures
from platform_api.auth.tokens import TokenVerifier
from platform_api.cache import ReadCache
from platform_api.ratelimit import RateLimiter
from platform_api.settings import ApiSettings

__all__ = ["AppState", "Writer"]

Obj = dict[str, Any]


class Writer(Protocol):
    """The write seam: the subset of :class:`finplane.kube.client.Kube` the API uses.

    Errors are :mod:`finplane.kube.errors` (NotFound, Conflict, AlreadyExists, Invalid, ...).
    """

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj: ...
    async def create(self, body: Obj) -> Obj: ...
    async def replace(self, body: Obj) -> Obj: ...
    async def patch_merge(self, api_version: str, kind: str, name: str, patch: Obj,
                          namespace: str | None = None) -> Obj: ...
    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None: ...


@dataclass
class AppState:
    settings: ApiSettings
    verifier: TokenVerifier
    limiter: RateLimiter
    audit: AuditLog
    failures: AuthFailures = field(default_factory=lambda: AuthFailures(limit=30, window_seconds=60.0))
    cache: ReadCache | None = None
    writer: Writer | None = None
    extras: dict[str, Any] = field(default_factory=dict)
