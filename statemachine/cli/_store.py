"""The store a command works on: which one ``--db``, ``--dsn`` or ``ORDERFSM_DB`` names, and
opening it for the length of the command."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Final

import click

from ..errors import StoreUnavailable
from ..store import OrderStore, SQLiteStore
from ..store._ref import DB_ENV, StoreRef, store_in_env
from ._errors import missing

__all__ = ["CREATE_HINT", "SOURCE", "in_memory", "opened", "store_ref"]

CREATE_HINT: Final = (
    "`orderfsm apply`, `import`, `sweep` or `serve` with --create starts a new store there"
)
"""What to do when the SQLite file a command names does not exist."""

SOURCE: Final = "orderfsm"
"""The ``source`` the store logs for the events this command line sends."""


def store_ref(db: str | None, dsn: str | None, environ: Mapping[str, str]) -> StoreRef:
    """Which store ``--db PATH`` or ``--dsn URL`` names, or else ``ORDERFSM_DB`` in
    ``environ`` (a path, or a ``postgresql://`` URL); a usage error for both or none."""
    if db is not None and dsn is not None:
        raise click.UsageError("give --db PATH or --dsn URL, not both")
    if db is not None:
        return StoreRef("sqlite", db)
    if dsn is not None:
        return StoreRef("postgres", dsn)
    named = store_in_env(environ)
    if named is None:
        raise click.UsageError(
            f"no store: give --db PATH (SQLite) or --dsn URL (PostgreSQL), or set {DB_ENV}"
        )
    return named


def in_memory(target: str) -> bool:
    """Whether a SQLite name is a database in memory (``:memory:``, an empty name)."""
    return not target.strip() or target.strip() == ":memory:"


@contextlib.contextmanager
def opened(ref: StoreRef, *, create: bool) -> Iterator[OrderStore]:
    """The store ``ref`` names, closed afterwards. A SQLite file must exist unless ``create``
    (``--create``, or ``orderfsm demo``, whose job is a new store): a typo in a path, or a file
    lost under a service, never becomes a new empty store that looks like every order gone."""
    store: OrderStore
    if ref.kind == "sqlite":
        if in_memory(ref.target):
            raise click.BadParameter(
                f"{ref.target!r} is a database in memory, which keeps nothing once the command "
                "ends: name a file",
                param_hint="--db",
            )
        if not create and not os.path.lexists(ref.target):
            raise StoreUnavailable(ref.target, f"no such file ({CREATE_HINT})")
        store = SQLiteStore(ref.target, create=create)
    else:
        from ..store import PostgresStore

        try:
            store = PostgresStore(ref.target)
        except ImportError:
            raise missing(
                "a PostgreSQL store needs psycopg: pip install 'order-statemachine[postgres]'"
            ) from None
    try:
        yield store
    finally:
        store.close()
