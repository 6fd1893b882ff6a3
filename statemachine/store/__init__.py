"""Durable stores: SQLite by default, PostgreSQL for many service instances.

Both keep an order safe when events race: every ``apply`` loads the order (made again from its
log through the machine), fires the event, compare-and-swaps the row's version, appends to the
append-only log and queues the new notifications in an outbox, all in one transaction. Each
fact is stored once: the log is the truth of an order's history. ``docs/store.md`` walks
through them with examples that the test suite runs.

Nothing outside this package runs SQL against the order database: listings, the outbox and
what a relay did with each notification are all the store's methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import (
    ConcurrentUpdate,
    CorruptOrder,
    OrderExists,
    SchemaVersionError,
    StoreUnavailable,
    UnknownOrder,
    VersionConflict,
)
from ._inputs import MAX_LIMIT
from ._records import (
    REASONS,
    SORT_KEYS,
    Applied,
    Attention,
    Delivery,
    DeliveryState,
    DeliveryStatus,
    DeliveryTry,
    Loaded,
    LogEntry,
    NotificationRow,
    OrderRow,
    OrderStore,
    OutboxItem,
    Reason,
    Skipped,
    SortKey,
    Standing,
    Swept,
)
from ._rows import clock_due_at
from ._schema import SCHEMA_VERSION
from ._sessions import Session
from ._sqlite import SQLiteStore
from ._store import SQLStore

if TYPE_CHECKING:
    from ._async import AsyncPostgresStore, AsyncSQLiteStore, AsyncStore
    from ._postgres import PostgresStore

__all__ = [
    "MAX_LIMIT",
    "REASONS",
    "SCHEMA_VERSION",
    "SORT_KEYS",
    "Applied",
    "AsyncPostgresStore",
    "AsyncSQLiteStore",
    "AsyncStore",
    "Attention",
    "ConcurrentUpdate",
    "CorruptOrder",
    "Delivery",
    "DeliveryState",
    "DeliveryStatus",
    "DeliveryTry",
    "Loaded",
    "LogEntry",
    "NotificationRow",
    "OrderExists",
    "OrderRow",
    "OrderStore",
    "OutboxItem",
    "PostgresStore",
    "Reason",
    "SQLStore",
    "SQLiteStore",
    "SchemaVersionError",
    "Session",
    "Skipped",
    "SortKey",
    "Standing",
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
