"""Platform API: what one anonymous 48 MiB request body costs the server (RSS and time to the answer).

The app is the real one, `platform_api.app.create_app(...)`, served by uvicorn in a child process on
127.0.0.1 (in-memory read cache, no cluster). An anonymous client POSTs a valid 48 MiB JSON capability
(one huge description) twice: once with a declared Content-Length, once chunked without one. For each,
the script prints the answer's status, the seconds from the first byte sent to the answer, the bytes the
client got to send before it, and the server's peak RSS growth (VmHWM after the request, the peak reset
through /proc/PID/clear_refs, minus VmRSS before it).

`--before REV` also measures the platform API as it was at git revision REV (exported with `git archive`
into a temporary folder and put first on the child's path), for a before/after comparison.

Run: .venv/bin/python bench/api_body_limit.py [--mib 48] [--before c85db71]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, emit, exit_on_sigterm, free_port, log

PATH = "/api/v1/teams/payments/capabilities"
CHUNK = 64 * 1024

_SERVER = """
import sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import uvicorn
from platform_api.app import create_app
from platform_api.cache import MemoryCache
from platform_api.settings import ApiSettings
tmp = Path(tempfile.mkdtemp())
app = create_app(ApiSettings(dev_mode=True, dev_key_dir=tmp / "keys", evidence_dir=None, audit_log=None),
                 cache=MemoryCache(), writer=object())
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="error", access_log=False)
"""


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _send(port: int, total: int, *, chunked: bool) -> tuple[int, float, int]:
    """Send a ``total``-byte JSON body; return (status, seconds to the answer, bytes sent before it)."""
    prefix, suffix = b'{"name": "big", "spec": {"description": "', b'"}}'
    filler = total - len(prefix) - len(suffix)
    framing = b"Transfer-Encoding: chunked\r\n" if chunked else b"Content-Length: %d\r\n" % total
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                 + framing + b"\r\n")
    pieces = [prefix] + [b"a" * CHUNK] * (filler // CHUNK) + [b"a" * (filler % CHUNK), suffix]
    start = time.perf_counter()
    sent = 0
    answer = b""
    sock.setblocking(False)
    try:
        for piece in pieces:
            data = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            view = memoryview(data)
            while view:
                try:
                    n = sock.send(view)
                    view = view[n:]
                except BlockingIOError:
                    time.sleep(0.0005)
                try:
                    answer += sock.recv(65536)
                except BlockingIOError:
                    pass
                if answer:
                    break
            if answer:
                break
            sent += len(piece)
        if chunked and not answer:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed
    sock.setblocking(True)
    sock.settimeout(60)
    while b"\r\n" not in answer:
        more = sock.recv(65536)
        if not more:
            break
        answer += more
    elapsed = time.perf_counter() - start
    sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, elapsed, sent


def measure(source: Path, mib: int) -> dict[str, Any]:
    port = free_port()
    child = subprocess.Popen([sys.executable, "-c", _SERVER, str(source), str(port)])
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        _send(port, 4096, chunked=False)  # warm up: first request imports and allocates lazily
        figures: dict[str, Any] = {}
        for chunked in (False, True):
            time.sleep(0.2)
            rss_before = _status_kib(child.pid, "VmRSS")
            peak_ok = _reset_peak(child.pid)
            status, seconds, sent = _send(port, mib * 1024 * 1024, chunked=chunked)
            time.sleep(0.2)
            peak = _status_kib(child.pid, "VmHWM") if peak_ok else _status_kib(child.pid, "VmRSS")
            key = "chunked" if chunked else "content_length"
            figures[key] = {"status": status, "seconds_to_answer": round(seconds, 3),
                            "mib_sent_before_answer": round(sent / 2**20, 2),
                            "peak_rss_growth_mib": round((peak - rss_before) / 1024, 1),
                            "peak_is_vmhwm": peak_ok}
            log(f"{source.name}: {key}: {figures[key]}")
        return figures
    finally:
        child.terminate()
        child.wait(timeout=10)


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=48)
    parser.add_argument("--before", help="a git revision to measure as well, for comparison")
    args = parser.parse_args()
    result: dict[str, Any] = {"body_mib": args.mib, "after": measure(REPO, args.mib)}
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            archive = subprocess.run(["git", "-C", str(REPO), "archive", args.before, "platform_api"],
                                     check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            result["before"] = {"revision": args.before, **measure(Path(tmp), args.mib)}
    emit(result)


if __name__ == "__main__":
    main()
