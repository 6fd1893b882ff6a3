"""The unit of work: load an order, fire, compare-and-swap its row, append its log, queue its
notifications, all in the caller's transaction.

Every way an order reaches the database goes through :meth:`UnitOfWork.write_back`: ``apply``
(one changed order), ``add`` and ``add_many`` (new rows instead of swapped ones) and ``sweep``
(many orders in one batch). Every way one is read goes through :meth:`UnitOfWork.load` or
:meth:`UnitOfWork.load_many`, which make it again from its head and log
(:class:`~statemachine.store._rows.Rows`) unless this store object already checked that very
row (:class:`~statemachine.store._cache.ValidatedOrders`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Final

import attrs

from ..declaration._records import FireResult, OrderWarning
from ..errors import CorruptOrder, InvalidInput, OrderExists, UnknownOrder, VersionConflict
from ..runtime._migration import decided_by
from ..runtime._order import Order
from ._cache import ValidatedOrders
from ._db import Cursor, Database, Transaction
from ._records import Applied
from ._rows import CHANGING, DERIVED_COLUMNS, LOG_COLUMNS, ORDER_COLUMNS, SCHEMA3_DERIVED, Rows

__all__ = ["Change", "Loading", "LostSwap", "Read", "UnitOfWork", "reads_back"]

_INSERT_ORDER: Final = (
    f"INSERT INTO orders (order_id, version, head, definition, {', '.join(DERIVED_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (4 + len(DERIVED_COLUMNS)))}) ON CONFLICT (order_id) DO NOTHING"
)
_CHANGED: Final = ", ".join(f"{name} = ?" for name in DERIVED_COLUMNS[:CHANGING])
"""The derived columns an event may change; those of the head are written once, on insert
(an ``UPDATE`` that names a column costs its index an update even when the value is the
same)."""
_SWAP: Final = (
    f"UPDATE orders SET version = ?, definition = ?, {_CHANGED} WHERE order_id = ? AND version = ?"
)
_SWAP_WITH_HEAD: Final = (
    f"UPDATE orders SET version = ?, definition = ?, {_CHANGED}, head = ? "
    "WHERE order_id = ? AND version = ?"
)
_APPEND: Final = (
    "INSERT INTO order_log (order_id, seq, event, at, utc_offset, event_id, source, data, "
    "from_state, to_state, actor, note, definition) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_QUEUE: Final = (
    "INSERT INTO outbox (order_id, position, queued_at) VALUES (?, ?, {now}) "
    "ON CONFLICT (order_id, position) DO NOTHING"
)
"""A notification is queued once: a row already there (put there by hand) keeps its place."""
_KIND_AND_SEQ: Final = itemgetter(0, 1)
_SCHEMA5: Final = DERIVED_COLUMNS[SCHEMA3_DERIVED:]
_WHOLE: Final = (
    "SELECT 0, version, state, dispatch_deadline, repayment_deadline, due_at, head, "
    f"NULL, NULL, NULL, NULL, NULL, definition, {', '.join(_SCHEMA5)} FROM orders "
    "WHERE order_id = ? UNION ALL SELECT 1, seq, event, at, NULL, NULL, data, utc_offset, "
    f"event_id, source, from_state, to_state, definition{', NULL' * len(_SCHEMA5)} "
    "FROM order_log WHERE order_id = ?"
)
"""An order's row, then its log rows by ``seq``, in one statement: one view of both, even at
READ COMMITTED (where two statements may see another writer's commit in between), and the
row's columns sent once, not once per log row."""


@attrs.frozen
class Change:
    """An order that a write transaction creates or changes, for :meth:`UnitOfWork.write_back`.

    ``version`` is the row version the order was read at, 0 for a new order (no row yet);
    ``history_from`` and ``notes_from`` are where its new history records and notifications
    start; ``source`` is who sent its events, for the log; ``head`` is the head column as it
    was read and ``warnings`` the calendar warnings the order was read with: the head is
    written again only if they changed. ``actor`` (the credential's name) and ``note`` go to
    the log with each new event too.
    """

    order: Order
    version: int
    source: str | None
    history_from: int = 0
    notes_from: int = 0
    head: Any = None
    warnings: tuple[OrderWarning, ...] | None = None
    actor: str | None = None
    note: str | None = None

    @classmethod
    def starting(
        cls, read: Read, source: str | None, actor: str | None = None, note: str | None = None
    ) -> Change:
        """The change the order ``read`` goes through from now on: take it before firing
        events on the order."""
        order = read.order
        return cls(
            order,
            read.version,
            source,
            len(order.history),
            len(order.notifications),
            read.head,
            order.warnings,
            actor,
            note,
        )


@attrs.frozen
class LostSwap:
    """What one try of ``apply`` did when another writer had moved the order's version on
    since it was read: it rolled back and wrote nothing; ``apply`` tries again."""

    order_id: str
    version: int
    """The version the try had read."""


@attrs.frozen
class Read:
    """An order as read from its row: the order, the row's version and its head column as the
    database returned it (what the cache compares)."""

    order: Order
    version: int
    head: Any


Loading = tuple[Sequence[Any], Read | None, CorruptOrder | None]
"""An ``orders`` row with the order it holds, or why it holds none."""


class UnitOfWork:
    """The write path and the checked reads of one store object, over its database."""

    def __init__(self, db: Database, cache: ValidatedOrders) -> None:
        self.db = db
        self.rows = Rows(db)
        self.cache = cache

    # -- reads ------------------------------------------------------------------------------

    def load(self, cur: Cursor, order_id: str) -> Read:
        """The order stored under ``order_id``, checked, with its row version;
        :class:`~statemachine.errors.UnknownOrder` or :class:`CorruptOrder`.

        One statement when this store object holds nothing of the order (the row and its log,
        made into the order); else the row first, and the log only if the row moved on from
        the version remembered.
        """
        if order_id not in self.cache:
            return self.remember(*self.whole(cur, order_id))
        cur.execute(
            self.db.q(f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = ?"), (order_id,)
        )
        row = cur.fetchone()
        if row is None:
            raise UnknownOrder(order_id)
        read = self.recall(row)
        if read is not None:
            return read
        return self.remember(*self.whole(cur, order_id))

    def whole(self, cur: Cursor, order_id: str) -> tuple[Sequence[Any], list[Sequence[Any]]]:
        """An order's ``orders`` row and its log rows, read in one statement (one view of
        both); :class:`~statemachine.errors.UnknownOrder` if there is no such row."""
        cur.execute(self.db.q(_WHOLE), (order_id, order_id))
        found = cur.fetchall()
        try:  # the row, then the log by seq (a UNION ALL comes in the database's own order)
            found.sort(key=_KIND_AND_SEQ)
        except TypeError:  # a seq that is not a number
            problem = "its log's seq column holds something other than whole numbers"
            raise CorruptOrder(order_id, problem, field="order_log") from None
        if not found or found[0][0] != 0:
            raise UnknownOrder(order_id)
        _, version, state, dispatch, repayment, due, head = found[0][:7]
        definition = found[0][12]
        row: Sequence[Any] = (
            order_id,
            version,
            head,
            state,
            dispatch,
            repayment,
            due,
            definition,
            *found[0][13:],
        )
        log: list[Sequence[Any]] = [
            (r[1], r[2], r[3], r[7], r[8], r[9], r[6], r[10], r[11], r[12]) for r in found[1:]
        ]
        return row, log

    def load_many(self, cur: Cursor, rows: Sequence[Sequence[Any]]) -> list[Loading]:
        """The orders ``rows`` (``orders`` rows) hold, each checked: one query for the logs of
        all those this store object has not checked at their version yet."""
        found: dict[str, Read | CorruptOrder] = {}
        missing: list[Sequence[Any]] = []
        for row in rows:
            try:
                read = self.recall(row)
            except CorruptOrder as exc:
                found[row[0]] = exc
                continue
            if read is None:
                missing.append(row)
            else:
                found[row[0]] = read
        if missing:
            marks = ", ".join("?" * len(missing))
            cur.execute(
                self.db.q(
                    f"SELECT order_id, {LOG_COLUMNS} FROM order_log "
                    f"WHERE order_id IN ({marks}) ORDER BY order_id, seq"
                ),
                [row[0] for row in missing],
            )
            logs: dict[str, list[Sequence[Any]]] = {row[0]: [] for row in missing}
            for entry in cur.fetchall():
                logs[entry[0]].append(entry[1:])
            for row in missing:
                try:
                    found[row[0]] = self.remember(row, logs[row[0]])
                except CorruptOrder as exc:
                    found[row[0]] = exc
        out: list[Loading] = []
        for row in rows:
            value = found[row[0]]
            if isinstance(value, CorruptOrder):
                out.append((row, None, value))
            else:
                out.append((row, value, None))
        return out

    def recall(self, row: Sequence[Any]) -> Read | None:
        """The order of ``row`` if this store object checked that very row (version and head)
        before, its derived columns checked again (against what the remembered order gives,
        worked out once); ``None`` if it must be made from its log."""
        order_id, version, head = row[0], row[1], row[2]
        self.rows.version(order_id, version)
        found = self.cache.recall_with(order_id, version, head, self.rows.derived)
        if found is None:
            return None
        order, derived = found
        self.rows.check_derived(order, row, derived)
        return Read(order, version, head)

    def remember(self, row: Sequence[Any], log: Sequence[Sequence[Any]]) -> Read:
        """The order ``row`` and its ``log`` hold, made and checked, and remembered."""
        order, version = self.rows.order(row, log)
        self.cache.remember(order, version, row[2])
        return Read(order, version, row[2])

    # -- writes -----------------------------------------------------------------------------

    def write_back(self, tx: Transaction, changes: Sequence[Change]) -> list[Any] | None:
        """Write what ``changes`` did, inside ``tx``: each order's row (:meth:`swap`), then its
        new log rows and its new notifications' outbox rows (:meth:`append`).

        The heads, as a read will return them, one per change: for the cache once ``tx`` has
        committed. ``None`` when a row was not as the change read it (its version moved on,
        or a new order's id is taken): nothing of the changes may be kept then, and the
        caller rolls ``tx`` back.
        """
        heads = self.swap(tx, changes)
        if heads is not None:
            self.append(tx, changes)
        return heads

    def swap(self, tx: Transaction, changes: Sequence[Change]) -> list[Any] | None:
        """Compare-and-swap the rows of ``changes``: a changed order's row is replaced only if
        it is still at the version read, a new order's row is inserted only if its id is free.
        The heads (see :meth:`write_back`), or ``None`` if any row was not as read."""
        rows, db = self.rows, self.db
        new: list[tuple[Any, ...]] = []
        swapped: list[tuple[Any, ...]] = []
        with_head: list[tuple[Any, ...]] = []
        heads: list[Any] = []
        for change in changes:
            order, version = change.order, change.version
            derived = rows.derived(order)
            definition = rows.definition(order)
            if version == 0:
                head = rows.head(order)
                new.append((order.order_id, 1, head, definition, *derived))
                heads.append(db.stored_json(head))
                continue
            changed = derived[:CHANGING]
            if order.warnings is change.warnings:
                head = None
                swapped.append((version + 1, definition, *changed, order.order_id, version))
            else:
                head = rows.head(order)
                with_head.append((version + 1, definition, *changed, head, order.order_id, version))
            heads.append(change.head if head is None else db.stored_json(head))
        written = (
            tx.run(_INSERT_ORDER, new, db)
            + tx.run(_SWAP, swapped, db)
            + tx.run(_SWAP_WITH_HEAD, with_head, db)
        )
        return heads if written == len(changes) else None

    def append(self, tx: Transaction, changes: Sequence[Change]) -> None:
        """Log the changes' new events and queue their new notifications."""
        rows, db = self.rows, self.db
        tx.run(
            _APPEND,
            [
                (
                    *rows.log_row(change.order.order_id, seq, record, change.source),
                    change.actor,
                    change.note,
                    decided,
                )
                for change in changes
                for seq, (record, decided) in enumerate(
                    zip(
                        change.order.history[change.history_from :],
                        decided_by(change.order)[change.history_from :],
                        strict=True,
                    ),
                    start=change.history_from + 1,
                )
            ],
            db,
        )
        tx.run(
            _QUEUE.format(now=db.now_sql),
            [
                (change.order.order_id, position)
                for change in changes
                for position in range(change.notes_from, len(change.order.notifications))
            ],
            db,
        )

    def committed(self, changes: Sequence[Change], heads: Sequence[Any]) -> None:
        """Remember the orders ``changes`` wrote (with the heads :meth:`write_back` returned),
        once their transaction committed."""
        for change, head in zip(changes, heads, strict=True):
            self.cache.remember(change.order, change.version + 1, head)

    def try_apply(
        self,
        order_id: str,
        event: str,
        at: dt.datetime,
        event_id: str | None,
        source: str | None,
        expected_version: int | None,
        data: Mapping[str, object],
        actor: str | None = None,
        note: str | None = None,
    ) -> Applied | LostSwap:
        """One try of ``apply``, in one transaction: the event applied and committed, a
        duplicate delivery (nothing written), or :class:`LostSwap` (rolled back; try again)."""
        with self.db.write() as tx:
            read = self.load(tx.cur, order_id)
            order, version = read.order, read.version
            change = Change.starting(read, source, actor, note)
            result = order.fire(event, at=at, event_id=event_id, **data)
            if result.duplicate:  # R15: nothing to write
                tx.rollback()
                return self._duplicate(order, version, result)
            if expected_version is not None and version != expected_version:
                raise VersionConflict(order_id, expected_version, version, event)
            heads = self.write_back(tx, [change])
            if heads is None:  # another writer moved the version on
                tx.rollback()
                return LostSwap(order_id, version)
        self.committed([change], heads)
        return Applied(order, result, version + 1, len(order.history))

    def try_rewrite(
        self,
        order_id: str,
        move: Callable[[Order], bool],
        expected_version: int | None,
        source: str | None,
        actor: str | None,
    ) -> Read | LostSwap | None:
        """One try of ``rewrite``, in one transaction: ``move`` changed the order (written,
        after checking that it reads back, and returned), or changed nothing (``None``), or
        :class:`LostSwap`."""
        with self.db.write() as tx:
            read = self.load(tx.cur, order_id)
            order, version = read.order, read.version
            if expected_version is not None and version != expected_version:
                raise VersionConflict(order_id, expected_version, version, "rewrite")
            change = Change.starting(read, source, actor)
            before = order.history
            if not move(order):
                tx.rollback()
                return None
            if order.history[: len(before)] != before:
                raise InvalidInput(
                    f"order {order_id}: a rewrite may only append to the history", field="history"
                )
            reads_back(order)
            heads = self.write_back(tx, [change])
            if heads is None:
                tx.rollback()
                return LostSwap(order_id, version)
        self.committed([change], heads)
        return Read(order, version + 1, heads[0])

    def add(
        self, tx: Transaction, orders: Sequence[Order], source: str | None, actor: str | None = None
    ) -> list[Any] | None:
        """Insert new orders (their history logged with ``source`` and ``actor``, their
        notifications queued) in ``tx``; their heads, or ``None`` if an id is stored already
        (roll back)."""
        return self.write_back(tx, [Change(order, 0, source, actor=actor) for order in orders])

    def first_stored(self, order_ids: Sequence[str]) -> str | None:
        """The first of ``order_ids`` that is stored; ``None`` if none is."""
        marks = ", ".join("?" * len(order_ids))
        with self.db.read() as cur:
            cur.execute(
                self.db.q(f"SELECT order_id FROM orders WHERE order_id IN ({marks})"), order_ids
            )
            stored = {row[0] for row in cur.fetchall()}
        return next((order_id for order_id in order_ids if order_id in stored), None)

    def clash(self, order_ids: Sequence[str]) -> OrderExists | None:
        """:class:`OrderExists` for the first of ``order_ids`` already stored."""
        taken = self.first_stored(order_ids)
        return None if taken is None else OrderExists(taken)

    @staticmethod
    def _duplicate(order: Order, version: int, result: FireResult) -> Applied:
        seq = next(i for i, r in enumerate(order.history, start=1) if r.event_id == result.event_id)
        return Applied(order, result, version, seq)


def reads_back(order: Order) -> None:
    """Refuse to store ``order`` unless it is one the machine could have produced: its
    ``to_dict()`` reads back (:meth:`Order.from_dict`) as an equal order."""
    try:
        Order.from_dict(order.to_dict())
    except InvalidInput as exc:
        raise InvalidInput(
            f"order {order.order_id!r} cannot be stored: {exc.message}", field=exc.field
        ) from None
