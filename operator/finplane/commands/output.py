"""How the `finplane` client prints what the platform API returned: `-o table` (default), `json` or `yaml`.

A table shows the columns its command names (each a header and a dotted path into the item); json
and yaml print the API's document unchanged, so scripts see exactly what the API sent. Called by the
`finplane.commands.api_*` subcommands.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

__all__ = ["Format", "OutputOption", "emit", "pick"]


class Format(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


OutputOption = Annotated[Format, typer.Option("-o", "--output", help="table, json or yaml.")]


def pick(item: Any, path: str) -> str:
    """The value at dotted `path` in `item`, as a table cell ('-' when absent)."""
    value = item
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, list):
        return ", ".join(json.dumps(v, sort_keys=True) if isinstance(v, dict) else str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def emit(data: Any, fmt: Format, columns: list[tuple[str, str]] | None = None) -> None:
    """Print `data` (a list of items or one document) in `fmt`; a one-document table is key/value rows."""
    if fmt is Format.json:
        typer.echo(json.dumps(data, indent=2, sort_keys=False))
        return
    if fmt is Format.yaml:
        typer.echo(yaml.safe_dump(data, sort_keys=False), nl=False)
        return
    console = Console(soft_wrap=False, width=200 if not typer.get_text_stream("stdout").isatty() else None)
    if isinstance(data, list) and columns:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for header, _ in columns:
            table.add_column(header, overflow="fold")
        for item in data:
            table.add_row(*(pick(item, path) for _, path in columns))
        console.print(table)
        if not data:
            typer.echo("(none)")
        return
    if isinstance(data, dict):
        rows = columns or [(k, k) for k in data]
        table = Table(box=None, pad_edge=False, show_header=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for header, path in rows:
            table.add_row(header, pick(data, path))
        console.print(table)
        return
    typer.echo(json.dumps(data, indent=2))
