"""Small helpers shared by the pure ASGI middlewares of this package: answer a problem, read a header.

Used by :mod:`.methods`, :mod:`.body_limit`, :mod:`.json_depth` and :mod:`.lockout`, which run before
routing (and so before FastAPI's exception handlers): they answer with the API's problem documents
themselves.
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from platform_api.problems import Problem, problem_response

__all__ = ["answer", "header_values"]


def header_values(scope: Scope, name: bytes) -> list[bytes]:
    """Every value of the (lower-case) header ``name`` in the request."""
    return [value for key, value in scope.get("headers", ()) if key.lower() == name]


async def answer(scope: Scope, receive: Receive, send: Send, problem: Problem, *, close: bool = False) -> None:
    """Send ``problem`` as the response; ``close`` tells the client the connection ends (unread body)."""
    if close:
        problem.headers = {**problem.headers, "Connection": "close"}
    response = problem_response(problem, instance=str(scope.get("path", "")) or None)
    await response(scope, receive, send)
