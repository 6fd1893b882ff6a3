"""``orderfsm migrate``: a migration plan run over every unfinished order of a store, as a
dry run (nothing written) or applied online, one order per transaction."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable

import click
from rich.text import Text

from ..._text import printable
from ...migration import Outcome, Plan, Report, apply, dry_run
from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._options import json_option, now_option, or_wall_clock, store_options
from .._output import emit

__all__ = ["migrate_cmd"]


@click.command("migrate")
@click.argument("plan_file", metavar="PLAN")
@store_options
@click.option("--dry-run", "mode", flag_value="dry-run", help="Run the plan in memory only.")
@click.option("--apply", "mode", flag_value="apply", help="Write each order that passes.")
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
    mode: str | None,
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
    definition_migrated log entry; stopped half-way, run it again and it goes on. Finished
    orders are never touched. The exit status is 1 when any order is blocked.
    """
    if mode is None:
        raise click.UsageError("say --dry-run (write nothing) or --apply (write)")
    plan = Plan.load(plan_file)
    when = or_wall_clock(now)
    with invocation.open_store() as store:
        if mode == "dry-run":
            report = dry_run(store, plan, when, sample=samples)
        else:
            progress = None if invocation.json else _progress(invocation)
            report = apply(
                store, plan, when, actor=actor or plan.name, sample=samples, on_outcome=progress
            )
    if invocation.json:
        emit(report.to_dict())
    else:
        _print_report(invocation, report)
    return ExitCode.FINDINGS if report.blocked else ExitCode.OK


def _progress(invocation: Invocation) -> Callable[[Outcome], None]:
    """Print each blocked order as it is met (an applied run may be long)."""
    console = invocation.console

    def seen(outcome: Outcome) -> None:
        if outcome.status == "blocked":
            console.print(
                Text(printable(f"  {outcome.order_id}: blocked, {outcome.reason}"), style="yellow")
            )

    return seen


def _print_report(invocation: Invocation, report: Report) -> None:
    console = invocation.console
    what = "dry run" if report.dry_run else "applied"
    console.print(Text(f"plan {report.plan}: {report.source} -> {report.target} ({what})"))
    order = ("migrates", "migrated", "blocked", "finished", "other_versions")
    words = {
        "migrates": "would migrate",
        "migrated": "migrated",
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
        console.print(
            Text(printable(f"    {reason}: {n}  e.g. {', '.join(shown)}"), style="yellow")
        )
        if detail:
            console.print(Text(printable(f"      {detail}"), style="yellow"))
    sys.stdout.flush()
