"""Platform API: latency and throughput of listing the catalog with N capabilities, against a constant endpoint.

The app is the real one, `platform_api.app.create_app(...)`, with its read cache (the same
`MemoryCache` an informer relist builds) holding N capabilities spread over 50 teams, so what is
measured is the route, auth (an ES256 dev-mode token, verified once and then remembered until it
expires), pagination and serialisation, not the API server. Two bench-only routes are mounted first in
the same app (it has no hook for them): `GET /bench/constant` returns a constant with no
authentication (the target's baseline), `GET /bench/authenticated` the same behind `CurrentIdentity`
(so the figures split what authentication costs from what the catalog costs). uvicorn serves the app
in `--workers` separate processes on one 127.0.0.1 port (SO_REUSEPORT; each with its own cache, as
uvicorn workers of the real API would each have their own informers). 50 concurrent clients, each one
raw HTTP/1.1 keep-alive connection over asyncio streams in this process (aiohttp's client cost about
as much CPU per request as the constant route), call each endpoint for a fixed time. The figures that
compare the routes are the server's CPU per request (psutil, the server processes) and their ratio;
the load generator's own CPU is printed next to them (as a share of one core) to show it was not the
bottleneck, with the CPU other processes of the machine used meanwhile and the load average.

Run: .venv/bin/python bench/api_catalog.py [--capabilities 10000] [--clients 50] [--seconds 10] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from _common import emit, exit_on_sigterm, free_port, log

from platform_api.deps import CurrentIdentity  # (module level: FastAPI resolves the route's annotation here)

TEAMS = 50


def _capability(i: int) -> dict[str, Any]:
    team = f"team-{i % TEAMS:02d}"
    return {"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
            "metadata": {"name": f"cap-{i:05d}", "namespace": team, "labels": {"finplane.io/team": team},
                         "uid": f"uid-{i}", "resourceVersion": str(i + 1), "generation": 1},
            "spec": {"owner": {"team": team, "contact": f"{team}@bank.example"}, "domain": "payments",
                     "description": f"benchmark capability {i}", "image": "registry.bank.example/x:1.0",
                     "dataClassification": "internal"},
            "status": {"observedGeneration": 1, "conditions": [
                {"type": "Ready", "status": "True", "reason": "Ready", "message": "",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"}], "exposedOn": []}}


def _serve(port: int, key_dir: str, n: int) -> None:
    """A server process: the real app, a filled cache, one constant route, uvicorn on a SO_REUSEPORT socket.

    With ``--workers N`` there are N of these on one port, each with its own cache (as N uvicorn workers
    of the real API would each have their own informers); the kernel spreads the connections."""
    import socket

    import uvicorn

    from platform_api.app import create_app
    from platform_api.cache import MemoryCache
    from platform_api.settings import ApiSettings

    settings = ApiSettings(dev_mode=True, dev_key_dir=Path(key_dir), rate_limit_per_second=1e6,
                           rate_limit_burst=1_000_000)
    app = create_app(settings, cache=MemoryCache([_capability(i) for i in range(n)]), writer=object())  # type: ignore[arg-type]

    @app.get("/bench/constant", include_in_schema=False)
    async def constant() -> dict[str, str]:
        return {"status": "constant"}

    @app.get("/bench/authenticated", include_in_schema=False)
    async def authenticated(identity: CurrentIdentity) -> dict[str, str]:
        return {"status": "constant"}

    # First in the route list, like the catalog's router: all are then matched after one or two routes
    # (a route at the end is matched after every included router, a third of a constant request's CPU).
    app.router.routes[0:0] = [app.router.routes.pop(), app.router.routes.pop()]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def _listening(pid: int | None, port: int) -> bool:
    if pid is None:
        return False
    try:
        return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port
                   for c in psutil.Process(pid).net_connections(kind="tcp"))
    except psutil.Error:
        return False


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


class _Connection:
    """One HTTP/1.1 keep-alive connection over asyncio streams: a GET is one write and two reads.

    The load generator's own cost per request is what a benchmark of a fast route must keep small;
    aiohttp's client costs about as much CPU per request as a lean server route, this a fraction."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def get(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        else:
            raise RuntimeError("a response without Content-Length: this client reads only fixed-length bodies")
        await self.reader.readexactly(length)
        return status


async def _load(host: str, port: int, path: str, *, token: str, clients: int, seconds: float,
                server_pids: list[int]) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    servers = [psutil.Process(pid) for pid in server_pids]
    me = psutil.Process()
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
               "Accept: application/json\r\n\r\n").encode()
    connections = [_Connection(*await asyncio.open_connection(host, port)) for _ in range(clients)]
    deadline = time.perf_counter() + seconds
    clock = time.perf_counter

    async def client(conn: _Connection) -> None:
        nonlocal errors
        while clock() < deadline:
            t0 = clock()
            status = await conn.get(request)
            latencies.append(clock() - t0)
            if status != 200:
                errors += 1

    server0, me0 = sum(_cpu(p) for p in servers), _cpu(me)
    machine0 = psutil.cpu_times()
    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in connections))
    elapsed = time.perf_counter() - started
    server_cpu, loadgen_cpu = sum(_cpu(p) for p in servers) - server0, _cpu(me) - me0
    machine1 = psutil.cpu_times()
    busy = sum(getattr(machine1, f) - getattr(machine0, f) for f in ("user", "system", "nice", "irq", "softirq"))
    for conn in connections:
        conn.writer.close()
    if errors:
        raise SystemExit(f"{path}: {errors} of {len(latencies)} answers were not 200: the figures would be wrong")
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    n = max(1, len(latencies))
    return {"requests": len(latencies), "errors": errors, "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(q[49] * 1000, 2), "p99_ms": round(q[98] * 1000, 2),
            "server_cpu_seconds": round(server_cpu, 2), "server_cpu_ms_per_request": round(server_cpu * 1000 / n, 3),
            "server_core_share": round(server_cpu / elapsed, 2), "loadgen_cpu_seconds": round(loadgen_cpu, 2),
            "loadgen_cpu_ms_per_request": round(loadgen_cpu * 1000 / n, 3),
            "loadgen_core_share": round(loadgen_cpu / elapsed, 2),
            "machine_busy_cores": round(busy / elapsed, 2),
            "others_busy_cores": round(max(0.0, busy - server_cpu - loadgen_cpu) / elapsed, 2),
            "server_rss_mib": round(max(p.memory_info().rss for p in servers) / 2**20, 1)}


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--capabilities", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--limit", type=int, default=50, help="page size of the catalog request (the default page)")
    parser.add_argument("--workers", type=int, default=1, help="server processes on the port, each with its cache")
    args = parser.parse_args()
    from platform_api.auth import devkey
    from platform_api.settings import ApiSettings

    with tempfile.TemporaryDirectory() as tmp:
        settings = ApiSettings(dev_mode=True, dev_key_dir=Path(tmp))
        token = devkey.mint(role="admin", ttl=3600, settings=settings)
        port = free_port()
        spawn = multiprocessing.get_context("spawn")
        servers = [spawn.Process(target=_serve, args=(port, tmp, args.capabilities), daemon=True)
                   for _ in range(args.workers)]
        for server in servers:
            server.start()
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while not all(_listening(s.pid, port) for s in servers):  # each worker, or one takes every connection
                if time.monotonic() > deadline or not all(s.is_alive() for s in servers):
                    raise SystemExit("the API did not start")
                time.sleep(0.2)
            catalog_path = f"/api/v1/catalog?limit={args.limit}"
            first = httpx.get(url + catalog_path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert first.status_code == 200 and len(first.json()["items"]) == min(args.limit, args.capabilities), \
                first.text[:300]
            log(f"API up with {args.capabilities} capabilities in {args.workers} worker(s); {args.clients} clients, "
                f"{args.seconds:.0f}s each")
            load = functools.partial(_load, "127.0.0.1", port, token=token, clients=args.clients,
                                     server_pids=[s.pid for s in servers if s.pid is not None])
            asyncio.run(load("/bench/constant", seconds=1.0))  # warm-up
            asyncio.run(load(catalog_path, seconds=1.0))
            load_before = os.getloadavg()
            constant = asyncio.run(load("/bench/constant", seconds=args.seconds))
            authenticated = asyncio.run(load("/bench/authenticated", seconds=args.seconds))
            catalog = asyncio.run(load(catalog_path, seconds=args.seconds))
            load_after = os.getloadavg()
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.join(10)
    ratio = {k: round(catalog[k] / constant[k], 2) if constant[k] else None
             for k in ("p50_ms", "p99_ms", "rps", "server_cpu_ms_per_request")}
    ratio["server_cpu_ms_per_request_vs_authenticated"] = round(
        catalog["server_cpu_ms_per_request"] / authenticated["server_cpu_ms_per_request"], 2) \
        if authenticated["server_cpu_ms_per_request"] else None
    for name, r in (("constant", constant), ("constant, authenticated", authenticated), ("catalog", catalog)):
        print(f"{name}: {r['rps']} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms "
              f"({r['requests']} requests, {r['errors']} errors); server CPU {r['server_cpu_ms_per_request']} ms "
              f"per request ({r['server_core_share']:.0%} of a core); load generator "
              f"{r['loadgen_cpu_ms_per_request']} ms per request ({r['loadgen_core_share']:.0%} of a core); "
              f"other processes {r['others_busy_cores']} cores busy")
    print(f"catalog/constant: server CPU per request x{ratio['server_cpu_ms_per_request']}; p50 x{ratio['p50_ms']}, "
          f"p99 x{ratio['p99_ms']}, throughput x{ratio['rps']}; catalog/authenticated constant: server CPU per "
          f"request x{ratio['server_cpu_ms_per_request_vs_authenticated']}")
    print(f"machine: {os.cpu_count()} cores, load average {load_before[0]:.2f} before and {load_after[0]:.2f} after; "
          f"{args.workers} server worker(s), the largest {catalog['server_rss_mib']} MiB RSS with its own cache of "
          f"{args.capabilities} capabilities")
    emit({"capabilities": args.capabilities, "clients": args.clients, "workers": args.workers, "seconds": args.seconds, "limit": args.limit,
          "constant": constant, "authenticated": authenticated, "catalog": catalog, "ratio": ratio,
          "machine": {"cores": os.cpu_count(), "load_before": round(load_before[0], 2),
                      "load_after": round(load_after[0], 2)}})


if __name__ == "__main__":
    main()
