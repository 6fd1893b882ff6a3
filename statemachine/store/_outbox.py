"""The outbox: each notification an order gives, queued once, until a relay delivers it.

An ``outbox`` row holds a notification's place (the order and its position in
``order.notifications``) and what a relay did with it: how many tries, the last error, when the
next try is due, and whether it was delivered (``acked``) or given up on (``dead``). The text
of the notification is the order's, made from its log; it is not stored again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Final

from .._observe import span
from ..errors import CorruptOrder, InvalidInput
from ._db import Database
from ._inputs import valid_ids, valid_limit, valid_moment, valid_order_id
from ._records import Delivery, DeliveryStatus, NotificationRow, OutboxItem
from ._rows import ORDER_COLUMNS
from ._unit import UnitOfWork

__all__ = ["Outbox"]

_DELIVERY: Final = (
    "id, order_id, position, attempts, status, next_attempt_at, last_error, updated_at"
)
_STATUSES: Final = ("retrying", "acked", "dead")


class Outbox:
    """The outbox side of :class:`~statemachine.store._store.SQLStore` (a part of it)."""

    _db: Database
    _unit: UnitOfWork
    _lock: Any

    def outbox(self, limit: int = 100) -> list[OutboxItem]:
        """Notifications not acknowledged yet, in the order they were queued, each with its
        text as its order gives it (the orders are read as :meth:`get` reads them; a row that
        names no notification of its order is :class:`CorruptOrder` naming the row)."""
        valid_limit(limit)
        db, unit = self._db, self._unit
        with span("outbox"), self._lock, db.read() as cur:
            cur.execute(
                db.q(
                    "SELECT id, order_id, position FROM outbox WHERE NOT acked ORDER BY id LIMIT ?"
                ),
                (limit,),
            )
            queued = cur.fetchall()
            ids = list(dict.fromkeys(row[1] for row in queued))
            orders: dict[str, Any] = {}
            if ids:
                marks = ", ".join("?" * len(ids))
                cur.execute(
                    db.q(f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_id IN ({marks})"), ids
                )
                for _row, read, error in unit.load_many(cur, cur.fetchall()):
                    if error is not None:
                        raise error
                    assert read is not None
                    orders[read.order.order_id] = read.order
        items = []
        for nid, order_id, position in queued:
            order = orders.get(order_id)
            if order is None:
                where = f"outbox[{nid}].order_id"
                problem = f"{where} names no stored order"
                raise CorruptOrder(str(order_id), problem, field=where)
            if (
                isinstance(position, bool)
                or not isinstance(position, int)
                or not 0 <= position < len(order.notifications)
            ):
                where = f"outbox[{nid}].position"
                raise CorruptOrder(
                    order_id,
                    f"{where} {position!r} is not one of the order's "
                    f"{len(order.notifications)} notifications",
                    field=where,
                )
            items.append(OutboxItem(int(nid), order_id, position, order.notifications[position]))
        return items

    def notifications(self, order_id: str) -> list[NotificationRow]:
        """The outbox rows of one order, by position, with whether each was acknowledged."""
        order_id = valid_order_id(order_id)
        db = self._db
        with span("notifications", order_id=order_id), self._lock, db.statements() as cur:
            cur.execute(
                db.q("SELECT id, position, acked FROM outbox WHERE order_id = ? ORDER BY position"),
                (order_id,),
            )
            return [NotificationRow(int(i), int(p), bool(a)) for i, p, a in cur.fetchall()]

    def ack(self, notification_ids: Iterable[int]) -> int:
        """Mark the outbox items delivered; the number that were still pending."""
        ids = valid_ids(notification_ids)
        with self._lock, self._db.write() as tx:
            return tx.run(
                "UPDATE outbox SET acked = ? WHERE id = ? AND NOT acked",
                [(True, nid) for nid in ids],
                self._db,
            )

    # -- what a relay did -------------------------------------------------------------------

    def deliveries(self, notification_ids: Iterable[int]) -> dict[int, Delivery]:
        """What a relay did with these notifications, by id (those never tried are left out)."""
        ids = valid_ids(notification_ids)
        if not ids:
            return {}
        db = self._db
        marks = ", ".join("?" * len(ids))
        with self._lock, db.statements() as cur:
            cur.execute(
                db.q(
                    f"SELECT {_DELIVERY} FROM outbox "
                    f"WHERE id IN ({marks}) AND attempts > 0 ORDER BY id"
                ),
                ids,
            )
            found = [self._delivery(row) for row in cur.fetchall()]
        return {d.notification_id: d for d in found}

    def dead_letters(self, limit: int = 100) -> list[Delivery]:
        """The notifications a relay gave up on, newest first."""
        valid_limit(limit)
        db = self._db
        with self._lock, db.statements() as cur:
            cur.execute(
                db.q(
                    f"SELECT {_DELIVERY} FROM outbox WHERE status = 'dead' "
                    "ORDER BY updated_at DESC, id DESC LIMIT ?"
                ),
                (limit,),
            )
            return [self._delivery(row) for row in cur.fetchall()]

    def dead_letter_count(self) -> int:
        """How many notifications a relay gave up on."""
        with self._lock, self._db.statements() as cur:
            cur.execute("SELECT COUNT(*) FROM outbox WHERE status = 'dead'")
            return int(cur.fetchone()[0])

    def record_delivery(
        self,
        notification_id: int,
        *,
        status: DeliveryStatus,
        error: str | None,
        next_attempt_at: dt.datetime | None,
        now: dt.datetime,
    ) -> int:
        """Count one more try of a notification and what came of it: ``acked`` (delivered:
        the notification leaves the queue), ``retrying`` (try again at ``next_attempt_at``)
        or ``dead`` (given up: it leaves the queue, kept as a dead letter). A notification
        another relay already finished keeps its status; the count still goes up, since the
        try happened. The number of tries so far (0: no such notification)."""
        (nid,) = valid_ids([notification_id])
        if status not in _STATUSES:
            raise InvalidInput(
                f"status must be one of {', '.join(_STATUSES)}, got {status!r}", field="status"
            )
        if error is not None and not isinstance(error, str):
            raise InvalidInput(f"error must be text, got {error!r}", field="error")
        now = valid_moment(now, "now")
        if next_attempt_at is not None:
            next_attempt_at = valid_moment(next_attempt_at, "next_attempt_at")
        db = self._db
        with self._lock, db.write() as tx:
            cur = tx.cur
            cur.execute(
                db.q(
                    "UPDATE outbox SET attempts = attempts + 1, "
                    "status = CASE WHEN status IS NULL OR status = 'retrying' THEN ? "
                    "ELSE status END, "
                    "acked = (acked OR ?), "
                    "next_attempt_at = ?, last_error = COALESCE(?, last_error), updated_at = ? "
                    "WHERE id = ? RETURNING attempts"
                ),
                (
                    status,
                    status != "retrying",
                    None if next_attempt_at is None else db.ts(next_attempt_at),
                    None if error is None else error[:1000],
                    db.ts(now),
                    nid,
                ),
            )
            row = cur.fetchone()
        return 0 if row is None else int(row[0])

    def give_up(self, notification_id: int, now: dt.datetime) -> None:
        """Make a notification still being retried a dead letter (its tries are used up); it
        leaves the queue."""
        (nid,) = valid_ids([notification_id])
        now = valid_moment(now, "now")
        db = self._db
        with self._lock, db.write() as tx:
            tx.run(
                "UPDATE outbox SET status = 'dead', acked = ?, updated_at = ? "
                "WHERE id = ? AND status = 'retrying'",
                [(True, db.ts(now), nid)],
                db,
            )

    def redeliver(self, notification_ids: Iterable[int] | None = None) -> int:
        """Queue dead letters again, so that a relay sends them anew: the ones named, or
        every dead letter (``None``). Their tries start over; their last error is kept until a
        new try replaces it. How many of them were dead letters (others are left as they
        are)."""
        db = self._db
        again = "status = NULL, attempts = 0, acked = ?, next_attempt_at = NULL"
        with self._lock, db.write() as tx:
            if notification_ids is None:
                return tx.run(f"UPDATE outbox SET {again} WHERE status = 'dead'", [(False,)], db)
            ids = valid_ids(notification_ids)
            return tx.run(
                f"UPDATE outbox SET {again} WHERE id = ? AND status = 'dead'",
                [(False, nid) for nid in ids],
                db,
            )

    def _delivery(self, row: Sequence[Any]) -> Delivery:
        nid, order_id, position, attempts, status, next_at, error, updated = row
        db = self._db
        return Delivery(
            int(nid),
            order_id,
            int(position),
            int(attempts),
            status,
            None if next_at is None else db.from_ts(next_at),
            error,
            db.from_ts(updated),
        )
