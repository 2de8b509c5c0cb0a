"""Per-identity rate limiting: a token bucket per caller, answering 429 with ``Retry-After``.

Called by the ``current_identity`` dependency (:mod:`platform_api.deps`) once the caller is
known, so one noisy team cannot starve the others. In-process: with several API replicas each
enforces its own share (put the limit per replica accordingly).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from platform_api.problems import Problem

__all__ = ["RateLimiter"]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by identity: ``rate`` tokens per second, at most ``burst`` saved."""

    def __init__(self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def check(self, key: str) -> None:
        """Take one token for ``key`` or raise a 429 problem saying when to come back."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._evict(now)
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), updated=now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return
        wait = max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
        raise Problem(429, f"Too many requests from this identity; retry in {wait} s.", slug="rate-limited",
                      reason="RateLimited", headers={"Retry-After": str(wait)})

    def _evict(self, now: float) -> None:
        # Buckets that have refilled completely carry no state worth keeping.
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.burst]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()
