"""Durable stores: SQLite by default, PostgreSQL for many service instances.

Both keep an order safe when events race: every ``apply`` claims the event id, fires the event
through the machine, compare-and-swaps the row's version, appends to an append-only log and
queues the new notifications in an outbox, all in one transaction.

>>> import datetime as dt, tempfile, pathlib
>>> from zoneinfo import ZoneInfo
>>> from statemachine import Order
>>> from statemachine.store import SQLiteStore
>>> paid = dt.datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
>>> folder = tempfile.TemporaryDirectory()
>>> store = SQLiteStore(pathlib.Path(folder.name) / "orders.db")
>>> store.add(Order.create("AE-1", "25.00", "USD", paid))
1
>>> store.apply("AE-1", "request_cancellation", at=paid, event_id="wh-1").order.state
'cancel_requested'
>>> store.apply("AE-1", "request_cancellation", at=paid, event_id="wh-1").duplicate
True
>>> [item.notification.kind for item in store.outbox()]
['cancellation_request_received']
>>> store.close(); folder.cleanup()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import (
    SCHEMA_VERSION,
    Applied,
    ConcurrentUpdate,
    CorruptOrder,
    LogEntry,
    OrderExists,
    OrderStore,
    OutboxItem,
    SchemaVersionError,
    SQLStore,
    UnknownOrder,
    clock_due_at,
)
from ._sqlite import SQLiteStore

if TYPE_CHECKING:
    from ._postgres import PostgresStore

__all__ = [
    "SCHEMA_VERSION",
    "Applied",
    "ConcurrentUpdate",
    "CorruptOrder",
    "LogEntry",
    "OrderExists",
    "OrderStore",
    "OutboxItem",
    "PostgresStore",
    "SQLStore",
    "SQLiteStore",
    "SchemaVersionError",
    "UnknownOrder",
    "clock_due_at",
]


def __getattr__(name: str) -> Any:
    # PostgresStore's module is loaded on first use; psycopg itself only when one is made.
    if name == "PostgresStore":
        from ._postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
