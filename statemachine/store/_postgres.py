"""Orders in PostgreSQL, for many service instances sharing one database (psycopg 3).

Install with ``pip install 'order-statemachine[postgres]'``; psycopg is imported only when a
:class:`PostgresStore` is made. Transactions run at READ COMMITTED: ``apply`` relies on the
compare-and-swap of the version column (a concurrent writer's UPDATE waits for the row, then
finds the version moved on and retries on fresh data), the inbox's primary key (a concurrent
duplicate delivery waits for the first, then sees its claim), and ``sweep`` on
``SELECT ... FOR UPDATE SKIP LOCKED`` so several sweepers share the due orders without doubles.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from ..errors import InvalidInput, StoreUnavailable
from ._base import (
    DEFAULT_ATTEMPTS,
    Cursor,
    SQLStore,
    Transaction,
    dumps,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

_MIGRATION_LOCK: Final = 0x0D5E_0001
"""Advisory lock id held while the schema is created or migrated (one migrator at a time)."""

_MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {
    1: (
        """CREATE TABLE orders (
            order_id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            version BIGINT NOT NULL,
            dispatch_deadline TIMESTAMPTZ NOT NULL,
            repayment_deadline TIMESTAMPTZ,
            due_at TIMESTAMPTZ,
            body JSONB NOT NULL
        )""",
        "CREATE INDEX orders_due_at ON orders (due_at) WHERE due_at IS NOT NULL",
        """CREATE TABLE order_log (
            order_id TEXT NOT NULL REFERENCES orders (order_id),
            seq INTEGER NOT NULL,
            event TEXT NOT NULL,
            from_state TEXT NOT NULL,
            to_state TEXT NOT NULL,
            at TIMESTAMPTZ NOT NULL,
            event_id TEXT,
            source TEXT,
            data JSONB NOT NULL,
            PRIMARY KEY (order_id, seq)
        )""",
        """CREATE FUNCTION order_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'order_log is append-only'; END $$""",
        """CREATE TRIGGER order_log_append_only BEFORE UPDATE OR DELETE ON order_log
            FOR EACH ROW EXECUTE FUNCTION order_log_append_only()""",
        """CREATE TABLE inbox (
            order_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            event TEXT NOT NULL,
            source TEXT,
            PRIMARY KEY (order_id, event_id)
        )""",
        """CREATE TABLE outbox (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            order_id TEXT NOT NULL REFERENCES orders (order_id),
            position INTEGER NOT NULL,
            kind TEXT NOT NULL,
            channel TEXT NOT NULL,
            at TIMESTAMPTZ NOT NULL,
            rule TEXT NOT NULL,
            message TEXT NOT NULL,
            acked BOOLEAN NOT NULL DEFAULT FALSE,
            UNIQUE (order_id, position)
        )""",
        "CREATE INDEX outbox_pending ON outbox (id) WHERE NOT acked",
    ),
    2: ("CREATE INDEX orders_state ON orders (state, order_id)",),
}


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "PostgresStore needs psycopg 3: pip install 'order-statemachine[postgres]'"
        ) from exc
    return psycopg


class PostgresStore(SQLStore):
    """Orders in a PostgreSQL database: ``PostgresStore("postgresql://user@host/db")``.

    ``dsn`` is any libpq connection string; the tables live in the connection's current schema
    (set ``options=-csearch_path=...`` in the DSN to choose another). By default a store object
    holds one connection and may be shared by threads (it serialises them). With
    ``pool_size=N`` it takes a connection from a pool of at most N (``psycopg_pool``) for each
    transaction instead, so N threads work at once; the async store runs on that.
    """

    _PLACEHOLDER = "%s"
    _KIND = "PostgreSQL database"
    _MIGRATIONS = _MIGRATIONS
    _LOCK_DUE = " FOR UPDATE SKIP LOCKED"

    def __init__(
        self, dsn: str, *, max_attempts: int = DEFAULT_ATTEMPTS, pool_size: int | None = None
    ) -> None:
        if not isinstance(dsn, str) or not dsn.strip():
            raise InvalidInput(f"dsn must be a libpq connection string, got {dsn!r}", field="dsn")
        if pool_size is not None and (
            isinstance(pool_size, bool) or not isinstance(pool_size, int) or not pool_size >= 1
        ):
            raise InvalidInput(
                f"pool_size must be a whole number of at least 1, got {pool_size!r}",
                field="pool_size",
            )
        pg = _psycopg()
        super().__init__(_redact(dsn), max_attempts)
        self._conn: psycopg.Connection[Any] | None = None
        self._pool: Any = None
        try:
            if pool_size is None:
                self._conn = pg.connect(dsn, autocommit=True)
            else:
                self._pool = _pool(dsn, pool_size)
                self._lock = contextlib.nullcontext()  # type: ignore[assignment]
        except pg.Error as exc:
            raise StoreUnavailable(self._where, _first_line(exc)) from None
        try:
            self._migrate()
        except pg.Error as exc:
            self.close()
            raise StoreUnavailable(self._where, _first_line(exc)) from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the connection (or the pool)."""
        if self._pool is not None:
            self._pool.close()
        if self._conn is not None:
            self._conn.close()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        if self._pool is None:
            assert self._conn is not None
            yield self._conn
        else:
            with self._pool.connection() as conn:
                yield conn

    def _lock_migration(self, cur: Cursor) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))

    @contextlib.contextmanager
    def _write(self) -> Iterator[Transaction]:
        with (
            self._connection() as conn,
            conn.transaction() as pg_tx,
            conn.cursor() as cur,
        ):
            tx = Transaction(cur)
            yield tx
            pg_tx.force_rollback = not tx.keep  # read when the transaction block ends

    @contextlib.contextmanager
    def _read(self) -> Iterator[Cursor]:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield cur

    def _tables(self, cur: Cursor) -> set[str]:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {row[0] for row in cur.fetchall()}

    def _ts(self, moment: dt.datetime) -> dt.datetime:
        return moment

    def _from_ts(self, value: Any) -> dt.datetime:
        if not isinstance(value, dt.datetime):
            raise ValueError(f"expected a timestamp, got {value!r}")
        return value

    def _json(self, value: Any) -> Any:
        from psycopg.types.json import Jsonb

        return Jsonb(value)

    def _from_json(self, value: Any) -> Any:
        return value

    def _stored_body(self, param: Any) -> Any:
        # jsonb comes back as plain JSON data: lists where the dict held tuples
        return json.loads(dumps(param.obj))


def _pool(dsn: str, size: int) -> Any:
    try:
        from psycopg_pool import ConnectionPool
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "a pooled PostgresStore needs psycopg_pool: pip install 'order-statemachine[postgres]'"
        ) from exc
    pool = ConnectionPool(
        dsn, min_size=1, max_size=size, kwargs={"autocommit": True}, open=False, timeout=30
    )
    pool.open(wait=True, timeout=30)
    return pool


def _first_line(exc: BaseException) -> str:
    """The first line of a driver's message (no SQL, no stack)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _redact(dsn: str) -> str:
    """``dsn`` without its password, for messages."""
    try:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = conninfo_to_dict(dsn)
    except Exception:
        return "<dsn>"
    params.pop("password", None)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})
