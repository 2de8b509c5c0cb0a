"""The `finplane` command: one typer app whose subcommands delegate to the modules that do the work.

Called by the console script and by `python -m finplane`. Imports are lazy so that each
subcommand starts fast. The embedded API server is a separate distribution (finplane-emulator):
`finplane apiserver` runs it in place of this process and never imports it. `main` prints a user
error (`finplane.commands.errors.UserError`) as one line with a hint and its exit code, never a
traceback. The client subcommands (login, capabilities, catalog, teams, sandboxes, compliance
results and waivers) talk to the platform API (`finplane.commands.api_*`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from finplane.commands import api_compliance
from finplane.commands.api_capabilities import capabilities_app, catalog_app
from finplane.commands.api_common import TokenOption, UrlOption
from finplane.commands.api_login import login
from finplane.commands.api_sandboxes import sandboxes_app, teams_app
from finplane.commands.errors import ExitCode, UserError
from finplane.commands.evidence import app as evidence_app
from finplane.commands.output import Format, OutputOption
from finplane.commands.register import register_command
from finplane.kube.kubeconfig import KubeconfigError

app = typer.Typer(no_args_is_help=True, help="Finplane: operator and developer platform.",
                  pretty_exceptions_enable=False)
compliance_app = typer.Typer(no_args_is_help=True, help="Compliance: results, waivers, preview, evidence (platform API).")
app.add_typer(compliance_app, name="compliance")
app.add_typer(evidence_app, name="evidence")
evidence_app.command("register")(register_command)
app.add_typer(capabilities_app, name="capabilities")
app.add_typer(catalog_app, name="catalog")
app.add_typer(teams_app, name="teams")
app.add_typer(sandboxes_app, name="sandboxes")
app.command("login")(login)
api_compliance.register(compliance_app)
ROLES = ("team", "partner", "auditor", "admin")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from finplane import __version__

    try:
        return version("finplane")
    except PackageNotFoundError:  # run from a checkout without installing it
        return __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"finplane {_version()}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Finplane: operator and developer platform."""


@app.command()
def apiserver(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 6443,
    data_dir: Annotated[Path | None, typer.Option(help="Keep state here so that it survives a restart.")] = None,
    kubeconfig_out: Annotated[Path | None, typer.Option(help="Write a kubeconfig for this server here.")] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="Serve HTTPS with this certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="Private key for --tls-cert (PEM).")] = None,
    faults: Annotated[bool, typer.Option(help="Enable the test-only fault-injection endpoint.")] = False,
) -> None:
    """(Development) Run the embedded Kubernetes API server, finplane-emulator, in the foreground."""
    import os

    from finplane.emulator_process import emulator_command

    argv = [*emulator_command(), "--host", host, "--port", str(port)]
    for flag, value in (("--data-dir", data_dir), ("--kubeconfig-out", kubeconfig_out),
                        ("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if value is not None:
            argv += [flag, str(value)]
    if faults:
        argv.append("--faults")
    os.execv(argv[0], argv)  # the emulator replaces this process: its signals, its output, its exit code


def keep_client_models_out() -> None:
    """Before kopf is imported: make the Kubernetes client libraries unimportable in this process.

    kopf imports the `kubernetes` package (and `kubernetes_asyncio`, `pykube`) whenever one is installed,
    only to recognise their model classes and to offer their login; Finplane passes plain dicts and logs in
    through `finplane.kube.kubeconfig`. The official client's models alone are ~20 MiB of an idle
    operator's memory (issue 19), and a tools or test environment has the package installed.
    """
    for name in ("kubernetes", "kubernetes_asyncio", "pykube"):
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # `import name` now raises ImportError


@app.command()
def operator(
    namespace: Annotated[list[str] | None, typer.Option(help="Watch only these namespaces (repeatable).")] = None,
    liveness_port: Annotated[int, typer.Option(help="Port of kopf's liveness endpoint /healthz.")] = 8080,
    metrics_port: Annotated[int, typer.Option(help="Port of the Prometheus /metrics endpoint (0: off).")] = 9090,
    peering: Annotated[str | None, typer.Option(help="kopf peering name for several replicas.")] = None,
    standalone: Annotated[bool, typer.Option(help="Run without peering.")] = False,
) -> None:
    """Run the kopf operator against the cluster in KUBECONFIG (or the in-cluster config)."""
    keep_client_models_out()
    from finplane.handlers.main import run

    run(namespaces=namespace or [], liveness_port=liveness_port, metrics_port=metrics_port,
        peering=peering, standalone=standalone)


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the self-service platform API."""
    from platform_api.main import run

    run(host=host, port=port)


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Port of the embedded API server (0: a free one).")] = 0,
    api_port: Annotated[int, typer.Option(help="Port of the platform API (0: a free one).")] = 0,
    examples: Annotated[Path, typer.Option(help="Folder of example CRs to apply.")] = Path("examples"),
    once: Annotated[bool, typer.Option(help="Print the summary and stop instead of waiting for Ctrl-C.")] = False,
    state_dir: Annotated[Path, typer.Option(help="Where the kubeconfig, logs and evidence go.")] = Path(".finplane/dev"),
) -> None:
    """The main job: embedded API server, CRDs, operator, API and examples, with a summary."""
    from finplane.dev import run

    raise typer.Exit(run(port=port, api_port=api_port, examples=examples, once=once, state_dir=state_dir))


@app.command()
def crds(
    out: Annotated[Path, typer.Option(help="Folder to write the CRD manifests into.")] = Path("crds"),
) -> None:
    """Write the generated CRD manifests."""
    from finplane.crdgen import write_crds

    for path in write_crds(out):
        typer.echo(f"wrote {path}")


@app.command()
def docs(
    readme: Annotated[Path, typer.Option(help="The README to update.")] = Path("README.md"),
    check: Annotated[bool, typer.Option(help="Only check; exit 1 when a generated section is stale.")] = False,
) -> None:
    """Regenerate the README's reference sections (CRD fields, API routes) from the code."""
    from finplane.docsgen import sync_readme

    stale = sync_readme(readme, check=check)
    for name in stale:
        typer.echo(f"{'stale' if check else 'updated'}: {name}")
    raise typer.Exit(1 if check and stale else 0)


@app.command()
def render(
    file: Annotated[list[Path] | None, typer.Option("-f", "--file", help="A YAML file with one or more Finplane "
                                                    "CRs (repeatable).")] = None,
    files: Annotated[list[Path] | None, typer.Argument(help="More files, e.g. examples/*.yaml.", show_default=False)]
    = None,
) -> None:
    """Print, offline, the child objects the operator would create for the CRs in the files.

    The files are read as one estate: a capability sees the registry, Teams, sandboxes and capabilities of
    every file, as the operator sees the cluster. Exit code 2 on bad input.
    """
    from finplane.commands.render import render_files

    paths = [*(file or []), *(files or [])]
    if not paths:
        raise UserError("no file to render", hint="finplane render -f FILE.yaml, or finplane render examples/*.yaml")
    typer.echo(render_files(paths), nl=False)


@app.command()
def token(
    role: Annotated[str, typer.Option(help="team, partner, auditor or admin.")],
    team: Annotated[str | None, typer.Option(help="The team, for role team.")] = None,
    partner: Annotated[str | None, typer.Option(help="The partner, for role partner.")] = None,
    subject: Annotated[str | None, typer.Option(help="The subject (user name).")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
    group: Annotated[list[str] | None, typer.Option(help="An IdP group (repeatable): a Team's owners and members "
                                                   "name groups, e.g. payments-developers.")] = None,
) -> None:
    """Mint a token signed by the development key that only `finplane dev` trusts."""
    from platform_api.auth.devkey import mint

    if role not in ROLES:
        raise UserError(f"--role {role}: the platform API knows no such role", hint=f"one of {', '.join(ROLES)}")
    if role == "team" and not team and not group:
        raise UserError("--role team needs --team (or --group)", hint="e.g. --role team --team payments "
                        "--group payments-developers")
    if role == "partner" and not partner:
        raise UserError("--role partner needs --partner", hint="e.g. --role partner --partner acme")
    if ttl <= 0:
        raise UserError(f"--ttl {ttl}: a lifetime is a positive number of seconds")
    typer.echo(mint(role=role, team=team, partner=partner, subject=subject, ttl=ttl, groups=group))


@compliance_app.command("preview")
def compliance_preview(
    policy: str,
    api: Annotated[bool, typer.Option("--api", help="Ask the platform API instead of reading KUBECONFIG's cluster.")]
    = False,
    output: OutputOption = Format.table, url: UrlOption = None, token: TokenOption = None,
) -> None:
    """Show which objects, teams and channels POLICY would refuse in enforce mode."""
    if api:
        api_compliance.preview_api(policy, output, url, token)
        return
    from finplane.commands.compliance import preview

    raise typer.Exit(preview(policy))


def main() -> None:
    try:
        app()
    except UserError as exc:
        typer.echo(exc.line(), err=True)
        raise SystemExit(int(exc.code)) from None
    except KubeconfigError as exc:  # no usable kubeconfig for a cluster command (`finplane operator`, `evidence`)
        typer.echo(UserError(str(exc), hint="point KUBECONFIG at your cluster's kubeconfig").line(), err=True)
        raise SystemExit(int(ExitCode.USAGE)) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
