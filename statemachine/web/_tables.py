"""The web layer's own table: the relay's delivery records (attempts, last error, dead letters).

Listings and an order's outbox rows come from the store (``store.orders``,
``store.state_counts``, ``store.notifications``). What the relay did with each notification is
the service's own business, kept in one table of its own, ``orderfsm_web_deliveries`` (one row
per notification the relay has tried: attempts, last error, next try, and ``dead`` once it gave
up), in the store's database, through a connection of its own; it is created with
``IF NOT EXISTS`` and its name cannot clash with the store's.
"""

from __future__ import annotations

import abc
import datetime as dt
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Final, Literal

import attrs

__all__ = [
    "Delivery",
    "DeliveryStatus",
    "PostgresTables",
    "SQLiteTables",
    "WebTables",
]

DeliveryStatus = Literal["retrying", "acked", "dead"]

_DELIVERIES: Final = "orderfsm_web_deliveries"


@attrs.frozen
class Delivery:
    """What the relay did with one notification (absent: not tried yet)."""

    notification_id: int
    order_id: str
    position: int
    attempts: int
    status: DeliveryStatus
    next_attempt_at: dt.datetime | None
    last_error: str | None
    updated_at: dt.datetime


_DELIVERY_COLUMNS: Final = (
    "notification_id, order_id, position, attempts, status, next_attempt_at, last_error, updated_at"
)


class WebTables(abc.ABC):
    """The queries, written once with ``?`` placeholders; subclasses bring the connection and
    the dialect. Every method is synchronous: the app runs them in worker threads."""

    _PLACEHOLDER = "?"

    @abc.abstractmethod
    def _cursor(self, *, write: bool = False) -> AbstractContextManager[Any]:
        """A cursor in a transaction, committed when the block ends (``write``: one that
        writes, which on SQLite takes the write lock up front)."""

    @abc.abstractmethod
    def _ts(self, moment: dt.datetime) -> Any:
        """``moment`` as the store keeps it."""

    @abc.abstractmethod
    def _from_ts(self, value: Any) -> dt.datetime:
        """A stored moment back as an aware datetime."""

    @abc.abstractmethod
    def _schema(self) -> Sequence[str]:
        """The statements that create this module's table and index if missing."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def _q(self, sql: str) -> str:
        return sql if self._PLACEHOLDER == "?" else sql.replace("?", self._PLACEHOLDER)

    def _opt_ts(self, value: Any) -> dt.datetime | None:
        return None if value is None else self._from_ts(value)

    def setup(self) -> None:
        """Create the delivery table and the listing index if they are missing."""
        with self._cursor(write=True) as cur:
            for statement in self._schema():
                cur.execute(statement)

    def ping(self) -> None:
        """Raise unless the database answers."""
        with self._cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchall()

    # -- deliveries ---------------------------------------------------------------------------

    def deliveries(self, notification_ids: Sequence[int]) -> dict[int, Delivery]:
        """The delivery records of these notifications (those tried at least once)."""
        if not notification_ids:
            return {}
        marks = ", ".join("?" * len(notification_ids))
        with self._cursor() as cur:
            cur.execute(
                self._q(
                    f"SELECT {_DELIVERY_COLUMNS} FROM {_DELIVERIES} "
                    f"WHERE notification_id IN ({marks})"
                ),
                list(notification_ids),
            )
            found = [self._delivery(row) for row in cur.fetchall()]
        return {d.notification_id: d for d in found}

    def dead_letters(self, limit: int = 100) -> list[Delivery]:
        """The notifications the relay gave up on, newest first."""
        with self._cursor() as cur:
            cur.execute(
                self._q(
                    f"SELECT {_DELIVERY_COLUMNS} FROM {_DELIVERIES} WHERE status = 'dead' "
                    "ORDER BY updated_at DESC, notification_id DESC LIMIT ?"
                ),
                (limit,),
            )
            return [self._delivery(row) for row in cur.fetchall()]

    def dead_letter_count(self) -> int:
        """How many notifications the relay gave up on."""
        with self._cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {_DELIVERIES} WHERE status = 'dead'")
            return int(cur.fetchone()[0])

    def record(
        self,
        notification_id: int,
        order_id: str,
        position: int,
        *,
        status: DeliveryStatus,
        error: str | None,
        next_attempt_at: dt.datetime | None,
        now: dt.datetime,
    ) -> int:
        """Count one more try of a notification and what came of it; the number of tries.

        A notification already ``dead`` or ``acked`` (another instance finished it) keeps its
        status; the count still goes up, since the try happened."""
        with self._cursor(write=True) as cur:
            cur.execute(
                self._q(
                    f"INSERT INTO {_DELIVERIES} ({_DELIVERY_COLUMNS}) "
                    "VALUES (?, ?, ?, 1, ?, ?, ?, ?) "
                    "ON CONFLICT (notification_id) DO UPDATE SET "
                    f"attempts = {_DELIVERIES}.attempts + 1, "
                    f"status = CASE WHEN {_DELIVERIES}.status = 'retrying' "
                    f"THEN excluded.status ELSE {_DELIVERIES}.status END, "
                    "next_attempt_at = excluded.next_attempt_at, "
                    f"last_error = COALESCE(excluded.last_error, {_DELIVERIES}.last_error), "
                    "updated_at = excluded.updated_at "
                    "RETURNING attempts"
                ),
                (
                    notification_id,
                    order_id,
                    position,
                    status,
                    None if next_attempt_at is None else self._ts(next_attempt_at),
                    error,
                    self._ts(now),
                ),
            )
            return int(cur.fetchone()[0])

    def give_up(self, notification_id: int, now: dt.datetime) -> None:
        """Make a notification still ``retrying`` a dead letter (its tries are used up)."""
        with self._cursor(write=True) as cur:
            cur.execute(
                self._q(
                    f"UPDATE {_DELIVERIES} SET status = 'dead', updated_at = ? "
                    "WHERE notification_id = ? AND status = 'retrying'"
                ),
                (self._ts(now), notification_id),
            )

    def _delivery(self, row: Sequence[Any]) -> Delivery:
        nid, order_id, position, attempts, status, next_at, error, updated = row
        return Delivery(
            int(nid),
            order_id,
            int(position),
            int(attempts),
            status,
            self._opt_ts(next_at),
            error,
            self._from_ts(updated),
        )


class SQLiteTables(WebTables):
    """The web tables in the store's SQLite file, through a connection of their own."""

    def __init__(self, path: str, *, timeout: float = 30.0) -> None:
        self.path = path
        self._conn = sqlite3.connect(
            path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        self._lock = threading.Lock()

    @contextmanager
    def _cursor(self, *, write: bool = False) -> Iterator[Any]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield cur
            except BaseException:
                self._conn.rollback()
                raise
            else:
                self._conn.commit()
            finally:
                cur.close()

    def _ts(self, moment: dt.datetime) -> str:
        # The store's own form: fixed-width UTC text, so text order is time order.
        return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")

    def _from_ts(self, value: Any) -> dt.datetime:
        return dt.datetime.fromisoformat(value)

    def _schema(self) -> Sequence[str]:
        return (
            f"""CREATE TABLE IF NOT EXISTS {_DELIVERIES} (
                notification_id INTEGER PRIMARY KEY,
                order_id TEXT NOT NULL,
                position INTEGER NOT NULL,
                attempts INTEGER NOT NULL,
                status TEXT NOT NULL,
                next_attempt_at TEXT,
                last_error TEXT,
                updated_at TEXT NOT NULL
            )""",
            f"CREATE INDEX IF NOT EXISTS {_DELIVERIES}_dead ON {_DELIVERIES} (updated_at) "
            "WHERE status = 'dead'",
        )

    def close(self) -> None:
        self._conn.close()


class PostgresTables(WebTables):
    """The web tables in the store's PostgreSQL schema, through a small pool of their own."""

    _PLACEHOLDER = "%s"

    def __init__(self, dsn: str) -> None:
        from psycopg_pool import ConnectionPool

        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=2, kwargs={"autocommit": True}, open=False, timeout=30
        )
        self._pool.open(wait=True, timeout=30)

    @contextmanager
    def _cursor(self, *, write: bool = False) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    def setup(self) -> None:
        # One instance at a time: concurrent CREATE ... IF NOT EXISTS can still collide.
        with self._cursor(write=True) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
            for statement in self._schema():
                cur.execute(statement)

    def _ts(self, moment: dt.datetime) -> dt.datetime:
        return moment

    def _from_ts(self, value: Any) -> dt.datetime:
        if not isinstance(value, dt.datetime):
            raise ValueError(f"expected a timestamp, got {value!r}")
        return value

    def _schema(self) -> Sequence[str]:
        return (
            f"""CREATE TABLE IF NOT EXISTS {_DELIVERIES} (
                notification_id BIGINT PRIMARY KEY,
                order_id TEXT NOT NULL,
                position INTEGER NOT NULL,
                attempts INTEGER NOT NULL,
                status TEXT NOT NULL,
                next_attempt_at TIMESTAMPTZ,
                last_error TEXT,
                updated_at TIMESTAMPTZ NOT NULL
            )""",
            f"CREATE INDEX IF NOT EXISTS {_DELIVERIES}_dead ON {_DELIVERIES} (updated_at) "
            "WHERE status = 'dead'",
        )

    def close(self) -> None:
        self._pool.close()


_SETUP_LOCK: Final = 0x0D5E_0E0B
"""Advisory lock id held while this module creates its table and index."""
