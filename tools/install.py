"""Install packages into this virtual environment with uv under pip's configuration, or with pip.

The Makefile's venv targets call it with the venv's Python (`.venv/bin/python tools/install.py ARGS`,
ARGS as for `pip install`). uv (pinned in requirements.lock, installed by pip first) fetches and unpacks
in parallel, about ten times faster than pip, but reads none of pip's settings; so this reads them from
`pip config list` (files and PIP_* variables, already merged by pip) and passes each one that changes
what is fetched or from where as the uv option or variable that means the same: index-url,
extra-index-url, find-links, no-index, constraint, cert, client-cert, trusted-host, proxy, timeout,
retries, no-cache-dir (uv also weighs every index as pip does: --index-strategy unsafe-best-match). A
setting it cannot translate, no uv beside this Python, or uv failing: then pip runs instead, as before.
Either way only the steps are printed (uv's three summary lines, pip's "Collecting" lines), not the
list of packages. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["Untranslatable", "main", "pip_settings", "uv_options"]

# pip settings that change nothing about what is installed from where (output, checks, pip's own cache).
IGNORED = frozenset({
    "disable-pip-version-check", "no-python-version-warning", "progress-bar", "no-color", "quiet", "verbose",
    "log", "no-input", "root-user-action", "no-compile", "compile", "require-virtualenv", "cache-dir",
    "no-warn-script-location", "no-warn-conflicts", "exists-action", "break-system-packages",
    "config-file",  # PIP_CONFIG_FILE: the file's settings are in the listing already
})
TRUE = frozenset({"y", "yes", "t", "true", "on", "1"})
SCOPES = (":env:", "install", "global")  # pip's precedence: environment, then [install], then [global]
UV_NOISE = re.compile(r"^ [+\-~] ")  # uv's list of every package it added, removed or replaced
PIP_STEPS = re.compile(r"^(Collecting|Installing collected|Successfully installed|ERROR)")


class Untranslatable(Exception):
    """A pip setting uv has no equivalent for here: pip must do the install so that it is honoured."""


def pip_settings(listing: str) -> dict[str, str]:
    """`pip config list` output (`scope.name='value'` lines) as one value per setting, pip's precedence."""
    found: dict[tuple[str, str], str] = {}
    for line in listing.splitlines():
        key, sep, raw = line.partition("=")
        scope, dot, name = key.rpartition(".")
        if not sep or not dot or scope not in SCOPES:
            continue  # another command's section ([download], [wheel]) or not a setting line
        value = ast.literal_eval(raw) if raw[:1] in "'\"" else raw
        found[(scope, name.replace("_", "-"))] = str(value)
    settings: dict[str, str] = {}
    for scope in reversed(SCOPES):  # lowest first, so higher scopes overwrite
        settings.update({name: value for (s, name), value in found.items() if s == scope})
    return settings


def uv_options(settings: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """uv's command-line options and environment variables meaning what pip's settings mean."""
    args, env = ["--index-strategy", "unsafe-best-match"], {}
    for name, value in settings.items():
        many = value.split()
        if name == "index-url":
            args += ["--index-url", value]
        elif name == "extra-index-url":
            args += [a for url in many for a in ("--extra-index-url", url)]
        elif name == "find-links":
            args += [a for loc in many for a in ("--find-links", loc)]
        elif name in ("constraint", "constraints"):
            args += [a for path in many for a in ("--constraint", path)]
        elif name == "trusted-host":
            args += [a for host in many for a in ("--allow-insecure-host", host)]
        elif name == "no-index":
            args += ["--no-index"] if value.lower() in TRUE else []
        elif name == "no-cache-dir":
            args += ["--no-cache"]  # pip disables its cache for any value of this setting
        elif name == "cert":
            env["SSL_CERT_DIR" if Path(value).is_dir() else "SSL_CERT_FILE"] = value
        elif name == "client-cert":
            env["SSL_CLIENT_CERT"] = value
        elif name == "proxy":
            env["HTTPS_PROXY"] = env["HTTP_PROXY"] = value
        elif name in ("timeout", "default-timeout"):
            env["UV_HTTP_TIMEOUT"] = str(int(float(value)))
        elif name == "retries":
            env["UV_HTTP_RETRIES"] = value
        elif name not in IGNORED:
            raise Untranslatable(f"pip setting {name}={value!r}")
    return args, env


def _filtered(cmd: Sequence[str], env: dict[str, str], keep: re.Pattern[str] | None, drop: re.Pattern[str] | None) -> int:
    """Run cmd, printing only its lines that `keep` matches (or that `drop` does not); its exit code."""
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line)
            if (keep is None or keep.search(line)) and (drop is None or not drop.search(line)):
                print(f"    {line.rstrip()}", flush=True)
    if proc.returncode:
        sys.stdout.writelines(lines[-15:])  # the error, whatever the filter hid
    return proc.returncode


def _pip(argv: Sequence[str]) -> int:
    args, general = list(argv), []
    if "--python" in args:  # pip takes it before the command only
        at = args.index("--python")
        general, args[at:at + 2] = args[at:at + 2], []
    cmd = [sys.executable, "-m", "pip", *general, "install", "--disable-pip-version-check", "--progress-bar", "off",
           "--no-compile", *args]  # modules compile when first imported (uv does not compile either)
    return _filtered(cmd, dict(os.environ), PIP_STEPS, None)


def main(argv: Sequence[str]) -> int:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None or os.environ.get("FINPLANE_INSTALLER") == "pip":
        why = "FINPLANE_INSTALLER=pip" if uv else "no uv in this environment"
        print(f"    with pip ({why})", flush=True)
        return _pip(argv)
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    try:
        if listing.returncode:
            raise Untranslatable(f"`pip config list` failed: {listing.stderr.strip()[-300:]}")
        args, env = uv_options(pip_settings(listing.stdout))
    except Untranslatable as exc:
        print(f"    with pip: uv cannot honour {exc}", flush=True)
        return _pip(argv)
    target = [] if "--python" in argv else ["--python", sys.executable]
    code = _filtered([uv, "pip", "install", *target, *args, *argv], {**os.environ, **env}, None, UV_NOISE)
    if code:
        print(f"    uv failed (exit code {code}); trying pip", flush=True)
        return _pip(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
