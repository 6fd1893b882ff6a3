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
from ..store._ref import DB_ENV, StoreRef, in_memory, store_in_env
from ._errors import missing

__all__ = ["CREATE_HINT", "SOURCE", "in_memory", "opened", "refuse_in_memory", "store_ref"]

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


def refuse_in_memory(target: str) -> None:
    """``--db`` naming no file of its own (:func:`in_memory`) as a usage error (status 2)."""
    if in_memory(target):
        raise click.BadParameter(
            f"{target!r} is a database in memory or a URI, which keeps nothing in a file once "
            "the command ends: name a file by its path",
            param_hint="--db",
        )


@contextlib.contextmanager
def opened(ref: StoreRef, *, create: bool) -> Iterator[OrderStore]:
    """The store ``ref`` names, closed afterwards. A SQLite file must exist unless ``create``
    (``--create``, or ``orderfsm demo``, whose job is a new store): a typo in a path, or a file
    lost under a service, never becomes a new empty store that looks like every order gone."""
    store: OrderStore
    if ref.kind == "sqlite":
        refuse_in_memory(ref.target)
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
