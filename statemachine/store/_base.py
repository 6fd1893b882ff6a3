"""What every store shares: the interface, its records and errors, and the ``apply`` algorithm.

The two stores differ only in their SQL dialect and in how they open a transaction; the steps
that keep an order safe under races (claim the event id, load and validate, fire through the
machine, compare-and-swap the version, append to the log, queue the notifications) are written
once here, in :class:`SQLStore`.
"""

from __future__ import annotations

import abc
import datetime as dt
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

import attrs

from ..errors import (
    ConcurrentUpdate,
    CorruptOrder,
    EventRejected,
    InvalidInput,
    OrderError,
    OrderExists,
    SchemaVersionError,
    StoreUnavailable,
    UnknownOrder,
    VersionConflict,
)
from ..jsonform import to_json
from ..machine import MAX_ID_LENGTH, require_aware, require_text
from ..observe import LOGGER, event_handled, span
from ..order import Order
from ..records import FireResult, HistoryRecord, Notification
from ..table import EVENTS, TABLE
from ._cache import DEFAULT_CAPACITY, ValidatedOrders

__all__ = [
    "MAX_LIMIT",
    "SCHEMA_VERSION",
    "Applied",
    "ConcurrentUpdate",
    "CorruptOrder",
    "Loaded",
    "LogEntry",
    "NotificationRow",
    "OrderExists",
    "OrderRow",
    "OrderStore",
    "OutboxItem",
    "SchemaVersionError",
    "Skipped",
    "StoreUnavailable",
    "Swept",
    "UnknownOrder",
    "VersionConflict",
    "clock_due_at",
]

SCHEMA_VERSION: Final = 2
"""The schema this release writes and reads; a database at a higher version is refused.

1. orders, order_log, inbox, outbox, schema_version.
2. An index of orders by state, for listings (:meth:`SQLStore.orders`).
"""

DEFAULT_ATTEMPTS: Final = 10
"""How many times ``apply`` tries on fresh data before raising :class:`ConcurrentUpdate`."""

MAX_LIMIT: Final = 10_000
"""The largest ``limit`` of ``sweep`` and ``outbox``: a bigger batch is asked for in turns."""
_MAX_ROW_ID: Final = 2**63 - 1


# ------------------------------------------------------------------------------------------------
# Records


@attrs.frozen
class Applied:
    """What a store did with one event.

    ``order`` is the order after the event (for a duplicate: as stored now), ``version`` its
    row version, ``seq`` the log sequence number of the history record (for a duplicate: the
    original one), ``result`` what :meth:`Order.fire` returned.
    """

    order: Order
    result: FireResult
    version: int
    seq: int

    @property
    def duplicate(self) -> bool:
        """Whether the event id had already been applied (R15): nothing was written."""
        return self.result.duplicate

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: the order's own JSON form, the result's, the version and seq."""
        return {
            "order": self.order.to_dict(),
            "result": self.result.to_dict(),
            "version": self.version,
            "seq": self.seq,
            "duplicate": self.duplicate,
        }


@attrs.frozen
class Loaded:
    """An order as stored, with its row version (for an HTTP ``ETag``; give it back as
    ``apply(..., expected_version=...)`` for ``If-Match``)."""

    order: Order
    version: int


@attrs.frozen
class OrderRow:
    """One order in a listing: the indexed columns of its row, not its body (a listing is an
    index; read the order itself with ``get``, which validates it)."""

    order_id: str
    state: str
    version: int
    dispatch_deadline: dt.datetime
    repayment_deadline: dt.datetime | None
    due_at: dt.datetime | None


@attrs.frozen
class NotificationRow:
    """An outbox row of one order: its id, its position and whether it was acknowledged."""

    notification_id: int
    position: int
    acked: bool


@attrs.frozen
class Skipped:
    """A due order a sweep did not fire: ``reason`` is ``"corrupt"`` (its row is not an order
    the machine could produce; ``error`` says why) or ``"not_due"`` (its last event is dated
    after the sweep's ``now``, R16: a later sweep fires it)."""

    order_id: str
    reason: str
    error: OrderError | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "order_id": self.order_id,
            "reason": self.reason,
            "error": None if self.error is None else self.error.to_dict(),
        }


class Swept(list["Applied"]):
    """What a sweep fired (a list of :class:`Applied`, one per clock event), and in
    ``skipped`` the due orders it passed over, with why (:class:`Skipped`)."""

    skipped: tuple[Skipped, ...]

    def __init__(self, applied: Iterable[Applied] = (), skipped: Iterable[Skipped] = ()) -> None:
        super().__init__(applied)
        self.skipped = tuple(skipped)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: the applied events and the skipped orders."""
        return {
            "applied": [a.to_dict() for a in self],
            "skipped": [s.to_dict() for s in self.skipped],
        }


@attrs.frozen
class LogEntry:
    """One row of the append-only log: the ``seq``-th event applied to the order.

    ``source`` is who sent it, as given to ``apply`` (``"sweep"`` for the clock, ``"add"`` for
    history an order brought when it was added, ``None`` if not given).
    """

    order_id: str
    seq: int
    event: str
    from_state: str
    to_state: str
    at: dt.datetime
    event_id: str | None
    source: str | None
    data: dict[str, str | bool]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; ``at`` with the offset the event was sent with."""
        data: dict[str, Any] = to_json(self)
        return data


@attrs.frozen
class OutboxItem:
    """A notification waiting for delivery; ``ack`` it by ``id`` once delivered.

    ``position`` is its index in ``order.notifications``: each notification of an order is queued
    exactly once, under (``order_id``, ``position``).
    """

    id: int
    order_id: str
    position: int
    notification: Notification

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; the notification as an object."""
        data: dict[str, Any] = to_json(self)
        return data


# ------------------------------------------------------------------------------------------------
# The interface


@runtime_checkable
class OrderStore(Protocol):
    """A durable home for orders, shared safely by concurrent writers."""

    def add(self, order: Order, *, source: str | None = "add") -> int:
        """Store a new order; its version (1). :class:`OrderExists` if the id is taken."""
        ...

    def add_many(self, orders: Iterable[Order], *, source: str | None = "add") -> int:
        """Store new orders in one transaction, all of them or none; how many were stored."""
        ...

    def get(self, order_id: str) -> Order:
        """The stored order, validated; :class:`UnknownOrder` or :class:`CorruptOrder`."""
        ...

    def load(self, order_id: str) -> Loaded:
        """The stored order with its row version (for an ``ETag``)."""
        ...

    def apply(
        self,
        order_id: str,
        event: str,
        /,
        *,
        at: dt.datetime,
        event_id: str | None = None,
        source: str | None = None,
        expected_version: int | None = None,
        **data: object,
    ) -> Applied:
        """Fire ``event`` on the stored order in one transaction (see :class:`SQLStore`)."""
        ...

    def history(self, order_id: str) -> tuple[LogEntry, ...]:
        """The order's log, oldest first."""
        ...

    def sweep(self, now: dt.datetime, limit: int = 100) -> Swept:
        """Fire the clock events due at ``now`` on at most ``limit`` orders."""
        ...

    def outbox(self, limit: int = 100) -> list[OutboxItem]:
        """Notifications not yet acknowledged, oldest first."""
        ...

    def ack(self, notification_ids: Iterable[int]) -> int:
        """Mark outbox items delivered; how many were pending."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


# ------------------------------------------------------------------------------------------------
# Clock deadlines


def clock_due_at(order: Order) -> dt.datetime | None:
    """The stored deadline after which a clock event may fire on ``order``; ``None`` if none.

    The order's own runtime answers (:meth:`Runtime.clock_due_at
    <statemachine.machine.Runtime.clock_due_at>`), from the order's table under its policy:
    the R1 dispatch deadline while ``dispatch_deadline_expired`` has a row, the R4 repayment
    deadline, until escalated once, for ``repayment_overdue``. ``sweep`` looks orders up by
    this moment.
    """
    return order.runtime.clock_due_at(order)


# ------------------------------------------------------------------------------------------------
# The shared implementation


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
    """A write transaction in progress, as a store's ``_write()`` hands it out.

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


@attrs.frozen
class Change:
    """An order that a write transaction creates or changes, for :meth:`SQLStore._write_back`.

    ``version`` is the row version the order was read at, 0 for a new order (no row yet);
    ``history_from`` and ``notes_from`` are where its new history records and notifications
    start; ``source`` is who sent its events, for the log.
    """

    order: Order
    version: int
    source: str | None
    history_from: int = 0
    notes_from: int = 0

    @classmethod
    def starting(cls, order: Order, version: int, source: str | None) -> Change:
        """The change ``order`` (read at ``version``) goes through from now on: take it before
        firing events on the order."""
        return cls(order, version, source, len(order.history), len(order.notifications))


@attrs.frozen
class LostSwap:
    """What one try of ``apply`` did when another writer had moved the order's version on
    since it was read: it rolled back and wrote nothing; ``apply`` tries again."""

    order_id: str
    version: int
    """The version the try had read."""


_OUR_TABLES: Final = frozenset({"orders", "order_log", "inbox", "outbox"})

_ORDER_COLUMNS: Final = (
    "order_id, state, version, dispatch_deadline, repayment_deadline, due_at, body"
)
_INSERT_ORDER: Final = (
    f"INSERT INTO orders ({_ORDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (order_id) DO NOTHING"
)
_UPDATE_ORDER: Final = (
    "UPDATE orders SET state = ?, version = ?, dispatch_deadline = ?, repayment_deadline = ?, "
    "due_at = ?, body = ? WHERE order_id = ? AND version = ?"
)
_INSERT_LOG: Final = (
    "INSERT INTO order_log (order_id, seq, event, from_state, to_state, at, event_id, source, "
    "data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_OUTBOX: Final = (
    "INSERT INTO outbox (order_id, position, kind, channel, at, rule, message) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_CLAIM: Final = (
    "INSERT INTO inbox (order_id, event_id, event, source) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (order_id, event_id) DO NOTHING"
)

_T = TypeVar("_T")


def _order_id(value: object) -> str:
    """An order id as an order takes it: text a store can keep, at most MAX_ID_LENGTH long."""
    if isinstance(value, str) and value != value.strip():
        raise InvalidInput(
            f"order_id {value!r} has spaces around it; stored ids never do", field="order_id"
        )
    return require_text(value, "order_id", limit=MAX_ID_LENGTH)


def _require_limit(limit: object) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit!r}", field="limit"
        )


def _require_version(version: object) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= _MAX_ROW_ID:
        raise InvalidInput(
            f"expected_version must be a row version (a whole number from 1), got {version!r}",
            field="expected_version",
        )


def _batches(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """``items`` in lists of ``size`` (the last one shorter), read lazily."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _reads_back(order: Order, data: Mapping[str, Any]) -> None:
    """Refuse to store ``order`` unless its ``to_dict()`` (``data``) reads back as an order."""
    try:
        Order.from_dict(data)
    except InvalidInput as exc:
        raise InvalidInput(
            f"order {order.order_id!r} cannot be stored: {exc.message}", field=exc.field
        ) from None


class SQLStore(abc.ABC):
    """The store algorithm over a SQL database; subclasses supply the dialect.

    ``apply(order_id, event, *, at, event_id=None, source=None, **data)`` runs one write
    transaction that:

    1. claims ``event_id`` in the ``inbox`` table; if another delivery already claimed it, the
       result is marked ``duplicate`` (R15) and nothing changes;
    2. loads the order row and validates it (:class:`CorruptOrder` naming the order);
    3. fires the event through the machine (:meth:`Order.fire`); a refused event raises
       :class:`~statemachine.errors.EventRejected` and the transaction is rolled back: **a
       refusal writes nothing**, not even a log row;
    4. updates the row only if its ``version`` is still the one loaded (compare-and-swap);
       a lost swap rolls back and starts again on fresh data, at most ``max_attempts`` times,
       then raises :class:`ConcurrentUpdate`;
    5. appends the new history records to ``order_log`` (append-only, gap-free ``seq``);
    6. queues the order's new notifications in ``outbox``.

    Steps 4 to 6 are :meth:`_write_back`, the one way an order reaches the database: ``add``
    and ``add_many`` (a new row instead of a swapped one) and ``sweep`` (many orders in one
    batch) write through it too.
    """

    _PLACEHOLDER: str = "?"
    _KIND: str = "database"
    """What ``_where`` names, for messages (``"SQLite file"``)."""
    _MIGRATIONS: Mapping[int, tuple[str, ...]] = {}
    """The statements that bring the schema from version N-1 to N, by N."""
    _LOCK_DUE: str = ""
    """Suffix of the sweep's candidate query (PostgreSQL: ``FOR UPDATE SKIP LOCKED``)."""
    _CACHE_SIZE: int = DEFAULT_CAPACITY
    """How many validated orders a store object remembers (see :class:`ValidatedOrders`)."""
    _ADD_BATCH: int = 1000
    """How many orders ``add_many`` sends per batch of statements (all in one transaction)."""
    _PASS_OVER_MAX: int = 500
    """How many due rows one ``sweep`` may pass over (corrupt, or not due under R16)."""

    def __init__(self, where: str, max_attempts: int) -> None:
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise InvalidInput(
                f"max_attempts must be a whole number of at least 1, got {max_attempts!r}",
                field="max_attempts",
            )
        self._where = where
        self._max_attempts = max_attempts
        self._lock = threading.RLock()
        self._sql_cache: dict[str, str] = {}
        self._validated = ValidatedOrders(self._CACHE_SIZE)

    # -- dialect hooks ----------------------------------------------------------------------

    @abc.abstractmethod
    def _write(self) -> AbstractContextManager[Transaction]:
        """A write transaction: committed when the block ends, rolled back when it raises or
        when :meth:`Transaction.rollback` was asked."""

    @abc.abstractmethod
    def _read(self) -> AbstractContextManager[Cursor]:
        """A read-only transaction with one consistent view."""

    @abc.abstractmethod
    def _ts(self, moment: dt.datetime) -> Any:
        """``moment`` as the database stores it."""

    @abc.abstractmethod
    def _from_ts(self, value: Any) -> dt.datetime:
        """A stored moment back as an aware datetime."""

    @abc.abstractmethod
    def _json(self, value: Any) -> Any:
        """``value`` (JSON-safe) as the database stores it."""

    @abc.abstractmethod
    def _from_json(self, value: Any) -> Any:
        """A stored JSON column back as Python data."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection."""

    @abc.abstractmethod
    def _tables(self, cur: Cursor) -> set[str]:
        """The names of the tables in the store's schema."""

    def _lock_migration(self, cur: Cursor) -> None:
        """Keep other processes from migrating at the same time (PostgreSQL: a lock).

        By default the write transaction is enough (SQLite's ``BEGIN IMMEDIATE`` holds the
        file's write lock)."""
        return None

    def _migrate(self) -> None:
        """Create or upgrade the schema; :class:`SchemaVersionError` if it is newer than ours."""
        with self._write() as tx:
            cur = tx.cur
            self._lock_migration(cur)
            foreign = self._tables(cur) & _OUR_TABLES
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            cur.execute("SELECT version FROM schema_version")
            found = [r[0] for r in cur.fetchall()]
            for value in found:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise StoreUnavailable(
                        f"{self._KIND} {self._where}",
                        f"its schema_version table holds {value!r}, not a version number",
                    )
            current = max(found, default=0)
            if current == 0 and foreign:
                raise StoreUnavailable(
                    f"{self._KIND} {self._where}",
                    f"it holds tables of another application ({', '.join(sorted(foreign))}) "
                    "and no order-statemachine schema; point the store at its own database "
                    "or schema",
                )
            if current > SCHEMA_VERSION:
                raise SchemaVersionError(f"{self._KIND} {self._where}", current, SCHEMA_VERSION)
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in self._MIGRATIONS[version]:
                    cur.execute(statement)
            if current < SCHEMA_VERSION:
                cur.execute("DELETE FROM schema_version")
                cur.execute(
                    self._q("INSERT INTO schema_version (version) VALUES (?)"), (SCHEMA_VERSION,)
                )

    def __enter__(self) -> SQLStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._where!r})"

    def _q(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, in the dialect's style."""
        if self._PLACEHOLDER == "?":
            return sql
        cached = self._sql_cache.get(sql)
        if cached is None:
            cached = self._sql_cache[sql] = sql.replace("?", self._PLACEHOLDER)
        return cached

    # -- the interface ----------------------------------------------------------------------

    def add(self, order: Order, *, source: str | None = "add") -> int:
        """Store a new order and return its version (1).

        History the order already carries goes to the log (with ``source``), its event ids to
        the inbox and its notifications to the outbox, so the tables always agree with the
        order. :class:`OrderExists` if the id is taken. The same as ``add_many([order])``.
        """
        self.add_many([order], source=source)
        return 1

    def add_many(self, orders: Iterable[Order], *, source: str | None = "add") -> int:
        """Store new orders in one transaction, all of them or none; how many were stored.

        Each order is stored as :meth:`add` stores one (version 1, its history logged with
        ``source``, its event ids claimed, its notifications queued); the statements go in
        batches (``executemany``) and there is one commit, at the end. If any order cannot be
        stored, none is: :class:`~statemachine.errors.InvalidInput` names an order that does
        not read back (:meth:`Order.from_dict`) or whose id is given twice, and
        :class:`OrderExists` the first order whose id is already stored. ``orders`` may be any
        iterable; a generator is read once, one batch at a time.
        """
        if source is not None:
            source = require_text(source, "source", limit=MAX_ID_LENGTH)
        positions: dict[str, int] = {}
        recent: deque[tuple[Order, Any]] = deque(maxlen=self._validated.capacity)
        clash: list[str] = []
        with self._lock:
            with self._write() as tx:
                for batch in _batches(orders, self._ADD_BATCH):
                    changes = [self._new_order(o, positions, source) for o in batch]
                    bodies = self._write_back(tx.cur, changes)
                    if bodies is None:  # an id is stored already: keep nothing
                        tx.rollback()
                        clash = [change.order.order_id for change in changes]
                        break
                    self._claim_history(tx.cur, changes, source)
                    recent.extend(zip(batch, bodies, strict=True))
            if clash:
                taken = self._first_stored(clash)
                if taken is None:  # pragma: no cover - stored rows are never deleted
                    raise ConcurrentUpdate(
                        "another writer changed the orders while add_many ran; nothing was "
                        "added, it is safe to try again",
                        order_id=None,
                        event=None,
                        attempts=1,
                    )
                raise OrderExists(taken)
            for order, body in recent:  # committed
                self._validated.remember(order, 1, self._stored_body(body))
        return len(positions)

    def get(self, order_id: str) -> Order:
        """The stored order, validated on the way out."""
        return self.load(order_id).order

    def load(self, order_id: str) -> Loaded:
        """The stored order, validated, with its row version: give the version back as
        ``apply(..., expected_version=...)`` to write only if nobody wrote in between."""
        order_id = _order_id(order_id)
        with span("load", order_id=order_id), self._lock, self._read() as cur:
            return Loaded(*self._load(cur, order_id))

    def apply(
        self,
        order_id: str,
        event: str,
        /,
        *,
        at: dt.datetime,
        event_id: str | None = None,
        source: str | None = None,
        expected_version: int | None = None,
        **data: object,
    ) -> Applied:
        """Fire ``event`` on the stored order in one transaction (see the class docstring).

        Everything is checked before the store is touched: the ids (at most
        :data:`~statemachine.machine.MAX_ID_LENGTH` characters, no NUL), the event's name, the
        time. With ``expected_version``, :class:`VersionConflict` if the row is at another
        version (a duplicate delivery still answers as the first time did). Logged (logger
        ``statemachine``) and counted (OpenTelemetry) as applied, duplicate, refused or invalid.
        """
        started = time.perf_counter()
        try:
            order_id = _order_id(order_id)
            if not isinstance(event, str) or event not in EVENTS:
                raise InvalidInput(
                    f"unknown event {event!r}; events: {', '.join(EVENTS)}", field="event"
                )
            if event_id is not None:
                event_id = require_text(event_id, "event_id", limit=MAX_ID_LENGTH)
            at = require_aware(at, "at")
            if source is not None:
                source = require_text(source, "source", limit=MAX_ID_LENGTH)
            if expected_version is not None:
                _require_version(expected_version)
            with span("apply", order_id=order_id, event=event, event_id=event_id), self._lock:
                applied = self._apply(order_id, event, at, event_id, source, expected_version, data)
        except EventRejected as exc:
            event_handled(
                "refused",
                order_id=exc.order_id,
                event=exc.event,
                started=started,
                from_state=exc.state,
                rule=exc.rule,
                kind=exc.kind,
                event_id=event_id if isinstance(event_id, str) else None,
            )
            raise
        except InvalidInput as exc:
            event_handled(
                "invalid",
                order_id=str(order_id)[:MAX_ID_LENGTH],
                event=str(event)[:MAX_ID_LENGTH],
                started=started,
                rule="R15" if exc.message.startswith("R15") else None,
                event_id=event_id if isinstance(event_id, str) else None,
            )
            raise
        result = applied.result
        event_handled(
            "duplicate" if result.duplicate else "applied",
            order_id=order_id,
            event=event,
            started=started,
            from_state=result.source,
            to_state=result.dest,
            rule="R15" if result.duplicate else None,
            event_id=event_id,
        )
        return applied

    def _apply(
        self,
        order_id: str,
        event: str,
        at: dt.datetime,
        event_id: str | None,
        source: str | None,
        expected_version: int | None,
        data: Mapping[str, object],
    ) -> Applied:
        for _ in range(self._max_attempts):
            attempt = self._try_apply(order_id, event, at, event_id, source, expected_version, data)
            if isinstance(attempt, Applied):
                return attempt
        raise ConcurrentUpdate(
            f"{event} on order {order_id} lost the compare-and-swap {self._max_attempts} times "
            "in a row to other writers; nothing was written, it is safe to send it again",
            order_id=order_id,
            event=event,
            attempts=self._max_attempts,
        )

    def history(self, order_id: str) -> tuple[LogEntry, ...]:
        """The order's log, oldest first: one entry per history record, ``seq`` from 1.

        Checked as :meth:`get` checks the order: every row must be the order's history record
        of that position (event, states, time, event id, data), or :class:`CorruptOrder` names
        the row and the field. Times come back with the offset the event was sent with.
        """
        order_id = _order_id(order_id)
        with span("history", order_id=order_id), self._lock, self._read() as cur:
            order, _ = self._load(cur, order_id)
            cur.execute(
                self._q(
                    "SELECT seq, event, from_state, to_state, at, event_id, source, data "
                    "FROM order_log WHERE order_id = ? ORDER BY seq"
                ),
                (order_id,),
            )
            rows = cur.fetchall()
        if len(rows) != len(order.history):
            raise CorruptOrder(
                order_id,
                f"its log has {len(rows)} rows but its body {len(order.history)} history records",
                field="order_log",
            )
        return tuple(self._log_entry(order, position, row) for position, row in enumerate(rows))

    def sweep(self, now: dt.datetime, limit: int = 100) -> Swept:
        """Fire the clock events due at ``now`` (R12 auto-close, R4 overdue), like ``tick``.

        Due orders are taken through the index on their stored deadline (``due_at``), oldest
        deadline first, and fired with ``source="sweep"``, at most ``limit`` of them, all in one
        transaction; their rows, log records and notifications are written in batches.
        Idempotent: a second sweep at the same ``now`` fires nothing. On PostgreSQL the rows are
        taken ``FOR UPDATE SKIP LOCKED``, so concurrent sweepers share the due orders and never
        fire one twice.

        A due order is passed over, and left as it is, when its last event is dated after
        ``now`` (R16: not due at this ``now``; a later sweep fires it) or when its row is
        corrupt; the sweep then takes the next due orders instead (passing over at most
        ``500`` rows), so such rows never hold the others back. The result lists what was
        fired and, in ``skipped``, each order passed over and why; each corrupt one is also
        logged (logger ``statemachine``, WARNING), so that someone repairs it. A corrupt row is
        never overwritten; it stays due, and the first sweep after its repair fires it.
        """
        now = require_aware(now, "now")
        _require_limit(limit)
        fired: list[tuple[Change, list[FireResult]]] = []
        bodies: list[Any] = []
        skipped: list[Skipped] = []
        passed: list[str] = []  # due, but not fired by this sweep
        with span("sweep", limit=limit), self._lock:
            with self._write() as tx:
                while len(fired) < limit and len(passed) < self._PASS_OVER_MAX:
                    wanted = limit - len(fired)
                    rows = self._due_rows(tx.cur, now, wanted, passed)
                    batch: list[tuple[Change, list[FireResult]]] = []
                    for row in rows:
                        try:
                            order, version = self._validate_row(row)
                        except CorruptOrder as exc:
                            skipped.append(Skipped(str(row[0]), "corrupt", exc))
                            passed.append(row[0])
                            LOGGER.warning(
                                "sweep passed over corrupt order %s: %s",
                                row[0],
                                exc,
                                extra={"order_id": row[0], "outcome": "skipped"},
                            )
                            continue
                        change = Change.starting(order, version, "sweep")
                        try:
                            results = order.tick(now)
                        except EventRejected:  # dated before its last event (R16)
                            results = []
                        if results:
                            batch.append((change, results))
                        else:
                            skipped.append(Skipped(order.order_id, "not_due"))
                            passed.append(order.order_id)
                    written = self._write_back(tx.cur, [change for change, _ in batch])
                    if written is None:  # pragma: no cover - the rows are locked
                        raise ConcurrentUpdate(
                            "an order changed while the sweep held it; nothing was written",
                            order_id=None,
                            event=None,
                            attempts=1,
                        )
                    fired += batch
                    bodies += written
                    if len(rows) < wanted:  # no more due rows
                        break
            for (change, _), body in zip(fired, bodies, strict=True):  # committed
                self._validated.remember(change.order, change.version + 1, self._stored_body(body))
        for change, results in fired:
            for result in results:
                event_handled(
                    "applied",
                    order_id=change.order.order_id,
                    event=result.event,
                    started=time.perf_counter(),
                    from_state=result.source,
                    to_state=result.dest,
                )
        return Swept(
            (
                Applied(change.order, result, change.version + 1, change.history_from + i)
                for change, results in fired
                for i, result in enumerate(results, start=1)
            ),
            skipped,
        )

    def outbox(self, limit: int = 100) -> list[OutboxItem]:
        """Notifications not acknowledged yet, in the order they were queued.

        Each is checked against its order (read as :meth:`get` reads it): the notification at
        that position of the order must be the one queued, or :class:`CorruptOrder` names the
        outbox row and the field. Times come back with the offset they were made with.
        """
        _require_limit(limit)
        with span("outbox"), self._lock, self._read() as cur:
            cur.execute(
                self._q(
                    "SELECT id, order_id, position, kind, channel, at, rule, message "
                    "FROM outbox WHERE NOT acked ORDER BY id LIMIT ?"
                ),
                (limit,),
            )
            rows = cur.fetchall()
            orders = {oid: self._load(cur, oid)[0] for oid in dict.fromkeys(r[1] for r in rows)}
        return [self._outbox_item(orders[row[1]], row) for row in rows]

    def ack(self, notification_ids: Iterable[int]) -> int:
        """Mark the outbox items delivered; the number that were still pending."""
        if isinstance(notification_ids, str | bytes) or not isinstance(notification_ids, Iterable):
            raise InvalidInput(
                f"ack takes a list of outbox ids, got {notification_ids!r}", field="ids"
            )
        ids = list(notification_ids)
        for nid in ids:
            if isinstance(nid, bool) or not isinstance(nid, int) or not 1 <= nid <= _MAX_ROW_ID:
                raise InvalidInput(
                    f"outbox ids are whole numbers from 1 to 2**63-1, got {nid!r}", field="ids"
                )
        with self._lock, self._write() as tx:
            return self._run(
                tx.cur,
                "UPDATE outbox SET acked = ? WHERE id = ? AND NOT acked",
                [(True, nid) for nid in ids],
            )

    # -- listings -----------------------------------------------------------------------------

    def orders(
        self,
        *,
        state: str | None = None,
        due_before: dt.datetime | None = None,
        after: tuple[dt.datetime | None, str] | None = None,
        limit: int = 100,
    ) -> list[OrderRow]:
        """Up to ``limit`` orders from the indexes, not the bodies: in ``state`` if given (index
        on state), due at or before ``due_before`` if given (index on ``due_at``; then oldest
        due first), else by order id. ``after`` is the sort key of the previous page's last row
        (``(due_at, order_id)``, or ``(None, order_id)``): keyset paging, stable while orders
        change."""
        _require_limit(limit)
        if state is not None and state not in TABLE.state_names:
            raise InvalidInput(
                f"unknown state {state!r}; states: {', '.join(TABLE.state_names)}", field="state"
            )
        if due_before is not None:
            due_before = require_aware(due_before, "due_before")
        where: list[str] = []
        params: list[Any] = []
        if state is not None:
            where.append("state = ?")
            params.append(state)
        if due_before is not None:
            where.append("due_at IS NOT NULL AND due_at <= ?")
            params.append(self._ts(due_before))
            if after is not None and after[0] is not None:
                moment = self._ts(require_aware(after[0], "after"))
                where.append("(due_at > ? OR (due_at = ? AND order_id > ?))")
                params.extend([moment, moment, _order_id(after[1])])
            order_by = "due_at, order_id"
        else:
            if after is not None:
                where.append("order_id > ?")
                params.append(_order_id(after[1]))
            order_by = "order_id"
        sql = "SELECT order_id, state, version, dispatch_deadline, repayment_deadline, due_at "
        sql += "FROM orders" + (" WHERE " + " AND ".join(where) if where else "")
        sql += f" ORDER BY {order_by} LIMIT ?"
        with span("orders"), self._lock, self._read() as cur:
            cur.execute(self._q(sql), (*params, limit))
            rows = cur.fetchall()
        return [
            OrderRow(
                oid,
                st,
                int(version),
                self._from_ts(dispatch),
                None if repayment is None else self._from_ts(repayment),
                None if due is None else self._from_ts(due),
            )
            for oid, st, version, dispatch, repayment, due in rows
        ]

    def state_counts(self) -> dict[str, int]:
        """How many orders are in each state (states without orders are left out)."""
        with span("state_counts"), self._lock, self._read() as cur:
            cur.execute("SELECT state, COUNT(*) FROM orders GROUP BY state")
            return {state: int(n) for state, n in cur.fetchall()}

    def notifications(self, order_id: str) -> list[NotificationRow]:
        """The outbox rows of one order, by position, with whether each was acknowledged."""
        order_id = _order_id(order_id)
        with span("notifications", order_id=order_id), self._lock, self._read() as cur:
            cur.execute(
                self._q(
                    "SELECT id, position, acked FROM outbox WHERE order_id = ? ORDER BY position"
                ),
                (order_id,),
            )
            return [NotificationRow(int(i), int(p), bool(a)) for i, p, a in cur.fetchall()]

    def ping(self) -> None:
        """Raise unless the database answers (for a readiness check)."""
        with self._lock, self._read() as cur:
            cur.execute("SELECT 1 FROM schema_version")
            cur.fetchall()

    # -- the steps ----------------------------------------------------------------------------

    def _try_apply(
        self,
        order_id: str,
        event: str,
        at: dt.datetime,
        event_id: str | None,
        source: str | None,
        expected_version: int | None,
        data: Mapping[str, object],
    ) -> Applied | LostSwap:
        """One try of ``apply``, in one transaction: the event applied and committed, a
        duplicate delivery (nothing kept), or :class:`LostSwap` (rolled back; try again)."""
        with self._write() as tx:
            claimed = event_id is None or self._claim(tx.cur, order_id, event_id, event, source)
            order, version = self._load(tx.cur, order_id)
            change = Change.starting(order, version, source)
            result = order.fire(event, at=at, event_id=event_id, **data)
            if result.duplicate:  # R15: keep nothing, not even an inbox claim made just now
                tx.rollback()
                return self._duplicate(order, version, result)
            if expected_version is not None and version != expected_version:
                raise VersionConflict(order_id, expected_version, version, event)
            if not claimed:
                raise CorruptOrder(
                    order_id,
                    f"the inbox holds event id {event_id!r} but the order's history does not",
                    field="inbox",
                )
            bodies = self._write_back(tx.cur, [change])
            if bodies is None:  # another writer moved the version on
                tx.rollback()
                return LostSwap(order_id, version)
        self._validated.remember(order, version + 1, self._stored_body(bodies[0]))  # committed
        return Applied(order, result, version + 1, len(order.history))

    def _due_rows(
        self, cur: Cursor, now: dt.datetime, count: int, passed: Sequence[str]
    ) -> list[Any]:
        """Up to ``count`` rows due at ``now``, oldest deadline first, but for ``passed``;
        locked for the transaction where the dialect can (skipping rows others hold)."""
        but = f" AND order_id NOT IN ({', '.join('?' * len(passed))})" if passed else ""
        cur.execute(
            self._q(
                f"SELECT {_ORDER_COLUMNS} FROM orders WHERE due_at <= ?{but} "
                f"ORDER BY due_at LIMIT ?{self._LOCK_DUE}"
            ),
            (self._ts(now), *passed, count),
        )
        return cur.fetchall()

    def _log_entry(self, order: Order, position: int, row: Sequence[Any]) -> LogEntry:
        """The log row at ``position``, checked against the order's history record there."""
        seq, event, from_state, to_state, at, event_id, source, data = row
        record: HistoryRecord = order.history[position]
        where = f"order_log[{position + 1}]"
        try:
            moment = self._from_ts(at)
            logged = self._from_json(data)
        except (ValueError, TypeError, RecursionError) as exc:
            problem = f"{where} cannot be read: {exc}"
            raise CorruptOrder(order.order_id, problem, field=where) from None
        found = {
            "seq": seq,
            "event": event,
            "from_state": from_state,
            "to_state": to_state,
            "at": moment,
            "event_id": event_id,
            "data": logged,
        }
        expected = {
            "seq": position + 1,
            "event": record.event,
            "from_state": record.source,
            "to_state": record.dest,
            "at": record.at,
            "event_id": record.event_id,
            "data": dict(record.data),
        }
        for name, want in expected.items():
            if found[name] != want:
                raise CorruptOrder(
                    order.order_id,
                    f"{where}.{name} holds {found[name]!r} but the order's history says {want!r}",
                    field=f"{where}.{name}",
                )
        if source is not None and not isinstance(source, str):
            problem = f"{where}.source holds {source!r}"
            raise CorruptOrder(order.order_id, problem, field=f"{where}.source")
        return LogEntry(
            order.order_id,
            position + 1,
            record.event,
            record.source,
            record.dest,
            record.at,
            record.event_id,
            source,
            dict(record.data),
        )

    def _outbox_item(self, order: Order, row: Sequence[Any]) -> OutboxItem:
        """The outbox row, checked against the order's notification at its position."""
        nid, order_id, position, kind, channel, at, rule, message = row
        where = f"outbox[{nid}]"
        if (
            isinstance(position, bool)
            or not isinstance(position, int)
            or not 0 <= position < len(order.notifications)
        ):
            raise CorruptOrder(
                order_id,
                f"{where}.position {position!r} is not one of the order's "
                f"{len(order.notifications)} notifications",
                field=f"{where}.position",
            )
        note = order.notifications[position]
        try:
            moment = self._from_ts(at)
        except (ValueError, TypeError) as exc:
            problem = f"{where}.at cannot be read: {exc}"
            raise CorruptOrder(order_id, problem, field=f"{where}.at") from None
        found = {"kind": kind, "channel": channel, "at": moment, "rule": rule, "message": message}
        for name, value in found.items():
            if value != getattr(note, name):
                raise CorruptOrder(
                    order_id,
                    f"{where}.{name} holds {value!r} but the order's notification {position} "
                    f"says {getattr(note, name)!r}",
                    field=f"{where}.{name}",
                )
        return OutboxItem(nid, order_id, position, note)

    def _duplicate(self, order: Order, version: int, result: FireResult) -> Applied:
        seq = next(i for i, r in enumerate(order.history, start=1) if r.event_id == result.event_id)
        return Applied(order, result, version, seq)

    def _claim(
        self, cur: Cursor, order_id: str, event_id: str, event: str, source: str | None
    ) -> bool:
        """Insert the event id into the inbox; ``False`` if it was already there."""
        cur.execute(self._q(_CLAIM), (order_id, event_id, event, source))
        return cur.rowcount == 1

    def _claim_history(self, cur: Cursor, changes: Sequence[Change], source: str | None) -> None:
        """Claim the event ids of the history new orders bring (R15: they are applied)."""
        self._run(
            cur,
            _CLAIM,
            [
                (change.order.order_id, record.event_id, record.event, source)
                for change in changes
                for record in change.order.history
                if record.event_id is not None
            ],
        )

    def _new_order(self, order: object, positions: dict[str, int], source: str | None) -> Change:
        """The change that adds ``order``, the next of an import; its id must be new to it."""
        position = len(positions)
        if not isinstance(order, Order):
            raise InvalidInput(
                f"a store adds Orders; item {position} is a {type(order).__name__}", field="order"
            )
        first = positions.setdefault(order.order_id, position)
        if first != position:
            raise InvalidInput(
                f"order {order.order_id!r} is given twice, at positions {first} and {position} "
                "of the orders to add; nothing was added",
                field="order_id",
            )
        return Change(order, 0, source)

    def _first_stored(self, order_ids: Sequence[str]) -> str | None:
        """The first of ``order_ids`` that is stored; ``None`` if none is."""
        marks = ", ".join("?" * len(order_ids))
        with self._read() as cur:
            cur.execute(
                self._q(f"SELECT order_id FROM orders WHERE order_id IN ({marks})"), order_ids
            )
            stored = {row[0] for row in cur.fetchall()}
        return next((order_id for order_id in order_ids if order_id in stored), None)

    def _load(self, cur: Cursor, order_id: str) -> tuple[Order, int]:
        cur.execute(self._q(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE order_id = ?"), (order_id,))
        row = cur.fetchone()
        if row is None:
            raise UnknownOrder(order_id)
        return self._validate_row(row)

    def _validate_row(self, row: Sequence[Any]) -> tuple[Order, int]:
        """The order a row holds, checked through and through, and the row's version.

        The body is parsed and validated with :meth:`Order.from_dict`, and the real columns
        must agree with it. One shortcut: a row whose version and body are exactly those this
        store object last validated or wrote for the order holds that very order, which
        :class:`ValidatedOrders` copies instead of parsing the body again.
        """
        order_id, state, version, dispatch_deadline, repayment_deadline, due_at, body = row
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise CorruptOrder(order_id, f"version is {version!r}", field="version")
        order = self._validated.recall(order_id, version, body)
        known = order is not None
        if order is None:
            order = self._parse(order_id, body)
        expected = (order.order_id, order.state, *self._deadlines(order))
        names = ("order_id", "state", "dispatch_deadline", "repayment_deadline", "due_at")
        found = (order_id, state, dispatch_deadline, repayment_deadline, due_at)
        for name, want, got in zip(names, expected, found, strict=True):
            if want != got:
                raise CorruptOrder(
                    order_id,
                    f"the {name} column holds {got!r} but the order's body says {want!r}",
                    field=name,
                )
        if not known:
            self._validated.remember(order, version, body)
        return order, version

    def _parse(self, order_id: str, body: Any) -> Order:
        """The order a stored body describes; :class:`CorruptOrder` if it does not."""
        if isinstance(body, str) and not body.isascii():
            try:
                body.encode("utf-8")
            except UnicodeEncodeError:
                raise CorruptOrder(
                    order_id, "its body is not valid UTF-8 text", field="body"
                ) from None
        try:
            data = self._from_json(body)
        except (ValueError, TypeError) as exc:
            raise CorruptOrder(order_id, f"its body is not JSON ({exc})", field="body") from None
        except RecursionError:
            raise CorruptOrder(
                order_id, "its body is JSON nested too deep to be an order", field="body"
            ) from None
        try:
            return Order.from_dict(data)
        except InvalidInput as exc:
            raise CorruptOrder(order_id, exc.message, field=exc.field) from None

    def _stored_body(self, param: Any) -> Any:
        """The body column as a read will return it, given the parameter that wrote it."""
        return param

    def _deadlines(self, order: Order) -> tuple[Any, Any, Any]:
        """The dispatch_deadline, repayment_deadline and due_at columns of ``order``'s row."""
        pending = order.pending_refund
        repayment = pending.repayment_deadline if pending is not None else None
        due = clock_due_at(order)
        return (
            self._ts(order.dispatch_deadline),
            None if repayment is None else self._ts(repayment),
            None if due is None else self._ts(due),
        )

    def _run(self, cur: Cursor, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``sql`` once per row of parameters (as one batch when there are several); the
        number of rows it changed in all."""
        if not rows:
            return 0
        if len(rows) == 1:
            cur.execute(self._q(sql), rows[0])
        else:
            cur.executemany(self._q(sql), rows)
        return cur.rowcount

    def _write_back(self, cur: Cursor, changes: Sequence[Change]) -> list[Any] | None:
        """Write what ``changes`` did, inside the caller's transaction: each order's row
        (:meth:`_swap`), then its new history records and notifications (:meth:`_append`).

        Returns the bodies written, one per change. ``None`` when a row was not as the change
        read it (its version moved on, or a new order's id is taken): then nothing of the
        changes may be kept, and the caller rolls the transaction back.
        """
        bodies = self._swap(cur, changes)
        if bodies is not None:
            self._append(cur, changes)
        return bodies

    def _swap(self, cur: Cursor, changes: Sequence[Change]) -> list[Any] | None:
        """Compare-and-swap the rows of ``changes``: a changed order's row is replaced only if
        it is still at the version read, a new order's row (version 0: none) is inserted only
        if its id is free, once the order has been checked to read back. The bodies written,
        or ``None`` if any row was not as read (see :meth:`_write_back`)."""
        new_rows: list[tuple[Any, ...]] = []
        swapped_rows: list[tuple[Any, ...]] = []
        bodies: list[Any] = []
        for change in changes:
            order, version = change.order, change.version
            data = order.to_dict()
            if version == 0:  # from outside the store: it must read back
                _reads_back(order, data)
            body = self._json(data)
            columns = (order.state, version + 1, *self._deadlines(order), body)
            if version == 0:
                new_rows.append((order.order_id, *columns))
            else:
                swapped_rows.append((*columns, order.order_id, version))
            bodies.append(body)
        written = self._run(cur, _INSERT_ORDER, new_rows) + self._run(
            cur, _UPDATE_ORDER, swapped_rows
        )
        return bodies if written == len(changes) else None

    def _append(self, cur: Cursor, changes: Sequence[Change]) -> None:
        """Log the changes' new history records and queue their new notifications."""
        log_rows = [
            (
                change.order.order_id,
                seq,
                record.event,
                record.source,
                record.dest,
                self._ts(record.at),
                record.event_id,
                change.source,
                self._json(dict(record.data)),
            )
            for change in changes
            for seq, record in enumerate(
                change.order.history[change.history_from :], start=change.history_from + 1
            )
        ]
        outbox_rows = [
            (
                change.order.order_id,
                position,
                note.kind,
                note.channel,
                self._ts(note.at),
                note.rule,
                note.message,
            )
            for change in changes
            for position, note in enumerate(
                change.order.notifications[change.notes_from :], start=change.notes_from
            )
        ]
        self._run(cur, _INSERT_LOG, log_rows)
        self._run(cur, _INSERT_OUTBOX, outbox_rows)


def dumps(value: Any) -> str:
    """Compact, stable JSON text."""
    return json.dumps(value, separators=(",", ":"))
