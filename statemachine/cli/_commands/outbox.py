"""``orderfsm outbox``: the notifications waiting for delivery, acknowledging them, the dead
letters, a notification's tries, and sending dead letters again."""

from __future__ import annotations

from collections.abc import Sequence

import click
from rich.text import Text

from ..._text import printable
from ...application import redeliver
from ...errors import InvalidInput
from ...store import MAX_LIMIT, DeliveryState, OrderStore
from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._options import json_option, store_options
from .._output import emit, item, say

__all__ = ["outbox"]

_ID = click.IntRange(1, 2**63 - 1)


@click.command("outbox")
@store_options
@click.option("--ack", is_flag=True, help="Mark the notifications listed as delivered.")
@click.option("--dead", is_flag=True, help="List the dead letters instead, newest first.")
@click.option("--tries", type=_ID, metavar="ID", help="Show every try of notification ID.")
@click.option(
    "--redeliver",
    type=_ID,
    metavar="ID",
    multiple=True,
    help="Send dead letter ID again (repeatable); its count of tries starts over.",
)
@click.option("--all-dead", is_flag=True, help="Send every dead letter again.")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIMIT),
    default=100,
    show_default=True,
    help="At most this many, oldest first.",
)
@json_option(
    'One JSON document: {"items": [OutboxItem.to_dict(), ...], "acked": N}; with --dead '
    '{"dead": [...]}, --tries {"notification": ..., "tries": [...]}, --redeliver or '
    '--all-dead {"redelivered": N, "refused": [{"id": ID, "standing": ...}]}.'
)
@pass_invocation
def outbox(
    invocation: Invocation,
    ack: bool,
    dead: bool,
    tries: int | None,
    redeliver: tuple[int, ...],
    all_dead: bool,
    limit: int,
) -> ExitCode:
    """List the notifications waiting for delivery, oldest first.

    With --ack, the ones listed are marked delivered afterwards (a relay that has sent them
    acknowledges them so; each notification is queued exactly once). --dead lists the dead
    letters (the relay gave up on them), --tries ID shows every try of one notification
    (when, the answer), and --redeliver ID or --all-dead sends dead letters again: the relay
    tries them anew, their tries so far kept. Naming one that is not a dead letter, or no
    notification at all, is reported and left as it is (exit 1).
    """
    chosen = [n for n, on in (("--ack", ack), ("--dead", dead), ("--tries", tries is not None),
              ("--redeliver", bool(redeliver)), ("--all-dead", all_dead)) if on]  # fmt: skip
    if len(chosen) > 1:
        raise click.UsageError(f"give one of {', '.join(chosen)}, not several")
    with invocation.open_store() as store:
        if dead:
            return _dead(invocation, store, limit)
        if tries is not None:
            return _tries(invocation, store, tries)
        if redeliver or all_dead:
            return _redeliver(invocation, store, None if all_dead else redeliver)
        items = store.outbox(limit)
        acked = store.ack([item.id for item in items]) if ack and items else 0
        dead_count = 0 if items else store.dead_letter_count()  # type: ignore[attr-defined]
    if invocation.json:
        emit({"items": [item.to_dict() for item in items], "acked": acked})
        return ExitCode.OK
    console = invocation.console
    if not items:
        tail = (
            f"; {dead_count} dead letter{'s' if dead_count != 1 else ''} (orderfsm outbox --dead)"
            if dead_count
            else ""
        )
        console.print(Text(f"the outbox is empty{tail}"))
        return ExitCode.OK
    for waiting in items:
        n = waiting.notification
        head = f"#{waiting.id} {waiting.order_id}: {n.kind} by {n.channel} ({n.rule})"
        item(console, f"{n.at:%Y-%m-%d %H:%M%z}", head, n.message)
    tail = f"; acknowledged {acked}" if ack else ""
    console.print(Text(f"{len(items)} waiting{tail}"))
    return ExitCode.OK


def _dead(invocation: Invocation, store: OrderStore, limit: int) -> ExitCode:
    letters = store.dead_letters(limit)  # type: ignore[attr-defined]
    if invocation.json:
        emit({"dead": [letter.to_dict() for letter in letters]})
        return ExitCode.OK
    console = invocation.console
    for letter in letters:
        head = f"#{letter.notification_id} {letter.order_id}: {letter.attempts} tries"
        item(console, f"{letter.updated_at:%Y-%m-%d %H:%M%z}", head, letter.last_error or "")
    console.print(Text(f"{len(letters)} dead letter{'s' if len(letters) != 1 else ''}"))
    return ExitCode.OK


def _tries(invocation: Invocation, store: OrderStore, notification_id: int) -> ExitCode:
    state: DeliveryState | None = store.delivery_state(notification_id)  # type: ignore[attr-defined]
    if state is None:
        raise InvalidInput(f"no notification {notification_id} is stored", field="--tries")
    kept = store.tries(notification_id)  # type: ignore[attr-defined]
    if invocation.json:
        emit({"notification": state.to_dict(), "tries": [t.to_dict() for t in kept]})
        return ExitCode.OK
    console = invocation.console
    say(console, _standing(state), style="bold")
    for number, one in enumerate(kept, start=1):
        mark = "sent" if one.delivered else "failed"
        when = f"{one.at:%Y-%m-%d %H:%M:%S%z}"
        console.print(Text(f"  {number:>3}  {when}  {mark}: {printable(one.answer)}"))
    if not kept:
        console.print(Text("  no try kept (tries before schema 4 were only counted)"))
    return ExitCode.OK


def _standing(state: DeliveryState) -> str:
    text = (
        f"#{state.notification_id} {state.order_id}: {state.standing}, "
        f"{state.attempts} tr{'y' if state.attempts == 1 else 'ies'}"
    )
    if state.next_attempt_at is not None:
        text += f", next try {state.next_attempt_at:%Y-%m-%d %H:%M:%S%z}"
    if state.last_answer:
        text += f"; last: {state.last_answer}"
    return text


def _redeliver(invocation: Invocation, store: OrderStore, ids: Sequence[int] | None) -> ExitCode:
    refused: list[dict[str, object]] = []
    if ids is not None:
        for nid in dict.fromkeys(ids):
            state = store.delivery_state(nid)  # type: ignore[attr-defined]
            if state is None or state.standing != "dead":
                refused.append({"id": nid, "standing": None if state is None else state.standing})
        ids = [nid for nid in dict.fromkeys(ids) if nid not in {r["id"] for r in refused}]
    count = redeliver(store, ids) if ids is None or ids else 0
    if invocation.json:
        emit({"redelivered": count, "refused": refused})
    else:
        console = invocation.console
        for one in refused:
            why = "no such notification" if one["standing"] is None else f"{one['standing']}"
            console.print(Text(f"#{one['id']}: {why}, not a dead letter; left as it is",
                               style="red"))  # fmt: skip
        console.print(Text(f"sent again: {count} dead letter{'s' if count != 1 else ''}"))
    return ExitCode.FINDINGS if refused else ExitCode.OK
