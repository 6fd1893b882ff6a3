"""Orders to rows and rows back to orders, checked.

An order is kept as its **head** (what it was created with: :data:`~statemachine.runtime._serialize.
HEAD_KEYS`) on its ``orders`` row and its **log**, one ``order_log`` row per history record.
Those are the truth. The rest of the ``orders`` row (``state``, the deadlines, ``due_at``, the
keys search and sorting read: :data:`DERIVED_COLUMNS`) and each log row's
``from_state``/``to_state`` are derived: written from the order in the same
transaction, for indexes and for people reading the tables, and checked against the order
whenever it is made again from its rows.

Reading trusts nothing: :meth:`Rows.order` creates the order from its head and fires every
logged event through the machine again (:func:`~statemachine.runtime.rebuild`); each must
give exactly the row logged. So an order read back is one the machine could have produced,
and anything else is :class:`~statemachine.errors.CorruptOrder` naming the order and the row.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any, Final

from ..declaration._definition import DEFAULT_DEFINITION, resolve
from ..declaration._records import HistoryRecord
from ..declaration._spec import Table
from ..errors import CorruptOrder, InvalidInput
from ..runtime._migration import decided_by
from ..runtime._order import Order
from ..runtime._serialize import Logged, head_of, rebuild
from ._db import Database
from ._keys import amount_key, order_key, order_number, tracking_key

__all__ = [
    "CHANGING",
    "DERIVED_COLUMNS",
    "LOG_COLUMNS",
    "ORDER_COLUMNS",
    "SCHEMA3_DERIVED",
    "Rows",
    "clock_due_at",
    "shipped_with",
]

DERIVED_COLUMNS: Final = (
    "state",
    "dispatch_deadline",
    "repayment_deadline",
    "due_at",
    "tracking_key",
    "last_at",
    "incidents",
    "order_key",
    "order_number",
    "amount_key",
    "currency",
    "paid_at",
)
"""The derived columns of an ``orders`` row, in the order :meth:`Rows.derived` gives them:
the four of schema 3 (for the listings and the sweep), then those of schema 5 (for search,
sorting and the list of orders that need a person). The first :data:`CHANGING` may change with
each event; the rest come from the head and are written once, when the order is added."""
CHANGING: Final = 7
"""How many of :data:`DERIVED_COLUMNS` (the first ones) an event may change."""
SCHEMA3_DERIVED: Final = 4
"""How many of :data:`DERIVED_COLUMNS` (the first ones) schema 3 had."""

ORDER_COLUMNS: Final = (
    "order_id, version, head, state, dispatch_deadline, repayment_deadline, due_at, definition, "
    + ", ".join(DERIVED_COLUMNS[SCHEMA3_DERIVED:])
)
"""An ``orders`` row as the stores read it: the id, the row version, the head (truth), the
derived columns of schema 3, the definition the order runs under (truth for an order never
migrated: nothing else says which version it was created under), then the derived columns of
schema 5."""

LOG_COLUMNS: Final = (
    "seq, event, at, utc_offset, event_id, source, data, from_state, to_state, definition"
)
"""An ``order_log`` row as the stores read it (of one order); its ``definition``, the version
that decided the event, is derived and checked."""

_DATA_TYPES: Final = (str, bool)
_KEPT_KEYS: Final = 4096
"""How many orders' head-derived columns a :class:`Rows` keeps worked out."""
_HISTORY_FIELD: Final = re.compile(r"^history\[(\d+)\]")
_COLUMN_OF: Final = {".source": ".from_state", ".dest": ".to_state"}
"""A history record's field by the log column that holds it."""


def shipped_with(order: Order) -> str | None:
    """The tracking number of ``order``'s last dispatch in its log: R1's, or R7's dispatch
    reported after a cancellation (which the order records as an incident, not as its
    ``tracking_number``, but whose parcel a person may still hold); ``None`` before any."""
    for record in reversed(order.history):
        number = record.data.get("tracking_number")
        if isinstance(number, str):
            return number
    return None


def clock_due_at(order: Order) -> dt.datetime | None:
    """The stored deadline after which a clock event may fire on ``order``; ``None`` if none.

    A clock event counts when the order's state has a row for it under its policy (so R12's
    switch and R14's final states are the machine's to decide) and the deadline its spec
    declares (:attr:`EventSpec.due <statemachine.declaration.EventSpec.due>`) is set on the order:
    the R1 dispatch deadline for ``dispatch_deadline_expired``, the R4 repayment deadline, until
    escalated once, for ``repayment_overdue``. ``sweep`` looks orders up by this moment. The
    order's own runtime answers (:meth:`Runtime.clock_due_at
    <statemachine.runtime.Runtime.clock_due_at>`), from the order's table.
    """
    return order.runtime.clock_due_at(order)


class Rows:
    """The rows of orders in one database (:class:`Database`), both ways."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._zones: dict[int, dt.timezone] = {}
        self._known: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    # -- orders to rows -------------------------------------------------------------------

    def head(self, order: Order) -> Any:
        """The ``head`` column of ``order`` (the JSON of what it was created with)."""
        return self.db.json(head_of(order))

    def derived(self, order: Order) -> tuple[Any, ...]:
        """The derived columns of ``order``'s row, as :data:`DERIVED_COLUMNS` names them.

        ``last_at`` is the latest moment the order holds: its last event's time, or its
        payment's before any event. R16 refuses every event dated before it: one ahead of the
        service's clock is an order no event reaches until the clock catches up."""
        ts = self.db.ts
        pending = order.pending_refund
        repayment = pending.repayment_deadline if pending is not None else None
        due = clock_due_at(order)
        keys = self._keys(order)
        return (
            order.state,
            ts(order.dispatch_deadline),
            None if repayment is None else ts(repayment),
            None if due is None else ts(due),
            tracking_key(shipped_with(order)),
            ts(order.history[-1].at) if order.history else keys[-1],
            len(order.incidents),
            *keys,
        )

    def _keys(self, order: Order) -> tuple[Any, ...]:
        """The derived columns that come from the head (the last five of
        :data:`DERIVED_COLUMNS`), worked out once for each order in the last used
        :data:`_KEPT_KEYS`: they never change, and a store reads and writes the same orders
        again and again."""
        head = (order.order_id, order.amount, order.currency, order.paid_at)
        found = self._known.get(head)
        if found is None:
            found = (
                order_key(order.order_id),
                order_number(order.order_id),
                amount_key(order.amount),
                order.currency,
                self.db.ts(order.paid_at),
            )
            if len(self._known) >= _KEPT_KEYS:
                self._known.clear()
            self._known[head] = found
        return found

    def definition(self, order: Order) -> str:
        """The ``definition`` column of ``order``'s row: the version it runs under."""
        key = order.definition
        if key is None:  # pragma: no cover - a store adds only orders of registered tables
            raise InvalidInput(
                f"order {order.order_id} runs on a table that is no registered definition",
                field="definition",
            )
        return key

    def log_row(
        self, order_id: str, seq: int, record: HistoryRecord, source: str | None
    ) -> tuple[Any, ...]:
        """The ``order_log`` row of ``record``, the ``seq``-th of its order (from 1)."""
        offset = record.at.utcoffset()
        return (
            order_id,
            seq,
            record.event,
            self.db.ts(record.at),
            0 if offset is None else int(offset.total_seconds()),
            record.event_id,
            source,
            self.db.json(dict(record.data)),
            record.source,
            record.dest,
        )

    # -- rows to orders -------------------------------------------------------------------

    def order(
        self, row: Sequence[Any], log: Sequence[Sequence[Any]], *, check_derived: bool = True
    ) -> tuple[Order, int]:
        """The order an ``orders`` row (:data:`ORDER_COLUMNS`) and its log rows
        (:data:`LOG_COLUMNS`, by ``seq``) hold, made again through the machine, with the row's
        version; :class:`CorruptOrder` naming the order and what is wrong otherwise (its
        derived columns too, unless ``check_derived`` is false)."""
        order_id, version, head = row[0], row[1], row[2]
        self.version(order_id, version)
        data = self.head_data(order_id, head)
        if isinstance(data, dict) and "carried_over_to" in data:
            raise CorruptOrder(
                order_id,
                "release 2 could not read it either, and it was carried over to schema 3 as it "
                f"was; its body, log and inbox claims are kept whole in the table "
                f"{data['carried_over_to']}, for repair",
                field="head",
            )
        records = [self.record(order_id, position, r[:9]) for position, r in enumerate(log)]
        table = self._table(order_id, row[7] if len(row) > 7 else DEFAULT_DEFINITION)
        try:
            order = rebuild(order_id, data, records, Order, table)
        except InvalidInput as exc:
            raise self._corrupt(order_id, exc) from None
        for position, (entry, decided) in enumerate(zip(log, decided_by(order), strict=True)):
            logged = entry[9] if len(entry) > 9 else decided
            if logged != decided:
                where = f"order_log[{position + 1}].definition"
                raise CorruptOrder(
                    order_id,
                    f"{where} is {logged!r}, but the version that decided it is {decided}",
                    field=where,
                )
        if check_derived:
            self.check_derived(order, row)
        return order, version

    @staticmethod
    def _table(order_id: str, key: object) -> Table:
        """The table of the definition ``key`` an order's row names; :class:`CorruptOrder`
        if no definition of that name is registered in this process."""
        try:
            return resolve(key, "definition").table
        except InvalidInput as exc:
            raise CorruptOrder(
                order_id,
                f"it runs under {key!r}, which this process has not registered (the rows may "
                f"well be sound): {exc.message}",
                field="definition",
            ) from None

    def version(self, order_id: str, version: object) -> int:
        """``version`` if it is a row version; :class:`CorruptOrder` otherwise."""
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise CorruptOrder(order_id, f"version is {version!r}", field="version")
        return version

    def head_data(self, order_id: str, head: Any) -> Any:
        """The ``head`` column as JSON data; :class:`CorruptOrder` if it is not JSON."""
        if isinstance(head, str) and not head.isascii():
            try:
                head.encode("utf-8")
            except UnicodeEncodeError:
                raise CorruptOrder(
                    order_id, "its head is not valid UTF-8 text", field="head"
                ) from None
        try:
            return self.db.from_json(head)
        except (ValueError, TypeError) as exc:
            raise CorruptOrder(order_id, f"its head is not JSON ({exc})", field="head") from None
        except RecursionError:
            raise CorruptOrder(
                order_id, "its head is JSON nested too deep to be an order's", field="head"
            ) from None

    def record(self, order_id: str, position: int, row: Sequence[Any]) -> Logged:
        """The event a log row holds (its shape checked, not yet its meaning)."""
        seq, event, at, offset, event_id, _source, data, source, dest = row
        if (
            seq == position + 1
            and type(event) is str
            and type(source) is str
            and type(dest) is str
            and (event_id is None or type(event_id) is str)
            and type(offset) is int
            and -86_400 < offset < 86_400
        ):  # the common case: a well-formed row, its time and data still to read
            try:
                moment = self.db.from_ts(at).astimezone(self._zone(offset))
                values = {} if data == "{}" else self.db.from_json(data)
            except (ValueError, TypeError, OverflowError, RecursionError) as exc:
                where = f"order_log[{position + 1}]"
                raise CorruptOrder(
                    order_id, f"{where} cannot be read: {exc}", field=where
                ) from None
            if type(values) is dict and all(
                type(k) is str and type(v) in _DATA_TYPES for k, v in values.items()
            ):
                return Logged(event, source, dest, moment, event_id, values)
        return self._misshapen(order_id, position, row)

    def _misshapen(self, order_id: str, position: int, row: Sequence[Any]) -> Logged:
        """Why a log row is not a history record, as :class:`CorruptOrder` naming the field."""
        seq, event, _at, offset, event_id, _source, data, source, dest = row
        where = f"order_log[{position + 1}]"
        if seq != position + 1:
            problem = f"{where}.seq is {seq!r}: the log has a gap or a repeat"
            raise CorruptOrder(order_id, problem, field=f"{where}.seq")
        texts = {"event": event, "from_state": source, "to_state": dest}
        for name, value in texts.items():
            if not isinstance(value, str):
                problem = f"{where}.{name} is {value!r}, not text"
                raise CorruptOrder(order_id, problem, field=f"{where}.{name}")
        if event_id is not None and not isinstance(event_id, str):
            problem = f"{where}.event_id is {event_id!r}, not text"
            raise CorruptOrder(order_id, problem, field=f"{where}.event_id")
        if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) >= 86_400:
            problem = f"{where} cannot be read: utc_offset is {offset!r}, not seconds east of UTC"
            raise CorruptOrder(order_id, problem, field=where)
        try:
            values = self.db.from_json(data)
        except (ValueError, TypeError, RecursionError):  # pragma: no cover - read above
            values = data
        problem = f"{where}.data is {values!r}, not an object of texts and flags"
        raise CorruptOrder(order_id, problem, field=f"{where}.data")

    def source(self, order_id: str, position: int, value: object) -> str | None:
        """A log row's ``source``: where the event came from (text, or ``None``)."""
        return self.text(order_id, position, "source", value)

    def text(self, order_id: str, position: int, column: str, value: object) -> str | None:
        """A log row's text column (``source``, ``actor``, ``note``): text, or ``None``."""
        if value is not None and not isinstance(value, str):
            where = f"order_log[{position + 1}].{column}"
            raise CorruptOrder(order_id, f"{where} is {value!r}, not text", field=where)
        return value

    def check_derived(
        self, order: Order, row: Sequence[Any], expected: tuple[Any, ...] | None = None
    ) -> None:
        """Raise :class:`CorruptOrder` unless the derived columns of ``row`` are ``order``'s
        (``expected``: :meth:`derived` of the order, if worked out already)."""
        found = (*row[3:7], *row[8:16])
        if expected is None:
            expected = self.derived(order)
        for name, want, got in zip(DERIVED_COLUMNS, expected, found, strict=True):
            if want != got:
                raise CorruptOrder(
                    order.order_id,
                    f"the {name} column holds {got!r} but the order's log gives {want!r}",
                    field=name,
                )

    def _zone(self, offset: int) -> dt.timezone:
        zone = self._zones.get(offset)
        if zone is None:
            zone = dt.UTC if offset == 0 else dt.timezone(dt.timedelta(seconds=offset))
            self._zones[offset] = zone
        return zone

    @staticmethod
    def _corrupt(order_id: str, exc: InvalidInput) -> CorruptOrder:
        """:func:`rebuild`'s refusal as the rows' corruption: ``history[i]`` is log row i+1."""
        field = exc.field
        message = exc.message.removeprefix(f"order {order_id}: ")
        if field is not None:
            match = _HISTORY_FIELD.match(field)
            if match is not None:
                row = f"order_log[{int(match.group(1)) + 1}]"
                rest = field[match.end() :]
                rest = _COLUMN_OF.get(rest, rest)
                message = message.replace(field, row + rest, 1)
                field = row + rest
        return CorruptOrder(order_id, message, field=field)
