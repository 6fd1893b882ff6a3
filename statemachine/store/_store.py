"""The store: its public methods, written once over a :class:`~statemachine.store._db.Database`.

:class:`SQLStore` checks its arguments (:mod:`~statemachine.store._inputs`), then runs the unit
of work (:mod:`~statemachine.store._unit`) in a transaction, retrying a lost compare-and-swap,
and logs and counts what it did (:mod:`statemachine._observe`). Its listings and its outbox are
:mod:`~statemachine.store._listings` and :mod:`~statemachine.store._outbox`; the schema is
:mod:`~statemachine.store._schema`'s. ``SQLiteStore`` and ``PostgresStore`` are this class on
their database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, TypeVar

from .._observe import LOGGER, event_handled, span
from ..declaration._records import FireResult
from ..errors import (
    ConcurrentUpdate,
    EventRejected,
    InvalidInput,
    UnknownOrder,
)
from ..runtime._machine import MAX_ID_LENGTH
from ..runtime._order import Order
from ._cache import DEFAULT_CAPACITY, ValidatedOrders
from ._db import Database
from ._inputs import (
    valid_event,
    valid_limit,
    valid_moment,
    valid_note,
    valid_order_id,
    valid_text_or_none,
    valid_version,
)
from ._listings import Listings
from ._outbox import Outbox
from ._records import Applied, Loaded, Skipped, Swept
from ._rows import DERIVED_COLUMNS, ORDER_COLUMNS
from ._schema import migrate
from ._sessions import Sessions
from ._unit import Change, LostSwap, UnitOfWork, reads_back

__all__ = ["DEFAULT_ATTEMPTS", "SQLStore"]

DEFAULT_ATTEMPTS: Final = 10
"""How many times ``apply`` tries on fresh data before raising :class:`ConcurrentUpdate`."""

_T = TypeVar("_T")
_S = TypeVar("_S", bound="SQLStore")
_ALL_DERIVED: Final = ", ".join(f"{name} = ?" for name in DERIVED_COLUMNS)


def _batches(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """``items`` in lists of ``size`` (the last one shorter), read lazily."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


class SQLStore(Listings, Outbox, Sessions):
    """Orders in a SQL database, safe under concurrent writers.

    ``apply(order_id, event, *, at, event_id=None, source=None, **data)`` runs one write
    transaction that:

    1. loads the order: made again from its head and its log through the machine, unless this
       store object already checked that very row (:class:`CorruptOrder` naming the order);
    2. fires the event (:meth:`Order.fire`); an event id already in the order's log is a
       duplicate (R15) and nothing is written; a refused event raises
       :class:`~statemachine.errors.EventRejected` and the transaction is rolled back: **a
       refusal writes nothing**;
    3. updates the order's row only if its ``version`` is still the one loaded
       (compare-and-swap); a lost swap rolls back and starts again on fresh data, at most
       ``max_attempts`` times, then raises :class:`ConcurrentUpdate`;
    4. appends the new events to ``order_log`` (append-only, gap-free ``seq``, an event id at
       most once per order);
    5. queues the order's new notifications in ``outbox``.

    Steps 3 to 5 are the one way an order reaches the database (``write_back``): ``add`` and
    ``add_many`` (a new row instead of a swapped one) and ``sweep`` (many orders in one batch)
    write through it too.
    """

    _CACHE_SIZE: int = DEFAULT_CAPACITY
    """How many checked orders a store object remembers (see :class:`ValidatedOrders`)."""
    _ADD_BATCH: int = 1000
    """How many orders ``add_many`` sends per batch of statements (all in one transaction)."""
    _PASS_OVER_MAX: int = 500
    """How many due rows one ``sweep`` may pass over (corrupt, or not due under R16)."""

    def __init__(self, db: Database, max_attempts: int) -> None:
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise InvalidInput(
                f"max_attempts must be a whole number of at least 1, got {max_attempts!r}",
                field="max_attempts",
            )
        self._db = db
        self._max_attempts = max_attempts
        self._lock: Any = contextlib.nullcontext() if db.threadsafe_pool else threading.RLock()
        self._unit = UnitOfWork(db, ValidatedOrders(self._CACHE_SIZE))

    def _open(self) -> None:
        """Create or upgrade the schema (:func:`~statemachine.store._schema.migrate`)."""
        migrate(self._db)

    def close(self) -> None:
        """Release the connection (or the pool)."""
        self._db.close()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db.where!r})"

    # -- adding -----------------------------------------------------------------------------

    def add(self, order: Order, *, source: str | None = "add", actor: str | None = None) -> int:
        """Store a new order and return its version (1).

        History the order already carries goes to the log (with ``source`` and ``actor``) and
        its notifications to the outbox. :class:`OrderExists` if the id is taken. The same as
        ``add_many([order])``.
        """
        self.add_many([order], source=source, actor=actor)
        return 1

    def add_many(
        self, orders: Iterable[Order], *, source: str | None = "add", actor: str | None = None
    ) -> int:
        """Store new orders in one transaction, all of them or none; how many were stored.

        Each order is stored as :meth:`add` stores one (version 1, its history logged with
        ``source``, its notifications queued); the statements go in batches (``executemany``)
        and there is one commit, at the end. If any order cannot be stored, none is:
        :class:`~statemachine.errors.InvalidInput` names an order that is not one the machine
        could have produced (it does not read back: :meth:`Order.from_dict`) or whose id is
        given twice, and :class:`OrderExists` the first order whose id is already stored.
        ``orders`` may be any iterable; a generator is read once, one batch at a time.
        """
        source = valid_text_or_none(source, "source")
        actor = valid_text_or_none(actor, "actor")
        positions: dict[str, int] = {}
        written: list[tuple[list[Change], list[Any]]] = []
        clash: list[str] = []
        unit = self._unit
        with self._lock:
            with self._db.write() as tx:
                for batch in _batches(orders, self._ADD_BATCH):
                    changes = [self._new(o, positions, source, actor) for o in batch]
                    heads = unit.write_back(tx, changes)
                    if heads is None:  # an id is stored already: keep nothing
                        tx.rollback()
                        clash = [change.order.order_id for change in changes]
                        break
                    written.append((changes, heads))
                    if len(written) * self._ADD_BATCH > 2 * unit.cache.capacity:
                        written.pop(0)  # the cache keeps only the most recent anyway
            if clash:
                exists = unit.clash(clash)
                if exists is None:  # pragma: no cover - stored rows are never deleted
                    raise ConcurrentUpdate(
                        "another writer changed the orders while add_many ran; nothing was "
                        "added, it is safe to try again",
                        order_id=None,
                        event=None,
                        attempts=1,
                    )
                raise exists
            for changes, heads in written:  # committed
                unit.committed(changes, heads)
        return len(positions)

    @staticmethod
    def _new(
        order: object, positions: dict[str, int], source: str | None, actor: str | None
    ) -> Change:
        """The change that adds ``order``, the next of an import; its id must be new to it,
        and it must be an order the machine could have produced."""
        position = len(positions)
        if not isinstance(order, Order):
            raise InvalidInput(
                f"a store adds Orders; item {position} is a {type(order).__name__}", field="order"
            )
        if order.definition is None:
            raise InvalidInput(
                f"order {order.order_id!r} runs on a table that is no registered definition: a "
                "store keeps orders of registered versions only (register it first)",
                field="order",
            )
        first = positions.setdefault(order.order_id, position)
        if first != position:
            raise InvalidInput(
                f"order {order.order_id!r} is given twice, at positions {first} and {position} "
                "of the orders to add; nothing was added",
                field="order_id",
            )
        reads_back(order)
        valid_moment(order.paid_at, "paid_at")  # every moment it holds is one a store keeps
        for number, record in enumerate(order.history):
            valid_moment(record.at, f"history[{number}].at")
        return Change(order, 0, source, actor=actor)

    # -- reading ----------------------------------------------------------------------------

    def get(self, order_id: str) -> Order:
        """The stored order, checked on the way out (:meth:`load`)."""
        return self.load(order_id).order

    def load(self, order_id: str) -> Loaded:
        """The stored order, checked, with its row version: give the version back as
        ``apply(..., expected_version=...)`` to write only if nobody wrote in between.

        :class:`~statemachine.errors.UnknownOrder` if none is stored under ``order_id``,
        :class:`CorruptOrder` if its rows are not an order the machine could have produced.
        """
        order_id = valid_order_id(order_id)
        with (
            span("load", order_id=order_id),
            self._lock,
            self._db.statements() as cur,  # each statement stands alone (see UnitOfWork.load)
        ):
            read = self._unit.load(cur, order_id)
        return Loaded(read.order, read.version)

    # -- changing ---------------------------------------------------------------------------

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
        actor: str | None = None,
        note: str | None = None,
        **data: object,
    ) -> Applied:
        """Fire ``event`` on the stored order in one transaction (see the class docstring).

        ``source`` (the front end: ``"api"``, ``"webhook"``), ``actor`` (who: the name of
        the credential or the person) and ``note`` (what they wrote with it, up to
        2000 characters) go to the event's log row.

        Everything is checked before the store is touched: the ids (at most
        :data:`~statemachine.runtime.MAX_ID_LENGTH` characters, no NUL), the event's name, the
        time. With ``expected_version``, :class:`VersionConflict` if the row is at another
        version (a duplicate delivery still answers as the first time did). Logged (logger
        ``statemachine``) and counted (OpenTelemetry) as applied, duplicate, refused or invalid.
        """
        started = time.perf_counter()
        try:
            order_id = valid_order_id(order_id)
            event = valid_event(event)
            event_id = valid_text_or_none(event_id, "event_id")
            at = valid_moment(at, "at")
            source = valid_text_or_none(source, "source")
            actor = valid_text_or_none(actor, "actor")
            note = valid_note(note)
            if expected_version is not None:
                valid_version(expected_version)
            with span("apply", order_id=order_id, event=event, event_id=event_id), self._lock:
                applied = self._apply(
                    order_id, event, at, event_id, source, expected_version, data, actor, note
                )
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
                actor=actor if isinstance(actor, str) else None,
            )
            raise
        except (InvalidInput, UnknownOrder) as exc:  # the caller's input, not a store fault
            event_handled(
                "invalid",
                order_id=str(order_id)[:MAX_ID_LENGTH],
                event=str(event)[:MAX_ID_LENGTH],
                started=started,
                rule="R15" if exc.message.startswith("R15") else None,
                event_id=event_id if isinstance(event_id, str) else None,
                actor=actor if isinstance(actor, str) else None,
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
            actor=actor,
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
        actor: str | None = None,
        note: str | None = None,
    ) -> Applied:
        for _ in range(self._max_attempts):
            attempt = self._unit.try_apply(
                order_id, event, at, event_id, source, expected_version, data, actor, note
            )
            if isinstance(attempt, Applied):
                return attempt
        raise ConcurrentUpdate(
            f"{event} on order {order_id} lost the compare-and-swap {self._max_attempts} times "
            "in a row to other writers; nothing was written, it is safe to send it again",
            order_id=order_id,
            event=event,
            attempts=self._max_attempts,
        )

    def rewrite(
        self,
        order_id: str,
        move: Callable[[Order], bool],
        *,
        expected_version: int | None = None,
        source: str | None = "migration",
        actor: str | None = None,
    ) -> Loaded | None:
        """Let ``move`` change the stored order in one transaction, and write what it appended
        to the history with the usual compare-and-swap: what migrations
        (:mod:`statemachine.migration`) write with. ``move`` gets the order as read and
        returns whether it changed it; it may only append records, and the result must read
        back (:class:`InvalidInput` otherwise: nothing is written). ``None`` when ``move``
        changed nothing; else the order written, with its new row version. With
        ``expected_version``, :class:`VersionConflict` if the row is at another version; a
        swap lost to another writer is tried again on fresh data, like :meth:`apply`."""
        order_id = valid_order_id(order_id)
        source = valid_text_or_none(source, "source")
        actor = valid_text_or_none(actor, "actor")
        if expected_version is not None:
            valid_version(expected_version)
        with span("rewrite", order_id=order_id), self._lock:
            for _ in range(self._max_attempts):
                attempt = self._unit.try_rewrite(order_id, move, expected_version, source, actor)
                if not isinstance(attempt, LostSwap):
                    return None if attempt is None else Loaded(attempt.order, attempt.version)
        raise ConcurrentUpdate(
            f"rewriting order {order_id} lost the compare-and-swap {self._max_attempts} times "
            "in a row to other writers; nothing was written, it is safe to try again",
            order_id=order_id,
            event=None,
            attempts=self._max_attempts,
        )

    def sweep(self, now: dt.datetime, limit: int = 100) -> Swept:
        """Fire the clock events due at ``now`` (R12 auto-close, R4 overdue), like ``tick``.

        Due orders are taken through the index on their stored deadline (``due_at``), oldest
        deadline first, and fired with ``source="sweep"``, at most ``limit`` of them, all in one
        transaction; their rows, log records and notifications are written in batches.
        Idempotent: a second sweep at the same ``now`` fires nothing. On PostgreSQL the rows are
        taken ``FOR UPDATE SKIP LOCKED``, so concurrent sweepers share the due orders and never
        fire one twice.

        A due order is passed over, and left as it is, when its last event is dated after
        ``now`` (R16: not due at this ``now``; a later sweep fires it) or when its rows are
        corrupt; the sweep then takes the next due orders instead (passing over at most
        ``500`` rows), so such rows never hold the others back. The result lists what was
        fired and, in ``skipped``, each order passed over and why; each corrupt one is also
        logged (logger ``statemachine``, WARNING), so that someone repairs it. A corrupt row is
        never overwritten; it stays due, and the first sweep after its repair fires it.
        """
        now = valid_moment(now, "now")
        valid_limit(limit)
        db, unit = self._db, self._unit
        fired: list[tuple[Change, list[FireResult]]] = []
        heads: list[Any] = []
        skipped: list[Skipped] = []
        passed: list[str] = []  # due, but not fired by this sweep
        with span("sweep", limit=limit), self._lock:
            with db.write() as tx:
                while len(fired) < limit and len(passed) < self._PASS_OVER_MAX:
                    wanted = limit - len(fired)
                    but = f" AND order_id NOT IN ({', '.join('?' * len(passed))})" if passed else ""
                    tx.cur.execute(
                        db.q(
                            f"SELECT {ORDER_COLUMNS} FROM orders WHERE due_at <= ?{but} "
                            f"ORDER BY due_at LIMIT ?{db.lock_due}"
                        ),
                        (db.ts(now), *passed, wanted),
                    )
                    rows = tx.cur.fetchall()
                    batch: list[tuple[Change, list[FireResult]]] = []
                    for row, read, error in unit.load_many(tx.cur, rows):
                        if read is None:
                            assert error is not None
                            skipped.append(Skipped(str(row[0]), "corrupt", error))
                            passed.append(row[0])
                            LOGGER.warning(
                                "sweep passed over corrupt order %s: %s",
                                row[0],
                                error,
                                extra={"order_id": row[0], "outcome": "skipped"},
                            )
                            continue
                        change = Change.starting(read, "sweep")
                        try:
                            results = read.order.tick(now)
                        except EventRejected:  # dated before its last event (R16)
                            results = []
                        if results:
                            batch.append((change, results))
                        else:
                            skipped.append(Skipped(read.order.order_id, "not_due"))
                            passed.append(read.order.order_id)
                    written = unit.write_back(tx, [change for change, _ in batch])
                    if written is None:  # pragma: no cover - the rows are locked
                        raise ConcurrentUpdate(
                            "an order changed while the sweep held it; nothing was written",
                            order_id=None,
                            event=None,
                            attempts=1,
                        )
                    fired += batch
                    heads += written
                    if len(rows) < wanted:  # no more due rows
                        break
            unit.committed([change for change, _ in fired], heads)
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

    def rebuild(self, order_id: str) -> Loaded:
        """Write an order's derived columns again from its log (its state, deadlines,
        ``due_at`` and the keys search and sorting read, for the indexes), after someone
        changed them by hand or the move to store schema 5 could not make them; the order as
        its log gives it. Its head and log are the truth and are left as they are: when they
        are not an order the machine could have produced, :class:`CorruptOrder` says so and
        nothing is written."""
        order_id = valid_order_id(order_id)
        db, unit = self._db, self._unit
        with span("rebuild", order_id=order_id), self._lock, db.write() as tx:
            row, log = unit.whole(tx.cur, order_id)
            order, version = unit.rows.order(row, log, check_derived=False)
            tx.run(
                f"UPDATE orders SET {_ALL_DERIVED} WHERE order_id = ? AND version = ?",
                [(*unit.rows.derived(order), order_id, version)],
                db,
            )
        unit.cache.remember(order, version, row[2])
        return Loaded(order, version)
