"""Log conformance: replay a recorded event stream through the rules and report what differs.

A store or a service that follows the order lifecycle writes one record per applied event, as
JSON lines. :func:`check_log` replays the records of each order through a reference
:class:`~statemachine.runtime.Order` and reports:

* every step the rules would have refused (:class:`LogRefusal`, with the rule id);
* every order whose recorded state differs from the replayed one (:class:`StateMismatch`, the
  first record where they part);
* every record it cannot read (:class:`LogProblem`: not JSON, a missing field, an unknown event,
  a naive timestamp, an order without its creation record).

Memory is bounded by the orders still open, not by all the orders of the log: an order that
reaches a final state is moved out of memory (see :func:`check_log`).

The record format (one JSON object per line; a ``Mapping`` works too):

============  ===========================================================================
key           value
============  ===========================================================================
``order_id``  the order's id (records of many orders may be interleaved)
``event``     an event name of the table, or ``"created"`` for the order's first record
``at``        ISO 8601 timestamp with its offset (for ``"created"``: the payment time)
``event_id``  optional: the id the event was sent with (a repeated id is a duplicate, R15)
``data``      optional: the event's keyword data, amounts as decimal strings; for
              ``"created"``: ``{"amount": "25.00", "currency": "USD"}``
``state``     optional: the state the service recorded after the event; compared when given
``definition`` optional: the version of the machine that decided the event (``orders@1``);
              on ``"created"``, the version the order was created under; compared when given
============  ===========================================================================

An order moved to another version has a ``definition_migrated`` record (``data``: ``from``,
``to``, ``plan`` and the deadlines it carried; ``state``: the state it was mapped to): the
records after it are judged by the version it moved to, as a store replays it.

>>> lines = [
...     '{"order_id": "A1", "event": "created", "at": "2026-03-02T10:00:00+08:00",'
...     ' "data": {"amount": "25.00", "currency": "USD"}, "state": "paid"}',
...     '{"order_id": "A1", "event": "dispatch", "at": "2026-03-03T10:00:00+08:00",'
...     ' "data": {"tracking_number": "LP00123"}, "state": "dispatched"}',
...     '{"order_id": "A1", "event": "request_cancellation", "at": "2026-03-04T10:00:00+08:00",'
...     ' "state": "cancel_requested"}',
... ]
>>> report = check_log(lines)
>>> report.ok
False
>>> print(report)
2 findings in 3 records of 1 order:
  line 3: order A1: request_cancellation refused by R2 in dispatched
  line 3: order A1: recorded state cancel_requested, the rules give dispatched
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import attrs

from ..declaration._definition import definition_of, event_spec, resolve
from ..declaration._policy import Policy
from ..errors import EventRejected, InvalidInput, OrderError
from ..runtime._migration import MIGRATED, decided_by, start_table, switch
from ..runtime._order import Order

__all__ = [
    "CREATED",
    "LogProblem",
    "LogRecord",
    "LogRefusal",
    "LogReport",
    "StateMismatch",
    "check_log",
    "log_of",
    "record_of",
]

CREATED: Final = "created"
"""The ``event`` of an order's first record: the payment that creates it."""

_RECENT_FINISHED = 1000
"""How many of the orders that finished last :func:`check_log` keeps in memory."""


@attrs.frozen
class LogRecord:
    """One record of a log, read: see the module docstring for the format."""

    line: int
    order_id: str
    event: str
    at: dt.datetime
    event_id: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)
    state: str | None = None
    definition: str | None = None


@attrs.frozen
class LogRefusal:
    """A recorded step the rules refuse: ``rule`` (``None`` where no rule speaks) in ``state``."""

    line: int
    order_id: str
    event: str
    at: dt.datetime
    state: str
    rule: str | None
    message: str

    def __str__(self) -> str:
        return (
            f"line {self.line}: order {self.order_id}: {self.event} refused by "
            f"{self.rule or 'the table (no rule)'} in {self.state}"
        )


@attrs.frozen
class StateMismatch:
    """The first record of an order whose recorded state differs from the replayed one."""

    line: int
    order_id: str
    event: str
    recorded: str
    replayed: str

    def __str__(self) -> str:
        return (
            f"line {self.line}: order {self.order_id}: recorded state {self.recorded}, "
            f"the rules give {self.replayed}"
        )


@attrs.frozen
class LogProblem:
    """A record that cannot be read or replayed as written."""

    line: int
    order_id: str | None
    message: str

    def __str__(self) -> str:
        who = f"order {self.order_id}: " if self.order_id else ""
        return f"line {self.line}: {who}{self.message}"


@attrs.frozen
class LogReport:
    """What :func:`check_log` found; ``ok`` when nothing."""

    records: int
    orders: tuple[str, ...]
    refusals: tuple[LogRefusal, ...] = ()
    mismatches: tuple[StateMismatch, ...] = ()
    problems: tuple[LogProblem, ...] = ()
    replayed: Mapping[str, Order] = attrs.field(factory=dict, repr=False, eq=False)
    """The reference order of each order id, after the replay (an order that reached a final
    state is read back from where :func:`check_log` moved it, each time it is looked up)."""
    max_open: int = attrs.field(default=0, eq=False)
    """The most orders held in memory at once during the replay: seen and not yet final."""

    @property
    def ok(self) -> bool:
        """Whether every record was read, accepted and agreed with the rules."""
        return not (self.refusals or self.mismatches or self.problems)

    def findings(self) -> list[LogRefusal | StateMismatch | LogProblem]:
        """Every finding, in the order of the log's lines."""
        found: list[LogRefusal | StateMismatch | LogProblem] = [
            *self.problems,
            *self.refusals,
            *self.mismatches,
        ]
        kind = {LogProblem: 0, LogRefusal: 1, StateMismatch: 2}
        return sorted(found, key=lambda f: (f.line, kind[type(f)]))

    def __str__(self) -> str:
        n = len(self.findings())
        head = (
            f"{n} finding{'s' if n != 1 else ''} in {self.records} record"
            f"{'s' if self.records != 1 else ''} of {len(self.orders)} order"
            f"{'s' if len(self.orders) != 1 else ''}"
        )
        if not n:
            return head
        return head + ":\n" + "\n".join(f"  {f}" for f in self.findings())


def _at(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput(f"'at' must be an ISO 8601 timestamp, got {value!r}", field="at")


def _read(line: int, raw: object) -> LogRecord:
    to_dict = getattr(raw, "to_dict", None)
    if callable(to_dict) and not isinstance(raw, Mapping):  # a store's LogEntry, as it is
        raw = to_dict()
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidInput(f"not a JSON object: {exc}", field="record") from None
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"a record is a JSON object, got {raw!r}", field="record")
    for key in ("order_id", "event", "at"):
        if not isinstance(raw.get(key), str | dt.datetime) or raw.get(key) == "":
            raise InvalidInput(f"the record has no {key!r}", field=key)
    data = raw.get("data") or {}
    if not isinstance(data, Mapping):
        raise InvalidInput(f"'data' must be an object, got {data!r}", field="data")
    state = raw.get("state")
    if "seq" in raw and "to_state" in raw:  # a store's log entry: what the store derived
        state = raw.get("to_state") if state is None else state  # is not event data
        spec = event_spec(str(raw["event"]))
        if spec is not None:
            data = {k: v for k, v in data.items() if k in spec.param_names}
    event_id = raw.get("event_id")
    definition = raw.get("definition")
    return LogRecord(
        line,
        str(raw["order_id"]),
        str(raw["event"]),
        _at(raw["at"]),
        None if event_id is None else str(event_id),
        dict(data),
        None if state is None else str(state),
        None if definition is None else str(definition),
    )


def record_of(
    order_id: str,
    event: str,
    at: dt.datetime,
    *,
    data: Mapping[str, object] | None = None,
    event_id: str | None = None,
    state: str | None = None,
    definition: str | None = None,
) -> dict[str, Any]:
    """A JSON-safe record in the format :func:`check_log` reads (amounts as decimal strings)."""
    out: dict[str, Any] = {"order_id": order_id, "event": event, "at": at.isoformat()}
    if event_id is not None:
        out["event_id"] = event_id
    if data:
        out["data"] = {k: v if isinstance(v, bool) else str(v) for k, v in data.items()}
    if state is not None:
        out["state"] = state
    if definition is not None:
        out["definition"] = definition
    return out


def log_of(order: Order) -> list[dict[str, Any]]:
    """The records a faithful service would have written for ``order``: its creation (under
    the version it was created under), then one per history record (keeping only the event's
    own keyword data; a migration record whole), each naming the version that decided it."""
    start = start_table(order.history, order.table)
    first = definition_of(start)
    decided = decided_by(order) if order.definition is not None else (None,) * len(order.history)
    out = [
        record_of(
            order.order_id,
            CREATED,
            order.paid_at,
            data={"amount": order.amount, "currency": order.currency},
            state=start.initial_state,
            definition=None if first is None else first.key,
        )
    ]
    for h, version in zip(order.history, decided, strict=True):
        spec = event_spec(h.event)
        data = (
            dict(h.data)
            if spec is None
            else {k: v for k, v in h.data.items() if k in spec.param_names}
        )
        out.append(
            record_of(
                order.order_id,
                h.event,
                h.at,
                data=data,
                event_id=h.event_id,
                state=h.dest,
                definition=version,
            )
        )
    return out


def _create(
    order_id: str, paid_at: dt.datetime, data: Mapping[str, Any], policy: Policy | None
) -> Order:
    """The order a ``created`` record describes (:class:`OrderError` if it cannot be made),
    under the version it names (``definition``; ``orders@1`` if none)."""
    version = data.get("definition")
    return Order.begin(
        order_id,
        data.get("amount"),
        data.get("currency"),
        paid_at,
        data.get("policy", policy),
        table=None if version is None else resolve(version, "definition").table,
    )


def _step(
    order: Order, event: str, at: dt.datetime, event_id: str | None, data: Mapping[str, Any]
) -> bool:
    """Apply one recorded step to ``order``: an event through the rules, or a migration
    record (its ``event_id`` slot holds the state it mapped the order to); whether it changed
    the order (a duplicate, R15, does not)."""
    if event == MIGRATED:
        if event_id is None:
            raise InvalidInput("a definition_migrated record needs its state", field="state")
        switch(order, at, order.state, event_id, None, {k: str(v) for k, v in data.items()})
        return True
    return not order.fire(event, at=at, event_id=event_id, **data).duplicate


_Step = tuple[str, dt.datetime, str | None, Mapping[str, Any]]
"""A record that changed an order, as its trail keeps it: event, at, event_id, data."""


class _FinishedOrders:
    """Orders that reached a final state, moved out of memory by :func:`check_log`.

    A final state changes no more (R14) and takes only the late facts of R7 (a dispatch after
    cancellation, a customer reimbursement), so a finished order is rarely needed again; but
    when one of its records does come, the whole order must judge it: its event ids (R15), its
    last record (R16), what the customer got back (R11). Late facts tend to follow soon, so the
    ``recent`` orders that finished last stay in memory. An older one is kept as its trail: the
    records that made it (its ``created`` record and every record applied since), pickled in a
    private temporary SQLite database that SQLite deletes when the connection closes. Reading
    it back replays the trail under the same policy: the same records through the same rules
    give the same order.
    """

    def __init__(self, recent: int, policy: Policy | None) -> None:
        self._capacity = recent
        self._policy = policy
        self._recent: OrderedDict[str, tuple[Order, list[_Step]]] = OrderedDict()
        self._db: sqlite3.Connection | None = None

    def put(self, order: Order, trail: list[_Step]) -> None:
        """Keep ``order`` and the ``trail`` of records that made it (replacing the old one).

        The trail starts with the ``created`` record; the others were applied in order."""
        self._recent[order.order_id] = (order, trail)
        self._recent.move_to_end(order.order_id)
        if len(self._recent) > self._capacity:
            order_id, (_, oldest) = self._recent.popitem(last=False)
            self._spill(order_id, oldest)

    def get(self, order_id: str) -> tuple[Order, list[_Step]] | None:
        """The order kept under ``order_id`` and its trail; ``None`` if none is."""
        kept = self._recent.get(order_id)
        if kept is not None:
            return kept
        row = None
        if self._db is not None:
            row = self._db.execute(
                "SELECT trail FROM finished WHERE order_id = ?", (order_id,)
            ).fetchone()
        if row is None:
            return None
        trail: list[_Step] = pickle.loads(row[0])
        (_, paid_at, _, created), *applied = trail
        order = _create(order_id, paid_at, created, self._policy)
        for event, at, event_id, data in applied:
            _step(order, event, at, event_id, data)
        return order, trail

    def _spill(self, order_id: str, trail: list[_Step]) -> None:
        if self._db is None:
            self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode = OFF")
            self._db.execute("PRAGMA synchronous = OFF")
            self._db.execute("CREATE TABLE finished (order_id TEXT PRIMARY KEY, trail BLOB)")
        self._db.execute(
            "INSERT OR REPLACE INTO finished VALUES (?, ?)",
            (order_id, pickle.dumps(trail, pickle.HIGHEST_PROTOCOL)),
        )


class _Replayed(Mapping[str, Order]):
    """:attr:`LogReport.replayed`: the open orders from memory, the finished ones read back."""

    def __init__(
        self,
        ids: list[str],
        known: set[str],
        open_orders: dict[str, Order],
        finished: _FinishedOrders,
    ) -> None:
        self._ids = ids
        self._known = known
        self._open = open_orders
        self._finished = finished

    def __getitem__(self, order_id: str) -> Order:
        order = self._open.get(order_id)
        if order is not None:
            return order
        kept = self._finished.get(order_id)
        if kept is None:
            raise KeyError(order_id)
        return kept[0]

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._known

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


def check_log(
    records: Iterable[Mapping[str, Any] | str | bytes | Any],
    *,
    policy: Policy | None = None,
    created: Iterable[Order] = (),
) -> LogReport:
    """Replay ``records`` (JSON lines or mappings, one or many orders) and report what the
    rules refuse and where the recorded state differs from the replayed one.

    Blank lines are skipped; lines are numbered from 1 as they come. ``policy`` is the policy
    every order was run under (the specification's defaults if omitted).

    A store's log is read as it is: ``store.history(order_id)`` (its entries, or their
    ``to_dict()``), whose ``to_state`` is the recorded state and whose derived data (a refund's
    blame, a window's deadline) is not taken for event data. A store's log starts after the
    order was created, so pass the orders in ``created`` (``store.get(order_id)``): each is
    made afresh from its creation (id, amount, currency, payment time, policy) and the records
    are replayed on it.

    Memory holds the orders still open (seen, not yet in a final state) with the records that
    made them, the 1,000 orders that finished last, and each order id once. An older finished
    order is moved to a private temporary database and made again from its records only if a
    later record of it comes (R7's late facts, an R15 duplicate, a record the rules refuse
    under R14 or R16), so every record is judged by the whole order, as before. ``max_open``
    in the report says how many orders were open at most.
    """
    open_orders: dict[str, Order] = {}
    trails: dict[str, list[_Step]] = {}  # the records that made each open order
    finished = _FinishedOrders(_RECENT_FINISHED, policy)
    ids: list[str] = []  # every order created, in order
    made: set[str] = set()  # every order id created so far
    max_open = 0
    mismatched: set[str] = set()
    refusals: list[LogRefusal] = []
    mismatches: list[StateMismatch] = []
    problems: list[LogProblem] = []
    count = 0
    for given in created:
        start = start_table(given.history, given.table)
        fresh = Order.begin(
            given.order_id, given.amount, given.currency, given.paid_at, given.policy, table=start
        )
        ids.append(fresh.order_id)
        seen_created: dict[str, Any] = {"amount": given.amount, "currency": given.currency}
        if fresh.definition is not None:
            seen_created["definition"] = fresh.definition
        trails[fresh.order_id] = [
            (CREATED, fresh.paid_at, None, {**seen_created, "policy": given.policy})
        ]
        open_orders[fresh.order_id] = fresh
        made.add(fresh.order_id)
    for line, raw in enumerate(records, start=1):
        if isinstance(raw, str | bytes) and not raw.strip():
            continue
        count += 1
        try:
            rec = _read(line, raw)
        except InvalidInput as exc:
            problems.append(LogProblem(line, None, str(exc)))
            continue
        order = open_orders.get(rec.order_id)
        trail = trails.get(rec.order_id, [])
        if rec.event == CREATED:
            if rec.order_id in made:
                problems.append(LogProblem(line, rec.order_id, "a second 'created' record"))
                continue
            data = rec.data
            if rec.definition is not None and "definition" not in data:
                data = {**data, "definition": rec.definition}
            try:
                order = _create(rec.order_id, rec.at, data, policy)
            except OrderError as exc:
                problems.append(LogProblem(line, rec.order_id, f"cannot create the order: {exc}"))
                continue
            ids.append(rec.order_id)
            made.add(rec.order_id)
            trail = [(CREATED, rec.at, None, data)]
        elif rec.order_id not in made:
            problems.append(
                LogProblem(line, rec.order_id, f"{rec.event} before the order's 'created' record")
            )
            continue
        else:
            if order is None:  # a record after the order's final state: bring it back
                kept = finished.get(rec.order_id)
                assert kept is not None, f"order {rec.order_id} is neither open nor finished"
                order, trail = kept
            slot = rec.state if rec.event == MIGRATED else rec.event_id  # see _step
            try:
                changed = _step(order, rec.event, rec.at, slot, rec.data)
            except EventRejected as exc:
                refusals.append(
                    LogRefusal(line, rec.order_id, rec.event, rec.at, exc.state, exc.rule, str(exc))
                )
            except InvalidInput as exc:
                problems.append(LogProblem(line, rec.order_id, f"{rec.event}: {exc}"))
            else:
                if changed:
                    trail.append((rec.event, rec.at, slot, rec.data))
        if rec.definition is not None and rec.definition != order.definition:
            problems.append(
                LogProblem(
                    line,
                    rec.order_id,
                    f"{rec.event}: recorded as decided by {rec.definition}, but the order runs "
                    f"under {order.definition} there",
                )
            )
        if rec.state is not None and rec.state != order.state and rec.order_id not in mismatched:
            mismatched.add(rec.order_id)
            mismatches.append(StateMismatch(line, rec.order_id, rec.event, rec.state, order.state))
        if order.is_final:  # only late facts from now on: out of memory until one comes
            finished.put(order, trail)
            open_orders.pop(rec.order_id, None)
            trails.pop(rec.order_id, None)
        else:
            open_orders[rec.order_id] = order
            trails[rec.order_id] = trail
            max_open = max(max_open, len(open_orders))
    return LogReport(
        count,
        tuple(ids),
        tuple(refusals),
        tuple(mismatches),
        tuple(problems),
        _Replayed(ids, made, open_orders, finished),
        max_open,
    )
