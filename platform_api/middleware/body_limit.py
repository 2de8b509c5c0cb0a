"""Request bodies over a size limit are refused with 413 before they are read in full.

Installed by :func:`platform_api.middleware.install` outside routing, so the refusal comes before
authentication and before FastAPI buffers and parses the body. A declared ``Content-Length`` over the
limit is answered at once, without reading a byte; a body without one (chunked) is counted as it
streams in, and the first chunk that crosses the limit ends the reading: the app's own answer, if it
tries one, is replaced by the 413. Either way the connection is closed (the rest is never read).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from platform_api.middleware._asgi import answer, header_values
from platform_api.problems import Problem

__all__ = ["BodyLimit", "BodyTooLarge"]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body crosses the limit (an HTTP error, so FastAPI re-raises it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the limit of {limit} bytes.",
                         headers={"Connection": "close"})


class BodyLimit:
    """Refuse bodies longer than ``max_bytes`` (declared or streamed) with a 413 problem."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _problem(self) -> Problem:
        return Problem(413, f"The request body is larger than the limit of {self.max_bytes} bytes.",
                       slug="content-too-large", reason="BodyTooLarge")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header_values(scope, b"content-length")
        if declared:
            if len(set(declared)) != 1 or not declared[0].isdigit():
                problem = Problem(400, "The Content-Length header is not one decimal number.",
                                  slug="bad-request", reason="BadContentLength")
                await answer(scope, receive, send, problem, close=True)
                return
            if int(declared[0]) > self.max_bytes:
                await answer(scope, receive, send, self._problem(), close=True)
                return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # Whatever the app answers to a body it could not read, the client is told why: 413.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await answer(scope, receive, send, self._problem(), close=True)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
            if not started:
                started = True
                await answer(scope, receive, send, self._problem(), close=True)
