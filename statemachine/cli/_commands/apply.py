"""``orderfsm apply``: JSON lines of orders and events, one transaction each, every line that
is not applied reported by its number while the rest goes on."""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from types import FrameType
from typing import Any, Literal

import attrs
import click
from rich.console import Console
from rich.text import Text

from ...application import Actor, EventRequest, NewOrder, create, fire
from ...declaration._records import FireResult
from ...errors import EventRejected, InvalidInput, OrderError, OrderExists, RequestError
from ...store import OrderStore
from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._input import opened_input, progress
from .._lines import named, parse_line, read_lines
from .._options import Seconds, actor_option, create_option, json_option, store_options
from .._output import emit, say
from .._store import SOURCE, opened

__all__ = ["apply_cmd"]

Kind = Literal["applied", "duplicate", "rejected", "invalid"]


@attrs.frozen
class _Outcome:
    """What became of one line of ``orderfsm apply``."""

    line: int
    kind: Kind
    order_id: str | None = None
    event: str | None = None
    result: FireResult | None = None
    version: int | None = None
    seq: int | None = None
    state: str | None = None
    error: OrderError | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "outcome": self.kind,
            "order_id": self.order_id,
            "event": self.event,
            "state": self.state,
            "version": self.version,
            "seq": self.seq,
            "result": None if self.result is None else self.result.to_dict(),
            "error": None if self.error is None else self.error.to_dict(),
        }

    def text(self) -> str:
        head = f"line {self.line}:"
        who = " ".join(x for x in (self.order_id, self.event) if x)
        if who:
            head += f" {who}"
        if self.kind == "rejected" and isinstance(self.error, EventRejected):
            rule = self.error.rule or "the table (no rule)"
            return f"{head} rejected by {rule} ({self.error.kind}): {self.error.message}"
        if self.error is not None:
            return f"{head} invalid: {self.error.message}"
        if self.kind == "duplicate":
            return f"{head} duplicate: {self.note}; nothing written"
        return f"{head}: {self.note}"


@click.command("apply")
@click.argument("events", metavar="EVENTS.jsonl")
@store_options
@create_option
@click.option("-v", "--verbose", is_flag=True, help="Report the lines applied too.")
@click.option(
    "--max-skew",
    type=Seconds(min=0, min_open=True, max=10 * 366 * 86400),
    metavar="SECONDS",
    help="Refuse an event dated more than SECONDS after this machine's clock (a mistyped "
    "date), as the service does; off unless given.",
)
@actor_option
@json_option(
    "One JSON object per line (outcome, the result's to_dict(), the error's to_dict()), "
    'then {"summary": ...}.'
)
@pass_invocation
def apply_cmd(
    invocation: Invocation, events: str, verbose: bool, max_skew: float | None, actor: str
) -> ExitCode:
    """Apply JSON lines of orders and events, one transaction each.

    EVENTS.jsonl (`-` for standard input) holds one JSON object per line: an order to create,
    {"kind": "create", "order_id", "amount", "currency", "paid_at"}, or an event, {"order_id",
    "event", "at", "event_id" (optional), ...data} with the event's data at the top level
    ("tracking_number", "reason", "amount", "listing_altered"). Amounts are decimal strings;
    a JSON number is read exactly as written (12.30 is 12.30, never a float).

    Duplicates (R15: an event id already applied, an order already created with the same
    data), refusals (with the rule and its kind: state, data or time), unknown orders and
    malformed lines are reported with their line number, and the rest goes on. The last line
    is `applied N, duplicate N, rejected N, invalid N`; the exit status is 0 only when nothing
    was rejected or invalid, 1 otherwise. A store fault (a corrupt order, a store that does not
    answer, a lock held too long) stops the run at its line with status 4; the lines before it
    stay applied as reported. With --max-skew, an event dated further ahead of this machine's
    clock is refused (invalid, kind time), as the service refuses it. Ctrl-C lets the line in
    hand finish, prints the summary so far and the line it stopped after, and exits with
    status 130. Each event is logged with --actor (default: this system user) as who sent it.
    """
    ref = invocation.store_ref()  # a store named twice or not at all: before the file is read
    counts: Counter[str] = Counter({"applied": 0, "duplicate": 0, "rejected": 0, "invalid": 0})
    console = invocation.console
    as_json = invocation.json
    last = done = 0
    stop = _Interrupt()
    skew = None if max_skew is None else dt.timedelta(seconds=max_skew)
    who = Actor(actor, "write")  # the operator at the command line may do everything
    with (
        opened_input(events) as (stream, size),
        opened(ref, create=invocation.create) as store,
        stop.on_sigint(),
    ):
        try:
            with progress("applying", size) as advance:
                for number, text, length in read_lines(stream):
                    last = number
                    with stop.holding():  # Ctrl-C lets the line in hand finish first
                        outcome = _apply_line(store, number, text, skew, who, invocation.new_orders)
                        counts[outcome.kind] += 1
                        if as_json:
                            emit(outcome.to_dict())
                        elif verbose or outcome.kind != "applied":
                            style = {"rejected": "red", "invalid": "red", "duplicate": "yellow"}
                            say(console, outcome.text(), style=style.get(outcome.kind, ""), hang=2)
                        done = number
                    advance(length)
        except OrderError:
            _summary(console, counts, as_json)
            print(f"orderfsm apply: stopped at line {last}; the lines before it were "
                  "applied as reported", file=sys.stderr)  # fmt: skip
            raise
        except KeyboardInterrupt:
            _summary(console, counts, as_json)
            print(f"orderfsm apply: interrupted after line {done}; the lines up to it were "
                  "applied as reported, the rest were not read", file=sys.stderr)  # fmt: skip
            return ExitCode.INTERRUPTED
    _summary(console, counts, as_json)
    return ExitCode.FINDINGS if counts["rejected"] or counts["invalid"] else ExitCode.OK


class _Interrupt:
    """Ctrl-C during ``apply``: while a line is in hand (:meth:`holding`), the line finishes,
    is reported, and the run stops after it; between lines (waiting for input), at once. A
    second Ctrl-C stops at once too."""

    def __init__(self) -> None:
        self.busy = False
        self.asked = False

    @contextlib.contextmanager
    def on_sigint(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():  # pragma: no cover
            yield
            return
        saved = signal.signal(signal.SIGINT, self._handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, saved)

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        self.busy = True
        try:
            yield
        finally:
            self.busy = False
        if self.asked:
            raise KeyboardInterrupt

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.busy and not self.asked:
            self.asked = True
            return
        raise KeyboardInterrupt


def _apply_line(
    store: OrderStore,
    number: int,
    text: str | None,
    skew: dt.timedelta | None,
    actor: Actor,
    definition: str | None = None,
) -> _Outcome:
    """Apply one line in its own transaction; what became of it. Never raises for the line's
    own faults (a request error: an unknown order too); a store fault stops the run."""
    if text is None:
        return _Outcome(number, "invalid", error=InvalidInput("not UTF-8 text", field="line"))
    try:
        request = parse_line(number, text)
    except InvalidInput as exc:
        return _Outcome(number, "invalid", *named(text), error=exc)
    if isinstance(request, NewOrder):
        return _create(store, number, request, skew, actor, definition)
    return _fire(store, number, request, skew, actor)


def _fire(
    store: OrderStore,
    number: int,
    request: EventRequest,
    skew: dt.timedelta | None,
    actor: Actor,
) -> _Outcome:
    oid, event = request.order_id, request.event
    now = None if skew is None else dt.datetime.now(dt.UTC)  # the command line's own clock
    try:
        fired = fire(store, request, source=SOURCE, now=now, max_skew=skew, actor=actor)
    except EventRejected as exc:
        return _Outcome(number, "rejected", oid, event, state=exc.state, error=exc)
    except RequestError as exc:
        return _Outcome(number, "invalid", oid, event, error=exc)
    applied, result = fired.applied, fired.result  # a replay: what the event did the first time
    if fired.replay:
        note = f"event id {result.event_id} is log entry {applied.seq} already (R15)"
        kind: Kind = "duplicate"
    else:
        note = f"{result.source} -> {result.dest}"
        extra = [n.kind for n in result.notifications] + [i.kind for i in result.incidents]
        if extra:
            note += f" ({', '.join(extra)})"
        kind = "applied"
    return _Outcome(
        number,
        kind,
        oid,
        event,
        result,
        applied.version,
        applied.seq,
        applied.order.state,
        note=note,
    )


def _create(
    store: OrderStore,
    number: int,
    request: NewOrder,
    skew: dt.timedelta | None,
    actor: Actor,
    definition: str | None,
) -> _Outcome:
    oid = request.order_id
    now = None if skew is None else dt.datetime.now(dt.UTC)  # the command line's own clock
    try:
        created = create(
            store,
            request,
            source=SOURCE,
            now=now,
            max_skew=skew,
            actor=actor,
            definition=definition,
        )
    except (OrderExists, InvalidInput) as exc:
        return _Outcome(number, "invalid", oid, "create", error=exc)
    order = created.order
    if created.replay:
        note = "the order is stored already, with the same amount and payment time"
        return _Outcome(number, "duplicate", oid, "create", state=order.state, note=note)
    return _Outcome(
        number,
        "applied",
        oid,
        "create",
        version=1,
        state=order.state,
        note=f"-> {order.state} ({order.amount} {order.currency})",
    )


def _summary(console: Console, counts: Counter[str], as_json: bool) -> None:
    if as_json:
        emit({"summary": dict(counts)})
        return
    console.print(
        Text(
            f"applied {counts['applied']}, duplicate {counts['duplicate']}, "
            f"rejected {counts['rejected']}, invalid {counts['invalid']}"
        )
    )
