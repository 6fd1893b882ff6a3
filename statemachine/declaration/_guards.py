"""The guards: each one a named function enforcing one rule, returning an objection or ``None``.

A reader finds a rule here by its id: every guard is declared with ``@guard("R8", ...)``, and the
explanations a prohibition gives (an event a state takes no row for) sit beside the guards that give
the same explanation. Also here: the selectors that choose among rows of one event, and the
deadlines the time guards and the clock events compare against. The table
(:mod:`statemachine.declaration._table`) puts them in rows; nothing here says which transitions
exist."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from ._calendar import to_local_date
from ._records import CANCELLATION_REASONS, CLAIM_REASONS, PendingRefund
from ._spec import Context, Deadline, Objection, When, guard

if TYPE_CHECKING:
    from ..runtime._order import Order

__all__ = [
    "CLAIM_DEADLINE",
    "DISPATCH_DEADLINE",
    "REPAYMENT_DEADLINE",
    "cancellation_refund",
    "claim_amount_within_cap",
    "claim_reason_accepted",
    "claim_refund",
    "claim_window_open",
    "explain_auto_close_off",
    "explain_claim_before_delivery",
    "explain_dispatched",
    "explain_early_reimbursement",
    "explain_final_state",
    "explain_goodwill_before_delivery",
    "fmt_day",
    "fmt_moment",
    "fmt_money",
    "goodwill_is_partial",
    "is_cancellation_refund",
    "not_a_cancellation_refund",
    "not_yet_dispatched",
    "past_dispatch_deadline",
    "pending_of",
    "reimbursement_within_cap",
    "repayment_is_overdue",
    "settled_in_full",
    "settlement_within_pending",
    "supplier_can_no_longer_ship",
]

# --------------------------------------------------------------------------------------------
# Small helpers for messages


def fmt_day(order: Order, moment: dt.datetime) -> str:
    """The ISO date ``moment`` falls on in the order's policy time zone."""
    return to_local_date(moment, order.policy.timezone).isoformat()


def fmt_money(order: Order, amount: Decimal) -> str:
    """``amount`` with the order's currency (``25.00 USD``)."""
    return f"{amount} {order.currency}"


def fmt_moment(moment: dt.datetime) -> str:
    """``moment`` in ISO 8601 with its offset."""
    return moment.isoformat()


def is_cancellation_refund(order: Order) -> bool:
    """Whether the pending refund's reason is a cancellation reason (R5)."""
    pending = order.pending_refund
    return pending is not None and pending.reason in CANCELLATION_REASONS


def pending_of(order: Order) -> PendingRefund:
    """The order's pending refund; only asked in ``refund_pending``, where there is one."""
    pending = order.pending_refund
    if pending is None:  # the table only asks in refund_pending
        raise AssertionError(f"order {order.order_id} has no pending refund in {order.state}")
    return pending


# --------------------------------------------------------------------------------------------
# Selectors

cancellation_refund = When(
    "cancellation_refund",
    is_cancellation_refund,
    "the pending refund's reason is cancellation or not_dispatched",
)
claim_refund = When(
    "claim_refund",
    lambda order: not is_cancellation_refund(order),
    "the pending refund's reason is not_as_described, damaged_in_transit or goodwill",
)


# --------------------------------------------------------------------------------------------
# Deadlines: declared once, read by the clock events, the time guards, the sweep and the kit


def _dispatch_deadline(order: Order) -> dt.datetime | None:
    return order.dispatch_deadline


def _repayment_deadline(order: Order) -> dt.datetime | None:
    pending = order.pending_refund
    if pending is None or pending.overdue_escalated:
        return None
    return pending.repayment_deadline


def _claim_deadline(order: Order) -> dt.datetime | None:
    return order.claim_deadline


DISPATCH_DEADLINE = Deadline(
    "dispatch_deadline",
    "R1",
    "End of the R1 dispatch window: after it, an unshipped order is auto-closed (R12).",
    _dispatch_deadline,
)
REPAYMENT_DEADLINE = Deadline(
    "repayment_deadline",
    "R4",
    "End of the R4 repayment window of a cancellation refund, until escalated once.",
    _repayment_deadline,
)
CLAIM_DEADLINE = Deadline(
    "claim_deadline",
    "R13",
    "End of the R13 claim window after delivery.",
    _claim_deadline,
)

# --------------------------------------------------------------------------------------------
# Guards, one rule each


@guard("R2", kind="state")
def not_yet_dispatched(order: Order, ctx: Context) -> Objection | None:
    """A cancellation can be requested only while the order has not been dispatched."""
    if order.dispatched_at is None:
        return None
    return explain_dispatched(order, ctx)


@guard("R12", kind="time", deadline=DISPATCH_DEADLINE)
def past_dispatch_deadline(order: Order, ctx: Context) -> Objection | None:
    """Auto-close only once the R1 dispatch deadline has passed."""
    deadline = DISPATCH_DEADLINE.of(order)
    if deadline is None or ctx.at > deadline:
        return None
    return Objection(
        f"order {order.order_id} is not late yet: its dispatch deadline (R1) ends at "
        f"{fmt_moment(deadline)}, and it is {fmt_moment(ctx.at)}.",
        {"dispatch_deadline": fmt_moment(deadline), "at": fmt_moment(ctx.at)},
    )


@guard("R8", kind="data")
def claim_reason_accepted(order: Order, ctx: Context) -> Objection | None:
    """After delivery, claims are accepted for not_as_described and damaged_in_transit only."""
    reason = ctx.data["reason"]
    if reason in CLAIM_REASONS:
        return None
    return Objection(
        f"a claim on order {order.order_id} cannot have the reason {reason!r}; claims after "
        f"delivery are accepted for {' and '.join(CLAIM_REASONS)} only. For goods in good shape "
        "the merchant may offer a partial goodwill refund instead (R10: offer_goodwill_refund).",
        {"reason": str(reason)},
    )


@guard("R13", kind="time", deadline=CLAIM_DEADLINE)
def claim_window_open(order: Order, ctx: Context) -> Objection | None:
    """A claim must be opened by the end of the claim window after the delivery's local date."""
    deadline = CLAIM_DEADLINE.of(order)
    if deadline is None or ctx.at <= deadline:
        return None
    delivered = order.delivered_at
    facts = {"claim_deadline": fmt_moment(deadline), "at": fmt_moment(ctx.at)}
    if delivered is not None:
        facts["delivered_at"] = fmt_moment(delivered)
    return Objection(
        f"order {order.order_id} was delivered on "
        f"{fmt_day(order, delivered) if delivered else 'an unknown date'}; its claim window of "
        f"{order.policy.claim_window_days} days closed at {fmt_moment(deadline)}, and the claim "
        f"came at {fmt_moment(ctx.at)}.",
        facts,
    )


def _cap_refused(order: Order, what: str, amount: Decimal, cap: Decimal, why: str) -> Objection:
    return Objection(
        f"{what} of {fmt_money(order, amount)} on order {order.order_id} is more than "
        f"{fmt_money(order, cap)}, {why}.",
        {"amount": str(amount), "cap": str(cap), "paid": str(order.amount)},
    )


def _not_positive(order: Order, what: str, amount: Decimal) -> Objection:
    return Objection(
        f"{what} on order {order.order_id} must be positive, got {fmt_money(order, amount)}.",
        {"amount": str(amount)},
    )


@guard("R11", kind="data")
def claim_amount_within_cap(order: Order, ctx: Context) -> Objection | None:
    """A claim or goodwill amount is positive and at most the amount paid minus refunds."""
    amount: Decimal = ctx.data["amount"]
    what = "a goodwill refund" if ctx.event == "offer_goodwill_refund" else "a claim"
    if amount <= 0:
        return _not_positive(order, what, amount)
    cap = order.amount - order.refunded_total
    if amount > cap:
        return _cap_refused(
            order, what, amount, cap,
            f"the amount paid ({fmt_money(order, order.amount)}) minus what was already refunded "
            f"({fmt_money(order, order.refunded_total)})",
        )  # fmt: skip
    return None


@guard("R10", kind="data")
def goodwill_is_partial(order: Order, ctx: Context) -> Objection | None:
    """A goodwill refund is strictly less than the amount paid minus what was refunded."""
    amount: Decimal = ctx.data["amount"]
    cap = order.amount - order.refunded_total
    if amount < cap:
        return None
    return Objection(
        f"a goodwill refund on order {order.order_id} must be partial: strictly less than "
        f"{fmt_money(order, cap)} (paid {fmt_money(order, order.amount)} minus refunded "
        f"{fmt_money(order, order.refunded_total)}), got {fmt_money(order, amount)}. For goods "
        "not as described or damaged in transit, open a claim instead (R8).",
        {"amount": str(amount), "cap": str(cap)},
    )


@guard("R5", kind="state")
def not_a_cancellation_refund(order: Order, ctx: Context) -> Objection | None:
    """A cancellation refund cannot be declined: it is always the full amount."""
    pending = pending_of(order)
    if pending.reason not in CANCELLATION_REASONS:
        return None
    return Objection(
        f"order {order.order_id} has a {pending.reason} refund of "
        f"{fmt_money(order, pending.amount)} pending; a cancellation refund is always the full "
        "amount paid and cannot be declined.",
        {"reason": pending.reason, "amount": str(pending.amount)},
    )


@guard("R5", kind="data")
def settled_in_full(order: Order, ctx: Context) -> Objection | None:
    """A cancellation refund is settled in full (a non-positive amount is left to R11)."""
    pending = pending_of(order)
    amount: Decimal | None = ctx.data.get("amount")
    if amount is None or amount <= 0 or amount == pending.amount:
        return None
    return Objection(
        f"order {order.order_id} has a {pending.reason} refund of "
        f"{fmt_money(order, pending.amount)} pending; a cancellation refund is settled in full, "
        f"not with {fmt_money(order, amount)}.",
        {"amount": str(amount), "pending": str(pending.amount)},
    )


@guard("R11", kind="data")
def settlement_within_pending(order: Order, ctx: Context) -> Objection | None:
    """A settlement is positive and never more than the pending amount or what is left."""
    pending = pending_of(order)
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


@guard("R4", kind="time", deadline=REPAYMENT_DEADLINE)
def repayment_is_overdue(order: Order, ctx: Context) -> Objection | None:
    """Escalate once, after the end of the last repayment business day."""
    pending = pending_of(order)
    deadline = pending.repayment_deadline
    if pending.overdue_escalated:
        return Objection(
            f"the overdue repayment of order {order.order_id} was already escalated; R4 "
            "escalates once.",
            {"repayment_deadline": fmt_moment(deadline) if deadline else ""},
            kind="state",
        )
    if deadline is not None and ctx.at > deadline:
        return None
    return Objection(
        f"the repayment of order {order.order_id} is not overdue: the supplier has until "
        f"{fmt_moment(deadline) if deadline else 'no deadline'}, and it is {fmt_moment(ctx.at)}.",
        {"repayment_deadline": fmt_moment(deadline) if deadline else "", "at": fmt_moment(ctx.at)},
    )


@guard("R7", kind="state")
def supplier_can_no_longer_ship(order: Order, ctx: Context) -> Objection | None:
    """Reimburse the customer only once the supplier can no longer ship and the refund is
    agreed: a cancellation refund pending, or a final state."""
    if is_cancellation_refund(order):
        return None
    return explain_early_reimbursement(order, ctx)


@guard("R11", kind="data")
def reimbursement_within_cap(order: Order, ctx: Context) -> Objection | None:
    """A reimbursement is positive and at most the amount paid minus what was paid back."""
    amount: Decimal = ctx.data["amount"]
    if amount <= 0:
        return _not_positive(order, "a customer reimbursement", amount)
    cap = order.amount - order.customer_refunded_total
    if amount > cap:
        return _cap_refused(
            order, "a customer reimbursement", amount, cap,
            f"the amount paid ({fmt_money(order, order.amount)}) minus what the customer already "
            f"got back ({fmt_money(order, order.customer_refunded_total)})",
        )  # fmt: skip
    return None


# --------------------------------------------------------------------------------------------
# Explanations shared by guards and prohibitions


def explain_dispatched(order: Order, ctx: Context) -> Objection:
    dispatched = order.dispatched_at
    tracking = order.tracking_number or "unknown"
    when = fmt_day(order, dispatched) if dispatched else "an earlier date"
    return Objection(
        f"order {order.order_id} was dispatched on {when} (tracking {tracking}); a dispatched "
        "order cannot be cancelled. The customer must accept it, then may claim "
        f"{' or '.join(CLAIM_REASONS)}.",
        {
            "dispatched_at": fmt_moment(dispatched) if dispatched else "",
            "tracking_number": tracking,
        },
    )


def explain_early_reimbursement(order: Order, ctx: Context) -> Objection:
    pending = order.pending_refund
    why = (
        f"its {pending.reason} refund may still be declined"
        if pending is not None
        else "the supplier may still ship it, or no refund is agreed"
    )
    return Objection(
        f"order {order.order_id} is {order.state}: the customer must not be reimbursed yet, "
        f"because {why}. Reimburse once a cancellation is accepted, or once the refund is "
        "settled.",
        {"state": order.state},
    )


def explain_claim_before_delivery(order: Order, ctx: Context) -> Objection:
    return Objection(
        f"order {order.order_id} is {order.state}: claims are opened after delivery only; "
        "confirm the delivery first.",
        {"state": order.state},
    )


def explain_goodwill_before_delivery(order: Order, ctx: Context) -> Objection:
    return Objection(
        f"order {order.order_id} is {order.state}: a goodwill refund is for goods the customer "
        "has received in good shape; confirm the delivery first.",
        {"state": order.state},
    )


def explain_auto_close_off(order: Order, ctx: Context) -> Objection:
    return Objection(
        f"auto-close of unshipped orders is off in the policy of order {order.order_id} "
        "(auto_close_unshipped=False).",
        {"auto_close_unshipped": "False"},
    )


def explain_final_state(order: Order, ctx: Context) -> Objection:
    """R14: a final state takes no event but the late facts of R7."""
    return Objection(
        f"order {order.order_id} is {order.state}, a final state; it takes no further event "
        f"(not {ctx.event}) except the late facts of R7: a dispatch reported after cancellation "
        "and a customer reimbursement.",
        {"state": order.state},
    )
