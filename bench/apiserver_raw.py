"""Raw speed of the embedded API server: the physical limit the operator benchmarks are compared with.

Starts the server as a subprocess (like the tests do), then prints:
- the raw create rate (ConfigMaps/s) with C concurrent aiohttp clients;
- GET and selector-LIST requests/s once N objects exist;
- the cost per request in successive batches, which must stay flat as requests served grows
  (the property kmock's emulator lacks);
- the server's own CPU time per create and per GET (read from the server process), which,
  unlike the rates, does not depend on how much CPU the benchmark's client takes from it;
- server-side apply (`application/apply-patch+yaml`, JSON bodies like the operator sends): applies/s
  and server CPU per apply for the children the operator renders for plain capabilities
  (ServiceAccount, Deployment, Service, NetworkPolicies), first as new objects, then the same
  configurations again (no-op re-applies, which must leave every resourceVersion alone).

Run: .venv/bin/python bench/apiserver_raw.py [--objects 10000] [--concurrency 8] [--applies 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

import aiohttp
import psutil

from finplane_emulator.testing import start_apiserver


def _cpu(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    times = proc.cpu_times()
    return times.user + times.system


async def _run(url: str, objects: int, concurrency: int, server: psutil.Process | None = None) -> None:
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=conn, headers={"User-Agent": "bench/1"}) as session:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(objects):
            queue.put_nowait(i)
        batch_times: list[float] = []
        batch = max(1, objects // 10)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                body = {"metadata": {"name": f"cm-{i:06d}", "labels": {"shard": str(i % 100)}}, "data": {"i": str(i)}}
                async with session.post("/api/v1/namespaces/default/configmaps", json=body) as resp:
                    assert resp.status == 201, await resp.text()
                    await resp.read()

        started = time.perf_counter()
        cpu0 = _cpu(server)
        for _ in range(10):
            t0 = time.perf_counter()
            # Run in tenths so each tenth's cost can be compared with the first.
            pending = min(batch, queue.qsize())
            if pending == 0:
                break
            sub: asyncio.Queue[int] = asyncio.Queue()
            for _ in range(pending):
                sub.put_nowait(queue.get_nowait())
            queue, saved = sub, queue
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            queue = saved
            batch_times.append((time.perf_counter() - t0) / pending * 1000)
        total = time.perf_counter() - started
        create_cpu = (_cpu(server) - cpu0) / objects * 1000
        print(f"created {objects} ConfigMaps in {total:.2f}s: {objects / total:.0f} writes/s "
              f"(concurrency {concurrency})")
        print("ms per create, by tenth of the run: " + " ".join(f"{t:.2f}" for t in batch_times))
        print(f"  first tenth {batch_times[0]:.2f} ms, last tenth {batch_times[-1]:.2f} ms, "
              f"median {statistics.median(batch_times):.2f} ms")

        async def reads(n: int) -> float:
            t0 = time.perf_counter()

            async def one(k: int) -> None:
                async with session.get(f"/api/v1/namespaces/default/configmaps/cm-{k % objects:06d}") as resp:
                    await resp.read()

            for start in range(0, n, concurrency):
                await asyncio.gather(*(one(k) for k in range(start, min(n, start + concurrency))))
            return n / (time.perf_counter() - t0)

        cpu0 = _cpu(server)
        print(f"GET: {await reads(5000):.0f} requests/s")
        get_cpu = (_cpu(server) - cpu0) / 5000 * 1000
        t0 = time.perf_counter()
        for k in range(20):
            async with session.get("/api/v1/namespaces/default/configmaps",
                                   params={"labelSelector": f"shard={k}"}) as resp:
                await resp.read()
        print(f"LIST with a label selector over {objects} objects: {(time.perf_counter() - t0) / 20 * 1000:.1f} ms each")
        t0 = time.perf_counter()
        async with session.get("/api/v1/namespaces/default/configmaps") as resp:
            await resp.read()
        print(f"full LIST of {objects} objects: {(time.perf_counter() - t0) * 1000:.0f} ms")
        if server is not None:
            print(f"server CPU: {create_cpu:.3f} ms per create, {get_cpu:.3f} ms per GET")


def _ssa_bodies(count: int, ns: str) -> list[tuple[str, bytes]]:
    """(path, JSON body) of the children the operator renders for plain capabilities, `count` in all."""
    import json

    from _common import capability

    from finplane.kube.resources import resource_for
    from finplane.models.business_capability import BusinessCapabilitySpec
    from finplane.render.capability import render_capability
    from finplane.settings import Settings

    settings = Settings()
    out: list[tuple[str, bytes]] = []
    i = 0
    while len(out) < count:
        body = capability(i, ns)
        spec = BusinessCapabilitySpec.model_validate(body["spec"])
        for child in render_capability(name=body["metadata"]["name"], namespace=ns, spec=spec, settings=settings):
            res = resource_for(child["apiVersion"], child["kind"])
            out.append((res.path(namespace=ns, name=child["metadata"]["name"]), json.dumps(child).encode()))
        i += 1
    return out[:count]


async def _run_ssa(url: str, count: int, concurrency: int, server: psutil.Process | None) -> None:
    ns = "ssa-bench"
    bodies = _ssa_bodies(count, ns)
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=conn, headers={"User-Agent": "bench/1"}) as session:
        async with session.post("/api/v1/namespaces", json={"metadata": {"name": ns}}) as resp:
            assert resp.status == 201, await resp.text()

        async def applies(expected: int) -> tuple[float, float, list[str]]:
            queue = list(reversed(bodies))
            versions: list[str] = []

            async def worker() -> None:
                while queue:
                    path, raw = queue.pop()
                    async with session.patch(path, data=raw, params={"fieldManager": "bench-ssa", "force": "true"},
                                             headers={"Content-Type": "application/apply-patch+yaml"}) as resp:
                        assert resp.status == expected, (resp.status, await resp.text())
                        versions.append((await resp.json())["metadata"]["resourceVersion"])

            cpu0 = _cpu(server)
            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - t0
            return len(bodies) / elapsed, (_cpu(server) - cpu0) / len(bodies) * 1000, versions

        kinds = sorted({path.split("/")[-2] for path, _ in bodies})
        rate, cpu, _ = await applies(201)
        print(f"server-side apply of {len(bodies)} new objects ({', '.join(kinds)}): {rate:.0f} applies/s"
              + (f", server CPU {cpu:.3f} ms per apply" if server is not None else ""))
        # The simulated Deployment controller writes status after the creates: let it finish first.
        rv_before = None
        for _ in range(120):
            async with session.get("/_finplane/stats") as resp:
                rv = (await resp.json())["resource_version"]
            if rv == rv_before:
                break
            rv_before = rv
            await asyncio.sleep(1.0)
        rate, cpu, _ = await applies(200)
        async with session.get("/_finplane/stats") as resp:
            rv_after = (await resp.json())["resource_version"]
        print(f"server-side apply, same {len(bodies)} configurations again (no-op): {rate:.0f} applies/s"
              + (f", server CPU {cpu:.3f} ms per apply" if server is not None else "")
              + f"; resourceVersion moved by {int(rv_after) - int(rv_before)} (0 expected)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--applies", type=int, default=2000, help="objects for the server-side apply figures (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, start_apiserver(tmp) as handle:
        server = psutil.Process(handle.process.pid)
        asyncio.run(_run(handle.url, args.objects, args.concurrency, server))
        if args.applies:
            asyncio.run(_run_ssa(handle.url, args.applies, args.concurrency, server))
        stats = handle.stats()
        print(f"server counted {stats['total']} requests, {stats['writes']} writes, {stats['objects']} objects")


if __name__ == "__main__":
    main()
