"""The portal's catalog page with N capabilities, measured against the catalog API route in the same run.

Issue 20 asks that a page of 10,000 capabilities renders in the same time budget as the catalog API
route. Both are served by the real app (`platform_api.app.create_app`) over one in-process TestClient,
its read cache a `MemoryCache` of N capabilities over 50 teams (bench/api_catalog.py's), so what is
measured is the route: the API's `GET /api/v1/catalog` (an admin's bearer token, the default page) and
the portal's `GET /portal/catalog` (the same admin signed in through the dev sign-in page, its session
cookie sent back), both unfiltered and filtered by one team (the API returns one page of 50; the portal
shows the same 50 rows, the filter choices, and says "more than" rather than counting every match). The
four routes are called in turn, round after round, for a fixed count of rounds, so that a machine shared with
other work loads them alike; the wall time per request (p50, p99) and the ratio page/API are printed.
Nothing is asserted.

Run: .venv/bin/python bench/portal_catalog.py [--capabilities 10000] [--requests 30]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, log
from api_catalog import _capability

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _time(calls: dict[str, Any], n: int) -> dict[str, dict[str, float]]:
    """Each call once per round, in turn, for n rounds: p50, p99 and mean wall time of each."""
    took: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, call in calls.items():
            t0 = time.perf_counter()
            resp = call()
            took[name].append(time.perf_counter() - t0)
            assert resp.status_code == 200, resp.text[:300]
    rows = {}
    for name, times in took.items():
        q = statistics.quantiles(times, n=100) if len(times) > 1 else times * 99
        rows[name] = {"requests": n, "p50_ms": round(q[49] * 1000, 2), "p99_ms": round(q[98] * 1000, 2),
                      "mean_ms": round(statistics.fmean(times) * 1000, 2)}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--capabilities", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from platform_api.app import create_app
    from platform_api.auth import devkey
    from platform_api.cache import MemoryCache
    from platform_api.settings import ApiSettings

    with tempfile.TemporaryDirectory() as tmp:
        settings = ApiSettings(dev_mode=True, dev_key_dir=Path(tmp), audit_log=Path(tmp) / "audit.jsonl",
                               evidence_dir=Path(tmp) / "evidence", rate_limit_per_second=1e6,
                               rate_limit_burst=1_000_000)
        cache = MemoryCache([_capability(i) for i in range(args.capabilities)])
        app = create_app(settings, cache=cache, writer=object())  # type: ignore[arg-type]
        token = devkey.mint(role="admin", ttl=3600, settings=settings)
        with TestClient(app) as http:
            found = CSRF.search(http.get("/portal/signin").text)
            assert found, "the dev sign-in page has no CSRF token"
            signed = http.post("/portal/signin", data={"csrf_token": found.group(1), "role": "admin",
                                                       "subject": "bench", "next": "/portal/"}, follow_redirects=False)
            assert signed.status_code == 303, signed.text[:300]
            bearer = {"Authorization": f"Bearer {token}"}
            api = lambda: http.get("/api/v1/catalog", headers=bearer)  # noqa: E731
            page = lambda: http.get("/portal/catalog")  # noqa: E731
            team = lambda: http.get("/portal/catalog?team=team-07")  # noqa: E731
            api_team = lambda: http.get("/api/v1/catalog?team=team-07", headers=bearer)  # noqa: E731
            calls = {"api": api, "page": page, "api_team": api_team, "page_team": team}
            _time(calls, 2)  # warm-up (templates compiled, caches filled)
            log(f"{args.capabilities} capabilities; {args.requests} rounds of the four routes in turn")
            rows = _time(calls, args.requests)
    ratio = {"page": round(rows["page"]["p50_ms"] / rows["api"]["p50_ms"], 2),
             "page_team": round(rows["page_team"]["p50_ms"] / rows["api_team"]["p50_ms"], 2)}
    for name, path in (("api", "GET /api/v1/catalog"), ("page", "GET /portal/catalog"),
                       ("api_team", "GET /api/v1/catalog?team=team-07"),
                       ("page_team", "GET /portal/catalog?team=team-07")):
        r = rows[name]
        print(f"{path:>34}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, mean {r['mean_ms']} ms "
              f"({r['requests']} requests)")
    print(f"page/API p50: x{ratio['page']} (unfiltered), x{ratio['page_team']} (one team)")
    emit({"capabilities": args.capabilities, **rows, "ratio": ratio})


if __name__ == "__main__":
    main()
