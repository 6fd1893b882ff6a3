"""Reading many orders at once, and one order's log: the listings of a store.

Listings read the index columns of ``orders`` (never the orders themselves: a listing is an
index; read an order with ``get``, which checks it). An order's log (``history``) is read from
``order_log``, the truth of its history, and checked as ``get`` checks the order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Final

from .._observe import span
from ..declaration._calendar import as_instant, zone
from ..errors import CorruptOrder, InvalidInput
from ._db import Database
from ._inputs import (
    valid_limit,
    valid_moment,
    valid_order_id,
    valid_state,
    valid_text_or_none,
)
from ._records import LogEntry, OrderRow
from ._unit import UnitOfWork

__all__ = ["Listings"]

_UNKNOWN: Final = (None, None, None)
"""Who sent an event, their note and its definition, for a row read after the log."""


class Listings:
    """The read side of :class:`~statemachine.store._store.SQLStore` (a part of it)."""

    _db: Database
    _unit: UnitOfWork
    _lock: Any

    def orders(
        self,
        *,
        state: str | None = None,
        due_before: dt.datetime | None = None,
        after: tuple[dt.datetime | None, str] | None = None,
        limit: int = 100,
    ) -> list[OrderRow]:
        """Up to ``limit`` orders from the indexes, not the orders: in ``state`` if given
        (index on state), due at or before ``due_before`` if given (index on ``due_at``; then
        oldest due first), else by order id. ``after`` is the sort key of the previous page's
        last row (``(due_at, order_id)``, or ``(None, order_id)``): keyset paging, stable
        while orders change."""
        valid_limit(limit)
        db = self._db
        if state is not None:
            state = valid_state(state)
        if due_before is not None:
            due_before = valid_moment(due_before, "due_before")
        if after is not None and (not isinstance(after, tuple) or len(after) != 2):
            raise InvalidInput(
                f"after must be the (due_at, order_id) of the previous page's last row, got "
                f"{after!r}",
                field="after",
            )
        where: list[str] = []
        params: list[Any] = []
        if state is not None:
            where.append("state = ?")
            params.append(state)
        if due_before is not None:
            where.append("due_at IS NOT NULL AND due_at <= ?")
            params.append(db.ts(due_before))
            if after is not None and after[0] is not None:
                moment = db.ts(valid_moment(after[0], "after"))
                where.append("(due_at > ? OR (due_at = ? AND order_id > ?))")
                params.extend([moment, moment, valid_order_id(after[1])])
            order_by = "due_at, order_id"
        else:
            if after is not None:
                if after[0] is not None:
                    valid_moment(after[0], "after")  # a cursor is checked whole, used or not
                where.append("order_id > ?")
                params.append(valid_order_id(after[1]))
            order_by = "order_id"
        sql = (
            "SELECT order_id, state, version, dispatch_deadline, repayment_deadline, due_at, head "
        )
        sql += "FROM orders" + (" WHERE " + " AND ".join(where) if where else "")
        sql += f" ORDER BY {order_by} LIMIT ?"
        with span("orders"), self._lock, db.statements() as cur:
            cur.execute(db.q(sql), (*params, limit))
            rows = cur.fetchall()
        return [self._order_row(row) for row in rows]

    def _order_row(self, row: Any) -> OrderRow:
        """One listed row, its columns read; :class:`CorruptOrder` naming the column that is
        not what the store writes."""
        oid, state, version, dispatch, repayment, due, head = row
        db = self._db
        try:
            tz_name = db.from_json(head)["policy"]["timezone"]
            local: dt.tzinfo = zone(tz_name)
        except (ValueError, TypeError, KeyError, RecursionError, InvalidInput):
            tz_name, local = "UTC", dt.UTC  # a head no order has: listed, in UTC (get names it)
        read: dict[str, Any] = {}
        for name, value, optional in (
            ("dispatch_deadline", dispatch, False),
            ("repayment_deadline", repayment, True),
            ("due_at", due, True),
        ):
            try:
                moment = None if value is None and optional else db.from_ts(value)
                read[name] = None if moment is None else as_instant(moment.astimezone(local))
            except (ValueError, TypeError, OverflowError) as exc:
                raise CorruptOrder(str(oid), f"its {name} column holds {value!r} ({exc})",
                                   field=name) from None  # fmt: skip
        if isinstance(version, bool) or not isinstance(version, int) or not isinstance(state, str):
            raise CorruptOrder(
                str(oid), f"its version or state column holds {version!r}, {state!r}", field="state"
            )
        return OrderRow(
            oid,
            state,
            version,
            read["dispatch_deadline"],
            read["repayment_deadline"],
            read["due_at"],
            tz_name,
        )

    def unfinished_by_definition(self, final_states: Iterable[str]) -> dict[str, int]:
        """How many orders not in one of ``final_states`` each definition still holds (what
        must drain before a version may go), by its key (``orders@1``)."""
        finals = [valid_state(state) for state in final_states]
        marks = ", ".join("?" * len(finals)) or "NULL"
        with self._lock, self._db.statements() as cur:
            cur.execute(
                self._db.q(
                    f"SELECT definition, COUNT(*) FROM orders WHERE state NOT IN ({marks}) "
                    "GROUP BY definition"
                ),
                finals,
            )
            return {str(key): int(n) for key, n in cur.fetchall()}

    def definitions_used(self) -> dict[str, int]:
        """How many orders, finished or not, run under each definition, by its key: every
        version the store needs registered to read its orders."""
        with self._lock, self._db.statements() as cur:
            cur.execute("SELECT definition, COUNT(*) FROM orders GROUP BY definition")
            return {str(key): int(n) for key, n in cur.fetchall()}

    def unfinished_ids(
        self,
        definition: str,
        final_states: Iterable[str],
        *,
        after: str | None = None,
        limit: int = 500,
    ) -> list[str]:
        """The ids of orders under ``definition`` not in one of ``final_states``, in id
        order, the first ``limit`` after ``after``: a migration's pages."""
        finals = [valid_state(state) for state in final_states]
        limit = valid_limit(limit)
        marks = ", ".join("?" * len(finals)) or "NULL"
        since = "" if after is None else " AND order_id > ?"
        params: list[object] = [valid_text_or_none(definition, "definition"), *finals]
        if after is not None:
            params.append(valid_order_id(after))
        with self._lock, self._db.statements() as cur:
            cur.execute(
                self._db.q(
                    f"SELECT order_id FROM orders WHERE definition = ? AND state NOT IN "
                    f"({marks}){since} ORDER BY order_id LIMIT {limit}"
                ),
                params,
            )
            return [str(row[0]) for row in cur.fetchall()]

    def state_counts(self) -> dict[str, int]:
        """How many orders are in each state (states without orders are left out)."""
        with span("state_counts"), self._lock, self._db.statements() as cur:
            cur.execute("SELECT state, COUNT(*) FROM orders GROUP BY state")
            return {state: int(n) for state, n in cur.fetchall()}

    def history(self, order_id: str) -> tuple[LogEntry, ...]:
        """The order's log, oldest first: one entry per event, ``seq`` from 1, with who sent
        it (``source``) and the time with the offset it was sent with.

        The log is the truth of the order's history, and it is checked as :meth:`get` checks
        the order: every row must be what the machine gives when the order is made again from
        it, or :class:`CorruptOrder` names the row and the field.
        """
        order_id = valid_order_id(order_id)
        db, unit = self._db, self._unit
        with span("history", order_id=order_id), self._lock, db.statements() as cur:
            row, log = unit.whole(cur, order_id)
            cur.execute(
                db.q(
                    "SELECT seq, actor, note, definition FROM order_log "
                    "WHERE order_id = ? AND seq <= ?"
                ),
                (order_id, len(log)),
            )
            who = {seq: (actor, note, version) for seq, actor, note, version in cur.fetchall()}
        order = unit.remember(row, log).order  # the log read now, checked: never a cached copy
        if len(log) != len(order.history):  # pragma: no cover - remember() made it from log
            raise CorruptOrder(order_id, "its log changed while it was read", field="order_log")
        rows = unit.rows
        return tuple(
            LogEntry(
                order_id,
                seq,
                record.event,
                record.source,
                record.dest,
                record.at,
                record.event_id,
                rows.source(order_id, seq - 1, entry[5]),
                dict(record.data),
                rows.text(order_id, seq - 1, "actor", who.get(seq, _UNKNOWN)[0]),
                rows.text(order_id, seq - 1, "note", who.get(seq, _UNKNOWN)[1]),
                rows.text(order_id, seq - 1, "definition", who.get(seq, _UNKNOWN)[2]) or "orders@1",
            )
            for seq, (record, entry) in enumerate(zip(order.history, log, strict=True), start=1)
        )

    def ping(self) -> None:
        """Raise unless the store could write now (for a readiness check): the database
        answers, is still the one opened (a SQLite file deleted or replaced under the store is
        not ready), and takes a write. The write touches the one row of ``schema_version``
        without changing it and is rolled back, so nothing is kept; it fails on a read-only
        file, mount or server (a PostgreSQL standby) as an order's write would."""
        with self._lock, self._db.write() as tx:  # write() checks the file first
            tx.cur.execute("UPDATE schema_version SET version = version")
            tx.rollback()
