"""What every store shares: the interface, its records and errors, and the ``apply`` algorithm.

The two stores differ only in their SQL dialect and in how they open a transaction; the steps
that keep an order safe under races (claim the event id, load and validate, fire through the
machine, compare-and-swap the version, append to the log, queue the notifications) are written
once here, in :class:`SQLStore`.
"""

from __future__ import annotations

import abc
import datetime as dt
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from ..errors import (
    ConcurrentUpdate,
    CorruptOrder,
    EventRejected,
    InvalidInput,
    OrderExists,
    SchemaVersionError,
    UnknownOrder,
)
from ..machine import require_aware
from ..order import Order
from ..records import FireResult, Notification
from ..table import EVENTS, TABLE

__all__ = [
    "SCHEMA_VERSION",
    "Applied",
    "ConcurrentUpdate",
    "CorruptOrder",
    "LogEntry",
    "OrderExists",
    "OrderStore",
    "OutboxItem",
    "SchemaVersionError",
    "UnknownOrder",
    "clock_due_at",
]

SCHEMA_VERSION: Final = 1
"""The schema this release writes and reads; a database at a higher version is refused."""

DEFAULT_ATTEMPTS: Final = 10
"""How many times ``apply`` tries on fresh data before raising :class:`ConcurrentUpdate`."""


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


# ------------------------------------------------------------------------------------------------
# The interface


@runtime_checkable
class OrderStore(Protocol):
    """A durable home for orders, shared safely by concurrent writers."""

    def add(self, order: Order, *, source: str | None = "add") -> int:
        """Store a new order; its version (1). :class:`OrderExists` if the id is taken."""
        ...

    def get(self, order_id: str) -> Order:
        """The stored order, validated; :class:`UnknownOrder` or :class:`CorruptOrder`."""
        ...

    def apply(
        self,
        order_id: str,
        event: str,
        *,
        at: dt.datetime,
        event_id: str | None = None,
        source: str | None = None,
        **data: object,
    ) -> Applied:
        """Fire ``event`` on the stored order in one transaction (see :class:`SQLStore`)."""
        ...

    def history(self, order_id: str) -> tuple[LogEntry, ...]:
        """The order's log, oldest first."""
        ...

    def sweep(self, now: dt.datetime, limit: int = 100) -> list[Applied]:
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

    A clock event counts when the order's state has a row for it under its policy (so R12's
    switch and R14's final states are the machine's to decide) and the deadline its spec
    declares (:attr:`EventSpec.due <statemachine.spec.EventSpec.due>`) is set on the order:
    the R1 dispatch deadline for ``dispatch_deadline_expired``, the R4 repayment deadline, until
    escalated once, for ``repayment_overdue``. ``sweep`` looks orders up by this moment.
    """
    due = [
        moment
        for event in TABLE.clock_events
        if (deadline := EVENTS[event].due) is not None
        and TABLE.candidates(order, event)
        and (moment := deadline.of(order)) is not None
    ]
    return min(due, default=None)


# ------------------------------------------------------------------------------------------------
# The shared implementation


class Cursor(Protocol):
    """The part of a DB-API cursor the stores use."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: Any, params: Sequence[Any] = ...) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


_ORDER_COLUMNS: Final = (
    "order_id, state, version, dispatch_deadline, repayment_deadline, due_at, body"
)


def _validate_text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must be a non-blank string, got {value!r}", field=field)
    return value


def _require_limit(limit: object) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInput(f"limit must be a positive whole number, got {limit!r}", field="limit")


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
    """

    _PLACEHOLDER: str = "?"
    _KIND: str = "database"
    """What ``_where`` names, for messages (``"SQLite file"``)."""
    _MIGRATIONS: Mapping[int, tuple[str, ...]] = {}
    """The statements that bring the schema from version N-1 to N, by N."""
    _LOCK_DUE: str = ""
    """Suffix of the sweep's candidate query (PostgreSQL: ``FOR UPDATE SKIP LOCKED``)."""
    _KNOWN_MAX: int = 1024
    """How many validated orders a store object remembers (see :meth:`_validate_row`)."""

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
        self._known: OrderedDict[str, tuple[int, Any, Order]] = OrderedDict()

    # -- dialect hooks ----------------------------------------------------------------------

    @abc.abstractmethod
    def _write(self) -> AbstractContextManager[Cursor]:
        """A write transaction (committed on normal exit, rolled back on an exception)."""

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

    def _lock_migration(self, cur: Cursor) -> None:
        """Keep other processes from migrating at the same time (PostgreSQL: a lock).

        By default the write transaction is enough (SQLite's ``BEGIN IMMEDIATE`` holds the
        file's write lock)."""
        return None

    def _migrate(self) -> None:
        """Create or upgrade the schema; :class:`SchemaVersionError` if it is newer than ours."""
        with self._write() as cur:
            self._lock_migration(cur)
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            cur.execute("SELECT version FROM schema_version")
            current = max((r[0] for r in cur.fetchall()), default=0)
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
        order. :class:`OrderExists` if the id is taken.
        """
        if not isinstance(order, Order):
            raise InvalidInput(f"add() takes an Order, got {type(order).__name__}", field="order")
        # Validate before storing: a store never holds what it could not read back.
        Order.from_dict(order.to_dict())
        columns = self._columns(order)
        with self._lock:
            with self._write() as cur:
                cur.execute(
                    self._q(
                        f"INSERT INTO orders ({_ORDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (order_id) DO NOTHING"
                    ),
                    (order.order_id, order.state, 1, *columns),
                )
                if cur.rowcount != 1:
                    raise OrderExists(order.order_id)
                for record in order.history:
                    if record.event_id is not None:
                        self._claim(cur, order.order_id, record.event_id, record.event, source)
                self._append(cur, order, 0, 0, source)
            self._remember(order, 1, self._stored_body(columns[-1]))  # committed
        return 1

    def get(self, order_id: str) -> Order:
        """The stored order, validated on the way out."""
        order_id = _validate_text(order_id, "order_id")
        with self._lock, self._read() as cur:
            return self._load(cur, order_id)[0]

    def apply(
        self,
        order_id: str,
        event: str,
        *,
        at: dt.datetime,
        event_id: str | None = None,
        source: str | None = None,
        **data: object,
    ) -> Applied:
        """Fire ``event`` on the stored order in one transaction (see the class docstring)."""
        order_id = _validate_text(order_id, "order_id")
        if event_id is not None:
            event_id = _validate_text(event_id, "event_id").strip()
        at = require_aware(at, "at")
        if source is not None:
            source = _validate_text(source, "source")
        with self._lock:
            for _ in range(self._max_attempts):
                try:
                    return self._try_apply(order_id, event, at, event_id, source, data)
                except _Rollback as rollback:  # rolled back on purpose
                    if rollback.outcome is not None:
                        return rollback.outcome
        raise ConcurrentUpdate(
            f"{event} on order {order_id} lost the compare-and-swap {self._max_attempts} times "
            "in a row to other writers; nothing was written, it is safe to send it again",
            order_id=order_id,
            event=event,
            attempts=self._max_attempts,
        )

    def history(self, order_id: str) -> tuple[LogEntry, ...]:
        """The order's log, oldest first: one entry per history record, ``seq`` from 1."""
        order_id = _validate_text(order_id, "order_id")
        with self._lock, self._read() as cur:
            cur.execute(self._q("SELECT 1 FROM orders WHERE order_id = ?"), (order_id,))
            if cur.fetchone() is None:
                raise UnknownOrder(order_id)
            cur.execute(
                self._q(
                    "SELECT seq, event, from_state, to_state, at, event_id, source, data "
                    "FROM order_log WHERE order_id = ? ORDER BY seq"
                ),
                (order_id,),
            )
            rows = cur.fetchall()
        entries = []
        for expected, row in enumerate(rows, start=1):
            seq, event, from_state, to_state, at, event_id, source, data = row
            if seq != expected:
                raise CorruptOrder(
                    order_id, f"its log skips from seq {expected - 1} to {seq}", field="order_log"
                )
            entries.append(
                LogEntry(
                    order_id,
                    seq,
                    event,
                    from_state,
                    to_state,
                    self._from_ts(at),
                    event_id,
                    source,
                    self._from_json(data),
                )
            )
        return tuple(entries)

    def sweep(self, now: dt.datetime, limit: int = 100) -> list[Applied]:
        """Fire the clock events due at ``now`` (R12 auto-close, R4 overdue), like ``tick``.

        Orders are found through the index on their stored deadline (``due_at``), oldest
        deadline first, at most ``limit`` of them, and changed in one transaction with
        ``source="sweep"``. Idempotent: a second sweep at the same ``now`` fires nothing. An
        order whose last event is dated after ``now`` (R16) is left for a later sweep.
        """
        now = require_aware(now, "now")
        _require_limit(limit)
        applied: list[Applied] = []
        with self._lock, self._write() as cur:
            cur.execute(
                self._q(
                    f"SELECT {_ORDER_COLUMNS} FROM orders WHERE due_at <= ? "
                    f"ORDER BY due_at LIMIT ?{self._LOCK_DUE}"
                ),
                (self._ts(now), limit),
            )
            for row in cur.fetchall():
                order, version = self._validate_row(row)
                before_history, before_notes = len(order.history), len(order.notifications)
                try:
                    results = order.tick(now)
                except EventRejected:
                    continue  # dated before the order's last event (R16): not due at this now
                if not results:
                    continue
                if self._swap(cur, order, version) is None:  # pragma: no cover - rows are locked
                    raise ConcurrentUpdate(
                        f"order {order.order_id} changed while the sweep held it",
                        order_id=order.order_id,
                        event=results[0].event,
                        attempts=1,
                    )
                self._append(cur, order, before_history, before_notes, "sweep")
                applied.extend(
                    Applied(order, result, version + 1, before_history + i)
                    for i, result in enumerate(results, start=1)
                )
        return applied

    def outbox(self, limit: int = 100) -> list[OutboxItem]:
        """Notifications not acknowledged yet, in the order they were queued."""
        _require_limit(limit)
        with self._lock, self._read() as cur:
            cur.execute(
                self._q(
                    "SELECT id, order_id, position, kind, channel, at, rule, message "
                    "FROM outbox WHERE NOT acked ORDER BY id LIMIT ?"
                ),
                (limit,),
            )
            rows = cur.fetchall()
        return [
            OutboxItem(nid, oid, pos, Notification(kind, channel, self._from_ts(at), rule, message))
            for nid, oid, pos, kind, channel, at, rule, message in rows
        ]

    def ack(self, notification_ids: Iterable[int]) -> int:
        """Mark the outbox items delivered; the number that were still pending."""
        ids = list(notification_ids)
        for nid in ids:
            if isinstance(nid, bool) or not isinstance(nid, int):
                raise InvalidInput(f"notification ids are whole numbers, got {nid!r}", field="ids")
        acked = 0
        with self._lock, self._write() as cur:
            for nid in ids:
                cur.execute(
                    self._q("UPDATE outbox SET acked = ? WHERE id = ? AND NOT acked"), (True, nid)
                )
                acked += cur.rowcount
        return acked

    # -- the steps ----------------------------------------------------------------------------

    def _try_apply(
        self,
        order_id: str,
        event: str,
        at: dt.datetime,
        event_id: str | None,
        source: str | None,
        data: Mapping[str, object],
    ) -> Applied:
        """One attempt; raises :class:`_Rollback` to undo it (``outcome`` ``None``: lost CAS)."""
        with self._write() as cur:
            claimed = event_id is None or self._claim(cur, order_id, event_id, event, source)
            order, version = self._load(cur, order_id)
            before_history, before_notes = len(order.history), len(order.notifications)
            result = order.fire(event, at=at, event_id=event_id, **data)
            if result.duplicate:
                if claimed:  # the order knew the id but the inbox did not: write nothing
                    raise _Rollback(self._duplicate(order, version, result))
                return self._duplicate(order, version, result)
            if not claimed:
                raise CorruptOrder(
                    order_id,
                    f"the inbox holds event id {event_id!r} but the order's history does not",
                    field="inbox",
                )
            body = self._swap(cur, order, version)
            if body is None:
                raise _Rollback(None)
            self._append(cur, order, before_history, before_notes, source)
        self._remember(order, version + 1, body)  # committed
        return Applied(order, result, version + 1, len(order.history))

    def _duplicate(self, order: Order, version: int, result: FireResult) -> Applied:
        seq = next(i for i, r in enumerate(order.history, start=1) if r.event_id == result.event_id)
        return Applied(order, result, version, seq)

    def _claim(
        self, cur: Cursor, order_id: str, event_id: str, event: str, source: str | None
    ) -> bool:
        """Insert the event id into the inbox; ``False`` if it was already there."""
        cur.execute(
            self._q(
                "INSERT INTO inbox (order_id, event_id, event, source) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (order_id, event_id) DO NOTHING"
            ),
            (order_id, event_id, event, source),
        )
        return cur.rowcount == 1

    def _load(self, cur: Cursor, order_id: str) -> tuple[Order, int]:
        cur.execute(self._q(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE order_id = ?"), (order_id,))
        row = cur.fetchone()
        if row is None:
            raise UnknownOrder(order_id)
        return self._validate_row(row)

    def _validate_row(self, row: Sequence[Any]) -> tuple[Order, int]:
        """The order a row holds, checked through and through, and the row's version.

        The body is parsed and validated with :meth:`Order.from_dict`, and the real columns
        must agree with it. One shortcut: when the row's version and body are exactly those
        this store object last validated or wrote for the order, the remembered order is
        copied instead of parsed again; any change to the body makes it a full read.
        """
        order_id, state, version, dispatch_deadline, repayment_deadline, due_at, body = row
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise CorruptOrder(order_id, f"version is {version!r}", field="version")
        known = self._known.get(order_id)
        if known is not None and known[0] == version and known[1] == body:
            order = attrs.evolve(known[2])  # the very body validated before: same order
        else:
            try:
                data = self._from_json(body)
            except ValueError as exc:
                raise CorruptOrder(
                    order_id, f"its body is not JSON ({exc})", field="body"
                ) from None
            try:
                order = Order.from_dict(data)
            except InvalidInput as exc:
                raise CorruptOrder(order_id, exc.message, field=exc.field) from None
            known = None
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
        if known is None:
            self._remember(order, version, body)
        return order, version

    def _remember(self, order: Order, version: int, body: Any) -> None:
        """Keep a private copy of a validated order with its row's version and stored body."""
        self._known[order.order_id] = (version, body, attrs.evolve(order))
        self._known.move_to_end(order.order_id)
        if len(self._known) > self._KNOWN_MAX:
            self._known.popitem(last=False)

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

    def _columns(self, order: Order) -> tuple[Any, Any, Any, Any]:
        """The deadline columns and the body of ``order``'s row."""
        return (*self._deadlines(order), self._json(order.to_dict()))

    def _swap(self, cur: Cursor, order: Order, version: int) -> Any:
        """Write ``order`` if the row is still at ``version``: the body as the row will hold
        it (see :meth:`_stored_body`), or ``None`` if the version had moved on."""
        columns = self._columns(order)
        cur.execute(
            self._q(
                "UPDATE orders SET state = ?, version = ?, dispatch_deadline = ?, "
                "repayment_deadline = ?, due_at = ?, body = ? WHERE order_id = ? AND version = ?"
            ),
            (order.state, version + 1, *columns, order.order_id, version),
        )
        return self._stored_body(columns[-1]) if cur.rowcount == 1 else None

    def _append(
        self,
        cur: Cursor,
        order: Order,
        from_history: int,
        from_notes: int,
        source: str | None,
    ) -> None:
        """Log the history records and queue the notifications from those positions on."""
        for seq, record in enumerate(order.history[from_history:], start=from_history + 1):
            cur.execute(
                self._q(
                    "INSERT INTO order_log (order_id, seq, event, from_state, to_state, at, "
                    "event_id, source, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                (
                    order.order_id,
                    seq,
                    record.event,
                    record.source,
                    record.dest,
                    self._ts(record.at),
                    record.event_id,
                    source,
                    self._json(dict(record.data)),
                ),
            )
        for position, note in enumerate(order.notifications[from_notes:], start=from_notes):
            cur.execute(
                self._q(
                    "INSERT INTO outbox (order_id, position, kind, channel, at, rule, message) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)"
                ),
                (
                    order.order_id,
                    position,
                    note.kind,
                    note.channel,
                    self._ts(note.at),
                    note.rule,
                    note.message,
                ),
            )


class _Rollback(Exception):
    """Raised inside a write transaction to roll it back and hand ``outcome`` out."""

    def __init__(self, outcome: Applied | None) -> None:
        super().__init__("rollback")
        self.outcome = outcome


def dumps(value: Any) -> str:
    """Compact, stable JSON text."""
    return json.dumps(value, separators=(",", ":"))
