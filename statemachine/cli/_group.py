"""The ``orderfsm`` group: its help (with every exit status and how to turn on shell
completion), ``--version``, and its commands, one module each under
:mod:`statemachine.cli._commands`."""

from __future__ import annotations

import textwrap
from typing import Final

import click

from ..declaration._definition import load_definitions, resolve
from ..errors import InvalidInput
from ._codes import ExitCode
from ._commands.apply import apply_cmd
from ._commands.check_log import check_log_cmd
from ._commands.definitions import definitions
from ._commands.demo import demo
from ._commands.diagram import diagram
from ._commands.import_ import import_cmd
from ._commands.migrate import migrate_cmd
from ._commands.outbox import outbox
from ._commands.rules import rules
from ._commands.serve import serve
from ._commands.show import show
from ._commands.sweep import sweep
from ._context import Invocation

__all__ = ["COMPLETE_VAR", "cli"]

COMPLETE_VAR: Final = "_ORDERFSM_COMPLETE"
"""The environment variable of click's shell completion."""


def _epilog() -> str:
    """Every exit status and its meaning (:class:`ExitCode`), then shell completion."""
    codes = "\n".join(
        textwrap.fill(
            code.meaning.replace("`", ""),
            78,
            initial_indent=f"  {code.value:>3}  ",
            subsequent_indent=" " * 7,
            break_on_hyphens=False,
        )
        for code in ExitCode
    )
    return (
        "\b\nExit status:\n"
        f"{codes}\n\n"
        "\b\nShell completion (bash; zsh_source and fish_source for the others):\n"
        f'  eval "$({COMPLETE_VAR}=bash_source orderfsm)"'
    )


@click.group(
    invoke_without_command=True,
    epilog=_epilog(),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="order-statemachine", prog_name="orderfsm")
@click.option(
    "--definitions",
    "definitions_module",
    metavar="MODULE",
    envvar="ORDERFSM_DEFINITIONS",
    help="Register the definitions of the order machine MODULE declares (a dotted module "
    "name, several separated by commas; like statemachine.examples.risk_hold). Default: "
    "ORDERFSM_DEFINITIONS.",
)
@click.option(
    "--new-orders",
    metavar="VERSION",
    envvar="ORDERFSM_NEW_ORDERS",
    help="The version orders created by apply and import run under (default: orders@1; "
    "ORDERFSM_NEW_ORDERS).",
)
@click.pass_context
def cli(ctx: click.Context, definitions_module: str | None, new_orders: str | None) -> ExitCode:
    """Operate dropshipping orders kept in a store, by the rules R1 to R16.

    Start with `orderfsm demo`: the seed's stories end to end through a SQLite file. The store
    is --db PATH (SQLite) or --dsn URL (PostgreSQL), or the environment's ORDERFSM_DB. Times
    are ISO 8601 with their offset (2026-03-02T10:00:00+08:00); amounts are decimal strings.
    """
    invocation = ctx.ensure_object(Invocation)
    try:
        if definitions_module:
            load_definitions(definitions_module)
        if new_orders and new_orders.strip():
            invocation.new_orders = resolve(new_orders.strip(), "--new-orders").key
    except InvalidInput as exc:
        said = (
            exc.message
            if exc.field == "--new-orders"
            else f"--definitions (or ORDERFSM_DEFINITIONS): {exc.message}"
        )
        raise click.UsageError(said) from None
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
    return ExitCode.OK


for _command in (
    demo,
    apply_cmd,
    import_cmd,
    show,
    sweep,
    outbox,
    diagram,
    rules,
    definitions,
    migrate_cmd,
    check_log_cmd,
    serve,
):
    cli.add_command(_command)
