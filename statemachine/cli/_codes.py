"""The exit statuses of ``orderfsm``: the one list that its help and the docs show."""

from __future__ import annotations

from typing import Final

__all__ = ["EXIT_CODES"]

EXIT_CODES: Final[tuple[tuple[int, str], ...]] = (
    (0, "done; nothing was refused"),
    (
        1,
        "done, with findings: `apply` had rejected or invalid lines, `check-log` found "
        "problems, `sweep` passed over corrupt orders",
    ),
    (
        2,
        "usage: an unknown command or option, a bad value (`--now tomorrow`), `--db` with "
        "`--dsn`, no store given",
    ),
    (
        3,
        "input: a file missing or unreadable, an unknown order, an `import` with bad lines "
        "(nothing imported)",
    ),
    (
        4,
        "store, for its operator to fix: not a store, no such database file, a newer schema, "
        "a corrupt row (`apply` stops there), a server that does not answer, a lock held too "
        "long",
    ),
    (
        5,
        "missing: Graphviz's `dot` for SVG or PNG, psycopg for `--dsn`, click and Rich for "
        "`orderfsm` itself",
    ),
    (
        70,
        "internal error: a bug in orderfsm, named in one line (`ORDERFSM_TRACEBACK=1` shows where)",
    ),
    (130, "interrupted by Ctrl-C (`sweep --every` stops cleanly between sweeps, with 0)"),
)
"""Each exit status of ``orderfsm`` and what it means: the one list the help and the docs show."""
