"""Contender ``dict-floor``: a plain ``{(state, event): dest}`` table, the checks inline.

No state-machine library: the floor the others are measured against. Standard library only;
see ``bench/harness.py`` for the work and ``bench/peer_rules.py`` for the shared records.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import harness
import peer_rules as pr
from harness import CLAIM_AMOUNT, CLAIM_AT, CLAIM_REASON, DELIVERED_AT, DISPATCH_AT, SETTLE_AT

TABLE: dict[tuple[str, str], str] = {
    ("paid", "request_cancellation"): "cancel_requested",
    ("paid", "dispatch"): "dispatched",
    ("cancel_requested", "dispatch"): "dispatched",
    ("dispatched", "confirm_delivery"): "delivered",
    ("delivered", "open_claim"): "refund_pending",
    ("refund_pending", "settle_refund"): "refunded",
}


def fire(
    order: pr.PeerOrder, event: str, *, at: dt.datetime, event_id: str | None = None, **data: Any
) -> bool:
    """Apply ``event``; ``True`` for a duplicate (R15); :class:`peer_rules.Rejected` if refused.

    Every check runs before the first change, so a refusal leaves the order as it was.
    """
    if pr.duplicate_of(order, event, event_id) is not None:
        return True
    at = pr.check_time(order, event, at)
    source = order.state
    dest = TABLE.get((source, event))
    if dest is None:
        raise pr.no_row(order, event)
    recorded: dict[str, Any] = {}
    if event == "dispatch":
        tracking = pr.require_text(data.get("tracking_number"), "tracking_number")
        order.tracking_number, order.dispatched_at = tracking, at
        if at > order.dispatch_deadline:  # R1
            order.incidents.append(pr.late_dispatch(order, at, tracking))
        recorded["tracking_number"] = tracking
    elif event == "confirm_delivery":
        order.delivered_at, order.claim_deadline = at, pr.claim_deadline(at)  # R13
    elif event == "open_claim":
        reason = data.get("reason")
        amount = pr.parse_amount(data.get("amount"))
        altered = bool(data.get("listing_altered", False))
        if reason not in pr.CLAIM_REASONS:  # R8
            raise pr.reason_refused(order, reason)
        if order.claim_deadline is not None and at > order.claim_deadline:  # R13
            raise pr.window_closed(order, at)
        cap = order.amount - order.refunded_total
        if amount <= 0 or amount > cap:  # R11
            raise pr.over_cap(order, event, "a claim", amount, cap)
        blame = pr.blame_for(reason, altered)  # R9
        order.pending_refund = pr.PendingRefund(reason, amount, blame, at)
        recorded.update(reason=reason, amount=str(amount), blame=blame)
    elif event == "settle_refund":
        pending = order.pending_refund
        assert pending is not None
        given = data.get("amount")
        amount = pending.amount if given is None else pr.parse_amount(given)
        cap = min(pending.amount, order.amount - order.refunded_total)
        if amount <= 0 or amount > cap:  # R11
            raise pr.over_cap(order, event, "a settlement", amount, cap)
        entry = pr.LedgerEntry(at, amount, pending.reason, pending.blame, event_id)
        order.refunds.append(entry)
        order.pending_refund = None
        recorded.update(amount=str(amount))
    order.state = dest
    record = pr.HistoryRecord(event, source, dest, at, event_id, recorded)
    order.history.append(record)
    order.last_at = at
    if event_id is not None:
        order.applied[event_id] = record
    return False


def claim_path(order: pr.PeerOrder, plan: harness.Plan) -> None:
    """The four claim-path events."""
    ids = plan.ids
    fire(order, "dispatch", at=DISPATCH_AT, event_id=ids[0], tracking_number=plan.tracking)
    fire(order, "confirm_delivery", at=DELIVERED_AT, event_id=ids[1])
    fire(
        order, "open_claim", at=CLAIM_AT, event_id=ids[2], reason=CLAIM_REASON, amount=CLAIM_AMOUNT
    )
    fire(order, "settle_refund", at=SETTLE_AT, event_id=ids[3])


def dispatch(order: pr.PeerOrder, plan: harness.Plan) -> None:
    """Only the dispatch."""
    fire(order, "dispatch", at=DISPATCH_AT, event_id=plan.ids[0], tracking_number=plan.tracking)


def late_cancellation(order: pr.PeerOrder, plan: harness.Plan) -> None:
    """A cancellation of a dispatched order: refused R2."""
    fire(order, "request_cancellation", at=harness.CANCEL_AT, event_id=plan.cancel_id)


def contender() -> harness.Contender:
    """``dict-floor``."""
    return harness.Contender(
        name="dict-floor",
        versions={},
        rejected=pr.Rejected,
        invalid=pr.BadInput,
        create=partial(pr.new_order, cls=pr.PeerOrder),
        claim_path=claim_path,
        dispatch=dispatch,
        late_cancellation=late_cancellation,
        fire=lambda o, e, at, eid, data: fire(o, e, at=at, event_id=eid, **data),
        view=harness.view,
    )


if __name__ == "__main__":
    harness.main({"dict-floor": contender})
