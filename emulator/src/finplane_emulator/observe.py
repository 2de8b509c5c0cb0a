"""Request counters of the embedded API server: `/_finplane/stats` (JSON) and `/metrics` (Prometheus).

The HTTP layer calls `Stats.record` once per API request (and the simulated Deployment
controller once per write it makes, under its own user agent), so tests and benchmarks can
count exactly what a client did: `{"total", "writes", "by": [{verb, group, resource,
subresource, userAgent, count}]}`. Counting is a dict increment; the Prometheus text is built
only when scraped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

__all__ = ["WRITE_VERBS", "Stats"]

WRITE_VERBS = frozenset({"create", "update", "patch", "apply", "delete", "deletecollection"})


class Stats(Collector):
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str, str, str], int] = {}
        self.total = 0
        self.writes = 0
        self.gauges: dict[str, Any] = {}  # name -> callable returning a number (objects, watchers)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def record(self, *, verb: str, group: str, resource: str, subresource: str, user_agent: str) -> None:
        key = (verb, group, resource, subresource, user_agent)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.total += 1
        if verb in WRITE_VERBS:
            self.writes += 1

    def reset(self) -> None:
        self.counts.clear()
        self.total = self.writes = 0

    def as_dict(self) -> dict[str, Any]:
        by = [{"verb": v, "group": g, "resource": r, "subresource": s, "userAgent": ua, "count": n}
              for (v, g, r, s, ua), n in sorted(self.counts.items())]
        return {"total": self.total, "writes": self.writes, "by": by,
                **{name: fn() for name, fn in self.gauges.items()}}

    def collect(self) -> Iterator[Any]:
        family = CounterMetricFamily("finplane_apiserver_requests", "API requests served, by verb, group, "
                                     "resource, subresource and user agent.",
                                     labels=["verb", "group", "resource", "subresource", "user_agent"])
        for (verb, group, resource, sub, ua), n in self.counts.items():
            family.add_metric([verb, group, resource, sub, ua], n)
        yield family
        for name, fn in self.gauges.items():
            yield GaugeMetricFamily(f"finplane_apiserver_{name}", f"Current {name}.", value=fn())
