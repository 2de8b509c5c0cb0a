"""JSON encoding and decoding for the embedded API server's hot path: orjson when installed.

Called by the HTTP layer (`http.py`), the write path (`writes.py`, patch bodies) and the watch
stream (`watch.py`) for every request body and every answer. orjson is several times faster
than the standard library on Kubernetes objects; it refuses a few things `json` accepts
(integers beyond 64 bits, non-string keys, NaN), so those fall back to `json`, which keeps the
answers identical in meaning whichever library wrote them.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is pinned, but the server works without it
    orjson = None  # type: ignore[assignment]

__all__ = ["dumps", "loads"]


def dumps(value: Any) -> bytes:
    """Compact JSON bytes."""
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except TypeError:
            pass
    return json.dumps(value, separators=(",", ":")).encode()


def loads(raw: bytes | str) -> Any:
    """Parse JSON; raises ValueError (like `json.loads`) on bad input."""
    if orjson is not None:
        try:
            return orjson.loads(raw)
        except ValueError:
            pass  # let the standard library decide, and word the error
    return json.loads(raw)
