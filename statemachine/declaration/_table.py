"""The machine's one table: the states, the events, the rows and the prohibitions.

This module is the only place that says which transitions exist. The running machine
(:mod:`statemachine.runtime._machine`), the rules document, the diagrams, the serializer's checks
and the test paths all read :data:`TABLE` through its queries
(:class:`~statemachine.declaration.Table`). Each row names the guards
(:mod:`statemachine.declaration._guards`, one rule each) that decide whether it is taken and the
effects (:mod:`statemachine.declaration._effects`) it has."""

from __future__ import annotations

from typing import Final

from ._effects import (
    announce_cancellation_complete,
    book_customer_reimbursement,
    confirm_cancellation_request,
    drop_pending_refund,
    escalate_overdue_repayment,
    lapse_cancellation_request,
    open_cancellation_refund,
    open_claim_refund,
    open_goodwill_refund,
    open_not_dispatched_refund,
    record_delivery,
    record_dispatch,
    record_dispatch_after_cancellation,
    settle_pending_refund,
)
from ._guards import (
    DISPATCH_DEADLINE,
    REPAYMENT_DEADLINE,
    cancellation_refund,
    claim_amount_within_cap,
    claim_reason_accepted,
    claim_refund,
    claim_window_open,
    explain_auto_close_off,
    explain_claim_before_delivery,
    explain_dispatched,
    explain_early_reimbursement,
    explain_final_state,
    explain_goodwill_before_delivery,
    goodwill_is_partial,
    not_a_cancellation_refund,
    not_yet_dispatched,
    past_dispatch_deadline,
    reimbursement_within_cap,
    repayment_is_overdue,
    settled_in_full,
    settlement_within_pending,
    supplier_can_no_longer_ship,
)
from ._spec import EventSpec, Param, Prohibition, StateSpec, Table, TransitionSpec

__all__ = [
    "CANCELLED",
    "CANCEL_REQUESTED",
    "CLOCK_EVENTS",
    "DELIVERED",
    "DISPATCHED",
    "EVENTS",
    "FINAL_STATES",
    "INITIAL_STATE",
    "PAID",
    "PROHIBITIONS",
    "REFUNDED",
    "REFUND_PENDING",
    "STATES",
    "STATE_SPECS",
    "TABLE",
    "TRANSITIONS",
]

# --------------------------------------------------------------------------------------------
# States

PAID = StateSpec(
    "paid",
    "the merchant has paid the supplier; the supplier's dispatch window runs",
    initial=True,
)
CANCEL_REQUESTED = StateSpec(
    "cancel_requested", "a cancellation request waits for the supplier's answer"
)
REFUND_PENDING = StateSpec(
    "refund_pending",
    "money is owed back; carries a refund reason, an amount and who funds it",
)
CANCELLED = StateSpec("cancelled", "the order never shipped and the money came back", final=True)
DISPATCHED = StateSpec("dispatched", "the supplier shipped it; a tracking number is known")
DELIVERED = StateSpec("delivered", "delivery is confirmed")
REFUNDED = StateSpec("refunded", "a refund after dispatch (full or partial) is settled", final=True)

# --------------------------------------------------------------------------------------------
# Events

_AMOUNT = Param("amount", "amount")
_TRACKING = Param("tracking_number", "text")

EVENTS: Final[dict[str, EventSpec]] = {
    e.name: e
    for e in (
        EventSpec(
            "request_cancellation",
            "The customer asks to cancel; the supplier decides.",
            party="customer",
        ),
        EventSpec(
            "withdraw_cancellation",
            "The customer takes the cancellation request back.",
            party="customer",
        ),
        EventSpec(
            "supplier_declines_cancellation", "The supplier refuses to cancel.", party="supplier"
        ),
        EventSpec(
            "supplier_accepts_cancellation",
            "The supplier agrees to cancel and repay.",
            party="supplier",
        ),
        EventSpec(
            "dispatch", "The supplier reports the parcel shipped.", (_TRACKING,), party="supplier"
        ),
        EventSpec(
            "dispatch_deadline_expired",
            "Clock: the R1 deadline passed without a dispatch.",
            due=DISPATCH_DEADLINE,
        ),
        EventSpec("confirm_delivery", "The parcel reached the customer.", party="carrier"),
        EventSpec(
            "open_claim",
            "The customer claims after delivery.",
            (Param("reason", "text"), _AMOUNT, Param("listing_altered", "flag", False, False)),
            party="customer",
        ),
        EventSpec(
            "offer_goodwill_refund",
            "The merchant offers a partial refund.",
            (_AMOUNT,),
            party="merchant",
        ),
        EventSpec(
            "decline_claim",
            "The claim is declined; the order is delivered again.",
            party="merchant",
        ),
        EventSpec(
            "settle_refund",
            "The pending refund is paid (default: the pending amount).",
            (Param("amount", "amount", required=False),),
            party="funder",
        ),
        EventSpec(
            "repayment_overdue",
            "Clock: the supplier's repayment is past its R4 deadline.",
            due=REPAYMENT_DEADLINE,
        ),
        EventSpec(
            "reimburse_customer",
            "The merchant pays money back to the customer.",
            (_AMOUNT,),
            party="merchant",
        ),
    )
}
"""Every event by name, in the order of the rules document."""


# --------------------------------------------------------------------------------------------
# Rows

TRANSITIONS: Final[tuple[TransitionSpec, ...]] = (
    TransitionSpec(
        "request_cancellation",
        (PAID,),
        CANCEL_REQUESTED,
        guards=(not_yet_dispatched,),
        effects=(confirm_cancellation_request,),
    ),
    TransitionSpec("withdraw_cancellation", (CANCEL_REQUESTED,), PAID),
    TransitionSpec("supplier_declines_cancellation", (CANCEL_REQUESTED,), PAID),
    TransitionSpec(
        "supplier_accepts_cancellation",
        (CANCEL_REQUESTED,),
        REFUND_PENDING,
        effects=(open_cancellation_refund,),
    ),
    TransitionSpec("dispatch", (PAID,), DISPATCHED, effects=(record_dispatch,)),
    TransitionSpec(
        "dispatch",
        (CANCEL_REQUESTED,),
        DISPATCHED,
        effects=(record_dispatch, lapse_cancellation_request),
    ),
    TransitionSpec(
        "dispatch",
        (REFUND_PENDING,),
        None,
        when=cancellation_refund,
        effects=(record_dispatch_after_cancellation,),
    ),
    TransitionSpec("dispatch", (CANCELLED,), None, effects=(record_dispatch_after_cancellation,)),
    TransitionSpec(
        "dispatch_deadline_expired",
        (PAID, CANCEL_REQUESTED),
        REFUND_PENDING,
        guards=(past_dispatch_deadline,),
        effects=(open_not_dispatched_refund,),
        policy_switch="auto_close_unshipped",
    ),
    TransitionSpec("confirm_delivery", (DISPATCHED,), DELIVERED, effects=(record_delivery,)),
    TransitionSpec(
        "open_claim",
        (DELIVERED,),
        REFUND_PENDING,
        guards=(claim_reason_accepted, claim_window_open, claim_amount_within_cap),
        effects=(open_claim_refund,),
    ),
    TransitionSpec(
        "offer_goodwill_refund",
        (DELIVERED,),
        REFUND_PENDING,
        guards=(goodwill_is_partial, claim_amount_within_cap),
        effects=(open_goodwill_refund,),
    ),
    TransitionSpec(
        "decline_claim",
        (REFUND_PENDING,),
        DELIVERED,
        guards=(not_a_cancellation_refund,),
        effects=(drop_pending_refund,),
    ),
    TransitionSpec(
        "settle_refund",
        (REFUND_PENDING,),
        CANCELLED,
        when=cancellation_refund,
        guards=(settled_in_full, settlement_within_pending),
        effects=(settle_pending_refund, announce_cancellation_complete),
    ),
    TransitionSpec(
        "settle_refund",
        (REFUND_PENDING,),
        REFUNDED,
        when=claim_refund,
        guards=(settlement_within_pending,),
        effects=(settle_pending_refund,),
    ),
    TransitionSpec(
        "repayment_overdue",
        (REFUND_PENDING,),
        None,
        when=cancellation_refund,
        guards=(repayment_is_overdue,),
        effects=(escalate_overdue_repayment,),
    ),
    TransitionSpec(
        "reimburse_customer",
        (REFUND_PENDING,),
        None,
        guards=(supplier_can_no_longer_ship, reimbursement_within_cap),
        effects=(book_customer_reimbursement,),
    ),
    TransitionSpec(
        "reimburse_customer",
        (CANCELLED, REFUNDED),
        None,
        guards=(reimbursement_within_cap,),
        effects=(book_customer_reimbursement,),
    ),
)
"""Every transition. ``dest=None`` rows leave the state as it was."""

# --------------------------------------------------------------------------------------------
# Prohibitions

PROHIBITIONS: Final[tuple[Prohibition, ...]] = (
    Prohibition(
        "request_cancellation",
        (DISPATCHED, DELIVERED),
        "R2",
        explain_dispatched,
    ),
    Prohibition(
        "request_cancellation",
        (REFUND_PENDING,),
        "R2",
        explain_dispatched,
        when=lambda order: order.dispatched_at is not None,
    ),
    Prohibition(
        "reimburse_customer",
        (PAID, CANCEL_REQUESTED, DISPATCHED, DELIVERED),
        "R7",
        explain_early_reimbursement,
    ),
    Prohibition(
        "open_claim",
        (PAID, CANCEL_REQUESTED, DISPATCHED),
        "R8",
        explain_claim_before_delivery,
    ),
    Prohibition(
        "offer_goodwill_refund",
        (PAID, CANCEL_REQUESTED, DISPATCHED),
        "R10",
        explain_goodwill_before_delivery,
    ),
    Prohibition(
        "dispatch_deadline_expired",
        (PAID, CANCEL_REQUESTED),
        "R12",
        explain_auto_close_off,
        when=lambda order: not order.policy.auto_close_unshipped,
    ),
)
"""Which rule forbids an event in a state the table gives it no row in (R14 covers the final
states, below); where none applies, the refusal names no rule."""


# --------------------------------------------------------------------------------------------
# The table, and the names derived from it

STATE_SPECS: Final[tuple[StateSpec, ...]] = (
    PAID,
    CANCEL_REQUESTED,
    REFUND_PENDING,
    CANCELLED,
    DISPATCHED,
    DELIVERED,
    REFUNDED,
)
"""Every state, in the order of the rules document."""

TABLE: Final = Table(
    states=STATE_SPECS,
    events=EVENTS,
    rows=TRANSITIONS,
    prohibitions=PROHIBITIONS,
    final_prohibition=Prohibition(
        None, tuple(s for s in STATE_SPECS if s.final), "R14", explain_final_state
    ),
)
"""The machine's one declaration; read it through its queries."""

STATES: Final = TABLE.state_names
"""Every state's name, the initial one (``paid``) first."""
INITIAL_STATE: Final = TABLE.initial_state
"""The state every order starts in (``paid``)."""
FINAL_STATES: Final = TABLE.final_states
"""The states an order never leaves (R14)."""
CLOCK_EVENTS: Final = TABLE.clock_events
"""The events the clock sends (a sweep), not a caller."""
