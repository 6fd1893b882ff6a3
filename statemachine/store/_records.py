"""What a store hands back: the records of its answers, and the interface every store keeps.

Plain frozen values with a ``to_dict()`` in JSON types where a service sends them on; none of
them holds a connection or a cursor.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from ..declaration._jsonform import to_json
from ..declaration._records import FireResult, Notification
from ..errors import OrderError
from ..runtime._order import Order

__all__ = [
    "REASONS",
    "SORT_KEYS",
    "Applied",
    "Attention",
    "Delivery",
    "DeliveryState",
    "DeliveryStatus",
    "DeliveryTry",
    "Loaded",
    "LogEntry",
    "NotificationRow",
    "OrderRow",
    "OrderStore",
    "OutboxItem",
    "Reason",
    "Skipped",
    "SortKey",
    "Standing",
    "Swept",
]

DeliveryStatus = Literal["retrying", "acked", "dead"]
"""Where a relay is with one notification: ``retrying`` (tried, not taken yet), ``acked`` (the
receiver took it) or ``dead`` (a dead letter: the relay gave up)."""


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


SortKey = Literal["id", "state", "amount", "age", "deadline"]
"""What a listing is sorted by: the order id, the state (by its name), the amount (as a
number, whatever the currency), the age (the time since payment: ascending is the youngest
first) or the next clock deadline (``due_at``); ties by order id, and orders without the value
(no deadline) last."""

SORT_KEYS: tuple[SortKey, ...] = ("id", "state", "amount", "age", "deadline")
"""Every :data:`SortKey`."""


@attrs.frozen
class OrderRow:
    """One order in a listing: the indexed columns of its row, not the order (a listing is an
    index; read the order itself with ``get``, which checks it). Its moments are in
    ``timezone``, the supplier's (the order's policy's), as in the order's own JSON form.

    ``amount`` and ``currency`` are what was paid, ``paid_at`` when (the order's age), and
    ``due_at`` the next clock deadline; all three are ``None`` only for an order whose rows
    could not be read when store schema 5 was made (it is corrupt)."""

    order_id: str
    state: str
    version: int
    dispatch_deadline: dt.datetime
    repayment_deadline: dt.datetime | None
    due_at: dt.datetime | None
    timezone: str = "UTC"
    amount: Decimal | None = None
    currency: str | None = None
    paid_at: dt.datetime | None = None

    def sort_value(self, sort: SortKey) -> object:
        """This row's value under ``sort`` (``None`` for ``id``, and for a row without it):
        with the order id, the ``after`` of the next page."""
        values: dict[str, object] = {
            "id": None,
            "state": self.state,
            "amount": self.amount,
            "age": self.paid_at,
            "deadline": self.due_at,
        }
        return values[sort]


Reason = Literal["repayment_overdue", "incident", "dead_letter", "sweep_behind", "ahead_of_clock"]
"""Why an order needs a person (:meth:`~statemachine.store.SQLStore.attention`):

- ``repayment_overdue``: its R4 repayment deadline has passed and the refund is still pending;
- ``incident``: it has an incident (R1 ``late_dispatch``, R7 ``dispatched_after_cancellation``);
- ``dead_letter``: a notification of it is a dead letter (the relay gave up on it, R6);
- ``sweep_behind``: a clock deadline of it passed (R12, R4) and the sweep has not fired it;
- ``ahead_of_clock``: its last event (or its payment) is dated after the clock: R16 refuses
  every event dated before it, so nothing reaches it until the clock catches up.
"""

REASONS: tuple[Reason, ...] = (
    "repayment_overdue",
    "incident",
    "dead_letter",
    "sweep_behind",
    "ahead_of_clock",
)
"""Every :data:`Reason`, in the order an attention row lists them."""


@attrs.frozen
class Attention:
    """An order that needs a person: its listing row and every reason that holds, in the
    order of ``REASONS`` (repayment_overdue, incident, dead_letter, sweep_behind,
    ahead_of_clock; see ``Reason``)."""

    order: OrderRow
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        data: dict[str, Any] = to_json(self)
        return data


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

    ``source`` is where it came from, as given to ``apply`` (``"api"``, ``"webhook"``,
    ``"sweep"`` for the clock, ``"add"`` for history an order brought when it was added,
    ``None`` if not given); ``actor`` who sent it (the name of the credential or the person;
    ``None`` if not given, and for events logged before store schema 4); ``note`` what they
    wrote with it.
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
    actor: str | None = None
    note: str | None = None
    definition: str = "orders@1"
    """The version of the machine that decided the event (``orders@1`` for every event
    stored before definitions had versions)."""

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


@attrs.frozen
class Delivery:
    """What a relay did with one notification (a notification never tried has none): how many
    tries, where it stands (:data:`DeliveryStatus`), when the next try is due, the last error,
    and when this was last written."""

    notification_id: int
    order_id: str
    position: int
    attempts: int
    status: DeliveryStatus
    next_attempt_at: dt.datetime | None
    last_error: str | None
    updated_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        data: dict[str, Any] = to_json(self)
        return data


Standing = Literal["waiting", "retrying", "sent", "dead"]
"""Where a notification stands, as a listing shows it: ``waiting`` (never tried yet),
``retrying`` (tried, due again at ``next_attempt_at``), ``sent`` (delivered) or
``dead`` (a dead letter: out of the queue until it is redelivered)."""


@attrs.frozen
class DeliveryTry:
    """One try of a relay at delivering a notification: when, what the receiver answered (or
    what went wrong: a refused connection, a timeout), and whether it took the notification."""

    at: dt.datetime
    answer: str
    delivered: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        data: dict[str, Any] = to_json(self)
        return data


@attrs.frozen
class DeliveryState:
    """One notification's delivery, as ``GET /notifications`` lists it: where it stands
    (:data:`Standing`), how many tries since it was (re)queued, the last answer, when the next
    try is due and until when a relay holds it (its lease), when it was queued (``None`` for a
    notification queued before schema 4) and last tried."""

    notification_id: int
    order_id: str
    position: int
    standing: Standing
    attempts: int
    last_answer: str | None
    next_attempt_at: dt.datetime | None
    leased_until: dt.datetime | None
    queued_at: dt.datetime | None
    updated_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        data: dict[str, Any] = to_json(self)
        return data


@runtime_checkable
class OrderStore(Protocol):
    """A durable home for orders, shared safely by concurrent writers."""

    def add(self, order: Order, *, source: str | None = "add", actor: str | None = None) -> int:
        """Store a new order; its version (1). :class:`OrderExists` if the id is taken."""
        ...

    def add_many(
        self, orders: Iterable[Order], *, source: str | None = "add", actor: str | None = None
    ) -> int:
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
        actor: str | None = None,
        note: str | None = None,
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
        """A page of orders from the indexes (see :meth:`SQLStore.orders`)."""
        ...

    def search(self, text: str, *, limit: int = 100, after: str | None = None) -> list[OrderRow]:
        """The orders ``text`` finds: a prefix of the id or its number, a tracking number, an
        amount (see :meth:`SQLStore.search`)."""
        ...

    def attention(
        self,
        now: dt.datetime,
        *,
        reasons: Iterable[Reason] | None = None,
        sweep_grace: dt.timedelta | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[Attention]:
        """The orders that need a person at ``now``, with why (see :meth:`SQLStore.attention`)."""
        ...

    def state_counts(self) -> dict[str, int]:
        """How many orders are in each state."""
        ...

    def unfinished_by_definition(self, final_states: Iterable[str]) -> dict[str, int]:
        """How many orders not in ``final_states`` each definition holds, by its key."""
        ...

    def definitions_used(self) -> dict[str, int]:
        """How many orders run under each definition, finished or not, by its key."""
        ...

    def unfinished_ids(
        self,
        definition: str,
        final_states: Iterable[str],
        *,
        after: str | None = None,
        limit: int = 500,
    ) -> list[str]:
        """A page of the ids of ``definition``'s orders not in ``final_states``, in order."""
        ...

    def rewrite(
        self,
        order_id: str,
        move: Callable[[Order], bool],
        *,
        expected_version: int | None = None,
        source: str | None = "migration",
        actor: str | None = None,
    ) -> Loaded | None:
        """Let ``move`` append to the stored order's history, written in one transaction
        (see :meth:`SQLStore.rewrite`)."""
        ...

    def notifications(self, order_id: str) -> list[NotificationRow]:
        """The outbox rows of one order."""
        ...

    def deliveries(self, notification_ids: Iterable[int]) -> dict[int, Delivery]:
        """What a relay did with these notifications."""
        ...

    def redeliver(self, notification_ids: Iterable[int] | None = None) -> int:
        """Queue dead letters again (all of them for ``None``); how many were dead letters."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...
