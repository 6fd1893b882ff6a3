"""Rule ids and texts: the single source for error messages, the rules document and diagrams.

Each rule of the domain specification has one :class:`Rule` here. Guards
(:mod:`statemachine.declaration._guards`) and effects (:mod:`statemachine.declaration._effects`)
name the rule they enforce or carry out by id, and :func:`~statemachine.declaration.check_table`
refuses a table in which a rule is enforced nowhere."""

from __future__ import annotations

from typing import Final, Literal

import attrs

__all__ = ["RULES", "Rule", "rule"]

Source = Literal["seed", "platform"]


@attrs.frozen
class Rule:
    """One rule: its id (``"R2"``), a short title, the full text and where it comes from."""

    id: str
    title: str
    text: str
    source: Source


_ALL: Final = (
    Rule(
        "R1",
        "Dispatch within 7 business days",
        "The supplier must dispatch within 7 business days of payment, counted on the supplier's "
        "working-day calendar (China by default: weekends, public holidays and the official "
        "make-up working days). A late dispatch is still accepted, and recorded as a "
        "`late_dispatch` incident.",
        "seed",
    ),
    Rule(
        "R2",
        "No cancellation after dispatch",
        "A cancellation can be requested only while the order has not been dispatched. Once "
        "dispatched there is no way to cancel: the customer must accept the order (and may later "
        "claim under R8).",
        "seed",
    ),
    Rule(
        "R3",
        "The supplier decides a cancellation",
        "A paid order is cancelled only when the supplier accepts the request. If the supplier "
        "declines, the order is `paid` again; if the supplier dispatches while the request is "
        "pending, the request lapses and the order is `dispatched`.",
        "seed",
    ),
    Rule(
        "R4",
        "Repayment within 3 to 15 business days",
        "After the supplier accepts (or the platform auto-closes, R12), the supplier repays within "
        "3 to 15 business days. The 3 is the earliest expected date, shown to the merchant, not a "
        "guard. A repayment still missing at the end of the 15th business day raises an overdue "
        "escalation, once.",
        "seed",
    ),
    Rule(
        "R5",
        "A cancellation refund is full",
        "A cancellation refund (reasons `cancellation`, `not_dispatched`) is always the full "
        "amount paid, and is settled in full.",
        "seed",
    ),
    Rule(
        "R6",
        "Cancellation notifications",
        'Recording a cancellation request emits a "cancellation request received" confirmation '
        '(channel `message`). Completing a cancellation (money back) emits a "cancellation '
        'complete" notification by email (channel `email`).',
        "seed",
    ),
    Rule(
        "R7",
        "Late-cancellation risk",
        "The customer must not be reimbursed before the supplier can no longer ship and the refund "
        "is agreed: allowed in `refund_pending` for reasons `cancellation` and `not_dispatched`, "
        "and in `cancelled` and `refunded`; refused everywhere else, because the goods may still "
        "ship or the claim may still be declined. A dispatch reported after the cancellation was "
        "accepted (or the order auto-closed) is recorded as a `dispatched_after_cancellation` "
        "incident with a notification to recover the goods or the cost from the supplier; the "
        "state does not change.",
        "seed",
    ),
    Rule(
        "R8",
        "Two claim reasons after delivery",
        "After delivery, a claim is accepted for two reasons only: `not_as_described` and "
        "`damaged_in_transit`. Any other reason is refused (`EventRejected`, R8) with a pointer "
        "to R10.",
        "seed",
    ),
    Rule(
        "R9",
        "Blame: who funds a refund",
        "A `not_as_described` claim is the supplier's fault unless the merchant altered the "
        "product description (`listing_altered=True`), then the merchant's; "
        "`damaged_in_transit` is the supplier's (packing and carriage); `goodwill` is the "
        "merchant's; `cancellation` and `not_dispatched` are the supplier's (it repays).",
        "seed",
    ),
    Rule(
        "R10",
        "Goodwill refunds are partial",
        "For goods in good shape, the merchant may offer a partial refund, strictly less than the "
        "amount paid minus what was already refunded, to keep a customer from a negative review.",
        "seed",
    ),
    Rule(
        "R11",
        "Money stays within what was paid",
        "Every event amount is positive (an amount of 0 or less is refused under R11, not "
        "`InvalidInput`) and within its cap; neither ledger ever exceeds the amount paid. "
        "`refunded_total` counts every refund settled on the order, whoever funds it: a claim or "
        "goodwill amount is capped by the amount paid minus `refunded_total`, and a settlement "
        "may be lower than the pending amount, never higher. `customer_refunded_total` counts "
        "what the merchant paid back to the customer: a reimbursement is capped by the amount "
        "paid minus `customer_refunded_total`.",
        "platform",
    ),
    Rule(
        "R12",
        "Auto-close of unshipped orders",
        "An order not dispatched by the R1 deadline is closed with a full refund "
        "(`dispatch_deadline_expired`, fired by the clock); the R4 repayment window opens then. "
        "Policy switch `auto_close_unshipped`, on by default.",
        "platform",
    ),
    Rule(
        "R13",
        "Claim window",
        "A claim must be opened by the end of the 15th calendar day after the delivery's local "
        "date (AliExpress buyer protection), in the policy's time zone. Policy value.",
        "platform",
    ),
    Rule(
        "R14",
        "Final states are final",
        "Final states refuse every event except the two late facts of R7 (a dispatch after "
        "cancellation, a customer reimbursement), with a message that names the state; the clock "
        "fires nothing in a final state.",
        "platform",
    ),
    Rule(
        "R15",
        "Idempotency by event id",
        "An event carrying an `event_id` already applied to the order changes nothing; `fire` "
        "returns normally and its result has `duplicate` true (a webhook delivered twice is not "
        "an error). The same `event_id` sent with a different event name, or with the same "
        'event but different data (after parsing: `"25.0"` and `"25.00"` are the same amount), '
        "is `InvalidInput` naming `event_id` and saying what differs (the time `at` is not "
        "compared: a retry may carry a later receipt time): a key reused for another request is "
        "a caller's bug, never a silent duplicate (the rule payment APIs apply to idempotency "
        "keys).",
        "platform",
    ),
    Rule(
        "R16",
        "Time moves forward",
        "Every timestamp is timezone-aware; an event dated before payment or before the order's "
        "last history record is refused; the state is left as it was.",
        "platform",
    ),
)

RULES: Final[dict[str, Rule]] = {r.id: r for r in _ALL}
"""Every rule by id, in order R1 to R16."""


def rule(rule_id: str) -> Rule:
    """The rule with this id; ``KeyError`` names the unknown id."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule id {rule_id!r}; known: {', '.join(RULES)}") from None
