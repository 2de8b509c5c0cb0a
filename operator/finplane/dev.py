"""`finplane dev`: the whole product on a laptop, with no cluster.

Starts the embedded API server (the finplane-emulator distribution, as a subprocess), installs the
CRDs (Finplane's, and the PolicyReport CRDs of crds/extra/ the compliance policy reports into), starts the operator and the platform API as real processes, applies `examples/`, waits until
the operator has reconciled them (or refused one with a terminal reason, which `--once` reports at
once), prints a summary table with the URLs, the compliance results, a ready-to-use KUBECONFIG and next
steps that work as printed from the current folder, logs the `finplane` client in (an admin token in
`<state>/client.json`, mode 0600, removed at exit), and keeps running until Ctrl-C or SIGTERM, then
stops its three children and waits for them. Called by the `finplane dev` command (the README's first
command).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from finplane.emulator_process import emulator_command
from finplane.kube.client import Kube
from finplane.kube.errors import KubeError
from finplane.models.registry import KINDS

__all__ = ["run"]

# Wide enough for the summary even when stdout is not a terminal (CI logs default to 80 columns).
console = Console(width=max(140, __import__("shutil").get_terminal_size().columns))
FINPLANE_KINDS = tuple(info.kind for info in KINDS)  # every Finplane kind, Team included
# Ready=False reasons the operator sets when only a change of the spec (or of a conflicting object the
# user owns) can help: waiting longer for such an example is pointless.
TERMINAL_REASONS = frozenset({
    "InvalidSpec", "InvalidName", "InvalidImage", "InvalidQuantity", "NegativeQuantity", "LimitsBelowRequests",
    "PrivilegedPort", "SelfDependency", "DuplicateDependency", "DependencyCycle", "PolicyViolation",
    "NameConflict", "NamespaceConflict", "TTLTooLong", "Expired",
})


class _Stop(BaseException):  # not Exception: no `except Exception` on the way may swallow it
    """SIGTERM arrived: unwind through `run`'s cleanup, wherever the main thread was."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*, port: int, api_port: int, examples: Path, once: bool, state_dir: Path = Path(".finplane/dev")) -> int:
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        return _run(port=port, api_port=api_port, examples=examples, once=once, state_dir=state_dir)
    except _Stop:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(*, port: int, api_port: int, examples: Path, once: bool, state_dir: Path) -> int:
    state = state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    kubeconfig = state / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)  # a stale one from an earlier run would point at a dead port
    logs = {name: open(state / f"{name}.log", "wb") for name in ("apiserver", "operator", "api")}  # noqa: SIM115
    procs: list[subprocess.Popen[bytes]] = []
    py = [sys.executable, "-m", "finplane"]
    try:
        port = port or _free_port()
        console.print(f"[bold]Starting the embedded API server[/] on 127.0.0.1:{port} …")
        procs.append(subprocess.Popen([*emulator_command(), "--port", str(port), "--kubeconfig-out", str(kubeconfig)],
                                      stdout=logs["apiserver"], stderr=subprocess.STDOUT))
        _wait_file(kubeconfig, procs[0], 30)
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONUNBUFFERED": "1",
               # the operator and the API append to one evidence chain
               "FINPLANE_EVIDENCE_DIR": os.environ.get("FINPLANE_EVIDENCE_DIR", str(state / "evidence"))}
        # the Finplane kinds, then the PolicyReport and OpenReports APIs the compliance reports go to
        asyncio.run(_install_crds(kubeconfig, [Path("crds"), Path("crds/extra")]))
        console.print("[bold]Starting the operator[/] …")
        liveness = _free_port()
        procs.append(subprocess.Popen([*py, "operator", "--standalone", "--liveness-port", str(liveness),
                                       "--metrics-port", str(_free_port())],
                                      env=env, stdout=logs["operator"], stderr=subprocess.STDOUT))
        api_port = api_port or _free_port()
        console.print(f"[bold]Starting the platform API[/] on 127.0.0.1:{api_port} …")
        procs.append(subprocess.Popen([*py, "api", "--port", str(api_port)],
                                      env={**env, "FINPLANE_API_DEV_MODE": "true"},
                                      stdout=logs["api"], stderr=subprocess.STDOUT))
        console.print(f"[bold]Applying[/] {examples}/ …")
        rows, all_ready, refused = asyncio.run(_apply_and_wait(kubeconfig, examples, timeout=120, stop_at_refusal=once))
        client = _log_client_in(state, api_port)
        _summary(rows, kubeconfig=kubeconfig, api_port=api_port, port=port, state=state)
        asyncio.run(_print_compliance(kubeconfig))
        _next_steps(client)
        for line in refused:
            console.print(f"[red]Refused:[/] {escape(line)}", soft_wrap=True)
        if _exited(procs, state):
            return 1
        if once:
            return 0 if all_ready else 1
        console.print("Running; press [bold]Ctrl-C[/] to stop.")
        while not _exited(procs, state):
            time.sleep(0.5)  # a signal interrupts the sleep: SIGINT raises KeyboardInterrupt, SIGTERM _Stop
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # A second signal must not cut the cleanup short and orphan a child (`run` restores SIGTERM's handler).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop_children(procs)
        (state / "client.json").unlink(missing_ok=True)  # the client's dev login dies with the API it names
        for f in logs.values():
            f.close()
        signal.signal(signal.SIGINT, sigint)
        console.print("Stopped.")


def _exited(procs: list[subprocess.Popen[bytes]], state: Path) -> bool:
    for p in procs:
        if p.poll() is not None:
            console.print(f"[red]A process exited early ({p.args!r}, exit code {p.returncode}); see {state}/*.log[/]")
            return True
    return False


def _stop_children(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each child (the API and the operator before the API server), then wait; SIGKILL after 15 s."""
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
    for p in reversed(procs):
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _wait_file(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or path.stat().st_size == 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the embedded API server did not start; see {path.parent}/apiserver.log")
        time.sleep(0.1)


def _load(folder: Path) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for f in sorted(folder.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(f.read_text()) if d)
    return docs


async def _install_crds(kubeconfig: Path, folders: list[Path]) -> None:
    kube = await Kube.from_config(kubeconfig=str(kubeconfig), field_manager="finplane-dev")
    try:
        for doc in (d for folder in folders for d in _load(folder)):
            await kube.apply(doc)
        await asyncio.sleep(0.3)
    finally:
        await kube.close()


async def _apply_and_wait(kubeconfig: Path, folder: Path, *, timeout: float,
                          stop_at_refusal: bool = False) -> tuple[list[list[str]], bool, list[str]]:
    """Apply `folder` and wait until every Finplane object is Ready or refused for good (or `timeout`).

    Returns the summary rows, whether all are Ready, and one line per object refused with a terminal
    reason. With `stop_at_refusal` the wait ends at the first such refusal: nothing else can make the
    run succeed.
    """
    kube = await Kube.from_config(kubeconfig=str(kubeconfig), field_manager="finplane-dev")
    try:
        objs: list[tuple[str, str, str | None, str]] = []
        for doc in _load(folder):
            meta = doc.get("metadata") or {}
            try:
                await kube.apply(doc)
            except KubeError as exc:
                console.print(f"[red]Refused {doc.get('kind')} {meta.get('name')}:[/] {exc.message}")
                continue
            if doc.get("kind") in FINPLANE_KINDS:
                objs.append((doc["apiVersion"], doc["kind"], meta.get("namespace"), meta["name"]))
        deadline = time.monotonic() + timeout
        while True:
            rows: list[list[str]] = []
            refused: list[str] = []
            settled, ready = True, True
            for api_version, kind, ns, name in objs:
                obj = await kube.get_or_none(api_version, kind, name, ns) or {}
                st = obj.get("status") or {}
                cond = next((c for c in st.get("conditions", []) if c.get("type") == "Ready"), None)
                status = cond.get("status") if cond else "Unknown"
                reason, message = (cond or {}).get("reason", "-"), (cond or {}).get("message") or ""
                fresh = st.get("observedGeneration") == obj.get("metadata", {}).get("generation")
                final = fresh and (status == "True" or (status == "False" and reason in TERMINAL_REASONS))
                if final and status == "False":
                    refused.append(f"{kind} {f'{ns}/{name}' if ns else name}: {reason}: {message}")
                settled &= final
                ready &= status == "True"
                rows.append([kind, f"{ns}/{name}" if ns else name, status, reason, message[:70],
                             str(st.get("phase", ""))])
            if settled or (stop_at_refusal and refused) or time.monotonic() > deadline:
                return rows, ready, refused
            await asyncio.sleep(0.5)
    finally:
        await kube.close()


def _summary(rows: list[list[str]], *, kubeconfig: Path, api_port: int, port: int, state: Path) -> None:
    table = Table(title="Finplane examples, as the operator reports them")
    for col in ("Kind", "Name", "Ready", "Reason"):
        table.add_column(col, no_wrap=True)
    table.add_column("Message", ratio=1)
    table.add_column("Phase", no_wrap=True)
    for r in rows:
        colour = {"True": "green", "False": "red"}.get(r[2], "yellow")
        table.add_row(r[0], r[1], f"[{colour}]{r[2]}[/]", *r[3:])
    console.print(table)
    console.print(f"Embedded API server: http://127.0.0.1:{port} (simulated Deployments; no kubelet)")
    console.print(f"Platform API:        http://127.0.0.1:{api_port}/api/v1/docs")
    console.print(f"Portal:              http://127.0.0.1:{api_port}/portal/   dev sign-in: "
                  f"http://127.0.0.1:{api_port}/portal/signin", soft_wrap=True)
    console.print(f"KUBECONFIG:          export KUBECONFIG={kubeconfig}   then: kubectl get finplane -A")
    console.print(f"Logs:                {state}/{{apiserver,operator,api}}.log")


def finplane_command() -> str:
    """How to run this `finplane` from the current folder: `finplane` when PATH finds this one, else its path."""
    import shutil

    here = Path(sys.executable).parent / "finplane"
    found = shutil.which("finplane")
    if found and Path(found).resolve() == here.resolve():
        return "finplane"
    try:
        return str(here.relative_to(Path.cwd()))
    except ValueError:
        return str(here)


def _log_client_in(state: Path, api_port: int) -> Path | None:
    """Write the client's dev login (an admin token for the `finplane` client) next to the kubeconfig."""
    from finplane.apiclient.config import write_config

    try:
        from platform_api.auth.devkey import mint

        token = mint(role="admin", subject="dev", ttl=12 * 3600)
    except Exception as exc:  # noqa: BLE001 - the summary still helps without a client login; say why
        console.print(f"[yellow]The finplane client is not logged in:[/] {escape(str(exc))}")
        return None
    path = state / "client.json"
    write_config(path, url=f"http://127.0.0.1:{api_port}", token=token, subject="dev")
    return path


async def _print_compliance(kubeconfig: Path) -> None:
    """The PolicyReport results by policy and result, so that a newcomer sees compliance working."""
    from collections import Counter

    kube = await Kube.from_config(kubeconfig=str(kubeconfig), field_manager="finplane-dev")
    try:
        reports = [*await kube.list("wgpolicyk8s.io/v1alpha2", "PolicyReport"),
                   *await kube.list("wgpolicyk8s.io/v1alpha2", "ClusterPolicyReport")]
    except KubeError as exc:
        console.print(f"Compliance results:  none readable ({escape(exc.message)})")
        return
    finally:
        await kube.close()
    counts = Counter((r.get("policy", "?"), r.get("result", "?")) for rep in reports for r in rep.get("results") or [])
    by_policy: dict[str, list[str]] = {}
    for (policy, result), n in sorted(counts.items()):
        by_policy.setdefault(policy, []).append(f"{n} {result}")
    summary = "; ".join(f"{p}: {', '.join(v)}" for p, v in by_policy.items()) or "none yet"
    console.print(f"Compliance results:  {escape(summary)} (in {len(reports)} PolicyReports)", soft_wrap=True)


def _next_steps(client: Path | None) -> None:
    fp = finplane_command()
    if client is not None:
        console.print(f"The finplane client: logged in here as admin 'dev' ({client}, removed at exit)", soft_wrap=True)
        for step in ("catalog search", "compliance results --result fail"):
            console.print(f"Try:                 {fp} {step}", soft_wrap=True)
    console.print(f"A token:             {fp} token --role admin --subject you", soft_wrap=True)
