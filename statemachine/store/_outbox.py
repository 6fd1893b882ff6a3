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

from .._observe import LOGGER, span
from ..errors import CorruptOrder, InvalidInput
from ._db import Database
from ._inputs import valid_ids, valid_limit, valid_moment, valid_order_id
from ._records import (
    Delivery,
    DeliveryState,
    DeliveryStatus,
    DeliveryTry,
    NotificationRow,
    OutboxItem,
    Standing,
)
from ._rows import ORDER_COLUMNS
from ._unit import UnitOfWork

__all__ = ["Outbox"]

_DELIVERY: Final = (
    "id, order_id, position, attempts, status, next_attempt_at, last_error, updated_at"
)
_STATUSES: Final = ("retrying", "acked", "dead")
_STATE: Final = (
    "id, order_id, position, acked, attempts, status, next_attempt_at, "
    "COALESCE((SELECT answer FROM outbox_tries AS t WHERE t.notification_id = outbox.id "
    "ORDER BY t.id DESC LIMIT 1), last_error), lease_until, queued_at, updated_at"
)
"""A notification's delivery as a listing shows it; its last answer is its last try's (the
last error, for one tried only before schema 4)."""
_STANDING: Final[dict[str, str]] = {
    "waiting": "NOT acked AND status IS NULL",
    "retrying": "NOT acked AND status = 'retrying'",
    "sent": "acked AND (status IS NULL OR status = 'acked')",
    "dead": "status = 'dead'",
}
"""Which rows stand so (:data:`~statemachine.store.Standing`)."""
_OWNER_LENGTH: Final = 200


def _valid_owner(value: object) -> str:
    """A relay's name for its leases: printable text of at most 200 characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > _OWNER_LENGTH:
        raise InvalidInput(
            f"owner must name the relay in at most {_OWNER_LENGTH} characters, got {value!r}",
            field="owner",
        )
    return value


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
        db = self._db
        with span("outbox"), self._lock, db.read() as cur:
            cur.execute(
                db.q(
                    "SELECT id, order_id, position FROM outbox WHERE NOT acked ORDER BY id LIMIT ?"
                ),
                (limit,),
            )
            items, errors = self._items(cur, cur.fetchall())
        if errors:
            raise errors[0]
        return items

    def claim(
        self, owner: str, now: dt.datetime, lease: dt.timedelta, limit: int = 10
    ) -> list[OutboxItem]:
        """Take up to ``limit`` notifications to send now, each for ``lease`` (a relay's
        deliveries must end within it): those due (never tried, or their next try has come),
        not held by another relay's lease that is still running, and first in their order's
        queue (an order's notifications go out in the order they were queued: the next waits
        until the one before is delivered or a dead letter). Two relays, in two processes or
        two servers, never hold the same notification: on SQLite the claim runs under the
        file's write lock, on PostgreSQL it skips rows another claim has locked. A
        notification whose order cannot be read (:class:`CorruptOrder`) is held too, so the
        relay does not try it again before the lease ends, and logged; it is not returned.

        ``owner`` names the relay (its host and process) in the lease, for
        :meth:`record_delivery` and :meth:`release`."""
        owner = _valid_owner(owner)
        now = valid_moment(now, "now")
        valid_limit(limit)
        if not isinstance(lease, dt.timedelta) or lease <= dt.timedelta(0):
            raise InvalidInput(f"lease must be a positive timedelta, got {lease!r}", field="lease")
        try:
            until = now + lease
        except OverflowError:
            raise InvalidInput("lease ends past the year 9999", field="lease") from None
        db = self._db
        with span("claim"), self._lock, db.write() as tx:
            cur = tx.cur
            cur.execute(
                db.q(
                    "SELECT o.id, o.order_id, o.position FROM outbox AS o WHERE NOT o.acked "
                    "AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?) "
                    "AND (o.lease_until IS NULL OR o.lease_until <= ?) "
                    "AND NOT EXISTS (SELECT 1 FROM outbox AS e WHERE e.order_id = o.order_id "
                    "AND NOT e.acked AND e.id < o.id) "
                    f"ORDER BY o.id LIMIT ?{db.lock_due}"
                ),
                (db.ts(now), db.ts(now), limit),
            )
            taken = cur.fetchall()
            tx.run(
                "UPDATE outbox SET lease_until = ?, lease_owner = ? WHERE id = ?",
                [(db.ts(until), owner, row[0]) for row in taken],
                db,
            )
            items, errors = self._items(cur, taken)
        for error in errors:
            LOGGER.warning("a notification of order %s cannot be sent: %s", error.order_id, error)
        return items

    def release(self, owner: str) -> int:
        """End the leases ``owner`` holds on notifications it did not send (a relay stopping):
        another relay may take them at once. How many were released."""
        owner = _valid_owner(owner)
        with self._lock, self._db.write() as tx:
            return tx.run(
                "UPDATE outbox SET lease_until = NULL, lease_owner = NULL "
                "WHERE lease_owner = ? AND NOT acked",
                [(owner,)],
                self._db,
            )

    def _items(
        self, cur: Any, queued: Sequence[Sequence[Any]]
    ) -> tuple[list[OutboxItem], list[CorruptOrder]]:
        """The outbox rows ``queued`` (id, order id, position) with their notifications' text,
        in the same order; and why the rows whose order cannot be read were left out."""
        db, unit = self._db, self._unit
        ids = list(dict.fromkeys(row[1] for row in queued))
        orders: dict[str, Any] = {}
        errors: list[CorruptOrder] = []
        if ids:
            marks = ", ".join("?" * len(ids))
            cur.execute(
                db.q(f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_id IN ({marks})"), ids
            )
            for _row, read, error in unit.load_many(cur, cur.fetchall()):
                if error is not None:
                    errors.append(error)
                    orders[error.order_id] = error
                    continue
                assert read is not None
                orders[read.order.order_id] = read.order
        items = []
        for nid, order_id, position in queued:
            order = orders.get(order_id)
            if isinstance(order, CorruptOrder):
                continue
            if order is None:
                where = f"outbox[{nid}].order_id"
                errors.append(
                    CorruptOrder(str(order_id), f"{where} names no stored order", field=where)
                )
                continue
            if (
                isinstance(position, bool)
                or not isinstance(position, int)
                or not 0 <= position < len(order.notifications)
            ):
                where = f"outbox[{nid}].position"
                errors.append(
                    CorruptOrder(
                        order_id,
                        f"{where} {position!r} is not one of the order's "
                        f"{len(order.notifications)} notifications",
                        field=where,
                    )
                )
                continue
            items.append(OutboxItem(int(nid), order_id, position, order.notifications[position]))
        return items, errors

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
        answer: str | None = None,
        owner: str | None = None,
    ) -> int:
        """Count one more try of a notification and what came of it: ``acked`` (delivered:
        the notification leaves the queue), ``retrying`` (try again at ``next_attempt_at``)
        or ``dead`` (given up: it leaves the queue, kept as a dead letter). The try is kept in
        the notification's tries (:meth:`tries`) with ``answer`` (what the receiver said,
        ``"HTTP 204"``; by default ``error``, or the status). The relay ``owner``'s lease ends
        (any lease, without an owner). A notification another relay already finished keeps
        its status; the count still goes up, since the try happened. The number of tries so
        far (0: no such notification)."""
        (nid,) = valid_ids([notification_id])
        if status not in _STATUSES:
            raise InvalidInput(
                f"status must be one of {', '.join(_STATUSES)}, got {status!r}", field="status"
            )
        if error is not None and not isinstance(error, str):
            raise InvalidInput(f"error must be text, got {error!r}", field="error")
        if answer is not None and not isinstance(answer, str):
            raise InvalidInput(f"answer must be text, got {answer!r}", field="answer")
        if owner is not None:
            owner = _valid_owner(owner)
        now = valid_moment(now, "now")
        if next_attempt_at is not None:
            next_attempt_at = valid_moment(next_attempt_at, "next_attempt_at")
        said = (answer if answer is not None else error if error is not None else status)[:1000]
        db = self._db
        lease = (
            "lease_until = NULL, lease_owner = NULL"
            if owner is None
            else "lease_until = CASE WHEN lease_owner = ? THEN NULL ELSE lease_until END, "
            "lease_owner = CASE WHEN lease_owner = ? THEN NULL ELSE lease_owner END"
        )
        with self._lock, db.write() as tx:
            cur = tx.cur
            cur.execute(
                db.q(
                    "UPDATE outbox SET attempts = attempts + 1, "
                    "status = CASE WHEN status IS NULL OR status = 'retrying' THEN ? "
                    "ELSE status END, "
                    "acked = (acked OR ?), "
                    "next_attempt_at = ?, last_error = COALESCE(?, last_error), updated_at = ?, "
                    f"{lease} WHERE id = ? RETURNING attempts"
                ),
                (
                    status,
                    status != "retrying",
                    None if next_attempt_at is None else db.ts(next_attempt_at),
                    None if error is None else error[:1000],
                    db.ts(now),
                    *(() if owner is None else (owner, owner)),
                    nid,
                ),
            )
            row = cur.fetchone()
            if row is None:
                return 0
            tx.run(
                "INSERT INTO outbox_tries (notification_id, at, answer, delivered) "
                "VALUES (?, ?, ?, ?)",
                [(nid, db.ts(now), said, status == "acked")],
                db,
            )
        return int(row[0])

    def tries(self, notification_id: int) -> list[DeliveryTry]:
        """Every try kept for a notification, oldest first (tries before schema 4 were only
        counted); a dead letter keeps its tries when it is sent again."""
        (nid,) = valid_ids([notification_id])
        db = self._db
        with self._lock, db.statements() as cur:
            cur.execute(
                db.q(
                    "SELECT at, answer, delivered FROM outbox_tries WHERE notification_id = ? "
                    "ORDER BY id"
                ),
                (nid,),
            )
            return [
                DeliveryTry(db.from_ts(at), str(answer), bool(delivered))
                for at, answer, delivered in cur.fetchall()
            ]

    def delivery_states(
        self, standing: Standing | None = None, *, after: int | None = None, limit: int = 100
    ) -> list[DeliveryState]:
        """Notifications with where their delivery stands, by id (the order they were
        queued): all of them, or those ``standing`` so (``waiting``, ``retrying``,
        ``sent``, ``dead``); after the id ``after`` (the last of the previous page)."""
        if standing is not None and standing not in _STANDING:
            raise InvalidInput(
                f"status must be one of {', '.join(_STANDING)}, got {standing!r}", field="status"
            )
        if after is not None:
            (after,) = valid_ids([after])
        valid_limit(limit)
        where = ["TRUE" if standing is None else _STANDING[standing]]
        params: list[Any] = []
        if after is not None:
            where.append("id > ?")
            params.append(after)
        db = self._db
        with self._lock, db.statements() as cur:
            cur.execute(
                db.q(
                    f"SELECT {_STATE} FROM outbox WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
                ),
                (*params, limit),
            )
            return [self._state(row) for row in cur.fetchall()]

    def delivery_state(self, notification_id: int) -> DeliveryState | None:
        """Where one notification's delivery stands; ``None`` if no such notification."""
        (nid,) = valid_ids([notification_id])
        db = self._db
        with self._lock, db.statements() as cur:
            cur.execute(db.q(f"SELECT {_STATE} FROM outbox WHERE id = ?"), (nid,))
            row = cur.fetchone()
        return None if row is None else self._state(row)

    def outbox_depth(self) -> int:
        """How many notifications wait for delivery (not delivered, not dead letters)."""
        with self._lock, self._db.statements() as cur:
            cur.execute("SELECT COUNT(*) FROM outbox WHERE NOT acked")
            return int(cur.fetchone()[0])

    def oldest_pending_at(self) -> dt.datetime | None:
        """When the notification waiting longest for delivery was queued (``None``: none
        waits, or only ones queued before schema 4, whose time is unknown)."""
        db = self._db
        with self._lock, db.statements() as cur:
            cur.execute("SELECT MIN(queued_at) FROM outbox WHERE NOT acked")
            row = cur.fetchone()
        return None if row is None or row[0] is None else db.from_ts(row[0])

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
        every dead letter (``None``). Their count of tries starts over (the tries themselves
        stay in :meth:`tries`); their last error is kept until a new try replaces it. How many
        of them were dead letters (others are left as they are)."""
        db = self._db
        again = (
            "status = NULL, attempts = 0, acked = ?, next_attempt_at = NULL, "
            "lease_until = NULL, lease_owner = NULL"
        )
        with self._lock, db.write() as tx:
            if notification_ids is None:
                return tx.run(f"UPDATE outbox SET {again} WHERE status = 'dead'", [(False,)], db)
            ids = valid_ids(notification_ids)
            return tx.run(
                f"UPDATE outbox SET {again} WHERE id = ? AND status = 'dead'",
                [(False, nid) for nid in ids],
                db,
            )

    def _state(self, row: Sequence[Any]) -> DeliveryState:
        nid, order_id, position, acked, attempts, status, next_at, error, lease, queued, updated = (
            row
        )
        db = self._db
        standing: Standing
        if status == "dead":
            standing = "dead"
        elif acked:
            standing = "sent"
        elif status == "retrying":
            standing = "retrying"
        else:
            standing = "waiting"
        return DeliveryState(
            int(nid),
            order_id,
            int(position),
            standing,
            int(attempts),
            error,
            None if next_at is None or standing != "retrying" else db.from_ts(next_at),
            None if lease is None or acked else db.from_ts(lease),
            None if queued is None else db.from_ts(queued),
            None if updated is None else db.from_ts(updated),
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
