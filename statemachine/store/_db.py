"""The one thing the two stores do differently: the database underneath.

A :class:`Database` is a connection (or a pool) and a dialect: how a transaction is opened,
how a moment and a JSON value are stored, how the schema is created and upgraded, and how the
rows of due orders are locked. Everything else, the unit of work, the checks, the listings, is
written once over it (:class:`~statemachine.store._store.SQLStore`), so SQLite and PostgreSQL
run the very same steps.
"""

from __future__ import annotations

import abc
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Final, Protocol

import attrs

from ..errors import OrderError

__all__ = ["Cursor", "Database", "Transaction", "dumps"]


class Cursor(Protocol):
    """The part of a DB-API cursor the stores use."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: Any, params: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: Any, params_seq: Iterable[Sequence[Any]], /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


@attrs.define
class Transaction:
    """A write transaction in progress, as :meth:`Database.write` hands it out.

    ``cur`` runs its statements. The transaction commits when its ``with`` block ends, and
    rolls back when the block raises (something went wrong) or when a step asked for it with
    :meth:`rollback` because what it found is not to be kept (a duplicate delivery, a lost
    compare-and-swap, an id already stored); that step says what happened in its return value.
    """

    cur: Cursor
    keep: bool = attrs.field(default=True, init=False)
    """Whether to commit at the end of the block (``False`` once :meth:`rollback` was asked)."""

    def rollback(self) -> None:
        """Undo everything this transaction wrote when its block ends, instead of committing."""
        self.keep = False

    def run(self, sql: str, rows: Sequence[Sequence[Any]], db: Database) -> int:
        """Run ``sql`` (``?`` placeholders) once per row of parameters, as one batch when there
        are several; the number of rows it changed in all."""
        if not rows:
            return 0
        if len(rows) == 1:
            self.cur.execute(db.q(sql), rows[0])
        else:
            self.cur.executemany(db.q(sql), rows)
        return self.cur.rowcount


class Database(abc.ABC):
    """A connection and its dialect. Subclasses: ``SQLiteDatabase``, ``PostgresDatabase``."""

    kind: str = "database"
    """What messages call it (``"SQLite file"``)."""
    placeholder: str = "?"
    """The driver's parameter marker; statements are written with ``?``."""
    lock_due: str = ""
    """Suffix of the sweep's query for due rows (PostgreSQL: ``FOR UPDATE SKIP LOCKED``)."""
    create: tuple[str, ...] = ()
    """The statements that create the current schema in an empty database."""
    now_sql: str = "CURRENT_TIMESTAMP"
    """The database's clock in a statement, as :meth:`ts` stores a moment: when a notification
    was queued is the database's fact (the package never reads the clock)."""
    upgrades: Mapping[int, tuple[str, ...]] = {}
    """The statements that bring a schema from version N-1 to N, by N, that need no data
    moved (the data moves are :mod:`~statemachine.store._schema`'s)."""
    after_move: tuple[str, ...] = ()
    """Statements to run once the rows moved to schema 3 (PostgreSQL: the outbox's id
    sequence set past the ids carried over)."""
    after_fill: Mapping[int, tuple[str, ...]] = {}
    """The statements that finish version N once its data moved, by N: the indexes of the
    columns the move filled (built once, not updated row by row)."""
    binary: str = ""
    """What makes a text comparison compare code points, as Python does (PostgreSQL:
    ``COLLATE "C"``; SQLite's ``BINARY`` does already): the order search pages merge in."""
    loose_id: str = "+order_id"
    """The order id compared by code point in a form no index of the ids orders (SQLite: the
    unary ``+``; PostgreSQL: ``COLLATE "C"``, not the primary key's collation): a lookup by
    another indexed column (the attention list's) is then driven by that column's index,
    never by a walk of every id in order that a planner without statistics may prefer."""
    page_key: str = "order_id"
    """The column the move from schema 2 pages ``orders_v2`` by."""
    old_at: str = "l.at"
    """How the move from schema 2 reads a release-2 log row's time (``l.at``)."""
    old_at_in_range: str = "TRUE"
    """Which release-2 log rows of an order carried over keep a time this release can read."""
    threadsafe_pool: bool = False
    """Whether several threads may run transactions at once (a pool of connections); if not,
    the store serialises them."""

    def __init__(self, where: str) -> None:
        self.where = where
        """The path, or the connection string without its password: for messages."""
        self._sql: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.where!r})"

    @property
    def described(self) -> str:
        """``"SQLite file orders.db"``: the kind and where, for messages."""
        return f"{self.kind} {self.where}"

    def q(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, in the driver's style."""
        if self.placeholder == "?":
            return sql
        cached = self._sql.get(sql)
        if cached is None:
            cached = self._sql[sql] = sql.replace("?", self.placeholder)
        return cached

    @abc.abstractmethod
    def write(self) -> AbstractContextManager[Transaction]:
        """A write transaction: committed when the block ends, rolled back when it raises or
        when :meth:`Transaction.rollback` was asked."""

    @abc.abstractmethod
    def read(self) -> AbstractContextManager[Cursor]:
        """A read-only transaction with one consistent view, for reads of several statements
        that must agree."""

    @abc.abstractmethod
    def statements(self) -> AbstractContextManager[Cursor]:
        """A cursor whose every statement is a transaction of its own (autocommit): for reads
        whose statements each stand alone, without the round trips a transaction costs."""

    @abc.abstractmethod
    def ts(self, moment: dt.datetime) -> Any:
        """``moment`` as the database stores it (an instant: the offset is kept apart)."""

    @abc.abstractmethod
    def from_ts(self, value: Any) -> dt.datetime:
        """A stored moment back as an aware datetime (in UTC)."""

    @abc.abstractmethod
    def json(self, value: Any) -> Any:
        """``value`` (JSON-safe) as the database stores it."""

    @abc.abstractmethod
    def from_json(self, value: Any) -> Any:
        """A stored JSON column back as Python data."""

    def stored_json(self, param: Any) -> Any:
        """A JSON column as a read will return it, given the parameter that wrote it."""
        return param

    @abc.abstractmethod
    def tables(self, cur: Cursor) -> set[str]:
        """The names of the tables in the store's schema."""

    def lock_migration(self, cur: Cursor) -> None:
        """Keep other processes from migrating at the same time (PostgreSQL: a lock).

        By default the write transaction is enough (SQLite's ``BEGIN IMMEDIATE`` holds the
        file's write lock)."""
        return None

    @contextmanager
    def faults(self) -> Iterator[None]:
        """Raise what the driver raises inside the block as the store's own error where it
        has a meaning for the caller (:meth:`fault`): a database that does not answer is
        :class:`~statemachine.errors.StoreUnavailable`, a lock or a deadlock lost is
        :class:`~statemachine.errors.ConcurrentUpdate`. Anything else is left as it is: a bug
        to report, not a fault to answer."""
        try:
            yield
        except OrderError:
            raise
        except Exception as exc:
            fault = self.fault(exc)
            if fault is None:
                raise
            raise fault from exc

    def fault(self, exc: Exception) -> OrderError | None:
        """The store error ``exc`` (the driver's) means, if any (see :meth:`faults`)."""
        return None

    def check_file(self) -> None:
        """Raise :class:`~statemachine.errors.StoreUnavailable` if the database is no longer
        the one opened (SQLite: its file deleted or replaced); checked before each write and
        by a readiness check. Nothing to check by default (a server keeps its own)."""
        return None

    def same_old_at(self, stored: Any, moment: dt.datetime) -> bool:
        """Whether a release-2 log time (as :attr:`old_at` reads it) is ``moment``'s instant."""
        return bool(stored == self.ts(moment))

    @abc.abstractmethod
    def archive_v2(self, inbox: bool) -> str:
        """The statement (one ``?``: the page key) that copies a release-2 order, its log and
        its inbox claims (``inbox``: there is an inbox table) into ``schema2_unread``."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection (or the pool)."""


_SEPARATORS: Final = (",", ":")


def dumps(value: Any) -> str:
    """Compact, stable JSON text."""
    return json.dumps(value, separators=_SEPARATORS)
