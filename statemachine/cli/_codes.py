"""The exit statuses of ``orderfsm``: :class:`ExitCode`, the one list that the code returns,
``orderfsm --help`` prints and the README's table shows (a test keeps the table equal to it).

No click, no Rich: :func:`statemachine.cli.main` reads it before it knows they are installed.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["EXIT_CODES", "ExitCode"]


class ExitCode(enum.IntEnum):
    """Each exit status of ``orderfsm`` and, as :attr:`meaning`, what it tells a script (the
    words ``--help`` and the README show; backquotes mark commands and options)."""

    meaning: str

    def __new__(cls, code: int, meaning: str) -> ExitCode:
        member = int.__new__(cls, code)
        member._value_ = code
        member.meaning = meaning
        return member

    OK = 0, "done; nothing was refused"
    FINDINGS = (
        1,
        "done, with findings: `apply` had rejected or invalid lines, `check-log` found "
        "problems, `sweep` passed over corrupt orders, `migrate` blocked orders, "
        "`definitions --check` found a changed rule",
    )
    USAGE = (
        2,
        "usage: an unknown command or option, a bad value (`--now tomorrow`), `--db` with "
        "`--dsn`, no store given",
    )
    INPUT = (
        3,
        "input: a file missing or unreadable, an unknown order, an `import` with bad lines "
        "(nothing imported)",
    )
    STORE = (
        4,
        "store, for its operator to fix: not a store, no such database file, a newer schema, "
        "a corrupt row (`apply` stops there), a server that does not answer, a lock held too "
        "long",
    )
    MISSING = (
        5,
        "missing: Graphviz's `dot` for SVG or PNG, psycopg for `--dsn`, click and Rich for "
        "`orderfsm` itself",
    )
    INTERNAL = (
        70,
        "internal error: a bug in orderfsm, named in one line (`ORDERFSM_TRACEBACK=1` shows where)",
    )
    INTERRUPTED = (
        130,
        "interrupted by Ctrl-C (`sweep --every` stops cleanly between sweeps, with 0)",
    )


EXIT_CODES: Final[tuple[tuple[int, str], ...]] = tuple(
    (code.value, code.meaning) for code in ExitCode
)
"""``(status, meaning)`` for each :class:`ExitCode`, in order: the form earlier releases
exported."""
