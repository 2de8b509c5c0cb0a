"""Test-only fault injection: error answers, added latency, cut and stalled watch streams.

Configured through `POST /_finplane/faults` (served only when the server runs with
`--faults`) with a JSON body, which replaces the whole configuration (`{}` clears it):

    {"errors": [{"code": 503, "count": 3},                  # the next 3 matching requests (403, 409, 429, 5xx)
                {"code": 429, "share": 0.5, "userAgent": "kopf", "verb": "patch"}],
     "latencySeconds": 0.05,          # added before every API request
     "cutWatchesEverySeconds": 2,     # end every watch stream after this long
     "stallWatches": true,            # keep watch streams open but send nothing
     "seed": 1}                       # makes `share` draws repeatable

A single rule may also be given at the top level (`{"code": 500, "count": 1}`). Filters
(`userAgent` substring, `verb`, `resource`) narrow which requests a rule hits. The HTTP layer
calls `pick()` per request and the watch handler reads the watch settings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

__all__ = ["FaultRule", "Faults"]

# 403 stands in for revoked RBAC (the embedded server has none); 409 for a storm of stale writes.
_REASONS = {403: "Forbidden", 409: "Conflict", 429: "TooManyRequests", 500: "InternalError",
            503: "ServiceUnavailable", 504: "Timeout"}


@dataclass
class FaultRule:
    code: int
    count: int | None = None  # remaining hits; None: no limit
    share: float = 1.0
    user_agent: str = ""
    verb: str = ""
    resource: str = ""

    def hits(self, *, verb: str, resource: str, user_agent: str, rng: random.Random) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        if self.verb and self.verb != verb:
            return False
        if self.resource and self.resource != resource:
            return False
        if self.user_agent and self.user_agent not in user_agent:
            return False
        if self.share < 1.0 and rng.random() >= self.share:
            return False
        if self.count is not None:
            self.count -= 1
        return True


class Faults:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.configure({})

    def configure(self, cfg: dict[str, Any]) -> None:
        rules = list(cfg.get("errors") or [])
        if "code" in cfg:
            rules.append(cfg)
        parsed = []
        for rule in rules:
            code = int(rule["code"])
            if code not in _REASONS:
                raise ValueError(f"unsupported fault code {code}: use one of {sorted(_REASONS)}")
            parsed.append(FaultRule(code=code, count=None if rule.get("count") is None else int(rule["count"]),
                                    share=float(rule.get("share", 1.0)), user_agent=str(rule.get("userAgent", "")),
                                    verb=str(rule.get("verb", "")), resource=str(rule.get("resource", ""))))
        self.rules = parsed
        self.latency = float(cfg.get("latencySeconds", 0.0))
        self.watch_cut_seconds = float(cfg.get("cutWatchesEverySeconds", 0.0))
        self.watch_stall = bool(cfg.get("stallWatches", False))
        self.rng = random.Random(cfg.get("seed"))
        self.injected = 0

    @property
    def active(self) -> bool:
        return bool(self.rules or self.latency or self.watch_cut_seconds or self.watch_stall)

    def pick(self, *, verb: str, resource: str, user_agent: str) -> tuple[int, str] | None:
        for rule in self.rules:
            if rule.hits(verb=verb, resource=resource, user_agent=user_agent, rng=self.rng):
                self.injected += 1
                return rule.code, _REASONS[rule.code]
        return None

    def describe(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "injected": self.injected, "latencySeconds": self.latency,
                "cutWatchesEverySeconds": self.watch_cut_seconds, "stallWatches": self.watch_stall,
                "errors": [{"code": r.code, "count": r.count, "share": r.share, "userAgent": r.user_agent,
                            "verb": r.verb, "resource": r.resource} for r in self.rules]}
