"""``orderfsm sweep``: the clock events that are due (R12, R4) fired, once or every so often
until stopped."""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import click
from rich.console import Console
from rich.text import Text

from ..._text import printable
from ...application import sweep_all
from ...store import MAX_LIMIT, Swept
from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._options import Seconds, create_option, json_option, now_option, or_wall_clock, store_options
from .._output import emit

__all__ = ["sweep"]


@click.command("sweep")
@store_options
@create_option
@now_option("Sweep as of TIME (ISO 8601 with offset; default: the wall clock at each sweep).")
@click.option(
    "--every",
    type=Seconds(min=0.01, max=7 * 86400),
    metavar="SECONDS",
    help="Sweep again every SECONDS until interrupted (Ctrl-C stops cleanly between sweeps).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIMIT),
    default=100,
    show_default=True,
    help="Orders fired per transaction; a sweep runs transactions until nothing is due.",
)
@json_option("One JSON object per sweep: its time, the store's Swept.to_dict() (applied, skipped).")
@pass_invocation
def sweep(
    invocation: Invocation, now: dt.datetime | None, every: float | None, limit: int
) -> ExitCode:
    """Fire the clock events that are due: R12 and R4.

    Prints each event fired (order, event, from -> to) and each due order passed over (a
    corrupt row, or an order whose last event is dated after TIME). With --every, sweeps
    again and again; Ctrl-C (or SIGTERM) stops it between two sweeps, with exit status 0. The
    exit status is 1 when a corrupt order was passed over.
    """
    if every is not None and now is not None:
        raise click.UsageError(
            "--now fixes the time of one sweep; --every sweeps at the wall clock"
        )
    console = invocation.console
    corrupt = False
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    with (
        invocation.open_store() as store,
        _stop_on_signals(on_signal, every is not None),
    ):
        sweeps = 0
        while True:
            when = or_wall_clock(now)
            swept = sweep_all(store, when, limit)
            sweeps += 1
            corrupt |= any(s.reason == "corrupt" for s in swept.skipped)
            _print_sweep(console, swept, when, invocation.json)
            if every is None or stop.wait(every):
                break
        if every is not None:
            print(
                f"orderfsm sweep: stopped after {sweeps} sweep{'s' if sweeps != 1 else ''}",
                file=sys.stderr,
            )
    return ExitCode.FINDINGS if corrupt else ExitCode.OK


@contextlib.contextmanager
def _stop_on_signals(handler: Callable[[int, FrameType | None], None], on: bool) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM call ``handler`` (when ``on``)."""
    if not on:
        yield
        return
    saved = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def _print_sweep(console: Console, swept: Swept, now: dt.datetime, as_json: bool) -> None:
    if as_json:
        emit({"now": now.isoformat(), **swept.to_dict()})
        return
    console.print(
        Text(
            f"sweep at {now.isoformat(timespec='seconds')}: fired {len(swept)}, passed over "
            f"{len(swept.skipped)}"
        )
    )
    for applied in swept:
        result = applied.result
        extra = [n.kind for n in result.notifications]
        tail = f" (notify {', '.join(extra)})" if extra else ""
        console.print(
            Text(
                f"  {printable(applied.order.order_id)}: {result.event} {result.source} -> "
                f"{result.dest}{tail}"
            )
        )
    for skipped in swept.skipped:
        why = "its last event is dated after this sweep (R16)"
        if skipped.error is not None:
            why = str(skipped.error)
        console.print(
            Text(
                printable(f"  {skipped.order_id}: passed over, {skipped.reason}: {why}"),
                style="yellow",
            )
        )
    sys.stdout.flush()
