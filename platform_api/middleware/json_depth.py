"""JSON bodies nested deeper than a limit are refused with 400 before anything parses them.

Installed by :func:`platform_api.middleware.install` inside :class:`~.body_limit.BodyLimit` (so at
most the body limit is ever buffered). Python's parser, pydantic and every recursive walk of a body
recurse once per level: a 900-deep array would end in a ``RecursionError`` (a 500) somewhere; here it
is a 400 with reason ``JsonTooDeep``. The depth is found by a scan that skips strings with one regular
expression per string and stops at the first level past the limit, so it costs a fraction of a parse.
Bodies FastAPI would not parse as JSON (another content type) pass untouched.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from platform_api.middleware._asgi import answer, header_values
from platform_api.problems import Problem

__all__ = ["JsonDepthGuard", "exceeds_depth", "is_json_content_type"]

_STRUCTURE = re.compile(rb'[\[\]{}"]')
_STRING_TAIL = re.compile(rb'(?:[^"\\]++|\\.)*+"', re.DOTALL)  # possessive: linear, never backtracks
_OPEN = frozenset(b"[{")


def exceeds_depth(body: bytes, limit: int) -> bool:
    """True when ``body`` has arrays/objects nested more than ``limit`` deep (strings do not count)."""
    depth = 0
    pos = 0
    while (match := _STRUCTURE.search(body, pos)) is not None:
        char = body[match.start()]
        if char == 0x22:  # a string: jump past its closing quote, or stop at an unterminated one
            tail = _STRING_TAIL.match(body, match.end())
            if tail is None:
                return False  # not JSON: the parser refuses it (a 422), and it stops before any depth
            pos = tail.end()
            continue
        if char in _OPEN:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
        pos = match.end()
    return False


def is_json_content_type(value: bytes | None) -> bool:
    """Whether FastAPI parses a body of this content type as JSON (absent, ``application/json``, ``+json``)."""
    if value is None:
        return True
    media = value.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class JsonDepthGuard:
    """Buffers a JSON body (already bounded by the body limit), refuses it when too deep, replays it."""

    def __init__(self, app: ASGIApp, *, max_depth: int) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._has_json_body(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if exceeds_depth(body, self.max_depth):
            problem = Problem(400, f"The JSON body is nested deeper than {self.max_depth} levels.",
                              slug="bad-request", reason="JsonTooDeep")
            await answer(scope, receive, send, problem)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)

    @staticmethod
    def _has_json_body(scope: Scope) -> bool:
        types = header_values(scope, b"content-type")
        if not is_json_content_type(types[0] if types else None):
            return False
        length = header_values(scope, b"content-length")
        if length:
            return length[0] != b"0"
        return bool(header_values(scope, b"transfer-encoding"))


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out ``messages`` first, then whatever the server sends (a disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
