"""``orderfsm show``: one order as the store holds it, and what may happen to it next."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..._text import printable
from ...application import show as show_order
from ...declaration._definition import event_spec
from ...errors import EventRejected
from ...runtime._order import Order
from ...store import LogEntry
from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._options import json_option, now_option, or_wall_clock, store_options
from .._output import emit, item, local, table

__all__ = ["show"]


@click.command("show")
@click.argument("order_id")
@store_options
@now_option("Judge the allowed events at TIME (ISO 8601 with offset; default: now).")
@json_option(
    "One JSON document: the order's to_dict(), its version, its log entries, the events "
    "allowed at TIME and the refusals of the others."
)
@pass_invocation
def show(invocation: Invocation, order_id: str, now: dt.datetime | None) -> ExitCode:
    """One order: state, money, deadlines, timeline, what may follow.

    State, amounts, deadlines, ledgers, the timeline, and what may happen at TIME.

    Deadlines and times are in the supplier's time zone (the order's policy). The events
    allowed at TIME are those the state and the time-based guards admit; for every other
    event, the refusal says why: the rule, its kind (state, data or time) and the facts.
    """
    when = or_wall_clock(now)
    with invocation.open_store() as store:
        shown = show_order(store, order_id)
    order, log = shown.order, shown.history
    allowed = order.allowed_events(when)
    refused = order.refusals(when)
    if invocation.json:
        emit(
            {
                "order": order.to_dict(),
                "version": shown.version,
                "now": when.isoformat(),
                "allowed": list(allowed),
                "refused": {event: error.to_dict() for event, error in refused.items()},
                "log": [entry.to_dict() for entry in log],
            }
        )
        return ExitCode.OK
    console = invocation.console
    console.print(
        Text.assemble(
            (printable(order.order_id), "bold"),
            f": {order.state}, {order.amount} {order.currency}, version {shown.version}",
        )
    )
    console.print(_facts(order))
    for warning in order.warnings:
        console.print(Text(f"warning: {warning.message}", style="yellow"))
    console.print(_timeline(log, order.policy.timezone))
    _print_notes(console, order)
    if order.refunds or order.customer_refunds:
        console.print(_ledgers(order))
    console.print(
        Text.assemble(
            (f"At {local(when, order.policy.timezone)}: ", "bold"),
            "allowed: " + (", ".join(allowed) if allowed else "nothing"),
        )
    )
    if refused:
        console.print(_refusals(order, refused))
    return ExitCode.OK


def _facts(order: Order) -> Table:
    """The order's money and deadlines, one fact a row, in the supplier's time."""
    zone = order.policy.timezone
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_row("paid at", local(order.paid_at, zone))
    facts.add_row("dispatch due by", f"{local(order.dispatch_deadline, zone)} (R1)")
    if order.dispatched_at is not None:
        shipped = local(order.dispatched_at, zone)
        tracking = printable(str(order.tracking_number))
        facts.add_row("dispatched at", f"{shipped}, tracking {tracking}")
    if order.delivered_at is not None:
        facts.add_row("delivered at", local(order.delivered_at, zone))
    if order.claim_deadline is not None:
        facts.add_row("claims until", f"{local(order.claim_deadline, zone)} (R13)")
    pending = order.pending_refund
    if pending is not None:
        text = (
            f"{pending.amount} {order.currency} ({pending.reason}), funded by the {pending.blame}"
        )
        facts.add_row("refund pending", text + " (R9)")
        if pending.repayment_deadline is not None:
            escalated = ", escalated (R4)" if pending.overdue_escalated else ""
            facts.add_row(
                "repayment",
                f"from {pending.repayment_earliest}, by "
                f"{local(pending.repayment_deadline, zone)} (R4){escalated}",
            )
    facts.add_row(
        "refunded so far",
        f"{order.refunded_total} of {order.amount} {order.currency} (R11); customer paid back "
        f"{order.customer_refunded_total}",
    )
    facts.add_row("times in", zone)
    return facts


def _timeline(log: Sequence[LogEntry], zone: str) -> Table:
    """The order's log entries: when, what, from which state to which, sent by whom."""
    timeline = table("Timeline")
    timeline.add_column("#", no_wrap=True, justify="right")
    timeline.add_column("time", no_wrap=True)
    timeline.add_column("event", no_wrap=True)
    timeline.add_column("from -> to")
    timeline.add_column("sent by", overflow="fold")
    timeline.add_column("event id, data", overflow="fold")
    for entry in log:
        spec = event_spec(entry.event)
        own = entry.data.keys() if spec is None else spec.param_names  # a migration: all
        data = [f"{k}={printable(str(v))}" for k, v in entry.data.items() if k in own]
        if entry.event_id is not None:
            data.insert(0, f"id {printable(entry.event_id)}")
        timeline.add_row(
            str(entry.seq),
            local(entry.at, zone),
            entry.event,
            f"{entry.from_state} -> {entry.to_state}",
            printable(_who(entry.source, entry.actor, entry.note)),
            ", ".join(data) or "-",
        )
    return timeline


def _who(source: str | None, actor: str | None, note: str | None) -> str:
    """Who sent an event: the credential or person, where from, and the note they gave."""
    text = actor if actor else (source or "-")
    if actor and source:
        text += f" ({source})"
    return f"{text}: {note}" if note else text


def _print_notes(console: Console, order: Order) -> None:
    """The order's notifications and incidents, when it has any."""
    if not (order.notifications or order.incidents):
        return
    zone = order.policy.timezone
    console.print(Text("Notifications and incidents", style="italic"))
    for n in order.notifications:
        head = f"notify {n.channel}: {n.kind} ({n.rule})"
        item(console, local(n.at, zone), head, n.message)
    for i in order.incidents:
        item(console, local(i.at, zone), f"incident: {i.kind} ({i.rule})", i.detail)
    console.print()


def _ledgers(order: Order) -> Table:
    """The refunds and the customer's repayments (R11)."""
    zone = order.policy.timezone
    ledger = table("Ledgers (R11)")
    for column in ("time", "ledger", "amount", "reason", "funded by", "event id"):
        ledger.add_column(column, no_wrap=True)
    for book, entries in (("refund", order.refunds), ("to customer", order.customer_refunds)):
        for e in entries:
            ledger.add_row(
                local(e.at, zone),
                book,
                f"{e.amount} {order.currency}",
                e.reason,
                e.blame,
                printable(e.event_id or "-"),
            )
    return ledger


def _refusals(order: Order, refused: Mapping[str, EventRejected]) -> Table:
    """Each event refused at that time and why; the events the state has no row for, at once."""
    why = table("Refused at that time, and why")
    why.add_column("event", no_wrap=True)
    why.add_column("rule", no_wrap=True)
    why.add_column("kind", no_wrap=True)
    why.add_column("why", overflow="fold")
    untaken = [e for e, err in refused.items() if err.rule is None and err.kind == "state"]
    for event, error in refused.items():
        if event not in untaken:
            why.add_row(event, error.rule or "-", error.kind, printable(error.message))
    if untaken:
        why.add_row(
            "\n".join(untaken),
            "-",
            "state",
            f"{order.state} has no row for these events in the table; no rule is needed to "
            "refuse them",
        )
    return why
