"""The `finplane-emulator` command (also `python -m finplane_emulator`): serve until SIGTERM/SIGINT.

Called by the console script, by `finplane_emulator.testing` and `finplane dev` (as a subprocess) and by
`finplane apiserver` (which execs it in its own place). Prints exactly one line
`finplane-emulator listening on http://HOST:PORT` once it accepts requests. Options parsed with argparse
so that the emulator needs no CLI framework.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="finplane-emulator",
                                description="Run the embedded Kubernetes API server in the foreground.")
    p.add_argument("--host", default="127.0.0.1", help="Address to listen on (loopback by default).")
    p.add_argument("--port", type=int, default=6443, help="Port to listen on; 0 picks a free one.")
    p.add_argument("--data-dir", type=Path, help="Keep state here so that it survives a restart.")
    p.add_argument("--kubeconfig-out", type=Path, help="Write a kubeconfig for this server here.")
    p.add_argument("--tls-cert", type=Path, help="Serve HTTPS with this certificate (PEM).")
    p.add_argument("--tls-key", type=Path, help="Private key for --tls-cert (PEM).")
    p.add_argument("--faults", action=argparse.BooleanOptionalAction, default=False,
                   help="Enable the test-only fault-injection endpoint.")
    p.add_argument("--authorization-mode", choices=("AlwaysAllow", "RBAC"), default="AlwaysAllow",
                   help="RBAC enforces Roles and bindings; AlwaysAllow (the default) lets every request through.")
    p.add_argument("--token-auth-file", type=Path,
                   help='Static bearer tokens, one per line: token,user,uid,"group1,group2" (kube-apiserver format).')
    p.add_argument("--anonymous-auth", action=argparse.BooleanOptionalAction, default=True,
                   help="Serve requests without a token as system:anonymous (else 401).")
    p.add_argument("--enable-admission-plugins", default="",
                   help="Comma-separated: ServiceAccount, DefaultTolerationSeconds, PodSecurity, "
                        "ValidatingAdmissionPolicy (none by default).")
    p.add_argument("--secure", action="store_true",
                   help="Shorthand for --authorization-mode RBAC and every admission plugin.")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    from finplane_emulator.admission_chain import PLUGINS
    from finplane_emulator.app import Security
    from finplane_emulator.main import run

    plugins = tuple(p.strip() for p in args.enable_admission_plugins.split(",") if p.strip())
    unknown = sorted(set(plugins) - set(PLUGINS))
    if unknown:
        parser().error(f"unknown admission plugins {unknown}; known: {', '.join(PLUGINS)}")
    mode = args.authorization_mode
    if args.secure:
        mode, plugins = "RBAC", PLUGINS
    security = Security(authorization_mode=mode, token_auth_file=args.token_auth_file,
                        anonymous_auth=args.anonymous_auth, admission_plugins=plugins)
    run(host=args.host, port=args.port, data_dir=args.data_dir, kubeconfig_out=args.kubeconfig_out,
        tls_cert=args.tls_cert, tls_key=args.tls_key, faults=args.faults, security=security)
