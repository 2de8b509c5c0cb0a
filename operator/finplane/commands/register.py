"""`finplane evidence register --as-of DATE`: the DORA register of information on ICT third-party arrangements.

Reads the TenantSandboxes, BusinessCapabilities and Channels from a cluster (`--kubeconfig`) or from
manifest files (`-f`, as `kubectl get -o yaml` writes them), and writes one row per partner sandbox
that started on or before the date (ended ones included, with their end date) as CSV or JSON, to
stdout or `--out`. The rows come from `finplane.render.dora_register`, as the platform API's
`GET /api/v1/register` does. Exit 2 for a date that does not parse. Registered under `finplane
evidence` by `finplane.cli`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
import yaml

__all__ = ["read_files", "register", "register_command"]

Obj = dict[str, Any]
API = "finplane.io/v1alpha1"


def read_files(paths: list[Path]) -> list[Obj]:
    """Every object in the YAML files (documents and `List` items)."""
    out: list[Obj] = []
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict):
                out.extend(doc.get("items") or [] if doc.get("kind", "").endswith("List") else [doc])
    return out


async def _from_cluster(kubeconfig: Path) -> list[Obj]:
    from finplane.kube.client import Kube

    kube = await Kube.from_config(kubeconfig=str(kubeconfig))
    try:
        out: list[Obj] = []
        for kind in ("TenantSandbox", "BusinessCapability", "Channel"):
            for obj in await kube.list(API, kind, None):
                obj.setdefault("kind", kind)
                out.append(obj)
        return out
    finally:
        await kube.close()


def register(objects: list[Obj], *, as_of: str, fmt: Literal["csv", "json"]) -> str:
    """The register as text; ValueError for an as-of date that does not parse."""
    from finplane.render.dora_register import as_csv, parse_as_of, register_rows

    moment = parse_as_of(as_of)
    by_kind: dict[str, list[Obj]] = {}
    for obj in objects:
        by_kind.setdefault(str(obj.get("kind")), []).append(obj)
    caps = {(str(c["metadata"].get("namespace", "")), str(c["metadata"]["name"])): c
            for c in by_kind.get("BusinessCapability", [])}
    rows = register_rows(sandboxes=by_kind.get("TenantSandbox", []), capabilities=caps,
                         channels=by_kind.get("Channel", []), as_of=moment)
    if fmt == "csv":
        return as_csv(rows)
    return json.dumps({"asOf": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "arrangements": rows}, indent=2) + "\n"


def register_command(
    as_of: Annotated[str, typer.Option("--as-of", help="The date (YYYY-MM-DD, its end in UTC) or an ISO 8601 time.")],
    file: Annotated[list[Path] | None, typer.Option("-f", "--file", help="Manifests to read (repeatable).")] = None,
    kubeconfig: Annotated[Path | None, typer.Option(help="Read the objects from this cluster instead.")] = None,
    format: Annotated[str, typer.Option(help="csv or json.")] = "csv",
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Write the DORA register of information (ICT third-party arrangements) as of a date, as CSV or JSON."""
    if format not in ("csv", "json"):
        typer.echo(f"--format must be csv or json, not {format!r}", err=True)
        raise typer.Exit(2)
    if bool(file) == (kubeconfig is not None):
        typer.echo("give either -f FILE (repeatable) or --kubeconfig", err=True)
        raise typer.Exit(2)
    objects = read_files(file) if file else asyncio.run(_from_cluster(kubeconfig)) if kubeconfig else []
    try:
        text = register(objects, as_of=as_of, fmt="csv" if format == "csv" else "json")
    except ValueError as exc:
        typer.echo(f"--as-of {as_of!r}: {exc}", err=True)
        raise typer.Exit(2) from None
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote {out}", err=True)
