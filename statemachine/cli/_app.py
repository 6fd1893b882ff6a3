"""The ``orderfsm`` commands: click for the command line, Rich for tables and progress bars.

Each command is a thin layer over the package's public API: a store (``statemachine.store``),
an order's ``explain``/``refusals``, the diagrams, ``check_log``. Output for people goes through
Rich; ``--json`` writes the package's own JSON forms (``to_dict()``) instead, one document, or
one JSON object per line for streams. Errors reach :func:`run`, which prints one line on
standard error and returns its :class:`~statemachine.cli.ExitCode`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import sys
import tempfile
import textwrap
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any, Final, Literal, TypeVar
from zoneinfo import ZoneInfo

import attrs
import click
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from .._storeref import DB_ENV, store_in_env
from ..demo import STORIES, Step, StoryRun, run_story, write_journey
from ..diagrams import journey_dot, journey_mermaid, lifecycle_dot, lifecycle_mermaid, render
from ..errors import (
    EventRejected,
    GraphvizMissing,
    InvalidInput,
    OrderError,
    OrderExists,
    RequestError,
    StoreFault,
    StoreUnavailable,
)
from ..jsonform import to_json
from ..order import Order
from ..records import FireResult
from ..rules import RULES
from ..store import MAX_LIMIT, OrderStore, SQLiteStore, Swept
from ..table import EVENTS
from ..testing.log import check_log
from ._codes import ExitCode
from ._lines import (
    CREATE_KEYS,
    CreateLine,
    named,
    parse_line,
    parse_moment,
    parse_request,
    read_json,
    read_lines,
)
from ._trace import find_tests, trace

__all__ = ["cli", "run"]

COMPLETE_VAR: Final = "_ORDERFSM_COMPLETE"
SOURCE: Final = "orderfsm"
"""The ``source`` the store logs for the events this command line sends."""
_PIPE_WIDTH: Final = 100
"""Rich's width when the output is not a terminal and ``COLUMNS`` is not set."""


class _Settings:
    """What :func:`run` needs to know about the command that failed."""

    json_errors = False


# --------------------------------------------------------------------------------------------
# Running, and what an error becomes


def run(argv: Sequence[str] | None = None, *, prog_name: str = "orderfsm") -> int:
    """Run the command line; the exit status. Every error is one line on standard error."""
    args = list(sys.argv[1:] if argv is None else argv)
    _Settings.json_errors = False
    try:
        result = cli.main(
            args=args,
            prog_name=prog_name,
            complete_var=COMPLETE_VAR,
            standalone_mode=False,
        )
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else prog_name
        return _fail(
            prog_name,
            f"{exc.format_message()} (see '{where} --help')",
            ExitCode.USAGE,
            {"type": "UsageError", "message": exc.format_message()},
        )
    except click.ClickException as exc:
        return _fail(prog_name, exc.format_message(), exc.exit_code, None)
    except (click.Abort, KeyboardInterrupt):
        return _fail(prog_name, "interrupted", ExitCode.INTERRUPTED, None)
    except OrderError as exc:
        return _fail(prog_name, str(exc), _exit_code(exc), exc.to_dict())
    except OSError as exc:
        return _fail(prog_name, _os_message(exc), ExitCode.INPUT, {"type": type(exc).__name__})
    except Exception as exc:
        if os.environ.get("ORDERFSM_TRACEBACK"):
            raise
        message = (
            f"internal error: {type(exc).__name__}: {exc} (a bug in orderfsm; "
            "ORDERFSM_TRACEBACK=1 shows where)"
        )
        return _fail(prog_name, message, ExitCode.INTERNAL, {"type": type(exc).__name__})
    return int(result or ExitCode.OK)


def _exit_code(exc: OrderError) -> ExitCode:
    """The exit status an error of the package means, by its branch: a store
    fault is the operator's (4), a request error the input's (3; a refusal is a finding, 1)."""
    if isinstance(exc, StoreFault):
        return ExitCode.STORE
    if isinstance(exc, GraphvizMissing):
        return ExitCode.MISSING
    if isinstance(exc, RequestError) and not isinstance(exc, EventRejected):
        return ExitCode.INPUT
    return ExitCode.FINDINGS


def _os_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__


def _fail(prog_name: str, message: str, code: int, data: dict[str, Any] | None) -> int:
    """Print the one line an error is on standard error; its exit status."""
    line = " ".join(message.split())
    if _Settings.json_errors:
        error = dict(data or {"type": "Error"})
        error["message"] = line
        print(json.dumps({"error": error, "exit": int(code)}, ensure_ascii=False), file=sys.stderr)
    else:
        print(f"{prog_name}: error: {line}", file=sys.stderr)
    return code


# --------------------------------------------------------------------------------------------
# Output


def _console(*, stderr: bool = False) -> Console:
    """A Rich console on standard output (or error): colours and the terminal's width on a
    terminal, plain text 100 columns wide (or ``COLUMNS``) elsewhere."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and not os.environ.get("COLUMNS", "").isdigit():
        width = _PIPE_WIDTH
    return Console(stderr=stderr, highlight=False, width=width)


def _emit(document: object) -> None:
    """One JSON document (or one line of a JSON-lines stream) on standard output."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _local(moment: dt.datetime | None, zone: str, *, seconds: bool = False) -> str:
    """``moment`` in the supplier's time zone, to the minute."""
    if moment is None:
        return "-"
    shown = moment.astimezone(ZoneInfo(zone))
    return f"{shown:%Y-%m-%d %H:%M:%S}" if seconds else f"{shown:%Y-%m-%d %H:%M}"


@contextlib.contextmanager
def _progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error while the block runs, when standard error is a
    terminal; advance it with the function yielded (by bytes read)."""
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[lines]} lines"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        redirect_stdout=sys.stdout.isatty(),
        redirect_stderr=False,
    )
    with bar:
        task = bar.add_task(label, total=total, lines=0)

        def advance(size: int) -> None:
            bar.update(task, advance=size, lines=bar.tasks[0].fields["lines"] + 1)

        yield advance


@contextlib.contextmanager
def _input(name: str) -> Iterator[tuple[IO[bytes], int | None]]:
    """The file ``name`` (``-``: standard input), read as bytes, with its size if known."""
    if name == "-":
        yield sys.stdin.buffer, None
        return
    with open(name, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        yield stream, size or None


def _item(console: Console, when: str, head: str, body: str, style: str = "") -> None:
    """One item of a listing: its time and head on a line, its text wrapped below."""
    console.print(Text.assemble(f"  {when}  ", (head, style or "bold")))
    for part in _wrap(body, max(console.width - 4, 30)):
        console.print(Text(f"    {part}"))


def _table(title: str | None = None) -> Table:
    """A table in the house style: a rule under the header, no boxes to spend width on."""
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)


# --------------------------------------------------------------------------------------------
# Options shared by the commands


_F = TypeVar("_F", bound=Callable[..., Any])


def _json_flag(value: bool) -> bool:
    if value:
        _Settings.json_errors = True
    return value


def json_option(help_text: str) -> Callable[[_F], _F]:
    """``--json``: machine-readable output; errors become one JSON line on standard error."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help=help_text,
        callback=lambda _ctx, _param, value: _json_flag(value),
        is_eager=True,
    )


def store_options(f: _F) -> _F:
    """``--db PATH`` and ``--dsn URL``; without either, the environment's ``ORDERFSM_DB``."""
    f = click.option(
        "--dsn",
        metavar="URL",
        help="PostgreSQL store: a libpq connection string or postgresql:// URL (needs "
        "'order-statemachine[postgres]').",
    )(f)
    f = click.option(
        "--db",
        metavar="PATH",
        help=f"SQLite store: the database file. Without --db or --dsn, ${DB_ENV} (a path, or "
        "a postgresql:// URL).",
    )(f)
    return f


StoreRef = tuple[Literal["sqlite", "postgres"], str]


def _store_ref(db: str | None, dsn: str | None) -> StoreRef:
    """Which store the options (or ``ORDERFSM_DB``) name."""
    if db is not None and dsn is not None:
        raise click.UsageError("give --db PATH or --dsn URL, not both")
    if db is not None:
        return ("sqlite", db)
    if dsn is not None:
        return ("postgres", dsn)
    named = store_in_env(os.environ)
    if named is None:
        raise click.UsageError(
            f"no store: give --db PATH (SQLite) or --dsn URL (PostgreSQL), or set {DB_ENV}"
        )
    return (named.kind, named.target)


@contextlib.contextmanager
def _opened(ref: StoreRef, *, create: bool) -> Iterator[OrderStore]:
    """The store ``ref`` names, closed afterwards. A SQLite file must exist unless the
    command creates orders (``create``): reading never leaves an empty database behind."""
    kind, where = ref
    store: OrderStore
    if kind == "sqlite":
        if not create and not Path(where).exists():
            raise StoreUnavailable(
                where, "no such file (`orderfsm import`, `apply` or `demo` creates one)"
            )
        store = SQLiteStore(where)
    else:
        from ..store import PostgresStore

        try:
            store = PostgresStore(where)
        except ImportError:
            raise _Missing(
                "a PostgreSQL store needs psycopg: pip install 'order-statemachine[postgres]'"
            ) from None
    try:
        yield store
    finally:
        store.close()


class _Missing(click.ClickException):
    """A program or an extra the command needs is not installed (exit status 5)."""

    exit_code = ExitCode.MISSING


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    """``--now``: an ISO 8601 moment with its offset, or ``now`` (the wall clock)."""
    if value is None:
        return None
    if value == "now":
        return dt.datetime.now(dt.UTC)
    try:
        return parse_moment(value, "--now")
    except InvalidInput as exc:
        raise click.BadParameter(exc.message.removeprefix("--now "), ctx, param) from None


def now_option(help_text: str) -> Callable[[_F], _F]:
    """``--now TIME``: the moment a command judges at (default: the wall clock)."""
    return click.option("--now", callback=_moment, metavar="TIME", help=help_text)


def _now(value: dt.datetime | None) -> dt.datetime:
    return value if value is not None else dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------------------------
# The group


def _epilog() -> str:
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
@click.pass_context
def cli(ctx: click.Context) -> int:
    """Operate dropshipping orders kept in a store, by the rules R1 to R16.

    Start with `orderfsm demo`: the seed's stories end to end through a SQLite file. The store
    is --db PATH (SQLite) or --dsn URL (PostgreSQL), or the environment's ORDERFSM_DB. Times
    are ISO 8601 with their offset (2026-03-02T10:00:00+08:00); amounts are decimal strings.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
    return ExitCode.OK


# --------------------------------------------------------------------------------------------
# demo


@cli.command()
@click.option(
    "--db",
    metavar="PATH",
    help="A new SQLite file for the stories' orders (default: a new temporary folder).",
)
@click.option(
    "--out",
    metavar="DIR",
    help="Where the journey diagrams go (default: next to the database, PATH-journeys/).",
)
@json_option("One JSON object per story (its steps, its order's to_dict(), its diagrams).")
def demo(db: str | None, out: str | None, as_json: bool) -> int:
    """Tell the seed's eight stories end to end through a store.

    Each story sends its events to a SQLite store as the customer, the supplier, the merchant,
    the carrier or the clock would, prints a timeline (time in Shanghai, who, event, from ->
    to, the rules that decided; notifications, incidents and refusals below) and writes the
    order's journey diagram: Mermaid always, SVG when Graphviz's dot is installed. Afterwards
    the orders are still in the database: try `orderfsm show --db PATH AE-1004`.
    """
    if db is None:
        folder = Path(tempfile.mkdtemp(prefix="orderfsm-demo-"))
        path = folder / "orders.db"
        journeys = Path(out) if out is not None else folder / "journeys"
    else:
        path = Path(db)
        if path.exists() and (path.is_dir() or path.stat().st_size > 0):
            raise click.BadParameter(
                f"{db} already exists; the demo writes its orders into a new file",
                param_hint="--db",
            )
        journeys = Path(out) if out is not None else path.with_name(f"{path.stem}-journeys")
    console = _console()
    with _opened(("sqlite", str(path)), create=True) as store:
        for story in STORIES:
            told = run_story(store, story)
            written = write_journey(told.order, journeys)
            if as_json:
                _emit(_story_json(told, written))
            else:
                _print_story(console, told, written)
    if not as_json:
        _say(
            console,
            f"The stories' orders are in {path}: look at one with "
            f"`orderfsm show --db {path} AE-1004`, or at the outbox with "
            f"`orderfsm outbox --db {path}`.",
        )
    return ExitCode.OK


_WHO: Final = 8
_EVENT: Final = 29
_CHANGE: Final = 34
_INDENT: Final = 11 + 2


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` (never splitting a path or a word)."""
    lines = textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False)
    return lines or [""]


def _say(console: Console, text: str, *, style: str = "", indent: int = 0, hang: int = 0) -> None:
    """``text`` wrapped to the console's width (no trailing spaces), each line indented, the
    lines after the first by ``hang`` more."""
    first = max(console.width - indent, 20)
    lines = _wrap(text, first)
    if hang and len(lines) > 1:
        lines = [lines[0], *_wrap(" ".join(lines[1:]), max(first - hang, 20))]
    for i, part in enumerate(lines):
        pad = indent + (hang if i else 0)
        console.print(Text(" " * pad + part, style=style))


def _print_story(console: Console, told: StoryRun, written: Sequence[Path]) -> None:
    story, order = told.story, told.order
    zone = order.policy.timezone
    console.rule(Text(f"{story.number}. {story.title} ({' '.join(story.rules)})", style="bold"))
    _say(console, story.summary)
    _say(
        console,
        f"{order.order_id}: {order.amount} {order.currency} paid {_local(order.paid_at, zone)} "
        f"{zone} time; dispatch due by {_local(order.dispatch_deadline, zone)} (R1)",
    )
    console.print()
    for step in told.steps:
        _print_step(console, step, zone)
    owed = order.pending_refund
    ending = (
        f"=> {order.state}: refunded {order.refunded_total} of {order.amount} "
        f"{order.currency}, customer paid back {order.customer_refunded_total} {order.currency}"
    )
    if owed is not None:
        ending += f"; {owed.amount} {order.currency} still owed by the {owed.blame}"
    _say(console, ending, style="bold")
    _say(console, "journey: " + ", ".join(str(p) for p in written))
    console.print()


def _print_step(console: Console, step: Step, zone: str) -> None:
    """One step: a line with time, who, event, from -> to and the rules that decided, then
    what it left (details, notifications, incidents, a refusal's reason) below the event."""
    when = f"{step.at.astimezone(ZoneInfo(zone)):%m-%d %H:%M}"
    if step.outcome == "refused":
        change, style = f"refused in {step.source}", "red"
    elif step.outcome == "duplicate":
        change, style = "duplicate: nothing written", "yellow"
    elif step.outcome == "idle":
        change, style = "nothing due", "dim"
    else:
        change, style = f"{step.source} -> {step.dest}", ""
    rules = " ".join(step.rules)
    if step.refusal is not None:
        rules += f" ({step.refusal.kind})"
    line = Text(f"{when:<11}  ")
    line.append(f"{step.who:<{_WHO}} ", style="blue" if step.who == "clock" else "")
    line.append(f"{step.event:<{_EVENT}} ", style="bold")
    notes: list[tuple[str, str, str]] = []
    if rules and len(line) + _CHANGE + 1 + len(rules) > console.width:
        line.append(change, style=style)
        notes.append(("rules", rules, "cyan"))
    else:
        line.append(f"{change:<{_CHANGE}} " if rules else change, style=style)
        line.append(rules, style="cyan")
    console.print(line)
    notes += [("", detail, "") for detail in step.details]
    notes += [("notify", f"{n.kind} ({n.channel}, {n.rule})", "green") for n in step.notifications]
    notes += [("incident", f"{i.kind} ({i.rule}): {i.detail}", "magenta") for i in step.incidents]
    if step.refusal is not None:
        notes.append(("why", step.refusal.message, "red"))
    room = max(console.width - _INDENT - _WHO - 1, 30)
    for label, text, note_style in notes:
        for i, part in enumerate(_wrap(text, room)):
            note = Text(" " * _INDENT)
            note.append(f"{label if i == 0 else '':<{_WHO}} ", style=note_style)
            note.append(part, style="dim" if not label else "")
            console.print(note)


def _step_json(step: Step) -> dict[str, Any]:
    return {
        "at": step.at.isoformat(),
        "who": step.who,
        "event": step.event,
        "outcome": step.outcome,
        "from": step.source,
        "to": step.dest,
        "rules": list(step.rules),
        "event_id": step.event_id,
        "notifications": to_json(step.notifications),
        "incidents": to_json(step.incidents),
        "refusal": None if step.refusal is None else step.refusal.to_dict(),
        "details": list(step.details),
    }


def _story_json(told: StoryRun, written: Sequence[Path]) -> dict[str, Any]:
    return {
        "story": told.story.number,
        "title": told.story.title,
        "rules": list(told.story.rules),
        "order_id": told.order.order_id,
        "steps": [_step_json(step) for step in told.steps],
        "order": told.order.to_dict(),
        "journey": [str(p) for p in written],
    }


# --------------------------------------------------------------------------------------------
# apply


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


def _apply_line(store: OrderStore, number: int, text: str | None) -> _Outcome:
    """Apply one line in its own transaction; what became of it. Never raises for the line's
    own faults (a request error: an unknown order too); a store fault stops the run."""
    if text is None:
        return _Outcome(number, "invalid", error=InvalidInput("not UTF-8 text", field="line"))
    try:
        request = parse_line(number, text)
    except InvalidInput as exc:
        return _Outcome(number, "invalid", *named(text), error=exc)
    if isinstance(request, CreateLine):
        return _create(store, request)
    oid, event = request.order_id, request.event
    try:
        applied = store.apply(
            oid, event, at=request.at, event_id=request.event_id, source=SOURCE, **request.data
        )
    except EventRejected as exc:
        return _Outcome(number, "rejected", oid, event, state=exc.state, error=exc)
    except RequestError as exc:
        return _Outcome(number, "invalid", oid, event, error=exc)
    result = applied.result
    if result.duplicate:
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


def _create(store: OrderStore, request: CreateLine) -> _Outcome:
    number, oid = request.line, request.order_id
    try:
        order = request.order()
        store.add(order, source=SOURCE)
    except OrderExists as exc:
        stored = store.get(oid)
        same = (stored.amount, stored.currency, stored.paid_at) == (
            order.amount,
            order.currency,
            order.paid_at,
        )
        if same:
            note = "the order is stored already, with the same amount and payment time"
            return _Outcome(number, "duplicate", oid, "create", state=stored.state, note=note)
        return _Outcome(number, "invalid", oid, "create", error=exc)
    except InvalidInput as exc:
        return _Outcome(number, "invalid", oid, "create", error=exc)
    return _Outcome(
        number,
        "applied",
        oid,
        "create",
        version=1,
        state=order.state,
        note=f"-> {order.state} ({order.amount} {order.currency})",
    )


@cli.command("apply")
@click.argument("events", metavar="EVENTS.jsonl")
@store_options
@click.option("-v", "--verbose", is_flag=True, help="Report the lines applied too.")
@json_option(
    "One JSON object per line (outcome, the result's to_dict(), the error's to_dict()), "
    'then {"summary": ...}.'
)
def apply_cmd(events: str, db: str | None, dsn: str | None, verbose: bool, as_json: bool) -> int:
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
    stay applied as reported.
    """
    ref = _store_ref(db, dsn)
    counts: Counter[str] = Counter({"applied": 0, "duplicate": 0, "rejected": 0, "invalid": 0})
    console = _console()
    last = 0
    with _input(events) as (stream, size), _opened(ref, create=True) as store:
        try:
            with _progress("applying", size) as advance:
                for number, text, length in read_lines(stream):
                    last = number
                    outcome = _apply_line(store, number, text)
                    counts[outcome.kind] += 1
                    if as_json:
                        _emit(outcome.to_dict())
                    elif verbose or outcome.kind != "applied":
                        style = {"rejected": "red", "invalid": "red", "duplicate": "yellow"}
                        _say(console, outcome.text(), style=style.get(outcome.kind, ""), hang=2)
                    advance(length)
        except OrderError:
            _summary(console, counts, as_json)
            print(f"orderfsm apply: stopped at line {last}; the lines before it were "
                  "applied as reported", file=sys.stderr)  # fmt: skip
            raise
    _summary(console, counts, as_json)
    return ExitCode.FINDINGS if counts["rejected"] or counts["invalid"] else ExitCode.OK


def _summary(console: Console, counts: Counter[str], as_json: bool) -> None:
    if as_json:
        _emit({"summary": dict(counts)})
        return
    console.print(
        Text(
            f"applied {counts['applied']}, duplicate {counts['duplicate']}, "
            f"rejected {counts['rejected']}, invalid {counts['invalid']}"
        )
    )


# --------------------------------------------------------------------------------------------
# import


@cli.command("import")
@click.argument("orders", metavar="ORDERS.jsonl")
@store_options
@json_option('{"imported": N}, or the bad lines as {"line": N, "error": ...} objects.')
def import_cmd(orders: str, db: str | None, dsn: str | None, as_json: bool) -> int:
    """Bulk-create orders in one transaction: all of them, or none.

    ORDERS.jsonl (`-` for standard input) holds one order per line: {"order_id", "amount",
    "currency", "paid_at"} (a "kind": "create" is allowed), or an order's whole JSON form
    (`order.to_dict()`, as `orderfsm show --json` prints it under "order"), history and all.
    Every line is checked first; if any is bad, each bad line is reported and nothing is
    imported (exit 3). An order id already stored also imports nothing.
    """
    ref = _store_ref(db, dsn)
    console = _console()
    loaded: list[Order] = []
    lines: dict[str, int] = {}
    bad: list[tuple[int, OrderError]] = []
    with _input(orders) as (stream, size), _progress("reading", size) as advance:
        for number, text, length in read_lines(stream):
            advance(length)
            try:
                order = _order_of(number, text)
            except InvalidInput as refused:
                bad.append((number, refused))
                continue
            first = lines.setdefault(order.order_id, number)
            if first != number:
                bad.append(
                    (
                        number,
                        InvalidInput(
                            f"order {order.order_id!r} is given again (first on line {first})",
                            field="order_id",
                        ),
                    )
                )
                continue
            loaded.append(order)
    if bad:
        for number, exc in bad:
            if as_json:
                _emit({"line": number, "error": exc.to_dict()})
            else:
                console.print(Text(f"line {number}: invalid: {exc.message}", style="red"))
        raise InvalidInput(
            f"{len(bad)} bad line{'s' if len(bad) != 1 else ''} in {orders}; nothing was imported",
            field="line",
        )
    with _opened(ref, create=True) as store:
        try:
            count = store.add_many(loaded, source=SOURCE)
        except OrderExists as exc:
            raise InvalidInput(
                f"order {exc.order_id!r} (line {lines.get(exc.order_id, '?')}) is already "
                "stored; nothing was imported",
                field="order_id",
            ) from None
    if as_json:
        _emit({"imported": count})
    else:
        console.print(Text(f"imported {count} order{'s' if count != 1 else ''}"))
    return ExitCode.OK


def _order_of(number: int, text: str | None) -> Order:
    """The order line ``number`` of ``orderfsm import`` describes: the fields of a create
    line (its "kind" may be left out), or an order's whole JSON form."""
    if text is None:
        raise InvalidInput("not UTF-8 text", field="line")
    raw = read_json(text)
    if not isinstance(raw, dict):
        raise InvalidInput("a line is a JSON object: an order", field="line")
    if set(raw) <= CREATE_KEYS:
        request = parse_request(number, {**raw, "kind": raw.get("kind", "create")})
        if not isinstance(request, CreateLine):
            raise InvalidInput("an import line creates an order", field="kind")
        return request.order()
    return Order.from_dict(json.loads(text))


# --------------------------------------------------------------------------------------------
# show


@cli.command()
@click.argument("order_id")
@store_options
@now_option("Judge the allowed events at TIME (ISO 8601 with offset; default: now).")
@json_option(
    "One JSON document: the order's to_dict(), its version, its log entries, the events "
    "allowed at TIME and the refusals of the others."
)
def show(
    order_id: str, db: str | None, dsn: str | None, now: dt.datetime | None, as_json: bool
) -> int:
    """One order: state, money, deadlines, timeline, what may follow.

    State, amounts, deadlines, ledgers, the timeline, and what may happen at TIME.

    Deadlines and times are in the supplier's time zone (the order's policy). The events
    allowed at TIME are those the state and the time-based guards admit; for every other
    event, the refusal says why: the rule, its kind (state, data or time) and the facts.
    """
    when = _now(now)
    with _opened(_store_ref(db, dsn), create=False) as store:
        loaded = store.load(order_id)
        log = store.history(order_id)
    order = loaded.order
    allowed = order.allowed_events(when)
    refused = order.refusals(when)
    if as_json:
        _emit(
            {
                "order": order.to_dict(),
                "version": loaded.version,
                "now": when.isoformat(),
                "allowed": list(allowed),
                "refused": {event: error.to_dict() for event, error in refused.items()},
                "log": [entry.to_dict() for entry in log],
            }
        )
        return ExitCode.OK
    console = _console()
    zone = order.policy.timezone
    console.print(
        Text.assemble(
            (order.order_id, "bold"),
            f": {order.state}, {order.amount} {order.currency}, version {loaded.version}",
        )
    )
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_row("paid at", _local(order.paid_at, zone))
    facts.add_row("dispatch due by", f"{_local(order.dispatch_deadline, zone)} (R1)")
    if order.dispatched_at is not None:
        shipped = _local(order.dispatched_at, zone)
        facts.add_row("dispatched at", f"{shipped}, tracking {order.tracking_number}")
    if order.delivered_at is not None:
        facts.add_row("delivered at", _local(order.delivered_at, zone))
    if order.claim_deadline is not None:
        facts.add_row("claims until", f"{_local(order.claim_deadline, zone)} (R13)")
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
                f"{_local(pending.repayment_deadline, zone)} (R4){escalated}",
            )
    facts.add_row(
        "refunded so far",
        f"{order.refunded_total} of {order.amount} {order.currency} (R11); customer paid back "
        f"{order.customer_refunded_total}",
    )
    facts.add_row("times in", zone)
    console.print(facts)
    for warning in order.warnings:
        console.print(Text(f"warning: {warning.message}", style="yellow"))

    timeline = _table("Timeline")
    timeline.add_column("#", no_wrap=True, justify="right")
    timeline.add_column("time", no_wrap=True)
    timeline.add_column("event", no_wrap=True)
    timeline.add_column("from -> to")
    timeline.add_column("sent by", overflow="fold")
    timeline.add_column("event id, data", overflow="fold")
    for entry in log:
        own = EVENTS[entry.event].param_names
        data = [f"{k}={v}" for k, v in entry.data.items() if k in own]
        if entry.event_id is not None:
            data.insert(0, f"id {entry.event_id}")
        timeline.add_row(
            str(entry.seq),
            _local(entry.at, zone),
            entry.event,
            f"{entry.from_state} -> {entry.to_state}",
            entry.source or "-",
            ", ".join(data) or "-",
        )
    console.print(timeline)
    if order.notifications or order.incidents:
        console.print(Text("Notifications and incidents", style="italic"))
        for n in order.notifications:
            head = f"notify {n.channel}: {n.kind} ({n.rule})"
            _item(console, _local(n.at, zone), head, n.message)
        for i in order.incidents:
            _item(console, _local(i.at, zone), f"incident: {i.kind} ({i.rule})", i.detail)
        console.print()
    if order.refunds or order.customer_refunds:
        ledger = _table("Ledgers (R11)")
        for column in ("time", "ledger", "amount", "reason", "funded by", "event id"):
            ledger.add_column(column, no_wrap=True)
        for book, entries in (("refund", order.refunds), ("to customer", order.customer_refunds)):
            for e in entries:
                ledger.add_row(
                    _local(e.at, zone),
                    book,
                    f"{e.amount} {order.currency}",
                    e.reason,
                    e.blame,
                    e.event_id or "-",
                )
        console.print(ledger)
    console.print(
        Text.assemble(
            (f"At {_local(when, zone)}: ", "bold"),
            "allowed: " + (", ".join(allowed) if allowed else "nothing"),
        )
    )
    if refused:
        why = _table("Refused at that time, and why")
        why.add_column("event", no_wrap=True)
        why.add_column("rule", no_wrap=True)
        why.add_column("kind", no_wrap=True)
        why.add_column("why", overflow="fold")
        untaken = [e for e, err in refused.items() if err.rule is None and err.kind == "state"]
        for event, error in refused.items():
            if event not in untaken:
                why.add_row(event, error.rule or "-", error.kind, error.message)
        if untaken:
            why.add_row(
                "\n".join(untaken),
                "-",
                "state",
                f"{order.state} has no row for these events in the table; no rule is needed to "
                "refuse them",
            )
        console.print(why)
    return ExitCode.OK


# --------------------------------------------------------------------------------------------
# sweep


@cli.command()
@store_options
@now_option("Sweep as of TIME (ISO 8601 with offset; default: the wall clock at each sweep).")
@click.option(
    "--every",
    type=click.FloatRange(min=0.01),
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
def sweep(
    db: str | None,
    dsn: str | None,
    now: dt.datetime | None,
    every: float | None,
    limit: int,
    as_json: bool,
) -> int:
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
    console = _console()
    corrupt = False
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    with (
        _opened(_store_ref(db, dsn), create=False) as store,
        _stop_on_signals(on_signal, every is not None),
    ):
        sweeps = 0
        while True:
            when = _now(now)
            swept = _sweep_all(store, when, limit)
            sweeps += 1
            corrupt |= any(s.reason == "corrupt" for s in swept.skipped)
            _print_sweep(console, swept, when, as_json)
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


def _sweep_all(store: OrderStore, now: dt.datetime, limit: int) -> Swept:
    """Sweep at ``now`` in transactions of ``limit`` orders until none is left due."""
    applied: list[Any] = []
    skipped: dict[str, Any] = {}
    while True:
        swept = store.sweep(now, limit)
        applied += swept
        for s in swept.skipped:
            skipped.setdefault(s.order_id, s)
        if len(swept) < limit:
            return Swept(applied, skipped.values())


def _print_sweep(console: Console, swept: Swept, now: dt.datetime, as_json: bool) -> None:
    if as_json:
        _emit({"now": now.isoformat(), **swept.to_dict()})
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
                f"  {applied.order.order_id}: {result.event} {result.source} -> {result.dest}{tail}"
            )
        )
    for skipped in swept.skipped:
        why = "its last event is dated after this sweep (R16)"
        if skipped.error is not None:
            why = str(skipped.error)
        console.print(
            Text(f"  {skipped.order_id}: passed over, {skipped.reason}: {why}", style="yellow")
        )
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------
# outbox


@cli.command()
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
def outbox(db: str | None, dsn: str | None, ack: bool, limit: int, as_json: bool) -> int:
    """List the notifications waiting for delivery, oldest first.

    With --ack, the ones listed are marked delivered afterwards (a relay that has sent them
    acknowledges them so; each notification is queued exactly once).
    """
    with _opened(_store_ref(db, dsn), create=False) as store:
        items = store.outbox(limit)
        acked = store.ack([item.id for item in items]) if ack and items else 0
    if as_json:
        _emit({"items": [item.to_dict() for item in items], "acked": acked})
        return ExitCode.OK
    console = _console()
    if not items:
        console.print(Text("the outbox is empty"))
        return ExitCode.OK
    for item in items:
        n = item.notification
        head = f"#{item.id} {item.order_id}: {n.kind} by {n.channel} ({n.rule})"
        _item(console, f"{n.at:%Y-%m-%d %H:%M%z}", head, n.message)
    tail = f"; acknowledged {acked}" if ack else ""
    console.print(Text(f"{len(items)} waiting{tail}"))
    return ExitCode.OK


# --------------------------------------------------------------------------------------------
# diagram

_SUFFIXES: Final = {".mmd": "mermaid", ".dot": "dot", ".svg": "svg", ".png": "png"}


@cli.command()
@click.argument("order_id", required=False)
@store_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "svg", "png"]),
    help="Default: from -o's suffix (.mmd .dot .svg .png), else mermaid.",
)
@click.option("-o", "--output", metavar="PATH", help="Write to PATH instead of standard output.")
def diagram(
    order_id: str | None, db: str | None, dsn: str | None, fmt: str | None, output: str | None
) -> int:
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
        if db is not None or dsn is not None:
            raise click.UsageError("--db and --dsn name the store of ORDER_ID; give one")
        mermaid, dot = lifecycle_mermaid(), lifecycle_dot()
    else:
        with _opened(_store_ref(db, dsn), create=False) as store:
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


# --------------------------------------------------------------------------------------------
# rules


@cli.command()
@click.argument("rule_id", required=False)
@click.option(
    "--tests",
    "tests_dir",
    metavar="DIR",
    help="The test suite to read (default: tests/ of the source checkout, when there is one).",
)
@json_option("One JSON document: a list of the rules' traces (and where the tests were read).")
def rules(rule_id: str | None, tests_dir: str | None, as_json: bool) -> int:
    """Each rule, what enforces it, and the tests that prove it.

    The traceability table of R1 to R16.

    The transitions, guards, effects and prohibitions come from the machine's table; the tests
    are those of the suite whose docstring or name carries the rule's id. An installed
    package has no test suite: the table then says so. With RULE_ID (R1 to R16), that rule in
    full.
    """
    if rule_id is not None and rule_id.upper() not in RULES:
        raise click.BadParameter(
            f"{rule_id!r} is not a rule; the rules are {', '.join(RULES)}", param_hint="RULE_ID"
        )
    found = Path(tests_dir) if tests_dir is not None else find_tests()
    if found is not None and not found.is_dir():
        raise InvalidInput(f"{found} is not a folder of tests", field="--tests")
    traces = trace(found)
    if rule_id is not None:
        traces = [t for t in traces if t.rule.id == rule_id.upper()]
    if as_json:
        _emit(
            {
                "tests": None if found is None else str(found),
                "rules": [t.to_dict() for t in traces],
            }
        )
        return ExitCode.OK
    console = _console()
    if rule_id is not None:
        (one,) = traces
        _say(console, f"{one.rule.id}: {one.rule.title} ({one.rule.source})", style="bold")
        _say(console, one.rule.text)
        for head, items in (
            ("Transitions (a guard checks it, or an effect does it)", one.transitions),
            ("Enforced by (guards, effects, prohibitions)", one.enforced_by),
            ("Tests that name it", one.tests),
        ):
            console.print(Text(f"{head}:", style="bold"))
            for item in items or (("none found" if found else "no test suite here"),):
                console.print(Text(f"  {item}"))
        return ExitCode.OK
    table = _table("Rules and what proves them")
    table.add_column("rule", no_wrap=True)
    table.add_column("title", ratio=2)
    table.add_column("events it acts on", ratio=3)
    table.add_column("enforced by", no_wrap=True)
    table.add_column("tests", justify="right", no_wrap=True)
    for t in traces:
        table.add_row(
            t.rule.id,
            t.rule.title,
            ", ".join(t.events),
            f"{len(t.enforced_by)} in the table" if t.enforced_by else "the runtime",
            str(len(t.tests)) if found else "-",
        )
    console.print(table)
    if found is None:
        _say(
            console,
            "tests: no test suite next to the package (an installed package has none); run "
            "from a source checkout, or pass --tests DIR.",
        )
    else:
        _say(console, f"tests read from {found}.")
    _say(
        console,
        "`orderfsm rules R7` shows one rule: its transitions, the guards, effects and "
        "prohibitions that enforce it, and its tests by name; --json gives all of them.",
    )
    return ExitCode.OK


# --------------------------------------------------------------------------------------------
# check-log


@cli.command("check-log")
@click.argument("file", metavar="FILE")
@json_option(
    'One JSON document: {"records", "orders", "ok", "max_open", "findings": [...]}, each '
    "finding with its type, line and text."
)
def check_log_cmd(file: str, as_json: bool) -> int:
    """Replay a recorded event log; report what the rules refuse.

    FILE (`-` for standard input) is read as a stream, with a progress bar on a terminal: each
    record is {"order_id", "event" ("created" first, with {"amount", "currency"} as data),
    "at", "event_id"?, "data"?, "state"?}. Every step the rules refuse and every recorded state
    the rules do not give is a finding; the exit status is 1 when there is any.
    """
    with _input(file) as (stream, size), _progress("checking", size) as advance:

        def records() -> Iterator[bytes]:
            for raw in stream:
                advance(len(raw))
                yield raw

        report = check_log(records())
    findings = report.findings()
    if as_json:
        _emit(
            {
                "records": report.records,
                "orders": len(report.orders),
                "ok": report.ok,
                "max_open": report.max_open,
                "findings": [
                    {"type": type(f).__name__, **to_json(f), "text": str(f)} for f in findings
                ],
            }
        )
    else:
        console = _console()
        for finding in findings:
            console.print(Text(str(finding), style="red"))
        n = len(findings)
        console.print(
            Text(
                f"{n} finding{'s' if n != 1 else ''} in {report.records} record"
                f"{'s' if report.records != 1 else ''} of {len(report.orders)} order"
                f"{'s' if len(report.orders) != 1 else ''} (at most {report.max_open} open "
                "at once)"
            )
        )
    return ExitCode.OK if report.ok else ExitCode.FINDINGS


class _WebMissing(click.ClickException):
    """The web extra is not installed (exit status 5, like any missing program)."""

    exit_code = ExitCode.MISSING


@cli.command()
@store_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the store (each runs its own sweeper and relay, safely).",
)
@click.option(
    "--pool-size",
    default=10,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="PostgreSQL connections per process.",
)
def serve(
    db: str | None, dsn: str | None, host: str, port: int, workers: int, pool_size: int
) -> int:
    """Serve the orders over HTTP, with the inspector under /inspect/ (docs/service.md).

    Needs `pip install 'order-statemachine[web]'`. Tokens and secrets come from the
    environment only, never from options others can read in the process list:
    ORDERFSM_TOKEN (writes), ORDERFSM_READ_TOKEN (reads and the inspector),
    ORDERFSM_WEBHOOK_SECRET (signed supplier webhooks), ORDERFSM_RELAY_URL and
    ORDERFSM_RELAY_SECRET (the outbox relay). Stops cleanly on SIGTERM or Ctrl-C.
    """
    ref = _store_ref(db, dsn)
    try:
        from ..web import serve as run_server
    except ImportError as exc:
        raise _WebMissing(
            f"serve needs the web extra: pip install 'order-statemachine[web]' ({exc})"
        ) from None
    kind, target = ref
    if kind == "sqlite":
        run_server(db=target, host=host, port=port, workers=workers, pool_size=pool_size)
    else:
        run_server(dsn=target, host=host, port=port, workers=workers, pool_size=pool_size)
    return ExitCode.OK
