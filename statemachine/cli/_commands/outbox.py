"""``orderfsm outbox``: the notifications waiting for delivery, and acknowledging them."""

from __future__ import annotations

import click
from rich.text import Text

from ...store import MAX_LIMIT
from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._options import json_option, store_options
from .._output import emit, item

__all__ = ["outbox"]


@click.command("outbox")
@store_options
@click.option("--ack", is_flag=True, help="Mark the notifications listed as delivered.")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIMIT),
    default=100,
    show_default=True,
    help="At most this many, oldest first.",
)
@json_option('One JSON document: {"items": [OutboxItem.to_dict(), ...], "acked": N}.')
@pass_invocation
def outbox(invocation: Invocation, ack: bool, limit: int) -> ExitCode:
    """List the notifications waiting for delivery, oldest first.

    With --ack, the ones listed are marked delivered afterwards (a relay that has sent them
    acknowledges them so; each notification is queued exactly once).
    """
    with invocation.open_store() as store:
        items = store.outbox(limit)
        acked = store.ack([item.id for item in items]) if ack and items else 0
    if invocation.json:
        emit({"items": [item.to_dict() for item in items], "acked": acked})
        return ExitCode.OK
    console = invocation.console
    if not items:
        console.print(Text("the outbox is empty"))
        return ExitCode.OK
    for waiting in items:
        n = waiting.notification
        head = f"#{waiting.id} {waiting.order_id}: {n.kind} by {n.channel} ({n.rule})"
        item(console, f"{n.at:%Y-%m-%d %H:%M%z}", head, n.message)
    tail = f"; acknowledged {acked}" if ack else ""
    console.print(Text(f"{len(items)} waiting{tail}"))
    return ExitCode.OK
