"""Contender ``python-statemachine``: the same rules on python-statemachine 3.x.

Runs in ``bench/.venv-psm`` (``make bench-venv``), where ``statemachine`` is
python-statemachine: it never imports order-statemachine, whose import name is the same.

Written as the library's documentation shows: a ``StateMachine`` class declares the states
and the transitions (``State``, ``.to()``, ``|``); guards are ``validators`` (methods named by
string, their arguments injected by name from the event's keyword data) that raise
:class:`peer_rules.Rejected` naming the rule, so the caller learns why; effects are ``on``
actions; the history record is the generic ``after_transition`` callback. The order's data is
a domain model (``model=order``, its ``state`` field holds the state); the library has no
machine shared between objects, so each order gets its own ``OrderMachine``. R15 (a dict
lookup by event id) and R16 run in ``fire`` before the machine, and ``TransitionNotAllowed``
(no row from the state; the class carries it as an attribute) becomes the refusal naming its
rule (R2 for a late cancellation).
Validators run before any action changes the order, so a refusal leaves it as it was.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from importlib.metadata import version
from typing import Any

import harness
import peer_rules as pr
from harness import CLAIM_AMOUNT, CLAIM_AT, CLAIM_REASON, DELIVERED_AT, DISPATCH_AT, SETTLE_AT

# python-statemachine's package, from bench/.venv-psm (ruff sorts the name as this repo's own)
from statemachine import State, StateMachine

if not hasattr(StateMachine, "send") or version("python-statemachine").split(".")[0] != "3":
    raise ImportError(
        "contender_psm.py needs python-statemachine 3.x as `statemachine`; run it with "
        "bench/.venv-psm/bin/python (make bench-venv)"
    )


class OrderMachine(StateMachine):
    """The states and rows this work reaches, the rules as validators and actions."""

    paid = State(initial=True)
    cancel_requested = State()
    dispatched = State()
    delivered = State()
    refund_pending = State()
    refunded = State(final=True)

    request_cancellation = paid.to(cancel_requested)
    dispatch = paid.to(dispatched, on="record_dispatch") | cancel_requested.to(
        dispatched, on="record_dispatch"
    )
    confirm_delivery = dispatched.to(delivered, on="record_delivery")
    open_claim = delivered.to(
        refund_pending,
        validators=["claim_reason_accepted", "claim_window_open", "claim_within_cap"],
        on="open_claim_refund",
    )
    settle_refund = refund_pending.to(
        refunded, validators="settlement_within_pending", on="settle_pending_refund"
    )

    model: pr.PeerOrder

    def fire(
        self, event: str, *, at: dt.datetime, event_id: str | None = None, **data: Any
    ) -> bool:
        """Apply ``event``; ``True`` for a duplicate (R15); :class:`peer_rules.Rejected` if
        refused."""
        order = self.model
        if pr.duplicate_of(order, event, event_id) is not None:
            return True
        at = pr.check_time(order, event, at)
        if event == "dispatch":
            data["tracking_number"] = pr.require_text(
                data.get("tracking_number"), "tracking_number"
            )
        elif event in ("open_claim", "settle_refund") and data.get("amount") is not None:
            data["amount"] = pr.parse_amount(data["amount"])
        try:
            self.send(event, at=at, event_id=event_id, **data)
        except self.TransitionNotAllowed:
            raise pr.no_row(order, event) from None
        return False

    # Validators (guards): each raises the refusal naming its rule

    def claim_reason_accepted(self, reason: str, **kwargs: Any) -> None:
        """R8: two claim reasons after delivery."""
        if reason not in pr.CLAIM_REASONS:
            raise pr.reason_refused(self.model, reason)

    def claim_window_open(self, at: dt.datetime, **kwargs: Any) -> None:
        """R13: by the end of the 15th calendar day after delivery."""
        deadline = self.model.claim_deadline
        if deadline is not None and at > deadline:
            raise pr.window_closed(self.model, at)

    def claim_within_cap(self, amount: Decimal, **kwargs: Any) -> None:
        """R11: positive and at most the amount paid minus what was refunded."""
        order = self.model
        cap = order.amount - order.refunded_total
        if amount <= 0 or amount > cap:
            raise pr.over_cap(order, "open_claim", "a claim", amount, cap)

    def settlement_within_pending(self, amount: Decimal | None = None, **kwargs: Any) -> None:
        """R11: positive, at most the pending amount and what is left."""
        order = self.model
        pending = order.pending_refund
        assert pending is not None
        amount = pending.amount if amount is None else amount
        cap = min(pending.amount, order.amount - order.refunded_total)
        if amount <= 0 or amount > cap:
            raise pr.over_cap(order, "settle_refund", "a settlement", amount, cap)

    # Actions (effects)

    def record_dispatch(self, at: dt.datetime, tracking_number: str, **kwargs: Any) -> None:
        """Keep the tracking number; R1: a dispatch past the deadline is an incident."""
        order = self.model
        order.tracking_number, order.dispatched_at = tracking_number, at
        if at > order.dispatch_deadline:
            order.incidents.append(pr.late_dispatch(order, at, tracking_number))

    def record_delivery(self, at: dt.datetime, **kwargs: Any) -> None:
        """R13: the claim window opens."""
        self.model.delivered_at, self.model.claim_deadline = at, pr.claim_deadline(at)

    def open_claim_refund(
        self,
        at: dt.datetime,
        reason: str,
        amount: Decimal,
        listing_altered: bool = False,
        **kwargs: Any,
    ) -> None:
        """R9: who funds the claim's refund."""
        blame = pr.blame_for(reason, listing_altered)
        self.model.pending_refund = pr.PendingRefund(reason, amount, blame, at)

    def settle_pending_refund(
        self, at: dt.datetime, event_id: str | None, amount: Decimal | None = None, **kwargs: Any
    ) -> None:
        """R11: book the settled amount in the ledger."""
        order = self.model
        pending = order.pending_refund
        assert pending is not None
        settled = pending.amount if amount is None else amount
        order.refunds.append(pr.LedgerEntry(at, settled, pending.reason, pending.blame, event_id))
        order.pending_refund = None

    def after_transition(
        self,
        event: Any,
        source: State,
        target: State,
        at: dt.datetime,
        event_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Every applied event, with the data that mattered; R15 remembers its id."""
        order = self.model
        data: dict[str, Any] = {
            k: str(kwargs[k])
            for k in ("tracking_number", "reason", "amount", "listing_altered")
            if k in kwargs
        }
        record = pr.HistoryRecord(str(event), source.id, target.id, at, event_id, data)
        order.history.append(record)
        order.last_at = at
        if event_id is not None:
            order.applied[event_id] = record


def create(order_id: str, amount: str, currency: str, paid_at: dt.datetime) -> OrderMachine:
    """A validated order and its machine; the caller keeps the machine (``.model`` is the
    order)."""
    return OrderMachine(model=pr.new_order(order_id, amount, currency, paid_at, cls=pr.PeerOrder))


def claim_path(sm: OrderMachine, plan: harness.Plan) -> None:
    """The four claim-path events."""
    ids = plan.ids
    sm.fire("dispatch", at=DISPATCH_AT, event_id=ids[0], tracking_number=plan.tracking)
    sm.fire("confirm_delivery", at=DELIVERED_AT, event_id=ids[1])
    sm.fire("open_claim", at=CLAIM_AT, event_id=ids[2], reason=CLAIM_REASON, amount=CLAIM_AMOUNT)
    sm.fire("settle_refund", at=SETTLE_AT, event_id=ids[3])


def dispatch(sm: OrderMachine, plan: harness.Plan) -> None:
    """Only the dispatch."""
    sm.fire("dispatch", at=DISPATCH_AT, event_id=plan.ids[0], tracking_number=plan.tracking)


def late_cancellation(sm: OrderMachine, plan: harness.Plan) -> None:
    """A cancellation of a dispatched order: refused R2."""
    sm.fire("request_cancellation", at=harness.CANCEL_AT, event_id=plan.cancel_id)


def contender() -> harness.Contender:
    """``python-statemachine``."""
    return harness.Contender(
        name="python-statemachine",
        versions={"python-statemachine": version("python-statemachine")},
        rejected=pr.Rejected,
        invalid=pr.BadInput,
        create=create,
        claim_path=claim_path,
        dispatch=dispatch,
        late_cancellation=late_cancellation,
        fire=lambda sm, e, at, eid, data: sm.fire(e, at=at, event_id=eid, **data),
        view=lambda sm: harness.view(sm.model),
    )


if __name__ == "__main__":
    harness.main({"python-statemachine": contender})
