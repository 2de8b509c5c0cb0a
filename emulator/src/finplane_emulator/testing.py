"""Start the embedded API server as a subprocess for tests and benchmarks.

`start_apiserver(tmp_dir)` runs `python -m finplane_emulator --port 0 ...`, waits for its
"listening on" line and returns an `ApiServerHandle` with the `url`, a `kubeconfig` path, and
helpers for the test-only endpoints (`stats()`, `reset_stats()`, `set_faults(**cfg)`,
`fail_deployment()`), plus `stop()`. Used by the pytest plugin's fixtures (`pytest_plugin.py`),
by Finplane's test fixtures and by its bench scripts. Imports nothing but the standard library, so
that loading the pytest plugin costs nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ApiServerHandle", "start_apiserver", "start_emulator"]

READY_LINE = "finplane-emulator listening on "  # main.READY_PREFIX (not imported: it pulls aiohttp in)


@dataclass
class ApiServerHandle:
    url: str
    kubeconfig: Path
    process: subprocess.Popen[str]
    log_path: Path
    data_dir: Path | None = None
    _drain: threading.Thread | None = field(default=None, repr=False)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_finplane/stats")

    def reset_stats(self) -> dict[str, Any]:
        return self._call("DELETE", "/_finplane/stats")

    def set_faults(self, **cfg: Any) -> dict[str, Any]:
        """Replace the fault configuration (see finplane_emulator.faults); no arguments clears it."""
        return self._call("POST", "/_finplane/faults", cfg)

    def fail_deployment(self, namespace: str, name: str, *, failing: bool = True) -> None:
        self._call("POST", f"/_finplane/deployments/{namespace}/{name}/{'fail' if failing else 'recover'}")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, *, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> ApiServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_apiserver(tmp_dir: Path | str, *, data_dir: Path | str | None = None, faults: bool = False,
                    port: int = 0, env: dict[str, str] | None = None, timeout: float = 30.0) -> ApiServerHandle:
    """Run the server as a subprocess on 127.0.0.1 and return once it accepts requests."""
    tmp = Path(tmp_dir)
    tmp.mkdir(parents=True, exist_ok=True)
    kubeconfig = tmp / "kubeconfig"
    log_path = tmp / "apiserver.log"
    cmd = [sys.executable, "-m", "finplane_emulator", "--host", "127.0.0.1", "--port", str(port),
           "--kubeconfig-out", str(kubeconfig)]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    if faults:
        cmd.append("--faults")
    log = open(log_path, "w")  # noqa: SIM115 - kept open for the child's lifetime
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True,
                            env={**os.environ, **(env or {})})
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    url = ""
    lines: list[str] = []

    def read_first() -> None:
        nonlocal url
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(READY_LINE):
                url = line[len(READY_LINE):].strip()
                return

    reader = threading.Thread(target=read_first, daemon=True)
    reader.start()
    reader.join(max(0.0, deadline - time.monotonic()))
    if not url:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the API server did not start: {''.join(lines)}\n{log_path.read_text()}")
    # Keep draining stdout so the child never blocks on a full pipe.
    drain = threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True)
    drain.start()
    return ApiServerHandle(url=url, kubeconfig=kubeconfig, process=proc, log_path=log_path,
                           data_dir=Path(data_dir) if data_dir else None, _drain=drain)


start_emulator = start_apiserver  # the same function under the distribution's name
