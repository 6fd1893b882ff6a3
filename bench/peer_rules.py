"""What the four peers share: the records, the parsing and the refusals a user writes once.

Standard library only: ``contender_psm.py`` imports it from a virtual environment where
``statemachine`` is python-statemachine, not this package. Nothing here imports either.

The rules the bench exercises (``bench/README.md``): R1 late dispatch against a deadline
computed once at creation, R2 no cancellation after dispatch, R8 claim reasons, R9 blame, R11
amount caps, R13 claim window, R15 event-id idempotency, R16 time moves forward. The peers'
R1 deadline is the end of the ninth calendar day after payment: seven business days from the
bench's Monday payment without holidays. Calendar work is not what is being compared.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
DISPATCH_DAYS = 9
"""Calendar days to the R1 deadline: 7 business days from a Monday without holidays."""
CLAIM_WINDOW_DAYS = 15
CLAIM_REASONS = ("not_as_described", "damaged_in_transit")

STATES = ("paid", "cancel_requested", "dispatched", "delivered", "refund_pending", "refunded")
"""The states this work reaches; the peers declare only these and the rows it fires."""

REFUSALS: dict[tuple[str, str], str] = {
    ("request_cancellation", "dispatched"): "R2",
    ("request_cancellation", "delivered"): "R2",
    ("request_cancellation", "refund_pending"): "R2",
    ("open_claim", "paid"): "R8",
    ("open_claim", "cancel_requested"): "R8",
    ("open_claim", "dispatched"): "R8",
}
"""Which rule forbids an event in a state that has no row for it."""


class Rejected(Exception):
    """A rule refuses the event; the order is left as it was. ``rule`` names the rule."""

    def __init__(self, rule: str | None, message: str, *, event: str, state: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.event = event
        self.state = state


class BadInput(ValueError):
    """The request cannot be understood; ``field`` names what was wrong."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """One applied event."""

    event: str
    source: str
    dest: str
    at: dt.datetime
    event_id: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A refund settled on the order (R11), funded by ``blame`` (R9)."""

    at: dt.datetime
    amount: Decimal
    reason: str
    blame: str
    event_id: str | None


@dataclass(frozen=True, slots=True)
class PendingRefund:
    """Money owed back while the order is ``refund_pending``."""

    reason: str
    amount: Decimal
    blame: str
    opened_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Incident:
    """Something a person should look at (R1 late dispatch)."""

    kind: str
    at: dt.datetime
    rule: str
    detail: str


@dataclass(eq=False)
class PeerOrder:
    """The order's data, the same for every peer; a plain class, as the libraries' docs show."""

    order_id: str
    amount: Decimal
    currency: str
    paid_at: dt.datetime
    dispatch_deadline: dt.datetime
    state: str = "paid"
    tracking_number: str | None = None
    dispatched_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    claim_deadline: dt.datetime | None = None
    pending_refund: PendingRefund | None = None
    last_at: dt.datetime | None = None
    history: list[HistoryRecord] = field(default_factory=list)
    applied: dict[str, HistoryRecord] = field(default_factory=dict)
    """R15: the records by event id, so a duplicate is one dict lookup."""
    incidents: list[Incident] = field(default_factory=list)
    refunds: list[LedgerEntry] = field(default_factory=list)

    @property
    def refunded_total(self) -> Decimal:
        """Every refund settled on the order (R11)."""
        return sum((e.amount for e in self.refunds), Decimal("0.00"))


AnOrder = TypeVar("AnOrder", bound=PeerOrder)


class HasOrderFacts(Protocol):
    """What a refusal message reads from an order."""

    order_id: str
    state: str
    tracking_number: str | None
    dispatched_at: dt.datetime | None


# ------------------------------------------------------------------------------------------
# Parsing and dates


def require_aware(value: object, name: str) -> dt.datetime:
    """``value`` if it is a timezone-aware datetime (R16), else :class:`BadInput`."""
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise BadInput(f"{name} must be a timezone-aware datetime, got {value!r}", field=name)
    return value


def require_text(value: object, name: str) -> str:
    """``value`` stripped, if it is a non-blank string."""
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{name} must be a non-blank string, got {value!r}", field=name)
    return value.strip()


def parse_amount(value: object, name: str = "amount") -> Decimal:
    """A ``Decimal`` or decimal string with at most two decimals (floats are refused)."""
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise BadInput(f"{name} is not a decimal: {value!r}", field=name) from None
    else:
        raise BadInput(f"{name} must be a Decimal or a decimal string, got {value!r}", field=name)
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -2:
        raise BadInput(f"{name} must be finite with at most 2 decimals: {value!r}", field=name)
    return amount


def end_of_day(day: dt.date) -> dt.datetime:
    """The last microsecond of ``day`` in the supplier's time zone."""
    return dt.datetime.combine(day, dt.time.max, tzinfo=TZ)


def dispatch_deadline(paid_at: dt.datetime) -> dt.datetime:
    """R1, computed once: the end of the ninth calendar day after the payment's local date."""
    return end_of_day(paid_at.astimezone(TZ).date() + dt.timedelta(days=DISPATCH_DAYS))


def claim_deadline(delivered_at: dt.datetime) -> dt.datetime:
    """R13: the end of the 15th calendar day after the delivery's local date."""
    return end_of_day(delivered_at.astimezone(TZ).date() + dt.timedelta(days=CLAIM_WINDOW_DAYS))


def new_order(
    order_id: object, amount: object, currency: object, paid_at: object, *, cls: type[AnOrder]
) -> AnOrder:
    """A validated ``cls`` order in ``paid``, its R1 deadline computed once."""
    paid = parse_amount(amount)
    if paid <= 0:
        raise BadInput(f"amount must be positive, got {amount!r}", field="amount")
    paid_at = require_aware(paid_at, "paid_at")
    return cls(
        require_text(order_id, "order_id"),
        paid,
        require_text(currency, "currency").upper(),
        paid_at,
        dispatch_deadline(paid_at),
        last_at=paid_at,
    )


# ------------------------------------------------------------------------------------------
# Refusals and the checks every peer runs before its machine


def duplicate_of(order: PeerOrder, event: str, event_id: str | None) -> HistoryRecord | None:
    """R15: the record ``event_id`` was applied as, or ``None``; a reuse for another event is
    :class:`BadInput`."""
    if event_id is None:
        return None
    seen = order.applied.get(event_id)
    if seen is not None and seen.event != event:
        raise BadInput(
            f"R15: event_id {event_id!r} was applied to order {order.order_id} as {seen.event}; "
            f"it cannot be reused for {event!r}",
            field="event_id",
        )
    return seen


def check_time(order: PeerOrder, event: str, at: object) -> dt.datetime:
    """R16: ``at`` is aware and not before the payment or the last record."""
    at = require_aware(at, "at")
    last = order.last_at
    if last is not None and at < last:
        raise Rejected(
            "R16",
            f"R16: {event} on order {order.order_id} is dated {at.isoformat()}, before "
            f"{last.isoformat()}; time only moves forward (order is {order.state}).",
            event=event,
            state=order.state,
        )
    return at


def no_row(order: HasOrderFacts, event: str) -> Rejected:
    """The refusal of an event the state has no row for, naming the rule that forbids it."""
    rule = REFUSALS.get((event, order.state))
    if rule == "R2":
        day = order.dispatched_at.astimezone(TZ).date() if order.dispatched_at else "?"
        message = (
            f"R2: order {order.order_id} was dispatched on {day} (tracking "
            f"{order.tracking_number}); a dispatched order cannot be cancelled. The customer "
            f"must accept it, then may claim {' or '.join(CLAIM_REASONS)}."
        )
    elif rule == "R8":
        message = (
            f"R8: order {order.order_id} is {order.state}: claims are opened after delivery "
            "only; confirm the delivery first."
        )
    else:
        message = f"order {order.order_id} is {order.state}, which does not take {event}."
    return Rejected(rule, message, event=event, state=order.state)


def reason_refused(order: PeerOrder, reason: object) -> Rejected:
    """R8: a claim reason other than the two accepted after delivery."""
    return Rejected(
        "R8",
        f"R8: a claim on order {order.order_id} cannot have the reason {reason!r}; claims after "
        f"delivery are accepted for {' and '.join(CLAIM_REASONS)} only. For goods in good "
        "shape the merchant may offer a partial goodwill refund instead (R10).",
        event="open_claim",
        state=order.state,
    )


def window_closed(order: PeerOrder, at: dt.datetime) -> Rejected:
    """R13: a claim after the claim window closed."""
    deadline = order.claim_deadline
    return Rejected(
        "R13",
        f"R13: order {order.order_id} was delivered on "
        f"{order.delivered_at.astimezone(TZ).date() if order.delivered_at else '?'}; its claim "
        f"window of {CLAIM_WINDOW_DAYS} days closed at "
        f"{deadline.isoformat() if deadline else '?'}, and the claim came at {at.isoformat()}.",
        event="open_claim",
        state=order.state,
    )


def over_cap(order: PeerOrder, event: str, what: str, amount: Decimal, cap: Decimal) -> Rejected:
    """R11: an amount that is not positive or above its cap."""
    if amount <= 0:
        text = f"{what} on order {order.order_id} must be positive, got {amount} {order.currency}"
    else:
        text = (
            f"{what} of {amount} {order.currency} on order {order.order_id} is more than "
            f"{cap} {order.currency}"
        )
    return Rejected("R11", f"R11: {text}.", event=event, state=order.state)


def blame_for(reason: str, listing_altered: bool) -> str:
    """R9: who funds a claim's refund."""
    return "merchant" if reason == "not_as_described" and listing_altered else "supplier"


def late_dispatch(order: PeerOrder, at: dt.datetime, tracking: str) -> Incident:
    """R1: the incident of a dispatch past the deadline."""
    return Incident(
        "late_dispatch",
        at,
        "R1",
        f"order {order.order_id} was dispatched at {at.isoformat()} (tracking {tracking}), "
        f"after its dispatch deadline {order.dispatch_deadline.isoformat()}.",
    )
