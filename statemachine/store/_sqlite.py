"""The embedded default: one SQLite file, standard library ``sqlite3``, WAL mode.

Every write starts with ``BEGIN IMMEDIATE``, which takes SQLite's single write lock up front:
a deferred transaction that reads and then writes would fail at once with ``database is
locked`` when another connection wrote in between, whatever the busy timeout. Waiting for the
lock is bounded by the busy timeout; past it, :class:`ConcurrentUpdate` is raised.

Several short writes waiting at once may share one transaction and one commit
(:meth:`SQLiteStore.run_together`, the async store's group commit): each runs in a savepoint
of its own, so one that fails or rolls back leaves the others as they were, and none is
answered before the commit that keeps them all.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Generic, Literal, TypeVar

import attrs

from .._observe import LOGGER
from ..errors import ConcurrentUpdate, InvalidInput, OrderError, StoreUnavailable
from ._db import Cursor, Database, Transaction, dumps
from ._store import DEFAULT_ATTEMPTS, SQLStore

__all__ = ["Outcome", "SQLiteStore"]

_T = TypeVar("_T")

_CREATE: Final = (
    """CREATE TABLE orders (
        order_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        head TEXT NOT NULL,
        state TEXT NOT NULL,
        dispatch_deadline TEXT NOT NULL,
        repayment_deadline TEXT,
        due_at TEXT
    )""",
    "CREATE INDEX orders_due_at ON orders (due_at) WHERE due_at IS NOT NULL",
    "CREATE INDEX orders_state ON orders (state, order_id)",
    """CREATE TABLE order_log (
        order_id TEXT NOT NULL REFERENCES orders (order_id),
        seq INTEGER NOT NULL,
        event TEXT NOT NULL,
        at TEXT NOT NULL,
        utc_offset INTEGER NOT NULL,
        event_id TEXT,
        source TEXT,
        data TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        PRIMARY KEY (order_id, seq),
        UNIQUE (order_id, event_id)
    )""",
    """CREATE TRIGGER order_log_no_update BEFORE UPDATE ON order_log
        BEGIN SELECT RAISE(ABORT, 'order_log is append-only'); END""",
    """CREATE TRIGGER order_log_no_delete BEFORE DELETE ON order_log
        BEGIN SELECT RAISE(ABORT, 'order_log is append-only'); END""",
    """CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id TEXT NOT NULL REFERENCES orders (order_id),
        position INTEGER NOT NULL,
        acked INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        status TEXT,
        next_attempt_at TEXT,
        last_error TEXT,
        updated_at TEXT,
        UNIQUE (order_id, position)
    )""",
    "CREATE INDEX outbox_pending ON outbox (id) WHERE NOT acked",
    "CREATE INDEX outbox_dead ON outbox (updated_at, id) WHERE status = 'dead'",
)
"""Schema 3 (:mod:`~statemachine.store._schema`), in an empty file."""

_FOUR: Final = (
    "ALTER TABLE outbox ADD COLUMN queued_at TEXT",
    "ALTER TABLE outbox ADD COLUMN lease_until TEXT",
    "ALTER TABLE outbox ADD COLUMN lease_owner TEXT",
    "CREATE INDEX outbox_order_pending ON outbox (order_id, id) WHERE NOT acked",
    """CREATE TABLE outbox_tries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        notification_id INTEGER NOT NULL REFERENCES outbox (id),
        at TEXT NOT NULL,
        answer TEXT NOT NULL,
        delivered INTEGER NOT NULL
    )""",
    "CREATE INDEX outbox_tries_notification ON outbox_tries (notification_id, id)",
    "ALTER TABLE order_log ADD COLUMN actor TEXT",
    "ALTER TABLE order_log ADD COLUMN note TEXT",
    "ALTER TABLE orders ADD COLUMN definition TEXT NOT NULL DEFAULT 'orders@1'",
    "ALTER TABLE order_log ADD COLUMN definition TEXT NOT NULL DEFAULT 'orders@1'",
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        credential TEXT NOT NULL,
        secret_print TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )""",
    "CREATE INDEX sessions_expiry ON sessions (expires_at)",
)
"""Schema 3 to 4: the relay's leases, when each notification was queued, and every try; who
sent each event (the credential's name) and the note they gave; the definition each order
runs under and each event was decided by (``orders@1`` for all before); the inspector's
sessions."""

_FIVE: Final = (
    "ALTER TABLE orders ADD COLUMN tracking_key TEXT",
    "ALTER TABLE orders ADD COLUMN last_at TEXT",
    "ALTER TABLE orders ADD COLUMN incidents INTEGER",
    "ALTER TABLE orders ADD COLUMN order_key TEXT",
    "ALTER TABLE orders ADD COLUMN order_number TEXT",
    "ALTER TABLE orders ADD COLUMN amount_key TEXT",
    "ALTER TABLE orders ADD COLUMN currency TEXT",
    "ALTER TABLE orders ADD COLUMN paid_at TEXT",
)
"""Schema 4 to 5: the derived columns search, sorting and the attention list read (filled
by the move, :mod:`~statemachine.store._schema`)."""

_FIVE_INDEXES: Final = (
    "DROP INDEX IF EXISTS orders_due_at",
    "CREATE INDEX orders_deadline ON orders (due_at, order_id)",
    "CREATE INDEX orders_key ON orders (order_key, order_id)",
    "CREATE INDEX orders_number ON orders (order_number)",
    "CREATE INDEX orders_tracking ON orders (tracking_key, order_key, order_id) "
    "WHERE tracking_key IS NOT NULL",
    "CREATE INDEX orders_amount ON orders (amount_key, order_id)",
    "CREATE INDEX orders_amount_found ON orders (amount_key, order_key, order_id)",
    "CREATE INDEX orders_paid_at ON orders (paid_at, order_id)",
    "CREATE INDEX orders_last_at ON orders (last_at)",
    "CREATE INDEX orders_repayment ON orders (repayment_deadline) "
    "WHERE repayment_deadline IS NOT NULL",
    "CREATE INDEX orders_incidents ON orders (order_id) WHERE incidents > 0",
    "CREATE INDEX outbox_dead_orders ON outbox (order_id) WHERE status = 'dead'",
)
"""Schema 5's indexes, built once its columns are filled: for search, the id, its number, the
tracking number and the amount, each with the id case-folded and the id (the order search
lists in, so a page stops early); for sorting, the amount, the payment time and the clock
deadline (the sweep's too), each with the id that breaks ties; and what the attention list
looks up (the latest moment, a repayment deadline, incidents, dead letters)."""

_RETIRE_2: Final = (
    "DROP TRIGGER IF EXISTS order_log_no_update",
    "DROP TRIGGER IF EXISTS order_log_no_delete",
    "DROP INDEX IF EXISTS orders_due_at",
    "DROP INDEX IF EXISTS orders_state",
    "DROP INDEX IF EXISTS outbox_pending",
    "ALTER TABLE orders RENAME TO orders_v2",
    "ALTER TABLE order_log RENAME TO order_log_v2",
    "ALTER TABLE outbox RENAME TO outbox_v2",
)
"""Schema 2's tables put aside (``*_v2``) for their rows to move into schema 3's."""

_AFTER_FILL: Final = {5: _FIVE_INDEXES}

_UPGRADES: Final = {
    2: ("CREATE INDEX orders_state ON orders (state, order_id)",),
    3: (*_RETIRE_2, *_CREATE),
    4: _FOUR,
    5: _FIVE,
}

_STORE_TABLES: Final = frozenset({"schema_version", "orders", "order_log", "outbox"})
"""The tables a store's file holds, whatever its schema version."""

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]


def _path(path: object) -> str:
    """``path`` as text, if it can name a file: not a ``file:`` URI, which SQLite would read
    as one (``file::memory:`` keeps nothing; ``file:x.db`` is another name for ``x.db``)."""
    if isinstance(path, str | os.PathLike):
        text = os.fspath(path)
        if isinstance(text, str) and text.strip() and "\x00" not in text:
            if text.strip().lower().startswith("file:"):
                raise InvalidInput(
                    f"path {text!r} is a SQLite URI; a store takes the path of its file",
                    field="path",
                )
            return text
    raise InvalidInput(f"path must name a file, got {path!r}", field="path")


def _text(raw: bytes) -> str:
    """A TEXT value as Python text; bytes that are not UTF-8 survive as lone surrogates, so a
    corrupt row is named (CorruptOrder) instead of failing the whole query."""
    return raw.decode("utf-8", "surrogateescape")


def _why(exc: sqlite3.Error) -> str:
    """What an error of opening a SQLite file means, in words."""
    text = str(exc)
    if "not a database" in text:
        return "the file is not a SQLite database"
    if "unable to open" in text:
        return "the file cannot be opened (no such directory, a directory, or no permission)"
    if "readonly" in text:
        return "the file is read-only; a store writes"
    return text


class SQLiteDatabase(Database):
    """One SQLite file through one connection (the store serialises its threads)."""

    kind = "SQLite file"
    create = (*_CREATE, *_FOUR, *_FIVE, *_FIVE_INDEXES)
    now_sql = "strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000+00:00'"
    upgrades = _UPGRADES
    after_fill = _AFTER_FILL
    page_key = "rowid"

    def __init__(
        self, path: str, *, timeout: float, synchronous: Synchronous, new_file: bool
    ) -> None:
        super().__init__(path)
        self.path = path
        self._absolute = os.path.abspath(path)
        self._timeout = timeout
        self._grouped = False
        """Inside :meth:`together`: each write is a savepoint of the one open transaction."""
        target, uri = path, False
        if not new_file and path != ":memory:":
            # read-write, never create: one call, so no file can appear between a check and it
            target, uri = Path(self._absolute).as_uri() + "?mode=rw", True
        try:
            self._conn = sqlite3.connect(
                target, timeout=timeout, isolation_level=None, check_same_thread=False, uri=uri
            )
        except sqlite3.Error as exc:
            if uri and not os.path.lexists(self._absolute):
                raise StoreUnavailable(
                    path, "there is no such file, and this store was opened not to create one"
                ) from None
            raise StoreUnavailable(path, _why(exc)) from None
        self._conn.text_factory = _text
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self._refuse_another_applications()  # before anything is changed in the file
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreUnavailable(path, _why(exc)) from None
        except StoreUnavailable:
            self._conn.close()
            raise
        try:
            self._file_id = self._identity()
        except OSError as exc:
            self._conn.close()
            raise StoreUnavailable(path, f"the file cannot be examined ({exc.strerror})") from None

    def _refuse_another_applications(self) -> None:
        """Refuse a file that holds anything but an order store (another application's
        database, a CRM, a cache) before anything is written to it: not even the switch to WAL
        mode, which changes the file for its own application. A store's file holds tables
        only (no view), among them ``schema_version`` of the one column ``version`` and the
        order tables ``orders`` (by ``order_id`` and ``version``), ``order_log`` and
        ``outbox``; another application's table of one of those names (Flyway's
        ``schema_version``) does not make the file a store."""
        objects = {
            (kind, name)
            for kind, name in self._conn.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%'"
            )
        }
        if not objects:
            return  # a new, empty database: the store creates its tables
        tables = {name for kind, name in objects if kind == "table"}
        if len(tables) == len(objects) and tables >= _STORE_TABLES:
            version = [r[1] for r in self._conn.execute("PRAGMA table_info(schema_version)")]
            orders = {r[1] for r in self._conn.execute("PRAGMA table_info(orders)")}
            if version == ["version"] and {"order_id", "version"} <= orders:
                return
        names = sorted(name for _, name in objects)
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise StoreUnavailable(
            self.path,
            f"it holds another application's tables ({shown}) and no order store; nothing "
            "was changed in it: give the order store a file of its own",
        )

    def _identity(self) -> tuple[int, int] | None:
        """The file's device and inode, found at the absolute path it was opened at (a later
        change of the working folder changes nothing); ``None`` for a database in memory,
        which this check leaves alone."""
        if self.path == ":memory:":
            return None
        found = os.stat(self._absolute)
        return found.st_dev, found.st_ino

    def check_file(self) -> None:
        """The file this store opened is still at its path: not deleted, not replaced by
        another (a restore, a deploy, a hand). Writing on through the connection would go to a
        file nobody will open again, and a new empty database would be made at the path on the
        next start: every order lost, silently. So the store stops:
        :class:`StoreUnavailable`, nothing written."""
        if self._file_id is None:
            return
        try:
            now = self._identity()
        except FileNotFoundError:
            now = None
        except OSError as exc:
            raise StoreUnavailable(
                self.path, f"the file cannot be examined ({exc.strerror})"
            ) from None
        if now is None:
            raise StoreUnavailable(
                self.path,
                "the database file was deleted or moved while the store had it open; nothing "
                "was written (put the file back, or restart the service on the right one)",
            )
        if now != self._file_id:
            raise StoreUnavailable(
                self.path,
                "the database file was replaced by another while the store had it open; "
                "nothing was written (restart the service to use the new file)",
            )

    def close(self) -> None:
        self._conn.close()

    def fault(self, exc: Exception) -> OrderError | None:
        if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError):
            return None  # a statement of ours is wrong: a bug, not a fault
        if isinstance(exc, sqlite3.OperationalError) and (
            "locked" in str(exc) or "busy" in str(exc)
        ):
            return ConcurrentUpdate(
                f"could not take the write lock of {self.path} within {self._timeout}s "
                f"({exc}); nothing was written",
                order_id=None,
                event=None,
                attempts=1,
            )
        if isinstance(exc, sqlite3.DatabaseError):  # I/O, a damaged file, tables gone
            return StoreUnavailable(self.path, _why(exc))
        return None

    @contextmanager
    def together(self) -> Iterator[None]:
        """One transaction around the block, committed at its end; each :meth:`write` inside
        is a savepoint of it (see :meth:`SQLiteStore.run_together`). A failure to take the
        write lock or to commit is raised (as :meth:`faults` maps it), and nothing is kept."""
        self.check_file()
        with self.faults():
            self._conn.execute("BEGIN IMMEDIATE")
            self._grouped = True
            try:
                yield
            except BaseException:
                self._rollback()
                raise
            finally:
                self._grouped = False
            try:
                self._conn.commit()
            except BaseException:
                self._rollback()
                raise

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        if self._grouped:
            with self._savepoint() as tx:
                yield tx
            return
        self.check_file()
        with self.faults():
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
            except BaseException:
                cur.close()
                raise
            tx = Transaction(cur)
            try:
                yield tx
            except BaseException:
                self._rollback()
                raise
            else:
                if tx.keep:
                    self._conn.commit()
                else:
                    self._conn.rollback()
            finally:
                cur.close()

    @contextmanager
    def _savepoint(self) -> Iterator[Transaction]:
        """:meth:`write` inside :meth:`together`: released (kept until the commit) when the
        block ends, rolled back to when it raises or asks for a rollback."""
        with self.faults():
            cur = self._conn.cursor()
            try:
                cur.execute("SAVEPOINT write")
                tx = Transaction(cur)
                try:
                    yield tx
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):  # the failure may have ended it
                        cur.execute("ROLLBACK TO write")
                        cur.execute("RELEASE write")
                    raise
                if not tx.keep:
                    cur.execute("ROLLBACK TO write")
                cur.execute("RELEASE write")
            finally:
                cur.close()

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on the connection."""
        return self._conn.in_transaction

    def _rollback(self) -> None:
        """Roll back after a failure, which may have ended the transaction already."""
        with contextlib.suppress(sqlite3.Error):  # the connection may have gone with the file
            self._conn.rollback()

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        if self._grouped:  # inside the group's transaction already: one view, its own writes
            with self.statements() as cur:
                yield cur
            return
        with self.faults():
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN")
                yield cur
            finally:
                self._rollback()
                cur.close()

    @contextmanager
    def statements(self) -> Iterator[Cursor]:
        with self.faults():
            cur = self._conn.cursor()
            try:
                yield cur
            finally:
                cur.close()

    def archive_v2(self, inbox: bool) -> str:
        claims = (
            "(SELECT json_group_array(i.event_id) FROM inbox AS i WHERE i.order_id = o.order_id)"
            if inbox
            else "NULL"
        )
        return (
            "INSERT INTO schema2_unread (order_id, body, log, inbox) SELECT o.order_id, o.body, "
            "(SELECT json_group_array(json_array(l.seq, l.event, l.from_state, l.to_state, "
            "l.at, l.event_id, l.source, l.data)) FROM (SELECT * FROM order_log_v2 AS x "
            f"WHERE x.order_id = o.order_id ORDER BY x.seq) AS l), {claims} "
            "FROM orders_v2 AS o WHERE o.rowid = ?"
        )

    def tables(self, cur: Cursor) -> set[str]:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in cur.fetchall()}

    def ts(self, moment: dt.datetime) -> str:
        # Fixed-width UTC text, so that text order is time order in the due_at index.
        return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")

    def from_ts(self, value: Any) -> dt.datetime:
        if not isinstance(value, str):
            raise ValueError(f"expected a time, got {value!r}")
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(f"expected a time with its offset, got {value!r}")
        return moment

    def json(self, value: Any) -> str:
        return dumps(value)

    def from_json(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected JSON text, got {type(value).__name__}")
        return json.loads(value)


class SQLiteStore(SQLStore):
    """Orders in one SQLite file: ``SQLiteStore("orders.db")``.

    ``timeout`` is the busy timeout in seconds (how long a writer waits for the write lock);
    ``synchronous`` is SQLite's durability setting, ``FULL`` by default: a committed event
    survives a power cut. Several processes may open the same file; each store object holds
    one connection and may be shared by threads (it serialises them). ``create=False`` opens
    only a file that exists (:class:`~statemachine.errors.StoreUnavailable` otherwise), as a
    service restarted after its file was lost must: a new empty database in its place would
    hide that every order is gone.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        synchronous: Synchronous = "FULL",
        max_attempts: int = DEFAULT_ATTEMPTS,
        create: bool = True,
    ) -> None:
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise InvalidInput(
                f"synchronous must be OFF, NORMAL, FULL or EXTRA, got {synchronous!r}",
                field="synchronous",
            )
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
            raise InvalidInput(f"timeout must be seconds, got {timeout!r}", field="timeout")
        self.path = _path(path)
        db = SQLiteDatabase(
            self.path, timeout=timeout, synchronous=synchronous, new_file=bool(create)
        )
        self._file = db
        try:
            super().__init__(db, max_attempts)
            self._open()
        except sqlite3.Error as exc:
            db.close()
            raise StoreUnavailable(self.path, _why(exc)) from None
        except BaseException:
            db.close()
            raise

    def run_together(self, calls: Sequence[Callable[[], _T]]) -> list[Outcome[_T]]:
        """Run ``calls`` (each a short piece of work on this store: a use case that writes one
        order, such as ``add`` or ``apply``) in one transaction with one commit: a group
        commit, one wait for the disk instead of one each. The outcome of each, in order.

        Each call runs as it would alone, but every transaction it opens is a savepoint of the
        group's: a call that raises (an event refused, an id taken, a lost compare-and-swap)
        or rolls back undoes only its own writes, and gets its own error. The calls see each
        other's writes in order, as if run one after the other. The commit at the end keeps
        them all; if taking the write lock or the commit fails, nothing is kept and every call
        that had succeeded gets that error instead (and this store forgets the orders it
        remembered meanwhile). Nothing else runs on the connection until the group is done.
        """
        with self._lock:
            if len(calls) == 1:
                return [Outcome.of(calls[0])]
            outcomes: list[Outcome[_T]] = []
            try:
                with self._file.together():
                    for call in calls:
                        outcomes.append(Outcome.of(call))
                        if not self._file.in_transaction:  # SQLite rolled it all back
                            raise StoreUnavailable(
                                self.path, "SQLite ended the transaction of a group of writes"
                            )
            except BaseException as exc:
                # Nothing of the group is kept: every call gets the error (one refused by a
                # write of the group saw what was not kept), and the orders remembered while
                # it ran are forgotten.
                self._unit.cache.clear()
                LOGGER.warning(
                    "a group of %d writes to %s was not kept (%s): the events logged as "
                    "applied in it were rolled back",
                    len(calls),
                    self.path,
                    exc,
                )
                if not isinstance(exc, Exception):
                    raise
                return [Outcome[_T](error=_own_copy(exc)) for _ in calls]
        return outcomes


def _own_copy(exc: Exception) -> Exception:
    """A copy of ``exc`` for one of the callers it is told to (each raises its own, with its
    own traceback and notes), with the same cause."""
    try:
        mine = copy.copy(exc)
    except Exception:  # pragma: no cover - an exception that cannot be copied
        return exc
    mine.__cause__ = exc.__cause__
    return mine


@attrs.frozen
class Outcome(Generic[_T]):
    """What one call of :meth:`SQLiteStore.run_together` gave: its value, or its error."""

    value: _T | None = None
    error: BaseException | None = None

    @classmethod
    def of(cls, call: Callable[[], _T]) -> Outcome[_T]:
        """Run ``call``; its value, or the exception it raised."""
        try:
            return cls(value=call())
        except Exception as exc:
            return cls(error=exc)

    def get(self) -> _T:
        """The value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]
