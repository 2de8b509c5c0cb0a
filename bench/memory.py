"""Memory and scaling: the operator's peak RSS and CPU while it watches and reconciles 250 to 10,000 capabilities.

For each size: a fresh embedded API server; the capabilities are created first (16 concurrent
clients: bulk creation is not what is measured), then the real operator process starts, lists them
all and reconciles them. Its RSS (psutil) is sampled every 0.25 s until every capability is Ready or
the time budget runs out (then the figure says how many were Ready). An operator with no objects
gives the fixed cost; the per-object cost is the slope between the two largest sizes. The operator's CPU
seconds and the time until all are Ready, per capability at each size, tell whether it scales linearly:
the ratio of the largest size's figure to the smallest's is ~1 when it does.

Run: .venv/bin/python bench/memory.py [--sizes 250 1000 10000] [--budget 600]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import psutil
from _common import Client, Operator, apply_crds, emit, exit_on_sigterm, log

from finplane_emulator.testing import start_apiserver

NS = "bench-mem"
MIB = 2**20


async def _measure(url: str, op: Operator, n: int, budget: float, idle: float) -> dict[str, float]:
    client = Client(url, concurrency=16)
    try:
        await client.ensure_namespace(NS)
        if n:
            took = await client.create_capabilities(NS, n)
            log(f"created {n} capabilities in {took:.1f}s; starting the operator")
        op.start()
        proc = psutil.Process(op.pid)
        peak = proc.memory_info().rss
        started = time.monotonic()
        cpu_start = sum(proc.cpu_times()[:2])

        def sample() -> None:
            nonlocal peak
            peak = max(peak, proc.memory_info().rss)

        async def sampler() -> None:
            while True:
                sample()
                await asyncio.sleep(0.25)

        task = asyncio.create_task(sampler())
        try:
            if n:
                done = await client.wait_all_ready(NS, n, timeout=budget, interval=max(1.0, n / 2000),
                                                   on_poll=sample)
            else:
                await asyncio.sleep(idle)
                done = time.monotonic()
            cpu = sum(proc.cpu_times()[:2]) - cpu_start  # start-up included: the same at every size
            await asyncio.sleep(1.0)
            ready, _ = await client.count_ready(NS) if n else (0, 0)
            settled = proc.memory_info().rss
        finally:
            task.cancel()
        return {"objects": n, "peak_rss_mib": round(peak / MIB, 1), "end_rss_mib": round(settled / MIB, 1),
                "ready": ready, "seconds": round((done or time.monotonic()) - started, 1),
                "all_ready": done is not None, "operator_cpu_seconds": round(cpu, 2),
                "load": [round(x, 2) for x in psutil.getloadavg()[:2]]}
    finally:
        await client.close()


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 1000, 10000])
    parser.add_argument("--budget", type=float, default=600.0, help="seconds to wait for all Ready, per size")
    parser.add_argument("--idle-seconds", type=float, default=3.0, help="how long the idle operator is sampled")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in [0, *args.sizes]:
            with start_apiserver(Path(tmp) / f"s{n}") as server:
                apply_crds(server.kubeconfig)
                op = Operator(server.kubeconfig, Path(tmp) / f"operator-{n}.log")
                try:
                    row = asyncio.run(_measure(server.url, op, n, args.budget, args.idle_seconds))
                finally:
                    op.stop()
            log(f"{n} capabilities: peak RSS {row['peak_rss_mib']} MiB, {row['ready']} Ready in {row['seconds']}s")
            rows.append(row)
    base = rows[0]["peak_rss_mib"]
    figures: dict[str, object] = {"rows": rows, "idle_rss_mib": base}
    print(f"operator with no objects: {base} MiB")
    for row in rows[1:]:
        per = (row["peak_rss_mib"] - base) * MIB / row["objects"] / 1024
        row["kib_per_capability"] = round(per, 1)
        row["cpu_ms_per_capability"] = round(row["operator_cpu_seconds"] * 1000 / row["objects"], 2)
        row["ready_ms_per_capability"] = round(row["seconds"] * 1000 / row["objects"], 2)
        note = "" if row["all_ready"] else f" (budget ran out: {row['ready']} Ready)"
        print(f"{row['objects']:>6} capabilities: peak {row['peak_rss_mib']} MiB, {per:.1f} KiB per capability "
              f"over the idle operator, all Ready in {row['seconds']}s{note}; operator CPU "
              f"{row['operator_cpu_seconds']} s = {row['cpu_ms_per_capability']} ms per capability; load {row['load']}")
    if len(rows) >= 3:
        small, large = rows[1], rows[-1]
        cpu_ratio = large["cpu_ms_per_capability"] / max(small["cpu_ms_per_capability"], 1e-9)
        time_ratio = large["ready_ms_per_capability"] / max(small["ready_ms_per_capability"], 1e-9)
        figures["scaling_cpu_ratio"], figures["scaling_time_ratio"] = round(cpu_ratio, 2), round(time_ratio, 2)
        print(f"scaling {small['objects']} -> {large['objects']}: operator CPU per capability x{cpu_ratio:.2f}, "
              f"time to all Ready per capability x{time_ratio:.2f} (x1.00 is linear)")
    if len(rows) >= 3:
        a, b = rows[-2], rows[-1]
        slope = (b["peak_rss_mib"] - a["peak_rss_mib"]) * 1024 / (b["objects"] - a["objects"])
        figures["kib_per_capability_slope"] = round(slope, 1)
        print(f"slope between {a['objects']} and {b['objects']}: {slope:.1f} KiB per capability")
    emit(figures)


if __name__ == "__main__":
    main()
