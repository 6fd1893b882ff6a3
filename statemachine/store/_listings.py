"""Reading many orders at once, and one order's log: the listings of a store.

Listings read the index columns of ``orders`` (never the orders themselves: a listing is an
index; read an order with ``get``, which checks it): pages sorted by one indexed column,
search by id, number, tracking number or amount (:mod:`~statemachine.store._keys`), and the
orders that need a person. An order's log (``history``) is read from ``order_log``, the truth
of its history, and checked as ``get`` checks the order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final

from .._observe import span
from ..declaration._calendar import as_instant, zone
from ..errors import CorruptOrder, InvalidInput
from ._db import Cursor, Database
from ._inputs import (
    valid_limit,
    valid_moment,
    valid_order_id,
    valid_state,
    valid_text_or_none,
)
from ._keys import amount_from_key, amount_key, order_key, prefix_end, query
from ._records import REASONS, SORT_KEYS, Attention, LogEntry, OrderRow, Reason, SortKey
from ._unit import UnitOfWork

__all__ = ["Listings"]

_UNKNOWN: Final = (None, None, None)
"""Who sent an event, their note and its definition, for a row read after the log."""

_LISTED: Final = (
    "order_id, state, version, dispatch_deadline, repayment_deadline, due_at, head, "
    "amount_key, currency, paid_at, order_key"
)
"""What a listing reads of each row: its indexed columns, and the head for its time zone."""

_SORTS: Final[dict[str, tuple[str, bool, bool]]] = {
    "id": ("order_id", False, False),
    "state": ("state", False, False),
    "amount": ("amount_key", True, False),
    "age": ("paid_at", True, True),
    "deadline": ("due_at", True, False),
}
"""Each sort's column, whether the column may be empty, and whether it runs against the
column (the youngest order, the first by age, is the one paid last)."""


def _by_key(row: Any) -> tuple[str, str]:
    """A searched row's place: its id case-folded, then its id (as the queries order them)."""
    return row[10], row[0]


def _valid_reasons(reasons: Iterable[Reason] | None) -> tuple[Reason, ...]:
    """The attention reasons asked for (every one for ``None``), in :data:`REASONS` order."""
    if reasons is None:
        return REASONS
    if isinstance(reasons, str):
        reasons = [reasons]  # type: ignore[list-item]
    asked = list(reasons)
    for reason in asked:
        if reason not in REASONS:
            raise InvalidInput(
                f"reason must be one of {', '.join(REASONS)}, got {reason!r}", field="reason"
            )
    return tuple(r for r in REASONS if r in asked)


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
        sort: SortKey | None = None,
        descending: bool = False,
        after: tuple[object, str] | None = None,
        limit: int = 100,
    ) -> list[OrderRow]:
        """Up to ``limit`` orders from the indexes, not the orders: in ``state`` if given
        (index on state), due at or before ``due_before`` if given (index on ``due_at``).

        ``sort`` (:data:`~statemachine.store.SortKey`) orders them by the order id (``id``,
        the default), the state, the amount, the age or the next clock deadline
        (``deadline``, the default with ``due_before``: soonest first); ties by order id, and
        the orders without the value (no clock deadline) come last, by order id. Each sort
        reads an index of its column and the id. ``descending`` turns the order round (the
        orders without the value still come last).

        ``after`` is where the previous page ended: its last row's
        :meth:`~statemachine.store.OrderRow.sort_value` under ``sort`` and its order id
        (keyset paging, stable while orders change)."""
        valid_limit(limit)
        db = self._db
        if state is not None:
            state = valid_state(state)
        if due_before is not None:
            due_before = valid_moment(due_before, "due_before")
        if sort is None:
            sort = "deadline" if due_before is not None else "id"
        if sort not in _SORTS:
            raise InvalidInput(
                f"sort must be one of {', '.join(SORT_KEYS)}, got {sort!r}", field="sort"
            )
        if not isinstance(descending, bool):
            raise InvalidInput(f"descending must be true or false, got {descending!r}",
                               field="descending")  # fmt: skip
        if after is not None and (not isinstance(after, tuple) or len(after) != 2):
            raise InvalidInput(
                "after must be the (sort value, order_id) of the previous page's last row, "
                f"got {after!r}",
                field="after",
            )
        column, nullable, reverse = _SORTS[sort]
        value = None if after is None else self._after_value(sort, after[0])
        last_id = None if after is None else valid_order_id(after[1])
        way, past = ("DESC", "<") if descending != reverse else ("ASC", ">")
        where: list[str] = []
        params: list[Any] = []
        if state is not None:
            where.append("state = ?")
            params.append(state)
        if due_before is not None:
            where.append("due_at IS NOT NULL AND due_at <= ?")
            params.append(db.ts(due_before))
        found: list[Any] = []
        since: list[Any]
        with span("orders"), self._lock, db.statements() as cur:
            if column == "order_id":
                keyset = [] if last_id is None else [f"order_id {past} ?"]
                since = [] if last_id is None else [last_id]
                order_by = f"order_id {way}"
                found += self._page(cur, [*where, *keyset], [*params, *since], order_by, limit)
            else:
                in_nulls = after is not None and value is None
                if not in_nulls:
                    keyset = [] if after is None else [f"({column}, order_id) {past} (?, ?)"]
                    since = [] if after is None else [value, last_id]
                    found += self._page(
                        cur,
                        [*where, f"{column} IS NOT NULL", *keyset],
                        [*params, *since],
                        f"{column} {way}, order_id {way}",
                        limit,
                    )
                if nullable and len(found) < limit:
                    keyset = [f"order_id {past} ?"] if in_nulls else []
                    since = [last_id] if in_nulls else []
                    found += self._page(
                        cur,
                        [*where, f"{column} IS NULL", *keyset],
                        [*params, *since],
                        f"order_id {way}",
                        limit - len(found),
                    )
        return [self._order_row(row) for row in found]

    def _page(
        self, cur: Cursor, where: list[str], params: list[Any], order_by: str, limit: int
    ) -> list[Any]:
        """The listed columns of up to ``limit`` rows matching every condition of ``where``,
        ordered by ``order_by``."""
        sql = f"SELECT {_LISTED} FROM orders"
        sql += (" WHERE " + " AND ".join(where) if where else "") + f" ORDER BY {order_by} LIMIT ?"
        cur.execute(self._db.q(sql), (*params, limit))
        return cur.fetchall()

    def _after_value(self, sort: str, value: object) -> Any:
        """The column value of a page's last row under ``sort`` (``None``: a row without it),
        checked; for ``id`` nothing (but a cursor is checked whole: a moment, or none)."""
        db = self._db
        if sort in ("id", "deadline", "age"):
            moment = None if value is None else db.ts(valid_moment(value, "after"))
            return None if sort == "id" else moment
        if sort == "state":
            return valid_state(value)
        if value is None:
            return None
        key = amount_key(value) if isinstance(value, Decimal) else None
        if key is None:
            raise InvalidInput(f"after must hold the last row's amount, got {value!r}",
                               field="after")  # fmt: skip
        return key

    def search(self, text: str, *, limit: int = 100, after: str | None = None) -> list[OrderRow]:
        """Up to ``limit`` orders ``text`` finds, case aside and spaces around it dropped
        (:mod:`~statemachine.store._keys`): those whose id starts with it (``ae-10`` finds
        ``AE-1004``), whose number does (``1004`` finds ``AE-1004``: the id after its
        leading letters and separators), whose tracking number it is, and, when it reads as
        an amount (``39.90``, ``39.9``, ``39.90 USD``), those of that amount (in that
        currency, if named). Each is a lookup in an index of its column, never a read of the
        orders; they come in the order of their ids case-folded, then their ids, and
        ``after`` is the id of the previous page's last row."""
        wanted = query(text)
        valid_limit(limit)
        db, b = self._db, self._db.binary
        keyset = ""
        past: tuple[str, ...] = ()
        if after is not None:
            last = valid_order_id(after)
            keyset, past = f" AND (order_key, order_id{b}) > (?, ?)", (order_key(last), last)
        tail = f"{keyset} ORDER BY order_key, order_id{b} LIMIT ?"
        end = prefix_end(wanted.key)
        lookups: list[tuple[str, tuple[Any, ...]]] = [
            (f"order_key >= ?{' AND order_key < ?' if end else ''}", (wanted.key, end)),
            (f"order_number >= ?{' AND order_number < ?' if end else ''}", (wanted.key, end)),
            ("tracking_key = ?", (wanted.key,)),
        ]
        if wanted.amount is not None:
            lookups.append(
                (
                    "amount_key = ?" + (" AND currency = ?" if wanted.currency else ""),
                    (wanted.amount, wanted.currency),
                )
            )
        found: dict[str, Any] = {}
        with span("search"), self._lock, db.statements() as cur:
            for condition, values in lookups:
                cur.execute(
                    db.q(f"SELECT {_LISTED} FROM orders WHERE {condition}{tail}"),
                    (*[v for v in values if v is not None], *past, limit),
                )
                for row in cur.fetchall():
                    found.setdefault(row[0], row)
        first = sorted(found.values(), key=_by_key)[:limit]
        return [self._order_row(row) for row in first]

    def attention(
        self,
        now: dt.datetime,
        *,
        reasons: Iterable[Reason] | None = None,
        sweep_grace: dt.timedelta | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[Attention]:
        """Up to ``limit`` orders that need a person at ``now``, each with every reason
        (:data:`~statemachine.store.Reason`) that holds, by order id; ``after`` is the id of
        the previous page's last row. ``reasons`` keeps only those reasons (all by default).

        Each reason is a lookup in an index: a repayment deadline before ``now`` (R4), a
        count of incidents (R1, R7), the outbox's dead letters (R6), a clock deadline
        (``due_at``) more than ``sweep_grace`` before ``now`` (R12, R4: the sweep has not
        fired it; give the sweep's interval to leave out what it will fire on its next
        round), a latest moment after ``now`` (R16)."""
        now = valid_moment(now, "now")
        valid_limit(limit)
        chosen = _valid_reasons(reasons)
        grace = dt.timedelta(0) if sweep_grace is None else sweep_grace
        if not isinstance(grace, dt.timedelta) or grace < dt.timedelta(0):
            raise InvalidInput(f"sweep_grace must be a duration of 0 or more, got {grace!r}",
                               field="sweep_grace")  # fmt: skip
        db, by_id = self._db, self._db.loose_id
        try:
            behind = db.ts(valid_moment(now - grace, "sweep_grace"))
        except OverflowError:
            raise InvalidInput(
                "sweep_grace reaches before the calendar", field="sweep_grace"
            ) from None
        checks: dict[Reason, tuple[str, tuple[Any, ...]]] = {
            "repayment_overdue": (
                "repayment_deadline IS NOT NULL AND repayment_deadline < ?",
                (db.ts(now),),
            ),
            "incident": ("incidents > 0", ()),
            "dead_letter": ("order_id IN (SELECT order_id FROM outbox WHERE status = 'dead')", ()),
            "sweep_behind": ("due_at IS NOT NULL AND due_at < ?", (behind,)),
            "ahead_of_clock": ("last_at > ?", (db.ts(now),)),
        }
        keyset = ""
        past: tuple[str, ...] = ()
        if after is not None:
            keyset, past = f" AND {by_id} > ?", (valid_order_id(after),)
        tail = f"{keyset} ORDER BY {by_id} LIMIT ?"
        rows: dict[str, Any] = {}
        why: dict[str, set[str]] = {}
        with span("attention"), self._lock, db.statements() as cur:
            for reason in chosen:
                condition, values = checks[reason]
                cur.execute(
                    db.q(f"SELECT {_LISTED} FROM orders WHERE {condition}{tail}"),
                    (*values, *past, limit),
                )
                for row in cur.fetchall():
                    rows.setdefault(row[0], row)
                    why.setdefault(row[0], set()).add(reason)
        first = sorted(rows)[:limit]
        return [
            Attention(self._order_row(rows[oid]), tuple(r for r in REASONS if r in why[oid]))
            for oid in first
        ]

    def _order_row(self, row: Any) -> OrderRow:
        """One listed row, its columns read; :class:`CorruptOrder` naming the column that is
        not what the store writes."""
        oid, state, version, dispatch, repayment, due, head, amount, currency, paid = row[:10]
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
            ("paid_at", paid, True),
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
        paid_amount = amount_from_key(amount, currency)
        return OrderRow(
            oid,
            state,
            version,
            read["dispatch_deadline"],
            read["repayment_deadline"],
            read["due_at"],
            tz_name,
            paid_amount,
            currency if paid_amount is not None else None,
            read["paid_at"],
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
