"""``orderfsm check-log``: a recorded event log replayed, streamed, against the rules."""

from __future__ import annotations

from collections.abc import Iterator

import click
from rich.text import Text

from ..._text import printable
from ...declaration._jsonform import to_json
from ...testing.log import check_log
from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._input import opened_input, progress
from .._options import json_option
from .._output import emit

__all__ = ["check_log_cmd"]


@click.command("check-log")
@click.argument("file", metavar="FILE")
@json_option(
    'One JSON document: {"records", "orders", "ok", "max_open", "findings": [...]}, each '
    "finding with its type, line and text."
)
@pass_invocation
def check_log_cmd(invocation: Invocation, file: str) -> ExitCode:
    """Replay a recorded event log; report what the rules refuse.

    FILE (`-` for standard input) is read as a stream, with a progress bar on a terminal: each
    record is {"order_id", "event" ("created" first, with {"amount", "currency"} as data),
    "at", "event_id"?, "data"?, "state"?}. Every step the rules refuse and every recorded state
    the rules do not give is a finding; the exit status is 1 when there is any.
    """
    with opened_input(file) as (stream, size), progress("checking", size) as advance:

        def records() -> Iterator[bytes]:
            for raw in stream:
                advance(len(raw))
                yield raw

        report = check_log(records())
    findings = report.findings()
    if invocation.json:
        emit(
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
        console = invocation.console
        for finding in findings:
            console.print(Text(printable(str(finding)), style="red"))
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
