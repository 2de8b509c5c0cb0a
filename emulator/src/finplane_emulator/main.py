"""Run the embedded Kubernetes API server in the foreground.

Called by `finplane_emulator.cli` (the `finplane-emulator` command and `python -m finplane_emulator`,
which `finplane_emulator.testing` starts as a subprocess). Prints
exactly one line `finplane-emulator listening on http://HOST:PORT` (flushed) once it accepts
requests, writes a kubeconfig for it when asked, saves state to `--data-dir` on shutdown
(SIGTERM/SIGINT) and while running. Runs on uvloop when it is installed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
from collections.abc import Callable
from pathlib import Path

import yaml
from aiohttp import web

from finplane_emulator.app import GUARD_KEY, Security, build_app
from finplane_emulator.core import Core
from finplane_emulator.persistence import Persistence

__all__ = ["READY_PREFIX", "kubeconfig", "run", "serve"]

READY_PREFIX = "finplane-emulator listening on "
log = logging.getLogger("finplane_emulator")


def kubeconfig(url: str, *, token: str, ca_file: Path | None = None) -> str:
    """A kubeconfig for this server with the admin token (user kubernetes-admin, group system:masters)."""
    cluster: dict[str, object] = {"server": url}
    if url.startswith("https://"):
        if ca_file:
            cluster["certificate-authority"] = str(ca_file)
        else:
            cluster["insecure-skip-tls-verify"] = True
    doc = {"apiVersion": "v1", "kind": "Config", "preferences": {},
           "clusters": [{"name": "finplane", "cluster": cluster}],
           "users": [{"name": "finplane", "user": {"token": token}}],
           "contexts": [{"name": "finplane", "context": {"cluster": "finplane", "user": "finplane",
                                                          "namespace": "default"}}],
           "current-context": "finplane"}
    return yaml.safe_dump(doc, sort_keys=False)


async def serve(*, host: str, port: int, data_dir: Path | None, kubeconfig_out: Path | None,
                tls_cert: Path | None, tls_key: Path | None, faults: bool, stop: asyncio.Event,
                security: Security | None = None) -> None:
    core = Core()
    persistence = Persistence(core, data_dir) if data_dir else None
    if persistence:
        persistence.load()
    app = build_app(core, faults=faults, security=security)
    admin_token = app[GUARD_KEY].authenticator.admin_token
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    ssl_ctx = None
    if tls_cert:
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_ctx.load_cert_chain(str(tls_cert), str(tls_key) if tls_key else None)
    site = web.TCPSite(runner, host, port, ssl_context=ssl_ctx, backlog=1024)
    await site.start()
    server = site._server
    assert server is not None and server.sockets  # type: ignore[union-attr]
    bound = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"{'https' if ssl_ctx else 'http'}://{host}:{bound}"
    if persistence:
        persistence.start()
    if kubeconfig_out:
        kubeconfig_out.parent.mkdir(parents=True, exist_ok=True)
        kubeconfig_out.write_text(kubeconfig(url, token=admin_token, ca_file=tls_cert))
        kubeconfig_out.chmod(0o600)
    print(f"{READY_PREFIX}{url}", flush=True)
    try:
        await stop.wait()
    finally:
        if persistence:
            await persistence.close()
        await runner.cleanup()


def run(*, host: str = "127.0.0.1", port: int = 6443, data_dir: Path | None = None,
        kubeconfig_out: Path | None = None, tls_cert: Path | None = None, tls_key: Path | None = None,
        faults: bool = False, security: Security | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(host=host, port=port, data_dir=data_dir, kubeconfig_out=kubeconfig_out,
                    tls_cert=tls_cert, tls_key=tls_key, faults=faults, stop=stop, security=security)

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(main())


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it halves the cost of socket I/O per request); FINPLANE_APISERVER_LOOP=asyncio opts out."""
    if os.environ.get("FINPLANE_APISERVER_LOOP", "uvloop") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is pinned but optional
        return None
    return uvloop.new_event_loop
