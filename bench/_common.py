"""Shared plumbing of the operator benchmarks: servers, the operator process, bulk creation, counting.

Used by every bench/*.py script (each one command). Nothing here asserts times: the scripts print
figures, and `bench/run_all.py` collects them into bench/RESULTS.md. All servers listen on 127.0.0.1
and every load generator is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
GROUP_PATH = "/apis/finplane.io/v1alpha1"
WRITE_VERBS = ("create", "update", "patch", "apply", "delete", "deletecollection")
OPERATOR_AGENTS = ("finplane-operator", "kopf")  # the simulator's and the bench's own writes are not the operator's
BENCH_AGENT = "finplane-bench/1"
Obj = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks stop the servers and the operator this script started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def log(msg: str) -> None:
    """Progress on stderr (the figures go to stdout as one JSON line, for run_all.py)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def emit(figures: Obj) -> None:
    """The script's result: one JSON line on stdout prefixed so run_all.py can find it."""
    print("RESULT " + json.dumps(figures, sort_keys=True), flush=True)


def capability(i: int, ns: str) -> Obj:
    """A plain capability: one replica, no dependencies, no registry (the common case)."""
    return {"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
            "metadata": {"name": f"cap-{i:05d}", "namespace": ns},
            "spec": {"owner": {"team": ns, "contact": f"{ns}@bank.example"}, "domain": "payments",
                     "description": f"benchmark capability {i}",
                     "image": "registry.finplane.local/payments/app:1.0.0"}}


def children_per_capability(ns: str) -> list[Obj]:
    """The children the operator renders for `capability(i, ns)` (the minimum writes are these + 1 status)."""
    from finplane.models.business_capability import BusinessCapabilitySpec
    from finplane.render.capability import render_capability
    from finplane.settings import Settings

    body = capability(0, ns)
    spec = BusinessCapabilitySpec.model_validate(body["spec"])
    return render_capability(name=body["metadata"]["name"], namespace=ns, spec=spec, settings=Settings())


def operator_writes(stats: Obj, agents: tuple[str, ...] = OPERATOR_AGENTS) -> dict[str, int]:
    """Write requests by the operator's user agents, by `verb resource[/subresource]`."""
    out: dict[str, int] = {}
    for row in stats.get("by", []):
        if row.get("verb") in WRITE_VERBS and str(row.get("userAgent", "")).startswith(agents):
            what = f"{row['verb']} {row['resource']}{'/' + row['subresource'] if row.get('subresource') else ''}"
            out[what] = out.get(what, 0) + int(row["count"])
    return out


def operator_reads(stats: Obj, agents: tuple[str, ...] = OPERATOR_AGENTS) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in stats.get("by", []):
        if row.get("verb") not in WRITE_VERBS and str(row.get("userAgent", "")).startswith(agents):
            what = f"{row['verb']} {row['resource']}"
            out[what] = out.get(what, 0) + int(row["count"])
    return out


@dataclass
class Operator:
    """`finplane operator` as a subprocess (the real process, as deployed), with its liveness port."""

    kubeconfig: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.liveness = free_port()
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "FINPLANE_DRIFT_CHECK_INTERVAL_SECONDS": "3600",
               "PYTHONUNBUFFERED": "1", **self.env}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "finplane", "operator", "--standalone", "--liveness-port", str(self.liveness),
             "--metrics-port", "0"], env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"operator exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.liveness}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("operator did not become live in 60 s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()


def apply_crds(kubeconfig: Path) -> None:
    subprocess.run(["kubectl", "apply", "--server-side", "-f", str(REPO / "crds")], check=True, capture_output=True,
                   env={**os.environ, "KUBECONFIG": str(kubeconfig),
                        "KUBECACHEDIR": str(kubeconfig.parent / ".kube-cache")}, timeout=60)


class Client:
    """A bounded pool of aiohttp connections to the embedded server, under the bench's own user agent."""

    def __init__(self, url: str, *, concurrency: int = 16) -> None:
        self.url = url
        self.concurrency = concurrency
        self.session = aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=concurrency),
                                             headers={"User-Agent": BENCH_AGENT})

    async def close(self) -> None:
        await self.session.close()

    async def call(self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201),
                   content_type: str = "application/json", params: dict[str, str] | None = None) -> Any:
        for attempt in range(5):
            async with self.session.request(method, path, data=None if body is None else json.dumps(body),
                                            params=params, headers={"Content-Type": content_type}) as resp:
                text = await resp.text()
                if resp.status in ok:
                    return json.loads(text) if text else None
                if resp.status in (429, 500, 503) and attempt < 4:
                    await asyncio.sleep(0.2 * (attempt + 1))
                    continue
                raise RuntimeError(f"{method} {path}: {resp.status} {text[:300]}")
        raise AssertionError("unreachable")

    async def ensure_namespace(self, ns: str) -> None:
        await self.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": ns}}, ok=(201, 409))

    async def bounded(self, items: list[Any], fn: Callable[[Any], Any], *, what: str = "") -> float:
        """Run `fn(item)` for every item on `concurrency` workers; returns the seconds it took."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        for it in items:
            queue.put_nowait(it)
        done = 0
        started = time.perf_counter()
        step = max(1, len(items) // 5)

        async def worker() -> None:
            nonlocal done
            while not queue.empty():
                await fn(queue.get_nowait())
                done += 1
                if what and done % step == 0:
                    log(f"{what}: {done}/{len(items)}")

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        return time.perf_counter() - started

    async def create_capabilities(self, ns: str, n: int, *, start: int = 0) -> float:
        path = f"{GROUP_PATH}/namespaces/{ns}/businesscapabilities"
        return await self.bounded(list(range(start, start + n)),
                                  lambda i: self.call("POST", path, capability(i, ns)), what=f"created in {ns}")

    async def count_ready(self, ns: str) -> tuple[int, int]:
        """(Ready at their current generation, total) among the capabilities of `ns`."""
        items = (await self.call("GET", f"{GROUP_PATH}/namespaces/{ns}/businesscapabilities"))["items"]
        ready = sum(1 for o in items if any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in (o.get("status") or {}).get("conditions", [])
        ) and (o.get("status") or {}).get("observedGeneration") == o["metadata"].get("generation"))
        return ready, len(items)

    async def wait_all_ready(self, ns: str, n: int, *, timeout: float, interval: float = 1.0,
                             on_poll: Callable[[], None] | None = None) -> float | None:
        """Poll until all `n` capabilities are Ready; returns the monotonic time it happened, or None."""
        deadline = time.monotonic() + timeout
        last_log = 0.0
        while time.monotonic() < deadline:
            ready, total = await self.count_ready(ns)
            now = time.monotonic()
            if on_poll:
                on_poll()
            if ready >= n:
                return now
            if now - last_log > 10:
                log(f"Ready {ready}/{n} (of {total})")
                last_log = now
            await asyncio.sleep(interval)
        return None


def machine() -> Obj:
    """Cores, memory, CPU model, Python: the context every figure needs."""
    import psutil

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu_model": model or platform.processor(), "python": platform.python_version(),
            "platform": platform.platform()}
