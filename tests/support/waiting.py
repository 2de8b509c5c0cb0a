"""Waiting for behaviour instead of asserting times: `wait_for` polls a predicate until it holds.

Every test that waits uses these (tests never sleep a fixed time and then assert). `wait_for` returns
the predicate's truthy value so a test can assert on what it waited for; on timeout it fails with
`what` and the last value seen. `eventually` is the same for async tests on the running event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["eventually", "wait_for"]

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.2,
             what: str = "condition") -> T:
    """Poll until `predicate()` is truthy and return that value; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        last = value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


async def eventually(predicate: Callable[[], object], *, timeout: float = 10.0, interval: float = 0.02,
                     what: str = "condition") -> None:
    """Yield to the event loop until `predicate()` is truthy; fail with `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)
