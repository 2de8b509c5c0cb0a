"""Finplane's operator against its baselines, side by side in one run: CPU, memory and convergence.

Three sides, each on a fresh embedded API server of the same build, the same N capabilities created
at once by the same 8 concurrent clients (the load generator: this process):
- `plain`: no operator; the script itself issues the minimum writes (each rendered child applied once
  with server-side apply, one status patch marking the capability Ready): the physical limit;
- `kopf`: the straightforward kopf operator a user would write (bench/kopf_baseline_operator.py: one
  create/update handler applying the same 6 children, kopf's defaults, no child watches, Ready before
  the rollout);
- `finplane`: the real `finplane operator` process (child watches, drift repair, Ready after the
  simulated rollout).
The clock runs from the first POST until a watch of the capabilities (opened before the first POST)
has seen every one Ready at its generation. For each side it prints the CPU-seconds of each process
(operator, API server, load generator) over that window, CPU per capability, the operator's RSS idle
and when converged (KiB per capability), the operator's reads and writes per capability, and how busy
the rest of the machine was meanwhile (other engineers' work: the load). Then the ratios the targets
of issue 19 are stated in. Nothing is asserted: figures only.

Run: .venv/bin/python bench/baseline.py [--capabilities 1000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
from _common import (
    GROUP_PATH,
    REPO,
    Client,
    Operator,
    apply_crds,
    capability,
    emit,
    exit_on_sigterm,
    free_port,
    log,
    machine,
    operator_reads,
    operator_writes,
)

from finplane.kube.resources import resource_for
from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.reconcile.children import stamp
from finplane.render.capability import render_capability
from finplane.settings import Settings
from finplane_emulator.testing import ApiServerHandle, start_apiserver

NS = "bench-base"
CONCURRENCY = 8
MIB = 2**20
Obj = dict[str, Any]
BASELINE_AGENTS = ("kopf-baseline", "kopf")


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _machine_busy() -> float:
    """CPU-seconds the whole machine has spent busy (all processes, every engineer's)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


class KopfBaseline:
    """bench/kopf_baseline_operator.py under `kopf run`, with its liveness endpoint."""

    def __init__(self, server: ApiServerHandle, log_path: Path) -> None:
        self.server, self.log_path = server, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = free_port()
        env = {**os.environ, "KUBECONFIG": str(self.server.kubeconfig), "BASELINE_SERVER": self.server.url,
               "PYTHONPATH": os.pathsep.join([str(REPO / "bench"), os.environ.get("PYTHONPATH", "")])}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "--standalone", "--all-namespaces",
             f"--liveness=http://127.0.0.1:{port}/healthz", str(REPO / "bench" / "kopf_baseline_operator.py")],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kopf baseline exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("kopf baseline did not become live in 60 s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()


def _ready(obj: Obj) -> bool:
    status = obj.get("status") or {}
    return status.get("observedGeneration") == obj["metadata"].get("generation") and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


async def _watch_until_ready(client: Client, n: int, rv: str, deadline: float) -> float | None:
    """Follow the capabilities' watch from `rv` until `n` are Ready at their generation; the time it happened."""
    ready: set[str] = set()
    path = f"{GROUP_PATH}/namespaces/{NS}/businesscapabilities"
    while time.monotonic() < deadline:
        params = {"watch": "1", "resourceVersion": rv, "timeoutSeconds": str(max(1, int(deadline - time.monotonic())))}
        async with client.session.get(path, params=params) as resp:
            if resp.status != 200:
                raise RuntimeError(f"watch: {resp.status} {await resp.text()}")
            while True:
                line = await resp.content.readline()
                if not line:
                    break
                event = json.loads(line)
                obj = event.get("object") or {}
                rv = obj.get("metadata", {}).get("resourceVersion", rv)
                name = obj.get("metadata", {}).get("name", "")
                if event.get("type") in ("ADDED", "MODIFIED") and _ready(obj):
                    ready.add(name)
                elif event.get("type") == "DELETED" or not _ready(obj):
                    ready.discard(name)
                if len(ready) >= n:
                    return time.monotonic()
    return None


async def _plain_writes(client: Client, n: int) -> None:
    """Create each capability, apply its children once, mark it Ready: what any controller must at least do."""
    settings = Settings()

    async def one(i: int) -> None:
        body = capability(i, NS)
        created = await client.call("POST", f"{GROUP_PATH}/namespaces/{NS}/businesscapabilities", body)
        spec = BusinessCapabilitySpec.model_validate(body["spec"])
        for child in render_capability(name=body["metadata"]["name"], namespace=NS, spec=spec, settings=settings):
            child = stamp(child, created)
            res = resource_for(child["apiVersion"], child["kind"])
            await client.call("PATCH", res.path(namespace=NS, name=child["metadata"]["name"]), child,
                              params={"fieldManager": "finplane-bench", "force": "true"},
                              content_type="application/apply-patch+yaml")
        status = {"status": {"observedGeneration": created["metadata"].get("generation"), "conditions": [
            {"type": "Ready", "status": "True", "reason": "Ready", "message": "",
             "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
        await client.call("PATCH", f"{GROUP_PATH}/namespaces/{NS}/businesscapabilities/{body['metadata']['name']}"
                          "/status", status, content_type="application/merge-patch+json")

    await client.bounded(list(range(n)), one, what="plain")


async def _side(name: str, server: ApiServerHandle, operator: Operator | KopfBaseline | None, n: int,
                timeout: float) -> Obj:
    client = Client(server.url, concurrency=CONCURRENCY)
    try:
        await client.ensure_namespace(NS)
        op_proc: psutil.Process | None = None
        figures: Obj = {"side": name, "capabilities": n}
        if operator is not None:
            t_start = time.monotonic()
            operator.start()
            figures["startup_seconds"] = round(time.monotonic() - t_start, 2)
            op_proc = psutil.Process(operator.pid)
            await asyncio.sleep(1.0)  # let the watches settle: the idle operator
            figures["startup_cpu_seconds"] = round(_cpu(op_proc), 2)
            figures["idle_rss_mib"] = round(op_proc.memory_info().rss / MIB, 1)
        server.reset_stats()
        listing = await client.call("GET", f"{GROUP_PATH}/namespaces/{NS}/businesscapabilities")
        srv_proc = psutil.Process(server.process.pid)
        cpu0 = {"operator": _cpu(op_proc) if op_proc else 0.0, "apiserver": _cpu(srv_proc), "loadgen": _self_cpu()}
        busy0 = _machine_busy()
        load0 = os.getloadavg()[0]
        t0 = time.monotonic()
        if operator is None:
            await _plain_writes(client, n)
            done: float | None = time.monotonic()
        else:
            watcher = asyncio.create_task(_watch_until_ready(client, n, listing["metadata"]["resourceVersion"],
                                                             t0 + timeout))
            await client.create_capabilities(NS, n)
            done = await watcher
        if done is None:
            raise SystemExit(f"{name}: not all {n} capabilities became Ready within {timeout}s")
        cpu = {"operator": (_cpu(op_proc) if op_proc else 0.0) - cpu0["operator"],
               "apiserver": _cpu(srv_proc) - cpu0["apiserver"], "loadgen": _self_cpu() - cpu0["loadgen"]}
        seconds = done - t0
        ours = sum(cpu.values())
        figures.update({
            "seconds": round(seconds, 2),
            "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
            "cpu_ms_per_capability": {k: round(v * 1000 / n, 2) for k, v in cpu.items()},
            "others_cpu_seconds": round(max(0.0, _machine_busy() - busy0 - ours), 2),
            "load_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
        })
        if op_proc is not None:
            rss = op_proc.memory_info().rss
            figures["converged_rss_mib"] = round(rss / MIB, 1)
            figures["rss_kib_per_capability"] = round((rss / MIB - figures["idle_rss_mib"]) * 1024 / n, 1)
        stats = server.stats()
        agents = ("finplane-bench",) if operator is None else (
            BASELINE_AGENTS if isinstance(operator, KopfBaseline) else ("finplane-operator", "kopf"))
        writes, reads = operator_writes(stats, agents), operator_reads(stats, agents)
        if operator is None:
            writes = {k: v for k, v in writes.items() if not k.startswith("create businesscapabilities")}
        figures["writes_per_capability"] = round(sum(writes.values()) / n, 2)
        figures["reads_per_capability"] = round(sum(v for k, v in reads.items() if k.startswith("get ")) / n, 2)
        figures["writes"] = writes
        return figures
    finally:
        await client.close()


def _run_side(name: str, tmp: Path, n: int, timeout: float, variants: dict[str, str]) -> Obj:
    with start_apiserver(tmp / name) as server:
        apply_crds(server.kubeconfig)
        operator: Operator | KopfBaseline | None = None
        if name == "kopf":
            operator = KopfBaseline(server, tmp / f"{name}.log")
        elif name == "finplane":
            operator = Operator(server.kubeconfig, tmp / f"{name}.log")
        elif name in variants:  # another checkout's operator package first on the path: before/after in one run
            path = os.pathsep.join([variants[name], os.environ.get("PYTHONPATH", "")])
            operator = Operator(server.kubeconfig, tmp / f"{name}.log", env={"PYTHONPATH": path})
        try:
            log(f"{name}: {n} capabilities")
            return asyncio.run(_side(name, server, operator, n, timeout))
        finally:
            if operator is not None:
                operator.stop()


def _line(f: Obj) -> str:
    c, per = f["cpu_seconds"], f["cpu_ms_per_capability"]
    out = (f"{f['side']:>8}: all Ready in {f['seconds']:.1f}s; CPU-s operator {c['operator']:.2f}, API server "
           f"{c['apiserver']:.2f}, load generator {c['loadgen']:.2f} (ms per capability: operator "
           f"{per['operator']:.1f}, server {per['apiserver']:.1f}); {f['writes_per_capability']} writes and "
           f"{f['reads_per_capability']} GETs per capability")
    if "idle_rss_mib" in f:
        out += (f"; RSS idle {f['idle_rss_mib']} MiB, converged {f['converged_rss_mib']} MiB = "
                f"{f['rss_kib_per_capability']} KiB per capability; start-up {f['startup_seconds']}s")
    return out + f"; rest of the machine {f['others_cpu_seconds']} CPU-s, load {f['load_1min']}"


def _ratios(sides: dict[str, Obj]) -> Obj:
    p, k, f = sides["plain"], sides["kopf"], sides["finplane"]
    cpu = "cpu_ms_per_capability"
    return {
        "convergence_finplane_vs_plain": round(f["seconds"] / p["seconds"], 2),
        "convergence_kopf_vs_plain": round(k["seconds"] / p["seconds"], 2),
        "convergence_finplane_vs_kopf": round(f["seconds"] / k["seconds"], 2),
        "operator_cpu_finplane_vs_kopf": round(f[cpu]["operator"] / max(k[cpu]["operator"], 1e-9), 2),
        "operator_cpu_finplane_vs_server_minimum": round(f[cpu]["operator"] / max(p[cpu]["apiserver"], 1e-9), 2),
        "rss_per_capability_finplane_vs_kopf": round(f["rss_kib_per_capability"] /
                                                     max(k["rss_kib_per_capability"], 1e-9), 2),
    }


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--capabilities", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1, help="repeat the three sides, interleaved")
    parser.add_argument("--timeout", type=float, default=480.0)
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=PATH",
                        help="also run the operator package found at PATH (e.g. an older checkout's operator/) "
                             "as side LABEL, for before/after figures in the same run")
    parser.add_argument("--sides", nargs="*", default=["plain", "kopf", "finplane"])
    args = parser.parse_args()
    n = args.capabilities
    variants = dict(v.split("=", 1) for v in args.variant)
    names = [*args.sides, *variants]
    rounds: list[dict[str, Obj]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            sides = {name: _run_side(name, Path(tmp) / f"r{r}", n, args.timeout, variants) for name in names}
            rounds.append(sides)
    m = machine()
    print(f"machine: {m['cores']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}; "
          f"{n} capabilities created by {CONCURRENCY} concurrent clients; each side on a fresh embedded API server")
    for r, sides in enumerate(rounds):
        if args.rounds > 1:
            print(f"round {r + 1}:")
        for f in sides.values():
            print(_line(f))
    for label in variants:
        for r, sides in enumerate(rounds):
            f, v = sides.get("finplane"), sides[label]
            if f is not None:
                print(f"round {r + 1}: finplane/{label}: convergence x{f['seconds'] / v['seconds']:.2f}, operator "
                      f"CPU x{f['cpu_seconds']['operator'] / max(v['cpu_seconds']['operator'], 1e-9):.2f}, "
                      f"server CPU x{f['cpu_seconds']['apiserver'] / max(v['cpu_seconds']['apiserver'], 1e-9):.2f}, "
                      f"RSS per capability x{f['rss_kib_per_capability'] / max(v['rss_kib_per_capability'], 1e-9):.2f}")
    if not {"plain", "kopf", "finplane"} <= set(names):
        emit({"capabilities": n, "rounds": rounds, "machine": m})
        return
    all_ratios = [_ratios(s) for s in rounds]
    ratios = {k: round(statistics.median(x[k] for x in all_ratios), 2) for k in all_ratios[0]}
    what = "median of rounds" if args.rounds > 1 else "one round"
    print(f"ratios ({what}): convergence finplane/plain x{ratios['convergence_finplane_vs_plain']}, "
          f"kopf/plain x{ratios['convergence_kopf_vs_plain']}, finplane/kopf x{ratios['convergence_finplane_vs_kopf']}; "
          f"operator CPU per capability finplane/kopf x{ratios['operator_cpu_finplane_vs_kopf']}, finplane operator/"
          f"server for the minimum writes x{ratios['operator_cpu_finplane_vs_server_minimum']}; RSS per capability "
          f"finplane/kopf x{ratios['rss_per_capability_finplane_vs_kopf']}")
    emit({"capabilities": n, "rounds": rounds, "ratios": ratios, "all_ratios": all_ratios, "machine": m})


if __name__ == "__main__":
    main()
