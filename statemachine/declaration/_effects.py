"""The effects: each one a named change an order undergoes after a row is taken, tied to the
rule it carries out (``@effect("R6")``).

Effects add records (notifications, incidents, ledger entries), open and close the pending
refund and compute the deadlines a window opens with; they never refuse: the guards have
decided by then. The table (:mod:`statemachine.declaration._table`) puts them in rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ..errors import InvalidInput
from ._calendar import end_of_day, given_window_end, to_local_date
from ._guards import fmt_moment, fmt_money, pending_of
from ._records import (
    CANCELLATION_REASONS,
    Blame,
    Incident,
    LedgerEntry,
    Notification,
    PendingRefund,
    Reason,
)
from ._spec import Context, effect

if TYPE_CHECKING:
    from ..runtime._order import Order

__all__ = [
    "announce_cancellation_complete",
    "book_customer_reimbursement",
    "confirm_cancellation_request",
    "drop_pending_refund",
    "escalate_overdue_repayment",
    "lapse_cancellation_request",
    "open_cancellation_refund",
    "open_claim_refund",
    "open_goodwill_refund",
    "open_not_dispatched_refund",
    "record_delivery",
    "record_dispatch",
    "record_dispatch_after_cancellation",
    "settle_pending_refund",
]

# --------------------------------------------------------------------------------------------
# Notifications and incidents


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
            f"order {order.order_id} was dispatched at {fmt_moment(ctx.at)} (tracking {tracking}), "
            f"after its dispatch deadline {fmt_moment(order.dispatch_deadline)}.",
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


def _window_end(
    order: Order, ctx: Context, name: str, count: Callable[[], dt.datetime]
) -> dt.datetime:
    """The end of a window this event opens: counted now, or, when the order is read back, the
    one it was opened with (checked for its shape, never counted again)."""
    given = ctx.given.get(name)
    if given is None:
        return count()
    if isinstance(given, dt.date) and not isinstance(given, dt.datetime):
        given = end_of_day(given, order.policy.timezone)  # a window's last day
    return given_window_end(given, ctx.at, order.policy.timezone, name)


def _open_refund(order: Order, ctx: Context, reason: Reason, amount: Decimal, blame: Blame) -> None:
    earliest: dt.date | None = None
    deadline: dt.datetime | None = None
    ctx.recorded.update(reason=reason, amount=str(amount), blame=blame)
    if reason in CANCELLATION_REASONS:
        policy = order.policy
        cal = policy.business_calendar
        first, last = policy.repayment_business_days
        earliest = _window_end(
            order,
            ctx,
            "repayment_earliest",
            lambda: cal.business_deadline(ctx.at, first),
        ).date()
        deadline = _window_end(
            order, ctx, "repayment_deadline", lambda: cal.business_deadline(ctx.at, last)
        )
        if to_local_date(deadline, policy.timezone) < earliest:
            raise InvalidInput(
                f"repayment_deadline {fmt_moment(deadline)} is before repayment_earliest "
                f"{earliest}",
                field="repayment_deadline",
            )
        order.check_calendar("repayment_deadline", deadline)
        ctx.recorded.update(
            repayment_earliest=earliest.isoformat(),
            repayment_deadline=fmt_moment(deadline),
        )
    order.pending_refund = PendingRefund(reason, amount, blame, ctx.at, earliest, deadline)


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
    ctx.recorded["listing_altered"] = altered  # in the place a replay's data gives it
    _open_refund(order, ctx, reason, ctx.data["amount"], blame)


@effect("R9")
def open_goodwill_refund(order: Order, ctx: Context) -> None:
    """A goodwill refund is pending, funded by the merchant (R9)."""
    _open_refund(order, ctx, "goodwill", ctx.data["amount"], "merchant")


@effect()
def drop_pending_refund(order: Order, ctx: Context) -> None:
    """The claim was declined: nothing is owed any more."""
    pending = pending_of(order)
    ctx.recorded.update(reason=pending.reason, amount=str(pending.amount))
    order.pending_refund = None


@effect("R11")
def settle_pending_refund(order: Order, ctx: Context) -> None:
    """Book the settled amount (default: the pending amount) in the refund ledger."""
    pending = pending_of(order)
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
        f"{fmt_money(order, order.refunded_total)} came back.",
    )  # fmt: skip


@effect("R4")
def escalate_overdue_repayment(order: Order, ctx: Context) -> None:
    """Escalate a repayment still missing after the last business day, once."""
    pending = pending_of(order)
    order.pending_refund = attrs.evolve(pending, overdue_escalated=True)
    deadline = pending.repayment_deadline
    _notify(
        order, ctx, "repayment_overdue", "R4",
        f"The supplier's repayment of {fmt_money(order, pending.amount)} for order "
        f"{order.order_id} is overdue: it was due by "
        f"{fmt_moment(deadline) if deadline else 'the end of the repayment window'}. Escalate "
        "with the supplier or open a dispute.",
    )  # fmt: skip


@effect("R7")
def record_dispatch_after_cancellation(order: Order, ctx: Context) -> None:
    """A dispatch after the cancellation was accepted: an incident and a notification to
    recover the goods or the cost; the state does not change."""
    tracking = ctx.data["tracking_number"]
    text = (
        f"order {order.order_id} was dispatched at {fmt_moment(ctx.at)} (tracking {tracking}) "
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
    policy = order.policy
    order.claim_deadline = _window_end(
        order,
        ctx,
        "claim_deadline",
        lambda: policy.business_calendar.calendar_deadline(ctx.at, policy.claim_window_days),
    )
    ctx.recorded["claim_deadline"] = fmt_moment(order.claim_deadline)
