"""Convergence: N capabilities created at once until all are Ready, against a plain script's physical limit.

Operator side: a fresh embedded API server, the real operator process, N capabilities POSTed by 8
concurrent clients; the clock runs from the first POST until a LIST shows every one Ready at its
generation. Baseline side: another fresh server of the same build, no operator; a plain script with
the same 8 clients POSTs the same N capabilities and then issues the minimum writes itself (each
rendered child applied once with server-side apply, one status patch marking it Ready). The ratio
operator / baseline is the figure: 1.0 would mean the operator adds nothing over the raw writes.
(The operator also waits for the simulated Deployment controller, which the baseline skips.)

Run: .venv/bin/python bench/convergence.py [--capabilities 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import GROUP_PATH, Client, Operator, apply_crds, emit, exit_on_sigterm, log

from finplane_emulator.testing import start_apiserver

NS = "bench-conv"
CONCURRENCY = 8


async def _operator_side(url: str, op: Operator, n: int, timeout: float) -> float:
    client = Client(url, concurrency=CONCURRENCY)
    try:
        await client.ensure_namespace(NS)
        op.start()
        t0 = time.monotonic()
        await client.create_capabilities(NS, n)
        done = await client.wait_all_ready(NS, n, timeout=timeout, interval=0.5)
        if done is None:
            raise SystemExit(f"not all {n} capabilities became Ready within {timeout}s")
        return done - t0
    finally:
        await client.close()


async def _baseline_side(url: str, n: int) -> tuple[float, int]:
    """Create, apply every child once, write status once: what any controller must at least do."""
    from _common import capability

    from finplane.kube.resources import resource_for
    from finplane.models.business_capability import BusinessCapabilitySpec
    from finplane.reconcile.children import stamp
    from finplane.render.capability import render_capability
    from finplane.settings import Settings

    settings = Settings()
    client = Client(url, concurrency=CONCURRENCY)
    writes = 0
    try:
        await client.ensure_namespace(NS)

        async def one(i: int) -> None:
            nonlocal writes
            body = capability(i, NS)
            created = await client.call("POST", f"{GROUP_PATH}/namespaces/{NS}/businesscapabilities", body)
            spec = BusinessCapabilitySpec.model_validate(body["spec"])
            for child in render_capability(name=body["metadata"]["name"], namespace=NS, spec=spec, settings=settings):
                child = stamp(child, created)
                res = resource_for(child["apiVersion"], child["kind"])
                await client.call("PATCH", res.path(namespace=NS, name=child["metadata"]["name"]), child,
                                  params={"fieldManager": "finplane-bench", "force": "true"},
                                  content_type="application/apply-patch+yaml")
                writes += 1
            status: dict[str, Any] = {"status": {"observedGeneration": created["metadata"].get("generation"),
                                                 "conditions": [{"type": "Ready", "status": "True", "reason": "Ready",
                                                                 "message": "", "lastTransitionTime":
                                                                 "2026-01-01T00:00:00Z"}]}}
            await client.call("PATCH", f"{GROUP_PATH}/namespaces/{NS}/businesscapabilities/{body['metadata']['name']}"
                              "/status", status, content_type="application/merge-patch+json")
            writes += 2  # the create is not counted in the minimum; the status patch is
        elapsed = await client.bounded(list(range(n)), one, what="baseline")
        ready, _ = await client.count_ready(NS)
        assert ready == n, f"baseline left {n - ready} not Ready"
        return elapsed, writes - n
    finally:
        await client.close()


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--capabilities", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=480.0)
    args = parser.parse_args()
    n = args.capabilities
    with tempfile.TemporaryDirectory() as tmp:
        with start_apiserver(Path(tmp) / "baseline") as server:
            apply_crds(server.kubeconfig)
            log(f"baseline: a plain script creating {n} capabilities and issuing the minimum writes")
            baseline, minimum = asyncio.run(_baseline_side(server.url, n))
        log(f"baseline took {baseline:.1f}s")
        with start_apiserver(Path(tmp) / "operator") as server:
            apply_crds(server.kubeconfig)
            op = Operator(server.kubeconfig, Path(tmp) / "operator.log")
            try:
                log(f"operator: creating {n} capabilities at once")
                elapsed = asyncio.run(_operator_side(server.url, op, n, args.timeout))
            finally:
                op.stop()
    print(f"{n} capabilities: operator all Ready in {elapsed:.1f}s; plain script (create + {minimum} minimum "
          f"writes) {baseline:.1f}s; ratio {elapsed / baseline:.2f}")
    emit({"capabilities": n, "operator_seconds": round(elapsed, 2), "baseline_seconds": round(baseline, 2),
          "baseline_writes": minimum, "ratio": round(elapsed / baseline, 2),
          "operator_per_second": round(n / elapsed, 1), "baseline_per_second": round(n / baseline, 1)})


if __name__ == "__main__":
    main()
