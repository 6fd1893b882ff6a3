"""``orderfsm rules``: each rule, what in the table enforces it, and the tests that prove it."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from ...declaration._rules import RULES
from ...errors import InvalidInput
from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._options import json_option
from .._output import emit, say, table
from .._trace import RuleTrace, find_tests, trace

__all__ = ["rules"]


@click.command("rules")
@click.argument("rule_id", required=False)
@click.option(
    "--tests",
    "tests_dir",
    metavar="DIR",
    help="The test suite to read (default: tests/ of the source checkout, when there is one).",
)
@json_option("One JSON document: a list of the rules' traces (and where the tests were read).")
@pass_invocation
def rules(invocation: Invocation, rule_id: str | None, tests_dir: str | None) -> ExitCode:
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
    if invocation.json:
        emit(
            {
                "tests": None if found is None else str(found),
                "rules": [t.to_dict() for t in traces],
            }
        )
        return ExitCode.OK
    if rule_id is not None:
        (one,) = traces
        _print_rule(invocation.console, one, found)
    else:
        _print_table(invocation.console, traces, found)
    return ExitCode.OK


def _print_rule(console: Console, one: RuleTrace, found: Path | None) -> None:
    """One rule in full: its text, its transitions, what enforces it, its tests by name."""
    say(console, f"{one.rule.id}: {one.rule.title} ({one.rule.source})", style="bold")
    say(console, one.rule.text)
    for head, items in (
        ("Transitions (a guard checks it, or an effect does it)", one.transitions),
        ("Enforced by (guards, effects, prohibitions)", one.enforced_by),
        ("Tests that name it", one.tests),
    ):
        console.print(Text(f"{head}:", style="bold"))
        for item in items or (("none found" if found else "no test suite here"),):
            console.print(Text(f"  {item}"))


def _print_table(console: Console, traces: list[RuleTrace], found: Path | None) -> None:
    """Every rule on a row: the events it acts on, what enforces it, how many tests."""
    rows = table("Rules and what proves them")
    rows.add_column("rule", no_wrap=True)
    rows.add_column("title", ratio=2)
    rows.add_column("events it acts on", ratio=3)
    rows.add_column("enforced by", no_wrap=True)
    rows.add_column("tests", justify="right", no_wrap=True)
    for t in traces:
        rows.add_row(
            t.rule.id,
            t.rule.title,
            ", ".join(t.events),
            f"{len(t.enforced_by)} in the table" if t.enforced_by else "the runtime",
            str(len(t.tests)) if found else "-",
        )
    console.print(rows)
    if found is None:
        say(
            console,
            "tests: no test suite next to the package (an installed package has none); run "
            "from a source checkout, or pass --tests DIR.",
        )
    else:
        say(console, f"tests read from {found}.")
    say(
        console,
        "`orderfsm rules R7` shows one rule: its transitions, the guards, effects and "
        "prohibitions that enforce it, and its tests by name; --json gives all of them.",
    )
