"""What an order remembers: immutable records read by attribute.

Every record is a frozen attrs class, so a caller holding ``order.history`` cannot change the
order behind its back; the order replaces its tuples when something new happens.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Final, Literal

import attrs

from ._jsonform import to_json

__all__ = [
    "CANCELLATION_REASONS",
    "CLAIM_REASONS",
    "Blame",
    "Channel",
    "FireResult",
    "FrozenData",
    "HistoryRecord",
    "Incident",
    "LedgerEntry",
    "Notification",
    "OrderWarning",
    "PendingRefund",
    "Reason",
    "StateName",
]

StateName = str
"""A state's name; the states are declared once, in :mod:`statemachine.declaration._table`."""

Reason = Literal[
    "cancellation",
    "not_dispatched",
    "not_as_described",
    "damaged_in_transit",
    "goodwill",
    "risk_control",
]
"""Why money is owed back. ``risk_control`` is the refund of an order the supplier's platform
closed after a risk review; only a definition with a hold state produces it (the example
``orders@2`` of :mod:`statemachine.examples.risk_hold`)."""
CANCELLATION_REASONS: Final[frozenset[str]] = frozenset(
    {"cancellation", "not_dispatched", "risk_control"}
)
"""Refund reasons of an order that never shipped (R5: always the full amount; R4: the
supplier repays within its window)."""
CLAIM_REASONS: Final[tuple[str, ...]] = ("not_as_described", "damaged_in_transit")
"""The only reasons a claim after delivery is accepted for (R8)."""

Blame = Literal["supplier", "merchant"]
Channel = Literal["message", "email"]
NotificationKind = Literal[
    "cancellation_request_received",
    "cancellation_complete",
    "cancellation_lapsed",
    "dispatched_after_cancellation",
    "repayment_overdue",
]
IncidentKind = Literal["late_dispatch", "dispatched_after_cancellation"]
DataValue = str | bool


class FrozenData(dict[str, DataValue]):
    """A history record's data: a ``dict`` that cannot be changed, so that a record, once
    made, says the same thing to everyone who holds it (an order handed out by a store's cache
    among them). Changing it raises ``TypeError``; ``dict(data)`` is a changeable copy."""

    __slots__ = ()

    def _frozen(self, *_: object, **__: object) -> Any:
        raise TypeError("a history record's data cannot be changed; copy it with dict(data)")

    __setitem__ = __delitem__ = _frozen
    clear = pop = popitem = setdefault = update = _frozen
    __ior__ = _frozen

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenData, (dict(self),))


def _frozen_data(value: Any) -> Any:
    return value if type(value) is FrozenData else FrozenData(value)


@attrs.frozen
class HistoryRecord:
    """One applied event, also one that left the state as it was (``source == dest``)."""

    event: str
    source: StateName
    dest: StateName
    at: dt.datetime
    event_id: str | None = None
    data: dict[str, DataValue] = attrs.field(factory=FrozenData, converter=_frozen_data)
    """The event data that mattered, JSON-safe (amounts as decimal strings); it cannot be
    changed (:class:`FrozenData`)."""


@attrs.frozen
class Notification:
    """A message the embedding service should deliver (to the merchant or the customer)."""

    kind: NotificationKind
    channel: Channel
    at: dt.datetime
    rule: str
    message: str


@attrs.frozen
class Incident:
    """Something that went wrong and that a person should look at (R1 late dispatch, R7)."""

    kind: IncidentKind
    at: dt.datetime
    rule: str
    detail: str


@attrs.frozen
class LedgerEntry:
    """Money that moved: a refund settled on the order, or a reimbursement to the customer.

    ``blame`` says whose money it is (R9), as on :class:`PendingRefund`: in ``order.refunds`` a
    ``supplier`` entry is a repayment from the supplier to the merchant, a ``merchant`` entry a
    refund the merchant bears; every ``order.customer_refunds`` entry is the merchant paying the
    customer back.
    """

    at: dt.datetime
    amount: Decimal
    reason: str
    blame: Blame
    event_id: str | None = None


@attrs.frozen
class PendingRefund:
    """Money owed back while the order is ``refund_pending``.

    ``blame`` names who funds it (R9). For cancellation reasons the supplier repays between
    ``repayment_earliest`` (a date, shown to the merchant) and ``repayment_deadline`` (R4).
    """

    reason: Reason
    amount: Decimal
    blame: Blame
    opened_at: dt.datetime
    repayment_earliest: dt.date | None = None
    repayment_deadline: dt.datetime | None = None
    overdue_escalated: bool = False


@attrs.frozen
class OrderWarning:
    """A doubt the order carries, e.g. a deadline counted on a calendar that is not official."""

    kind: Literal["calendar_unofficial"]
    field: str
    year: int
    message: str


@attrs.frozen
class FireResult:
    """What :meth:`Order.fire` did.

    ``duplicate`` is true when the event id was already applied (R15): nothing changed, and
    ``source``, ``dest`` and ``at`` describe the original application.
    """

    event: str
    source: StateName
    dest: StateName
    at: dt.datetime
    event_id: str | None = None
    duplicate: bool = False
    notifications: tuple[Notification, ...] = ()
    incidents: tuple[Incident, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: times in ISO 8601 with their offset, records as objects.

        >>> at = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
        >>> FireResult("dispatch", "paid", "dispatched", at).to_dict()["at"]
        '2026-03-03T00:00:00+00:00'
        """
        data: dict[str, Any] = to_json(self)
        return data
