"""Durable stores: SQLite by default, PostgreSQL for many service instances.

Both keep an order safe when events race: every ``apply`` claims the event id, fires the event
through the machine, compare-and-swaps the row's version, appends to an append-only log and
queues the new notifications in an outbox, all in one transaction. ``docs/store.md`` walks
through them with examples that the test suite runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import (
    MAX_LIMIT,
    SCHEMA_VERSION,
    Applied,
    ConcurrentUpdate,
    CorruptOrder,
    Loaded,
    LogEntry,
    NotificationRow,
    OrderExists,
    OrderRow,
    OrderStore,
    OutboxItem,
    SchemaVersionError,
    Skipped,
    StoreUnavailable,
    Swept,
    UnknownOrder,
    VersionConflict,
    clock_due_at,
)
from ._sqlite import SQLiteStore

if TYPE_CHECKING:
    from ._async import AsyncPostgresStore, AsyncSQLiteStore, AsyncStore
    from ._postgres import PostgresStore

__all__ = [
    "MAX_LIMIT",
    "SCHEMA_VERSION",
    "Applied",
    "AsyncPostgresStore",
    "AsyncSQLiteStore",
    "AsyncStore",
    "ConcurrentUpdate",
    "CorruptOrder",
    "Loaded",
    "LogEntry",
    "NotificationRow",
    "OrderExists",
    "OrderRow",
    "OrderStore",
    "OutboxItem",
    "PostgresStore",
    "SQLiteStore",
    "SchemaVersionError",
    "Skipped",
    "StoreUnavailable",
    "Swept",
    "UnknownOrder",
    "VersionConflict",
    "clock_due_at",
]


def __getattr__(name: str) -> Any:
    # PostgresStore's module is loaded on first use; psycopg itself only when one is made.
    # The async stores need anyio (the [async] extra), loaded on first use too.
    if name == "PostgresStore":
        from ._postgres import PostgresStore

        return PostgresStore
    if name in ("AsyncStore", "AsyncSQLiteStore", "AsyncPostgresStore"):
        from . import _async

        return getattr(_async, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
