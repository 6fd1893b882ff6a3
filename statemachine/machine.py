"""The machine's one table: states, events, transitions, their guards (rules) and effects.

This module is the only place that says which transitions exist. The running machine (one
``transitions.Machine`` per :class:`~statemachine.policy.Policy`, shared by every order), the
rules document, the diagrams and the test paths are all derived from :data:`TRANSITIONS`,
:data:`EVENTS` and :data:`REFUSALS`.

Guards are named functions tied to one rule id each. A guard returns ``None`` when the rule
allows the event, or a :class:`Refused` with a merchant-readable explanation and the facts that
decided; :meth:`Guard.check` turns that into :class:`~statemachine.errors.EventRejected`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs
from transitions import Machine, State

from .calendar import to_local_date
from .checks import check_table
from .errors import EventRejected
from .records import (
    CANCELLATION_REASONS,
    CLAIM_REASONS,
    FINAL_STATES,
    STATES,
    Blame,
    DataValue,
    Incident,
    LedgerEntry,
    Notification,
    PendingRefund,
    Reason,
    StateName,
)
from .rules import RULES

if TYPE_CHECKING:
    from .order import Order
    from .policy import Policy

__all__ = [
    "CLOCK_EVENTS",
    "EVENTS",
    "REFUSALS",
    "STATE_DOCS",
    "TRANSITIONS",
    "Context",
    "Effect",
    "EventSpec",
    "Guard",
    "Param",
    "Refusal",
    "Refused",
    "TransitionSpec",
    "When",
    "candidates",
    "machine_for",
    "refusal_for",
    "transitions_for",
]


# --------------------------------------------------------------------------------------------
# The vocabulary of the table


@attrs.define
class Context:
    """One firing of one event: its time, id and parsed data; effects add what they resolved."""

    event: str
    at: dt.datetime
    event_id: str | None = None
    data: dict[str, Any] = attrs.field(factory=dict)
    recorded: dict[str, DataValue] = attrs.field(factory=dict)
    """What the history keeps of the data: JSON-safe values."""


@attrs.frozen
class Refused:
    """A guard's refusal: the explanation (without the rule id) and the facts that decided."""

    message: str
    facts: dict[str, str] = attrs.field(factory=dict)


def rejected(rule: str | None, order: Order, ctx: Context, refused: Refused) -> EventRejected:
    """The :class:`EventRejected` for ``refused``: the rule id first, the state always named."""
    message = refused.message if rule is None else f"{rule}: {refused.message}"
    if order.state not in message:
        message = f"{message} (order {order.order_id} is {order.state})"
    return EventRejected(
        message,
        rule=rule,
        event=ctx.event,
        state=order.state,
        order_id=order.order_id,
        facts=refused.facts,
    )


GuardFn = Callable[["Order", Context], "Refused | None"]
EffectFn = Callable[["Order", Context], None]


@attrs.frozen
class Guard:
    """A named check enforcing one rule. ``needs_data`` guards judge event data (amounts,
    reasons); the others judge only the order and the time, so ``allowed_events`` can ask them.
    """

    rule: str
    name: str
    fn: GuardFn = attrs.field(repr=False, eq=False)
    needs_data: bool
    doc: str

    def check(self, order: Order, ctx: Context) -> None:
        """Raise :class:`EventRejected` naming this guard's rule if it refuses."""
        refused = self.fn(order, ctx)
        if refused is not None:
            raise rejected(self.rule, order, ctx, refused)

    def allows(self, order: Order, ctx: Context) -> bool:
        """Whether this guard lets the event through (no exception)."""
        return self.fn(order, ctx) is None


def guard(rule: str, *, needs_data: bool) -> Callable[[GuardFn], Guard]:
    """Declare a guard function as enforcing ``rule``; its docstring is its description."""
    if rule not in RULES:
        raise KeyError(f"guard names unknown rule {rule!r}")

    def wrap(fn: GuardFn) -> Guard:
        return Guard(rule, fn.__name__, fn, needs_data, (fn.__doc__ or "").strip())

    return wrap


@attrs.frozen
class Effect:
    """A named change applied after a transition; ``rule`` is the rule it carries out, if any."""

    rule: str | None
    name: str
    fn: EffectFn = attrs.field(repr=False, eq=False)
    doc: str

    def __call__(self, order: Order, ctx: Context) -> None:
        self.fn(order, ctx)


def effect(rule: str | None = None) -> Callable[[EffectFn], Effect]:
    """Declare an effect function, optionally tied to the rule it carries out."""
    if rule is not None and rule not in RULES:
        raise KeyError(f"effect names unknown rule {rule!r}")

    def wrap(fn: EffectFn) -> Effect:
        return Effect(rule, fn.__name__, fn, (fn.__doc__ or "").strip())

    return wrap


@attrs.frozen
class When:
    """A selector among transitions of one event from one state (not a rule: no refusal)."""

    name: str
    fn: Callable[[Order], bool] = attrs.field(repr=False, eq=False)
    doc: str

    def __call__(self, order: Order) -> bool:
        return self.fn(order)


ParamKind = Literal["amount", "text", "flag"]


@attrs.frozen
class Param:
    """A keyword an event takes: its kind, whether it is required and its default."""

    name: str
    kind: ParamKind
    required: bool = True
    default: object = None


@attrs.frozen
class EventSpec:
    """An event's name, its keyword data, who sends it (the clock or a caller) and its doc."""

    name: str
    doc: str
    params: tuple[Param, ...] = ()
    clock: bool = False


@attrs.frozen
class TransitionSpec:
    """One row of the table: ``event`` takes the order from ``sources`` to ``dest``.

    ``dest`` of ``None`` is an internal transition: the state does not change, the effects run.
    ``when`` selects among rows of the same event and state; ``guards`` run in order and the
    first that refuses names its rule; ``policy_switch`` names a :class:`Policy` flag without
    which the row does not exist.
    """

    event: str
    sources: tuple[StateName, ...]
    dest: StateName | None
    guards: tuple[Guard, ...] = ()
    effects: tuple[Effect, ...] = ()
    when: When | None = None
    policy_switch: str | None = None

    @property
    def rules(self) -> tuple[str, ...]:
        """Rule ids of the guards, in order (``("R8", "R13", "R11")``)."""
        return tuple(g.rule for g in self.guards)

    def dest_from(self, source: StateName) -> StateName:
        """The state after taking this row from ``source``."""
        return source if self.dest is None else self.dest


@attrs.frozen
class Refusal:
    """Which rule forbids ``event`` in ``states`` where the table has no row for it.

    ``when`` narrows it to orders it is true for; ``explain`` writes the message and facts.
    """

    event: str
    states: tuple[StateName, ...]
    rule: str
    explain: Callable[[Order, Context], Refused] = attrs.field(repr=False, eq=False)
    when: Callable[[Order], bool] | None = attrs.field(default=None, repr=False, eq=False)


# --------------------------------------------------------------------------------------------
# Small helpers for messages


def _day(order: Order, moment: dt.datetime) -> str:
    return to_local_date(moment, order.policy.timezone).isoformat()


def _money(order: Order, amount: Decimal) -> str:
    return f"{amount} {order.currency}"


def _moment(moment: dt.datetime) -> str:
    return moment.isoformat()


def _is_cancellation_refund(order: Order) -> bool:
    pending = order.pending_refund
    return pending is not None and pending.reason in CANCELLATION_REASONS


def _pending(order: Order) -> PendingRefund:
    pending = order.pending_refund
    if pending is None:  # the table only reaches here in refund_pending
        raise AssertionError(f"order {order.order_id} has no pending refund in {order.state}")
    return pending


# --------------------------------------------------------------------------------------------
# Selectors

cancellation_refund = When(
    "cancellation_refund",
    _is_cancellation_refund,
    "the pending refund's reason is cancellation or not_dispatched",
)
claim_refund = When(
    "claim_refund",
    lambda order: not _is_cancellation_refund(order),
    "the pending refund's reason is not_as_described, damaged_in_transit or goodwill",
)


# --------------------------------------------------------------------------------------------
# Guards, one rule each


@guard("R2", needs_data=False)
def not_yet_dispatched(order: Order, ctx: Context) -> Refused | None:
    """A cancellation can be requested only while the order has not been dispatched."""
    if order.dispatched_at is None:
        return None
    return _explain_dispatched(order, ctx)


@guard("R12", needs_data=False)
def past_dispatch_deadline(order: Order, ctx: Context) -> Refused | None:
    """Auto-close only once the R1 dispatch deadline has passed."""
    if ctx.at > order.dispatch_deadline:
        return None
    return Refused(
        f"order {order.order_id} is not late yet: its dispatch deadline (R1) ends at "
        f"{_moment(order.dispatch_deadline)}, and it is {_moment(ctx.at)}.",
        {"dispatch_deadline": _moment(order.dispatch_deadline), "at": _moment(ctx.at)},
    )


@guard("R8", needs_data=True)
def claim_reason_accepted(order: Order, ctx: Context) -> Refused | None:
    """After delivery, claims are accepted for not_as_described and damaged_in_transit only."""
    reason = ctx.data["reason"]
    if reason in CLAIM_REASONS:
        return None
    return Refused(
        f"a claim on order {order.order_id} cannot have the reason {reason!r}; claims after "
        f"delivery are accepted for {' and '.join(CLAIM_REASONS)} only. For goods in good shape "
        "the merchant may offer a partial goodwill refund instead (R10: offer_goodwill_refund).",
        {"reason": str(reason)},
    )


@guard("R13", needs_data=False)
def claim_window_open(order: Order, ctx: Context) -> Refused | None:
    """A claim must be opened by the end of the claim window after the delivery's local date."""
    deadline = order.claim_deadline
    if deadline is None or ctx.at <= deadline:
        return None
    delivered = order.delivered_at
    facts = {"claim_deadline": _moment(deadline), "at": _moment(ctx.at)}
    if delivered is not None:
        facts["delivered_at"] = _moment(delivered)
    return Refused(
        f"order {order.order_id} was delivered on "
        f"{_day(order, delivered) if delivered else 'an unknown date'}; its claim window of "
        f"{order.policy.claim_window_days} days closed at {_moment(deadline)}, and the claim "
        f"came at {_moment(ctx.at)}.",
        facts,
    )


def _cap_refused(order: Order, what: str, amount: Decimal, cap: Decimal, why: str) -> Refused:
    return Refused(
        f"{what} of {_money(order, amount)} on order {order.order_id} is more than "
        f"{_money(order, cap)}, {why}.",
        {"amount": str(amount), "cap": str(cap), "paid": str(order.amount)},
    )


def _not_positive(order: Order, what: str, amount: Decimal) -> Refused:
    return Refused(
        f"{what} on order {order.order_id} must be positive, got {_money(order, amount)}.",
        {"amount": str(amount)},
    )


@guard("R11", needs_data=True)
def claim_amount_within_cap(order: Order, ctx: Context) -> Refused | None:
    """A claim or goodwill amount is positive and at most the amount paid minus refunds."""
    amount: Decimal = ctx.data["amount"]
    what = "a goodwill refund" if ctx.event == "offer_goodwill_refund" else "a claim"
    if amount <= 0:
        return _not_positive(order, what, amount)
    cap = order.amount - order.refunded_total
    if amount > cap:
        return _cap_refused(
            order, what, amount, cap,
            f"the amount paid ({_money(order, order.amount)}) minus what was already refunded "
            f"({_money(order, order.refunded_total)})",
        )  # fmt: skip
    return None


@guard("R10", needs_data=True)
def goodwill_is_partial(order: Order, ctx: Context) -> Refused | None:
    """A goodwill refund is strictly less than the amount paid minus what was refunded."""
    amount: Decimal = ctx.data["amount"]
    cap = order.amount - order.refunded_total
    if amount < cap:
        return None
    return Refused(
        f"a goodwill refund on order {order.order_id} must be partial: strictly less than "
        f"{_money(order, cap)} (paid {_money(order, order.amount)} minus refunded "
        f"{_money(order, order.refunded_total)}), got {_money(order, amount)}. For goods not as "
        "described or damaged in transit, open a claim instead (R8).",
        {"amount": str(amount), "cap": str(cap)},
    )


@guard("R5", needs_data=False)
def not_a_cancellation_refund(order: Order, ctx: Context) -> Refused | None:
    """A cancellation refund cannot be declined: it is always the full amount."""
    pending = _pending(order)
    if pending.reason not in CANCELLATION_REASONS:
        return None
    return Refused(
        f"order {order.order_id} has a {pending.reason} refund of "
        f"{_money(order, pending.amount)} pending; a cancellation refund is always the full "
        "amount paid and cannot be declined.",
        {"reason": pending.reason, "amount": str(pending.amount)},
    )


@guard("R5", needs_data=True)
def settled_in_full(order: Order, ctx: Context) -> Refused | None:
    """A cancellation refund is settled in full (a non-positive amount is left to R11)."""
    pending = _pending(order)
    amount: Decimal | None = ctx.data.get("amount")
    if amount is None or amount <= 0 or amount == pending.amount:
        return None
    return Refused(
        f"order {order.order_id} has a {pending.reason} refund of "
        f"{_money(order, pending.amount)} pending; a cancellation refund is settled in full, "
        f"not with {_money(order, amount)}.",
        {"amount": str(amount), "pending": str(pending.amount)},
    )


@guard("R11", needs_data=True)
def settlement_within_pending(order: Order, ctx: Context) -> Refused | None:
    """A settlement is positive and never more than the pending amount or what is left."""
    pending = _pending(order)
    amount: Decimal | None = ctx.data.get("amount")
    if amount is None:
        amount = pending.amount
    if amount <= 0:
        return _not_positive(order, "a settlement", amount)
    if amount > pending.amount:
        return _cap_refused(order, "a settlement", amount, pending.amount, "the pending amount")
    cap = order.amount - order.refunded_total
    if amount > cap:
        return _cap_refused(
            order, "a settlement", amount, cap, "the amount paid minus what was already refunded"
        )
    return None


@guard("R4", needs_data=False)
def repayment_is_overdue(order: Order, ctx: Context) -> Refused | None:
    """Escalate once, after the end of the last repayment business day."""
    pending = _pending(order)
    deadline = pending.repayment_deadline
    if pending.overdue_escalated:
        return Refused(
            f"the overdue repayment of order {order.order_id} was already escalated; R4 "
            "escalates once.",
            {"repayment_deadline": _moment(deadline) if deadline else ""},
        )
    if deadline is not None and ctx.at > deadline:
        return None
    return Refused(
        f"the repayment of order {order.order_id} is not overdue: the supplier has until "
        f"{_moment(deadline) if deadline else 'no deadline'}, and it is {_moment(ctx.at)}.",
        {"repayment_deadline": _moment(deadline) if deadline else "", "at": _moment(ctx.at)},
    )


@guard("R7", needs_data=False)
def supplier_can_no_longer_ship(order: Order, ctx: Context) -> Refused | None:
    """Reimburse the customer only once the supplier can no longer ship and the refund is
    agreed: a cancellation refund pending, or a final state."""
    if order.state != "refund_pending" or _is_cancellation_refund(order):
        return None
    return _explain_early_reimbursement(order, ctx)


@guard("R11", needs_data=True)
def reimbursement_within_cap(order: Order, ctx: Context) -> Refused | None:
    """A reimbursement is positive and at most the amount paid minus what was paid back."""
    amount: Decimal = ctx.data["amount"]
    if amount <= 0:
        return _not_positive(order, "a customer reimbursement", amount)
    cap = order.amount - order.customer_refunded_total
    if amount > cap:
        return _cap_refused(
            order, "a customer reimbursement", amount, cap,
            f"the amount paid ({_money(order, order.amount)}) minus what the customer already "
            f"got back ({_money(order, order.customer_refunded_total)})",
        )  # fmt: skip
    return None


# --------------------------------------------------------------------------------------------
# Refusal explanations shared by guards and refusals


def _explain_dispatched(order: Order, ctx: Context) -> Refused:
    dispatched = order.dispatched_at
    tracking = order.tracking_number or "unknown"
    when = _day(order, dispatched) if dispatched else "an earlier date"
    return Refused(
        f"order {order.order_id} was dispatched on {when} (tracking {tracking}); a dispatched "
        "order cannot be cancelled. The customer must accept it, then may claim "
        f"{' or '.join(CLAIM_REASONS)}.",
        {"dispatched_at": _moment(dispatched) if dispatched else "", "tracking_number": tracking},
    )


def _explain_early_reimbursement(order: Order, ctx: Context) -> Refused:
    pending = order.pending_refund
    why = (
        f"its {pending.reason} refund may still be declined"
        if pending is not None
        else "the supplier may still ship it, or no refund is agreed"
    )
    return Refused(
        f"order {order.order_id} is {order.state}: the customer must not be reimbursed yet, "
        f"because {why}. Reimburse once a cancellation is accepted, or once the refund is "
        "settled.",
        {"state": order.state},
    )


def _explain_claim_before_delivery(order: Order, ctx: Context) -> Refused:
    return Refused(
        f"order {order.order_id} is {order.state}: claims are opened after delivery only; "
        "confirm the delivery first.",
        {"state": order.state},
    )


def _explain_goodwill_before_delivery(order: Order, ctx: Context) -> Refused:
    return Refused(
        f"order {order.order_id} is {order.state}: a goodwill refund is for goods the customer "
        "has received in good shape; confirm the delivery first.",
        {"state": order.state},
    )


def _explain_auto_close_off(order: Order, ctx: Context) -> Refused:
    return Refused(
        f"auto-close of unshipped orders is off in the policy of order {order.order_id} "
        "(auto_close_unshipped=False).",
        {"auto_close_unshipped": "False"},
    )


# --------------------------------------------------------------------------------------------
# Effects


def _notify(order: Order, ctx: Context, kind: Any, rule: str, message: str) -> None:
    channel: Literal["message", "email"] = "email" if kind == "cancellation_complete" else "message"
    order.notifications = (*order.notifications, Notification(kind, channel, ctx.at, rule, message))


def _incident(order: Order, ctx: Context, kind: Any, rule: str, detail: str) -> None:
    order.incidents = (*order.incidents, Incident(kind, ctx.at, rule, detail))


@effect("R6")
def confirm_cancellation_request(order: Order, ctx: Context) -> None:
    """Emit the "cancellation request received" confirmation (channel message)."""
    _notify(
        order, ctx, "cancellation_request_received", "R6",
        f"Your cancellation request for order {order.order_id} has been received and is being "
        "processed.",
    )  # fmt: skip


@effect("R1")
def record_dispatch(order: Order, ctx: Context) -> None:
    """Keep the tracking number; a dispatch past the R1 deadline is a late_dispatch incident."""
    tracking: str = ctx.data["tracking_number"]
    order.tracking_number = tracking
    order.dispatched_at = ctx.at
    if ctx.at > order.dispatch_deadline:
        _incident(
            order, ctx, "late_dispatch", "R1",
            f"order {order.order_id} was dispatched at {_moment(ctx.at)} (tracking {tracking}), "
            f"after its dispatch deadline {_moment(order.dispatch_deadline)}.",
        )  # fmt: skip


@effect("R3")
def lapse_cancellation_request(order: Order, ctx: Context) -> None:
    """The supplier dispatched while a cancellation request was pending: it lapses."""
    _notify(
        order, ctx, "cancellation_lapsed", "R3",
        f"The cancellation request for order {order.order_id} lapsed: the supplier dispatched it "
        f"(tracking {ctx.data['tracking_number']}). The customer must accept the order, then may "
        "claim if it arrives not as described or damaged.",
    )  # fmt: skip


def _open_refund(order: Order, ctx: Context, reason: Reason, amount: Decimal, blame: Blame) -> None:
    earliest: dt.date | None = None
    deadline: dt.datetime | None = None
    if reason in CANCELLATION_REASONS:
        policy = order.policy
        cal = policy.business_calendar
        first, last = policy.repayment_business_days
        earliest = cal.business_deadline(ctx.at, first).date()
        deadline = cal.business_deadline(ctx.at, last)
        order.check_calendar("repayment_deadline", deadline)
    order.pending_refund = PendingRefund(reason, amount, blame, ctx.at, earliest, deadline)
    ctx.recorded.update(reason=reason, amount=str(amount), blame=blame)


@effect("R4")
def open_cancellation_refund(order: Order, ctx: Context) -> None:
    """The supplier accepted: a full refund (R5), funded by the supplier (R9); the repayment
    window of R4 opens now."""
    _open_refund(order, ctx, "cancellation", order.amount, "supplier")


@effect("R12")
def open_not_dispatched_refund(order: Order, ctx: Context) -> None:
    """Auto-close: a full refund for an order never dispatched; the R4 window opens now."""
    _open_refund(order, ctx, "not_dispatched", order.amount, "supplier")


@effect("R9")
def open_claim_refund(order: Order, ctx: Context) -> None:
    """A claim's refund is pending; blame by R9 (listing_altered moves not_as_described to
    the merchant)."""
    reason: Reason = ctx.data["reason"]
    altered: bool = ctx.data["listing_altered"]
    blame: Blame = "merchant" if reason == "not_as_described" and altered else "supplier"
    _open_refund(order, ctx, reason, ctx.data["amount"], blame)
    ctx.recorded["listing_altered"] = altered


@effect("R9")
def open_goodwill_refund(order: Order, ctx: Context) -> None:
    """A goodwill refund is pending, funded by the merchant (R9)."""
    _open_refund(order, ctx, "goodwill", ctx.data["amount"], "merchant")


@effect()
def drop_pending_refund(order: Order, ctx: Context) -> None:
    """The claim was declined: nothing is owed any more."""
    pending = _pending(order)
    ctx.recorded.update(reason=pending.reason, amount=str(pending.amount))
    order.pending_refund = None


@effect("R11")
def settle_pending_refund(order: Order, ctx: Context) -> None:
    """Book the settled amount (default: the pending amount) in the refund ledger."""
    pending = _pending(order)
    amount: Decimal | None = ctx.data.get("amount")
    if amount is None:
        amount = pending.amount
    entry = LedgerEntry(ctx.at, amount, pending.reason, pending.blame, ctx.event_id)
    order.refunds = (*order.refunds, entry)
    order.pending_refund = None
    ctx.recorded.update(reason=pending.reason, amount=str(amount), blame=pending.blame)


@effect("R6")
def announce_cancellation_complete(order: Order, ctx: Context) -> None:
    """Emit the "cancellation complete" notification by email."""
    _notify(
        order, ctx, "cancellation_complete", "R6",
        f"The cancellation of order {order.order_id} is complete: "
        f"{_money(order, order.refunded_total)} came back.",
    )  # fmt: skip


@effect("R4")
def escalate_overdue_repayment(order: Order, ctx: Context) -> None:
    """Escalate a repayment still missing after the last business day, once."""
    pending = _pending(order)
    order.pending_refund = attrs.evolve(pending, overdue_escalated=True)
    deadline = pending.repayment_deadline
    _notify(
        order, ctx, "repayment_overdue", "R4",
        f"The supplier's repayment of {_money(order, pending.amount)} for order "
        f"{order.order_id} is overdue: it was due by "
        f"{_moment(deadline) if deadline else 'the end of the repayment window'}. Escalate "
        "with the supplier or open a dispute.",
    )  # fmt: skip


@effect("R7")
def record_dispatch_after_cancellation(order: Order, ctx: Context) -> None:
    """A dispatch after the cancellation was accepted: an incident and a notification to
    recover the goods or the cost; the state does not change."""
    tracking = ctx.data["tracking_number"]
    text = (
        f"order {order.order_id} was dispatched at {_moment(ctx.at)} (tracking {tracking}) "
        "after its cancellation was accepted; recover the goods or their cost from the supplier."
    )
    _incident(order, ctx, "dispatched_after_cancellation", "R7", text)
    _notify(order, ctx, "dispatched_after_cancellation", "R7", text[0].upper() + text[1:])


@effect("R11")
def book_customer_reimbursement(order: Order, ctx: Context) -> None:
    """Book the reimbursement in the merchant-to-customer ledger."""
    amount: Decimal = ctx.data["amount"]
    reason: str
    if order.pending_refund is not None:
        reason = order.pending_refund.reason
    else:  # a final state: the refund that was settled last
        reason = order.refunds[-1].reason if order.refunds else order.state
    order.customer_refunds = (
        *order.customer_refunds,
        LedgerEntry(ctx.at, amount, reason, "merchant", ctx.event_id),
    )


@effect("R13")
def record_delivery(order: Order, ctx: Context) -> None:
    """Delivery is confirmed; the claim window of R13 opens."""
    order.delivered_at = ctx.at
    order.claim_deadline = order.policy.business_calendar.calendar_deadline(
        ctx.at, order.policy.claim_window_days
    )
    ctx.recorded["claim_deadline"] = _moment(order.claim_deadline)


# --------------------------------------------------------------------------------------------
# The table

_AMOUNT = Param("amount", "amount")
_TRACKING = Param("tracking_number", "text")

EVENTS: Final[dict[str, EventSpec]] = {
    e.name: e
    for e in (
        EventSpec("request_cancellation", "The customer asks to cancel; the supplier decides."),
        EventSpec("withdraw_cancellation", "The customer takes the cancellation request back."),
        EventSpec("supplier_declines_cancellation", "The supplier refuses to cancel."),
        EventSpec("supplier_accepts_cancellation", "The supplier agrees to cancel and repay."),
        EventSpec("dispatch", "The supplier reports the parcel shipped.", (_TRACKING,)),
        EventSpec(
            "dispatch_deadline_expired",
            "Clock: the R1 deadline passed without a dispatch.",
            clock=True,
        ),
        EventSpec("confirm_delivery", "The parcel reached the customer."),
        EventSpec(
            "open_claim",
            "The customer claims after delivery.",
            (Param("reason", "text"), _AMOUNT, Param("listing_altered", "flag", False, False)),
        ),
        EventSpec("offer_goodwill_refund", "The merchant offers a partial refund.", (_AMOUNT,)),
        EventSpec("decline_claim", "The claim is declined; the order is delivered again."),
        EventSpec(
            "settle_refund",
            "The pending refund is paid (default: the pending amount).",
            (Param("amount", "amount", required=False),),
        ),
        EventSpec(
            "repayment_overdue",
            "Clock: the supplier's repayment is past its R4 deadline.",
            clock=True,
        ),
        EventSpec(
            "reimburse_customer", "The merchant pays money back to the customer.", (_AMOUNT,)
        ),
    )
}
"""Every event by name, in the order of the rules document."""

CLOCK_EVENTS: Final[tuple[str, ...]] = tuple(n for n, e in EVENTS.items() if e.clock)

TRANSITIONS: Final[tuple[TransitionSpec, ...]] = (
    TransitionSpec(
        "request_cancellation",
        ("paid",),
        "cancel_requested",
        guards=(not_yet_dispatched,),
        effects=(confirm_cancellation_request,),
    ),
    TransitionSpec("withdraw_cancellation", ("cancel_requested",), "paid"),
    TransitionSpec("supplier_declines_cancellation", ("cancel_requested",), "paid"),
    TransitionSpec(
        "supplier_accepts_cancellation",
        ("cancel_requested",),
        "refund_pending",
        effects=(open_cancellation_refund,),
    ),
    TransitionSpec("dispatch", ("paid",), "dispatched", effects=(record_dispatch,)),
    TransitionSpec(
        "dispatch",
        ("cancel_requested",),
        "dispatched",
        effects=(record_dispatch, lapse_cancellation_request),
    ),
    TransitionSpec(
        "dispatch",
        ("refund_pending",),
        None,
        when=cancellation_refund,
        effects=(record_dispatch_after_cancellation,),
    ),
    TransitionSpec("dispatch", ("cancelled",), None, effects=(record_dispatch_after_cancellation,)),
    TransitionSpec(
        "dispatch_deadline_expired",
        ("paid", "cancel_requested"),
        "refund_pending",
        guards=(past_dispatch_deadline,),
        effects=(open_not_dispatched_refund,),
        policy_switch="auto_close_unshipped",
    ),
    TransitionSpec("confirm_delivery", ("dispatched",), "delivered", effects=(record_delivery,)),
    TransitionSpec(
        "open_claim",
        ("delivered",),
        "refund_pending",
        guards=(claim_reason_accepted, claim_window_open, claim_amount_within_cap),
        effects=(open_claim_refund,),
    ),
    TransitionSpec(
        "offer_goodwill_refund",
        ("delivered",),
        "refund_pending",
        guards=(goodwill_is_partial, claim_amount_within_cap),
        effects=(open_goodwill_refund,),
    ),
    TransitionSpec(
        "decline_claim",
        ("refund_pending",),
        "delivered",
        guards=(not_a_cancellation_refund,),
        effects=(drop_pending_refund,),
    ),
    TransitionSpec(
        "settle_refund",
        ("refund_pending",),
        "cancelled",
        when=cancellation_refund,
        guards=(settled_in_full, settlement_within_pending),
        effects=(settle_pending_refund, announce_cancellation_complete),
    ),
    TransitionSpec(
        "settle_refund",
        ("refund_pending",),
        "refunded",
        when=claim_refund,
        guards=(settlement_within_pending,),
        effects=(settle_pending_refund,),
    ),
    TransitionSpec(
        "repayment_overdue",
        ("refund_pending",),
        None,
        when=cancellation_refund,
        guards=(repayment_is_overdue,),
        effects=(escalate_overdue_repayment,),
    ),
    TransitionSpec(
        "reimburse_customer",
        ("refund_pending",),
        None,
        guards=(supplier_can_no_longer_ship, reimbursement_within_cap),
        effects=(book_customer_reimbursement,),
    ),
    TransitionSpec(
        "reimburse_customer",
        ("cancelled", "refunded"),
        None,
        guards=(reimbursement_within_cap,),
        effects=(book_customer_reimbursement,),
    ),
)
"""Every transition. ``dest=None`` rows leave the state as it was."""

REFUSALS: Final[tuple[Refusal, ...]] = (
    Refusal(
        "request_cancellation",
        ("dispatched", "delivered"),
        "R2",
        _explain_dispatched,
    ),
    Refusal(
        "request_cancellation",
        ("refund_pending",),
        "R2",
        _explain_dispatched,
        when=lambda order: order.dispatched_at is not None,
    ),
    Refusal(
        "reimburse_customer",
        ("paid", "cancel_requested", "dispatched", "delivered"),
        "R7",
        _explain_early_reimbursement,
    ),
    Refusal(
        "open_claim",
        ("paid", "cancel_requested", "dispatched"),
        "R8",
        _explain_claim_before_delivery,
    ),
    Refusal(
        "offer_goodwill_refund",
        ("paid", "cancel_requested", "dispatched"),
        "R10",
        _explain_goodwill_before_delivery,
    ),
    Refusal(
        "dispatch_deadline_expired",
        ("paid", "cancel_requested"),
        "R12",
        _explain_auto_close_off,
        when=lambda order: not order.policy.auto_close_unshipped,
    ),
)
"""Which rule forbids an event in a state the table gives it no row in (R14 covers final
states); where none matches, the refusal names no rule."""

STATE_DOCS: Final[dict[StateName, str]] = {
    "paid": "the merchant has paid the supplier; the supplier's dispatch window runs",
    "cancel_requested": "a cancellation request waits for the supplier's answer",
    "refund_pending": "money is owed back; carries a refund reason, an amount and who funds it",
    "cancelled": "the order never shipped and the money came back",
    "dispatched": "the supplier shipped it; a tracking number is known",
    "delivered": "delivery is confirmed",
    "refunded": "a refund after dispatch (full or partial) is settled",
}


# --------------------------------------------------------------------------------------------
# Derived: per-policy rows, lookups and the transitions Machine


@lru_cache(maxsize=32)
def transitions_for(policy: Policy) -> tuple[TransitionSpec, ...]:
    """The rows that exist under ``policy`` (a row with a switch needs the switch on)."""
    return tuple(
        t for t in TRANSITIONS if t.policy_switch is None or getattr(policy, t.policy_switch)
    )


@lru_cache(maxsize=32)
def _index(policy: Policy) -> dict[tuple[str, str], tuple[TransitionSpec, ...]]:
    index: dict[tuple[str, str], list[TransitionSpec]] = {}
    for t in transitions_for(policy):
        for source in t.sources:
            index.setdefault((source, t.event), []).append(t)
    return {key: tuple(rows) for key, rows in index.items()}


def candidates(order: Order, event: str) -> tuple[TransitionSpec, ...]:
    """Rows of ``event`` from the order's state whose selector holds for the order."""
    rows = _index(order.policy).get((order.state, event), ())
    return tuple(t for t in rows if t.when is None or t.when(order))


def refusal_for(order: Order, ctx: Context) -> EventRejected:
    """The error for an event the order's state does not take (no candidate row)."""
    state, event = order.state, ctx.event
    if state in FINAL_STATES:
        return EventRejected(
            f"R14: order {order.order_id} is {state}, a final state; it takes no further event "
            f"(not {event}) except the late facts of R7: a dispatch reported after cancellation "
            "and a customer reimbursement.",
            rule="R14",
            event=event,
            state=state,
            order_id=order.order_id,
            facts={"state": state},
        )
    for refusal in REFUSALS:
        if (
            refusal.event == event
            and state in refusal.states
            and (refusal.when is None or refusal.when(order))
        ):
            return rejected(refusal.rule, order, ctx, refusal.explain(order, ctx))
    takes = sorted({e for (s, e) in _index(order.policy) if s == state})
    return EventRejected(
        f"order {order.order_id} is {state}, which does not take the event {event}; "
        f"it takes: {', '.join(takes) or 'nothing'}.",
        rule=None,
        event=event,
        state=state,
        order_id=order.order_id,
        facts={"state": state},
    )


def _select(when: When, event_data: Any) -> bool:
    return when(event_data.model)


def _check(g: Guard, event_data: Any) -> bool:
    g.check(event_data.model, event_data.kwargs["ctx"])
    return True


def _apply(e: Effect, event_data: Any) -> None:
    e(event_data.model, event_data.kwargs["ctx"])


def _conditions(t: TransitionSpec) -> Iterator[Callable[[Any], bool]]:
    if t.when is not None:
        yield partial(_select, t.when)
    for g in t.guards:
        yield partial(_check, g)


@lru_cache(maxsize=32)
def machine_for(policy: Policy) -> Any:
    """The one ``transitions.Machine`` for ``policy``, built once and shared by every order.

    It holds no model: orders are passed to ``machine.events[name].trigger(order, ctx=...)``,
    so no method is ever bound onto an order and no machine is made per order.
    """
    check_table(transitions_for(policy), refusals=REFUSALS)  # a broken table fails here, loudly
    return Machine(
        model=None,
        states=[State(name, final=name in FINAL_STATES) for name in STATES],
        initial="paid",
        transitions=[
            {
                "trigger": t.event,
                "source": list(t.sources),
                "dest": t.dest,
                "conditions": list(_conditions(t)),
                "after": [partial(_apply, e) for e in t.effects],
            }
            for t in transitions_for(policy)
        ],
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
        name=f"order[{policy.calendar}]",
    )


def rules_enforced() -> dict[str, list[str]]:
    """Each rule id with the guards and effects of the table that enforce or carry it out."""
    out: dict[str, list[str]] = {rid: [] for rid in RULES}
    for t in TRANSITIONS:
        for g in t.guards:
            if g.name not in out[g.rule]:
                out[g.rule].append(g.name)
        for e in t.effects:
            if e.rule is not None and e.name not in out[e.rule]:
                out[e.rule].append(e.name)
    for r in REFUSALS:
        name = f"refusal of {r.event}"
        if name not in out[r.rule]:
            out[r.rule].append(name)
    return out
