"""``orderfsm definitions``: the definitions of the order machine known, with their
fingerprints; ``--check`` fails when the code's rules changed without a new version."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

from ...declaration._definition import DEFINITIONS, known_final_states
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
    '"registered", "unfinished", "doc"}]}; a version the store holds that nobody registered is '
    "listed with registered false."
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
    unfinished: dict[str, int] | None = None
    used: dict[str, int] = {}
    if invocation.names_store or invocation.environ.get("ORDERFSM_DB"):
        with invocation.open_store() as store:
            unfinished = store.unfinished_by_definition(known_final_states())
            used = store.definitions_used()
    rows: list[dict[str, Any]] = []
    for key, definition in DEFINITIONS.items():
        found = definition.fingerprint()
        kept = definition.recorded
        rows.append(
            {
                "key": key,
                "fingerprint": found,
                "recorded": kept,
                "matches": kept == found,
                "registered": True,
                "unfinished": None if unfinished is None else unfinished.get(key, 0),
                "doc": definition.doc,
            }
        )
    for key in sorted(set(used) - set(DEFINITIONS)):  # the store needs them; nobody named them
        rows.append(
            {
                "key": key,
                "fingerprint": None,
                "recorded": None,
                "matches": False,
                "registered": False,
                "unfinished": None if unfinished is None else unfinished.get(key, 0),
                "doc": "",
            }
        )
    if invocation.json:
        emit({"definitions": rows})
    else:
        console = invocation.console
        for row in rows:
            if not row["registered"]:
                console.print(
                    Text(
                        f"{row['key']}  NOT REGISTERED: the store holds {used[row['key']]} "
                        f"orders under it (unfinished: {row['unfinished']}); name the module "
                        "that declares it with --definitions MODULE or ORDERFSM_DEFINITIONS",
                        style="red",
                    )
                )
                continue
            line = f"{row['key']}  {row['fingerprint'][:16]}"
            if row["recorded"] is None:
                line += "  no fingerprint recorded"
            else:
                line += "  recorded" if row["matches"] else "  NOT the recorded fingerprint"
            if row["unfinished"] is not None:
                line += f"  unfinished orders: {row['unfinished']}"
            console.print(Text(line))
            if row["recorded"] is None and check:
                console.print(
                    Text(
                        f"{row['key']}: record its fingerprint where it is declared: "
                        f"Definition(..., recorded={row['fingerprint']!r})",
                        style="red",
                    )
                )
            elif not row["matches"] and check:
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
    if not all(row["registered"] for row in rows):
        return ExitCode.FINDINGS
    return ExitCode.OK
