"""The identity and warnings of the request being served, for the write path's admission hooks.

Set by `app.py` for each request (after authentication), read by `admission_chain.py` while
`writes.py` runs, and its warnings sent back by `app.py` as `Warning: 299 - "..."` headers. A
mutable holder in a ContextVar, closed when the request ends, so that work a request schedules on
the event loop (garbage collection, namespace cleanup) runs as the server itself, never as that user.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from finplane_emulator.authn import User

__all__ = ["RequestContext", "current", "current_user"]


@dataclass
class RequestContext:
    user: User
    warnings: list[str] = field(default_factory=list)
    active: bool = True


_CURRENT: ContextVar[RequestContext | None] = ContextVar("finplane_emulator_request", default=None)


def current() -> RequestContext | None:
    ctx = _CURRENT.get()
    return ctx if ctx is not None and ctx.active else None


def current_user() -> User | None:
    ctx = current()
    return ctx.user if ctx else None


def enter(user: User) -> RequestContext:
    ctx = RequestContext(user=user)
    _CURRENT.set(ctx)
    return ctx
