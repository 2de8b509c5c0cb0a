"""Where the `finplane` client connects and with which token: options, environment, then config files.

Lookup order (first found wins): `--url`/`--token`; `FINPLANE_API_URL`/`FINPLANE_TOKEN`; the file
`finplane dev` writes while it runs (`.finplane/dev/client.json` under the current folder, removed
when it stops); the file `finplane login` writes (`$FINPLANE_CONFIG`, else
`~/.config/finplane/config.json`). Both files hold a bearer token, so they are written with mode 0600
(their folder 0700) and never printed. Called by `finplane.commands.api_login` and `finplane.dev`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEV_CLIENT_FILE", "Target", "login_file", "resolve", "write_config"]

DEV_CLIENT_FILE = Path(".finplane/dev/client.json")  # `finplane dev --state-dir`'s default, relative to cwd


@dataclass(frozen=True)
class Target:
    """An API to talk to: its base URL (up to the host and port), a token, and where they came from."""

    url: str
    token: str | None
    source: str


def login_file() -> Path:
    env = os.environ.get("FINPLANE_CONFIG")
    return Path(env) if env else Path.home() / ".config" / "finplane" / "config.json"


def _read(path: Path) -> dict[str, str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else None


def resolve(*, url: str | None = None, token: str | None = None) -> Target | None:
    """The API to use, or None when nothing says which (the caller then says how to log in)."""
    url = url or os.environ.get("FINPLANE_API_URL")
    token = token or os.environ.get("FINPLANE_TOKEN")
    if url and token:
        return Target(url.rstrip("/"), token, "options/environment")
    for path, source in ((DEV_CLIENT_FILE, "`finplane dev` (" + str(DEV_CLIENT_FILE) + ")"),
                         (login_file(), f"`finplane login` ({login_file()})")):
        data = _read(path)
        if data and data.get("url"):
            return Target((url or data["url"]).rstrip("/"), token or data.get("token"), source)
    return Target(url.rstrip("/"), token, "options/environment") if url else None


def write_config(path: Path, *, url: str, token: str, subject: str | None = None) -> None:
    """Write url and token to `path` readable by its owner only (0600), atomically, folder 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"url": url.rstrip("/"), "token": token, **({"subject": subject} if subject else {})}, f)
    os.replace(tmp, path)
