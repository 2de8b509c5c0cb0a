"""Write amplification: the operator's API writes for N new capabilities against the minimum, then a quiet period.

The minimum is what any controller must write: each rendered child once plus one status write per
capability. Writes are counted by user agent from the embedded server's /_finplane/stats: the
operator's are `finplane-operator*` and `kopf*`; the simulated Deployment controller's and this
script's are not counted. After everything is Ready, the operator should write nothing during the
quiet period (the goal is 0); its reads in that period are reported too.

Run: .venv/bin/python bench/write_amplification.py [--capabilities 200] [--quiet 60]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from _common import (
    Client,
    Operator,
    apply_crds,
    children_per_capability,
    emit,
    exit_on_sigterm,
    log,
    operator_reads,
    operator_writes,
)

from finplane_emulator.testing import start_apiserver

NS = "bench-wa"


async def _run(url: str, op: Operator, n: int, quiet: float, timeout: float) -> dict[str, object]:
    client = Client(url, concurrency=8)
    try:
        await client.ensure_namespace(NS)
        op.start()
        log(f"operator started; creating {n} capabilities")
        t0 = time.monotonic()
        await client.create_capabilities(NS, n)
        done = await client.wait_all_ready(NS, n, timeout=timeout, interval=0.5)
        if done is None:
            raise SystemExit(f"not all {n} capabilities became Ready within {timeout}s")
        log(f"all {n} Ready after {done - t0:.1f}s")
        await asyncio.sleep(2.0)  # let in-flight status writes land before the quiet period starts
        return {"converged_seconds": round(done - t0, 2)}
    finally:
        await client.close()


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--capabilities", type=int, default=200)
    parser.add_argument("--quiet", type=float, default=60.0, help="seconds of quiet period after all Ready")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the logs here (default: a temporary dir)")
    args = parser.parse_args()
    n = args.capabilities
    children = len(children_per_capability(NS))
    minimum = n * (children + 1)
    with tempfile.TemporaryDirectory() as scratch, start_apiserver(args.workdir or scratch) as server:
        tmp = args.workdir or scratch
        apply_crds(server.kubeconfig)
        op = Operator(server.kubeconfig, Path(tmp) / "operator.log")
        try:
            figures = asyncio.run(_run(server.url, op, n, args.quiet, args.timeout))
            settle = server.stats()
            writes = operator_writes(settle)
            reads = operator_reads(settle)
            server.reset_stats()
            log(f"quiet period of {args.quiet:.0f}s")
            time.sleep(args.quiet)
            quiet_stats = server.stats()
        finally:
            op.stop()
    total = sum(writes.values())
    quiet_writes = operator_writes(quiet_stats)
    quiet_reads = operator_reads(quiet_stats)
    figures.update({
        "capabilities": n, "children_per_capability": children, "minimum_writes": minimum,
        "operator_writes": total, "write_amplification": round(total / minimum, 3),
        "writes_by_kind": writes, "operator_reads": sum(reads.values()), "reads_by_kind": reads,
        "reads_per_capability": round(sum(reads.values()) / n, 2),
        "quiet_seconds": args.quiet, "quiet_writes": sum(quiet_writes.values()), "quiet_writes_by_kind": quiet_writes,
        "quiet_reads": sum(quiet_reads.values()),
    })
    print(f"{n} capabilities x ({children} children + 1 status) = minimum {minimum} writes")
    print(f"operator wrote {total}: amplification {total / minimum:.3f}  {writes}")
    print(f"operator read {sum(reads.values())} ({sum(reads.values()) / n:.1f} per capability)  {reads}")
    print(f"quiet {args.quiet:.0f}s: {sum(quiet_writes.values())} writes, {sum(quiet_reads.values())} reads")
    emit(figures)


if __name__ == "__main__":
    main()
