"""``orderfsm diagram``: the lifecycle, or one stored order's journey, as Mermaid, DOT, SVG or
PNG."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

import click

from ...declaration._definition import resolve
from ...diagrams import journey_dot, journey_mermaid, lifecycle_dot, lifecycle_mermaid, render
from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._options import store_options

__all__ = ["diagram"]

_SUFFIXES: Final = {".mmd": "mermaid", ".dot": "dot", ".svg": "svg", ".png": "png"}


@click.command("diagram")
@click.argument("order_id", required=False)
@store_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "svg", "png"]),
    help="Default: from -o's suffix (.mmd .dot .svg .png), else mermaid.",
)
@click.option("-o", "--output", metavar="PATH", help="Write to PATH instead of standard output.")
@click.option(
    "--definition",
    metavar="VERSION",
    help="The lifecycle of this registered version (default: orders@1); a journey is drawn in "
    "the order's own.",
)
@pass_invocation
def diagram(
    invocation: Invocation,
    order_id: str | None,
    fmt: str | None,
    output: str | None,
    definition: str | None,
) -> ExitCode:
    """Draw the lifecycle, or an order's journey from the store.

    With ORDER_ID, the journey of that order as the store holds it.

    Mermaid and DOT are text and need no program; SVG and PNG need Graphviz's dot (exit 5
    when it is missing, naming how to install it). A journey numbers the transitions the
    order took and fills its current state.
    """
    if fmt is None:
        fmt = _SUFFIXES.get(Path(output).suffix.lower(), "mermaid") if output else "mermaid"
    if fmt == "png" and output is None and sys.stdout.isatty():
        raise click.UsageError("PNG is binary: write it to a file with -o PATH")
    if order_id is None:
        if invocation.names_store:
            raise click.UsageError("--db and --dsn name the store of ORDER_ID; give one")
        table = None if definition is None else resolve(definition, "--definition").table
        mermaid, dot = lifecycle_mermaid(table=table), lifecycle_dot(table=table)
    else:
        if definition is not None:
            raise click.UsageError("a journey is drawn in the order's own version: no --definition")
        with invocation.open_store() as store:
            order = store.get(order_id)
        mermaid, dot = journey_mermaid(order), journey_dot(order)
    data: bytes
    if fmt == "mermaid":
        data = mermaid.encode("utf-8")
    elif fmt == "dot":
        data = dot.encode("utf-8")
    else:
        data = render(dot, "svg" if fmt == "svg" else "png")
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        Path(output).write_bytes(data)
    return ExitCode.OK
