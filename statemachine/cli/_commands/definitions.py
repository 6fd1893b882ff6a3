"""``orderfsm definitions``: the definitions of the order machine known, with their
fingerprints; ``--check`` fails when the code's rules changed without a new version."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

from ...declaration._definition import DEFINITIONS, known_final_states, recorded_fingerprints
from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._options import json_option, store_options
from .._output import emit

__all__ = ["definitions"]


@click.command("definitions")
@store_options
@click.option(
    "--check",
    is_flag=True,
    help="Exit 1 when a version's fingerprint is not the one recorded for it (the rules "
    "changed without a new version).",
)
@json_option(
    'One JSON document: {"definitions": [{"key", "fingerprint", "recorded", "matches", '
    '"unfinished"}]}.'
)
@pass_invocation
def definitions(invocation: Invocation, check: bool) -> ExitCode:
    """List the definitions of the order machine, each with its fingerprint.

    A definition (orders@1 is the table of RULES.md) is everything that decides an event:
    the table's rows and data, the code of its guards and effects, the Policy defaults and
    the reasons R5 and R8 read. Its fingerprint is the SHA-256 of all that; the one recorded
    for each version ships with the package (a definition of your own records its own:
    Definition(..., recorded=...)). --definitions MODULE lists yours too. With --check, a
    fingerprint that is not the recorded one is status 1: a rule changed, and the change
    needs a new version. With --db or --dsn, the
    number of unfinished orders each version holds (what must drain before it may go).
    """
    recorded = recorded_fingerprints()
    unfinished: dict[str, int] | None = None
    if invocation.names_store or invocation.environ.get("ORDERFSM_DB"):
        with invocation.open_store() as store:
            unfinished = store.unfinished_by_definition(known_final_states())
    rows: list[dict[str, Any]] = []
    for key, definition in DEFINITIONS.items():
        found = definition.fingerprint()
        kept = definition.recorded or recorded.get(key)
        rows.append(
            {
                "key": key,
                "fingerprint": found,
                "recorded": kept,
                "matches": kept == found,
                "unfinished": None if unfinished is None else unfinished.get(key, 0),
                "doc": definition.doc,
            }
        )
    if invocation.json:
        emit({"definitions": rows})
    else:
        console = invocation.console
        for row in rows:
            line = f"{row['key']}  {row['fingerprint'][:16]}"
            line += "  recorded" if row["matches"] else "  NOT the recorded fingerprint"
            if row["unfinished"] is not None:
                line += f"  unfinished orders: {row['unfinished']}"
            console.print(Text(line))
            if not row["matches"] and check:
                console.print(
                    Text(
                        f"{row['key']}: its rules changed since its fingerprint was recorded "
                        f"({row['recorded'] or 'none'}): give the changed table a new version, "
                        "or record the new fingerprint if no stored order depends on the old",
                        style="red",
                    )
                )
    if check and not all(row["matches"] for row in rows):
        return ExitCode.FINDINGS
    return ExitCode.OK
