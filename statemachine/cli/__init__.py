"""``orderfsm``: the command line of order-statemachine, for the people who run a store.

``pip install 'order-statemachine[cli]'`` installs the ``orderfsm`` command (built on click, with
Rich for its tables and progress bars); ``python -m statemachine`` runs the same command (the
demo when given no command). Every command has ``--help``; the commands that read or change
orders take the store as ``--db PATH`` (SQLite), ``--dsn URL`` (PostgreSQL) or the environment
variable ``ORDERFSM_DB`` (a path, or a ``postgresql://`` URL), which ``orderfsm serve`` and the
service read the same way.

Exit codes (:class:`ExitCode`, printed by ``orderfsm --help`` and listed in the README) say
what went wrong without parsing a message; every failure is one line on standard error,
never a traceback.

The rooms, for a reader who comes to change one:

- ``_commands/``: one module per command (``demo``, ``apply``, ``import_``, ``show``,
  ``sweep``, ``outbox``, ``diagram``, ``rules``, ``check_log``, ``serve``);
- ``_group.py``: the ``orderfsm`` group, its help and exit-status epilog, its commands;
- ``_run.py``: :func:`main`'s work: the group run, every error turned into one line and its
  exit status (``_errors.py``: which status each error of the package means);
- ``_context.py``: the :class:`~._context.Invocation` on click's context (``--json``, the
  store named, the console); ``_options.py``: the options several commands share;
- ``_store.py``: the store the options name, opened; ``_output.py`` and ``_input.py``: what
  the commands print and read;
- ``_codes.py``: :class:`ExitCode`; ``_lines.py``: the JSON lines of ``apply`` and
  ``import``; ``_trace.py``: the traceability table of ``rules``.

This module imports neither click nor Rich, so that a missing extra is one clear line too.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._codes import EXIT_CODES, ExitCode

__all__ = ["EXIT_CODES", "ExitCode", "main"]


def main(argv: Sequence[str] | None = None, *, prog_name: str = "orderfsm") -> int:
    """Run ``orderfsm`` with ``argv`` (by default the process's arguments); the exit status."""
    try:
        from ._run import run
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc)
        print(
            f"{prog_name}: the command line needs click and Rich ({missing} is missing): "
            "pip install 'order-statemachine[cli]'",
            file=sys.stderr,
        )
        return ExitCode.MISSING
    return run(argv, prog_name=prog_name)
