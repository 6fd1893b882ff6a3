"""What one run of ``orderfsm`` knows besides a command's own arguments: the
:class:`Invocation` on click's context (``ctx.obj``).

:func:`~statemachine.cli._run.run` makes one per run and reads it back when an error ends the
run (``--json`` turns the error into a JSON line); the shared options
(:mod:`~statemachine.cli._options`) fill it; a command receives it with
:func:`pass_invocation`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

import attrs
import click
from rich.console import Console

from ..store import OrderStore
from ..store._ref import StoreRef
from ._output import make_console
from ._store import opened, store_ref

__all__ = ["Invocation", "pass_invocation"]


@attrs.define
class Invocation:
    """The state of one run: whether the output is JSON, the store the options named, the
    console. Made per run, never shared: nothing is kept at the class or module level."""

    json: bool = False
    """``--json``: documents on standard output; an error is one JSON line on standard error."""
    db: str | None = None
    """``--db PATH`` as given: a SQLite file."""
    dsn: str | None = None
    """``--dsn URL`` as given: a PostgreSQL connection string."""
    create: bool = False
    """``--create`` given: a SQLite file that does not exist may be made (a new store)."""
    new_orders: str | None = None
    """``--new-orders VERSION``: the version orders created by ``apply`` and ``import`` run
    under (``None``: ``orders@1``)."""
    environ: Mapping[str, str] = attrs.field(factory=lambda: os.environ, repr=False)
    """Where ``ORDERFSM_DB`` is read when neither ``--db`` nor ``--dsn`` is given."""
    _console: Console | None = attrs.field(default=None, init=False, repr=False)

    @property
    def console(self) -> Console:
        """The Rich console on standard output, made when first printed to."""
        if self._console is None:
            self._console = make_console()
        return self._console

    @property
    def names_store(self) -> bool:
        """Whether ``--db`` or ``--dsn`` was given."""
        return self.db is not None or self.dsn is not None

    def store_ref(self) -> StoreRef:
        """The store ``--db``, ``--dsn`` or ``ORDERFSM_DB`` names (a usage error: both, none)."""
        return store_ref(self.db, self.dsn, self.environ)

    @contextlib.contextmanager
    def open_store(self) -> Iterator[OrderStore]:
        """That store, open for the block; a new SQLite file only with ``--create``."""
        with opened(self.store_ref(), create=self.create) as store:
            yield store


pass_invocation = click.make_pass_decorator(Invocation, ensure=True)
"""Pass the run's :class:`Invocation` to a command as its first argument."""
