"""``orderfsm demo``: the seed's stories told end to end through a new SQLite store, with their
timelines and journey diagrams."""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.text import Text

from ..._demo import STORIES, Step, StoryRun, run_story, write_journey
from ...declaration._jsonform import to_json
from ...store._ref import StoreRef
from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._options import json_option
from .._output import emit, local, say, wrap
from .._store import opened

__all__ = ["demo"]

_WHO: Final = 8
_EVENT: Final = 29
_CHANGE: Final = 34
_INDENT: Final = 11 + 2


@click.command("demo")
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
@pass_invocation
def demo(invocation: Invocation, db: str | None, out: str | None) -> ExitCode:
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
    console = invocation.console
    with opened(StoreRef("sqlite", str(path)), create=True) as store:
        for story in STORIES:
            told = run_story(store, story)
            written = write_journey(told.order, journeys)
            if invocation.json:
                emit(_story_json(told, written))
            else:
                _print_story(console, told, written)
    if not invocation.json:
        me, where = how_to_run(), shlex.quote(str(path))
        say(
            console,
            f"The stories' orders are in {path}: look at one with "
            f"`{me} show --db {where} AE-1004`, or at the outbox with "
            f"`{me} outbox --db {where}`.",
        )
    return ExitCode.OK


def how_to_run() -> str:
    """How the user runs this command line from where they are: ``orderfsm`` when it is on
    their PATH; else the script they ran (a checkout has it in ``.venv/bin`` only), as a path
    from the current folder; else the interpreter with ``-m statemachine``."""
    if shutil.which("orderfsm"):
        return "orderfsm"
    script = Path(sys.argv[0])
    if script.name == "orderfsm" and script.is_file():
        return _path_from_here(script)
    return f"{_path_from_here(Path(sys.executable))} -m statemachine"


def _path_from_here(path: Path) -> str:
    """``path`` as a command the shell runs from the current folder (a word with a slash)."""
    absolute = path.absolute()
    try:
        shown = str(absolute.relative_to(Path.cwd()))
    except ValueError:  # not under the current folder
        shown = str(absolute)
    return shlex.quote(shown if "/" in shown else f"./{shown}")


def _print_story(console: Console, told: StoryRun, written: Sequence[Path]) -> None:
    story, order = told.story, told.order
    zone = order.policy.timezone
    console.rule(Text(f"{story.number}. {story.title} ({' '.join(story.rules)})", style="bold"))
    say(console, story.summary)
    say(
        console,
        f"{order.order_id}: {order.amount} {order.currency} paid {local(order.paid_at, zone)} "
        f"{zone} time; dispatch due by {local(order.dispatch_deadline, zone)} (R1)",
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
    say(console, ending, style="bold")
    say(console, "journey: " + ", ".join(str(p) for p in written))
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
        for i, part in enumerate(wrap(text, room)):
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
