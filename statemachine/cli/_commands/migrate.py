"""``orderfsm migrate``: a migration plan run over every unfinished order of a store, as a
dry run (nothing written) or applied online, one order per transaction."""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Final

import click
from rich.text import Text

from ..._text import printable
from ...migration import Outcome, Plan, Report, apply, dry_run
from ...runtime._machine import MAX_ID_LENGTH
from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._options import json_option, now_option, or_wall_clock, store_options
from .._output import emit

__all__ = ["migrate_cmd"]


@click.command("migrate")
@click.argument("plan_file", metavar="PLAN")
@store_options
@click.option("--dry-run", "dry", is_flag=True, help="Run the plan in memory only.")
@click.option("--apply", "write", is_flag=True, help="Write each order that passes.")
@now_option("Migrate as of TIME (ISO 8601 with offset; default: the wall clock).")
@click.option(
    "--actor",
    metavar="NAME",
    help="Who applies the plan, for each order's log (default: the plan's name).",
)
@click.option(
    "--samples",
    type=click.IntRange(0, 100),
    default=5,
    show_default=True,
    help="Order ids shown per outcome and per reason.",
)
@json_option(
    'One JSON document: {"plan", "from", "to", "dry_run", "counts", "reasons", "samples", '
    '"outcomes": [{"order_id", "status", "source_state", "target_state", "reason", "detail"}]}.'
)
@pass_invocation
def migrate_cmd(
    invocation: Invocation,
    plan_file: str,
    dry: bool,
    write: bool,
    now: dt.datetime | None,
    actor: str | None,
    samples: int,
) -> ExitCode:
    """Move the unfinished orders of one definition to another, by a plan.

    PLAN is a TOML file (see docs/versions.md): the versions it moves from and to, a state map
    covering every unfinished state of the source, what becomes of each running clock (keep,
    recount, later) and preconditions per state. Say --dry-run or --apply.

    --dry-run runs the plan on every unfinished order of the store in memory and checks each
    result is an order the target version could run (replayed, ledgers and deadlines
    compared); it prints counts per outcome and per reason, with sample ids. --apply does the
    same and writes each order that passes, in a transaction of its own, as a
    definition_migrated log entry; stopped half-way (Ctrl-C, SIGTERM), run it again and it
    goes on. Finished orders are never touched. The exit status is 1 when any order is
    blocked. Like a sweep, a migration is dated TIME (now): an event dated before it is then
    refused (R16), so run it when late webhooks have come in.
    """
    if dry == write:
        raise click.UsageError("say --dry-run (write nothing) or --apply (write), one of them")
    when = or_wall_clock(now)
    if write and when > dt.datetime.now(dt.UTC) + AHEAD:
        raise click.UsageError(
            f"--now {when.isoformat()} is ahead of the clock: every order migrated would then "
            "refuse every event dated before it (R16), and the log cannot be undone"
        )
    if actor is not None and (len(actor) > MAX_ID_LENGTH or not actor.isprintable()):
        raise click.UsageError(f"--actor is a name of at most {MAX_ID_LENGTH} printable characters")
    plan = Plan.load(plan_file)
    seen = Report(plan.name, plan.source, plan.target, not write, sample=samples)
    with invocation.open_store() as store, _stop_on_sigterm():
        if dry:
            report = dry_run(store, plan, when, sample=samples)
        else:
            try:
                report = apply(
                    store,
                    plan,
                    when,
                    actor=actor or plan.name,
                    sample=samples,
                    on_outcome=_progress(invocation, seen),
                )
            except KeyboardInterrupt:
                _print_report(invocation, seen)
                print(
                    f"orderfsm migrate: interrupted after {len(seen.outcomes)} orders; those "
                    "migrated are whole, run it again to go on",
                    file=sys.stderr,
                )
                return ExitCode.INTERRUPTED
    if invocation.json:
        emit(report.to_dict())
    else:
        _print_report(invocation, report)
    return ExitCode.FINDINGS if report.blocked else ExitCode.OK


AHEAD: Final = dt.timedelta(minutes=5)
"""How far ahead of the wall clock ``--apply --now`` may be (the service's default skew)."""


def _progress(invocation: Invocation, seen: Report) -> Callable[[Outcome], None]:
    """Count each outcome in ``seen`` (for a summary if the run is stopped) and print each
    blocked order as it is met (an applied run may be long)."""
    console = None if invocation.json else invocation.console

    def met(outcome: Outcome) -> None:
        seen.add(outcome)
        if console is not None and outcome.status == "blocked":
            console.print(
                Text(printable(f"  {outcome.order_id}: blocked, {outcome.reason}"), style="yellow")
            )

    return met


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """While the block runs, SIGTERM stops it as Ctrl-C does (between two orders' writes:
    each order is one transaction), so the summary is printed."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    saved = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved)


def _print_report(invocation: Invocation, report: Report) -> None:
    console = invocation.console
    what = "dry run" if report.dry_run else "applied"
    console.print(Text(f"plan {report.plan}: {report.source} -> {report.target} ({what})"))
    order = ("migrates", "migrated", "already", "blocked", "finished", "other_versions")
    words = {
        "migrates": "would migrate",
        "migrated": "migrated",
        "already": "moved meanwhile by another run",
        "blocked": "blocked",
        "finished": "finished, left alone",
        "other_versions": "unfinished under other versions, left alone",
    }
    for key in order:
        if key in report.counts or key in ("blocked",):
            n = report.counts.get(key, 0)
            shown = report.samples.get(key, []) if key != "blocked" else []
            tail = f"  e.g. {', '.join(shown)}" if shown else ""
            console.print(Text(printable(f"  {words[key]}: {n}{tail}")))
    for reason, n in report.reasons.most_common():
        shown = report.samples.get(reason, [])
        detail = next((o.detail for o in report.outcomes if o.reason == reason), None)
        tail = f"  e.g. {', '.join(shown)}" if shown else ""
        console.print(Text(printable(f"    {reason}: {n}{tail}"), style="yellow"))
        if detail:
            console.print(Text(printable(f"      {detail}"), style="yellow"))
    sys.stdout.flush()
