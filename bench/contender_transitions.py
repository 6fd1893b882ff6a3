"""Contenders ``transitions-per-order`` and ``transitions-shared``: the same rules on the
``transitions`` library, written as its documentation shows.

* ``transitions-per-order``: each order builds its own ``Machine(model=order, ...)``, which
  binds the triggers onto the order; events go through ``order.trigger(event, ...)``.
* ``transitions-shared``: one ``Machine(model=None, ...)`` for every order; events go through
  ``SHARED.events[event].trigger(order, ...)``. Creating an order is making the model object,
  its ``state`` field starting at ``"paid"``, the machine's initial state; this pattern never
  calls ``machine.add_model`` (which would bind the triggers onto every order and keep each
  order referenced by the machine).

Both share :class:`TransitionsOrder`: guards are ``conditions`` (model methods named by
string) that raise :class:`peer_rules.Rejected` naming the rule, ``prepare`` callbacks parse
the event data before them, effects are ``after`` callbacks, and the history record is the
machine-wide ``after_state_change`` callback (``send_event=True``: every callback gets the
``EventData``). R15 (a dict lookup by event id)
and R16 run in ``fire`` before the machine, and an event the state has no row for
(``MachineError``) is turned into the refusal naming its rule (R2 for a late cancellation).
Conditions run before any callback changes the order, so a refusal leaves it as it was.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from importlib.metadata import version
from typing import Any

import harness
import peer_rules as pr
from harness import CLAIM_AMOUNT, CLAIM_AT, CLAIM_REASON, DELIVERED_AT, DISPATCH_AT, SETTLE_AT
from transitions import EventData, Machine, MachineError

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "request_cancellation", "source": "paid", "dest": "cancel_requested"},
    {
        "trigger": "dispatch",
        "source": ["paid", "cancel_requested"],
        "dest": "dispatched",
        "prepare": "require_tracking_number",
        "after": "record_dispatch",
    },
    {
        "trigger": "confirm_delivery",
        "source": "dispatched",
        "dest": "delivered",
        "after": "record_delivery",
    },
    {
        "trigger": "open_claim",
        "source": "delivered",
        "dest": "refund_pending",
        "prepare": "parse_claim_amount",
        "conditions": ["claim_reason_accepted", "claim_window_open", "claim_within_cap"],
        "after": "open_claim_refund",
    },
    {
        "trigger": "settle_refund",
        "source": "refund_pending",
        "dest": "refunded",
        "prepare": "parse_settlement_amount",
        "conditions": "settlement_within_pending",
        "after": "settle_pending_refund",
    },
]
OPTIONS: dict[str, Any] = {
    "states": list(pr.STATES),
    "transitions": TRANSITIONS,
    "initial": "paid",
    "auto_transitions": False,
    "send_event": True,
    "after_state_change": "record_history",
}


@dataclass(eq=False)
class TransitionsOrder(pr.PeerOrder):
    """The order's data, and the rules as the conditions and callbacks the machine names."""

    def fire(
        self, event: str, *, at: dt.datetime, event_id: str | None = None, **data: Any
    ) -> bool:
        """Apply ``event``; ``True`` for a duplicate (R15); :class:`peer_rules.Rejected` if
        refused."""
        if pr.duplicate_of(self, event, event_id) is not None:
            return True
        at = pr.check_time(self, event, at)
        try:
            self.run(event, at=at, event_id=event_id, **data)
        except MachineError:
            raise pr.no_row(self, event) from None
        return False

    def run(self, event: str, **kwargs: Any) -> None:
        """Hand the event to the machine."""
        raise NotImplementedError

    # Prepare callbacks: parse the event data once, before the conditions read it

    def require_tracking_number(self, ed: EventData) -> None:
        """A dispatch needs a tracking number."""
        ed.kwargs["tracking_number"] = pr.require_text(
            ed.kwargs.get("tracking_number"), "tracking_number"
        )

    def parse_claim_amount(self, ed: EventData) -> None:
        """The claim's amount as a ``Decimal``."""
        ed.kwargs["amount"] = pr.parse_amount(ed.kwargs.get("amount"))

    def parse_settlement_amount(self, ed: EventData) -> None:
        """The settled amount as a ``Decimal``, by default the pending amount."""
        given = ed.kwargs.get("amount")
        pending = self.pending_refund
        assert pending is not None
        ed.kwargs["amount"] = pending.amount if given is None else pr.parse_amount(given)

    # Conditions (guards): each passes or raises the refusal naming its rule

    def claim_reason_accepted(self, ed: EventData) -> bool:
        """R8: two claim reasons after delivery."""
        reason = ed.kwargs.get("reason")
        if reason not in pr.CLAIM_REASONS:
            raise pr.reason_refused(self, reason)
        return True

    def claim_window_open(self, ed: EventData) -> bool:
        """R13: by the end of the 15th calendar day after delivery."""
        at: dt.datetime = ed.kwargs["at"]
        if self.claim_deadline is not None and at > self.claim_deadline:
            raise pr.window_closed(self, at)
        return True

    def claim_within_cap(self, ed: EventData) -> bool:
        """R11: positive and at most the amount paid minus what was refunded."""
        amount: Decimal = ed.kwargs["amount"]
        cap = self.amount - self.refunded_total
        if amount <= 0 or amount > cap:
            raise pr.over_cap(self, "open_claim", "a claim", amount, cap)
        return True

    def settlement_within_pending(self, ed: EventData) -> bool:
        """R11: positive, at most the pending amount and what is left."""
        amount: Decimal = ed.kwargs["amount"]
        pending = self.pending_refund
        assert pending is not None
        cap = min(pending.amount, self.amount - self.refunded_total)
        if amount <= 0 or amount > cap:
            raise pr.over_cap(self, "settle_refund", "a settlement", amount, cap)
        return True

    # After callbacks (effects)

    def record_dispatch(self, ed: EventData) -> None:
        """Keep the tracking number; R1: a dispatch past the deadline is an incident."""
        at: dt.datetime = ed.kwargs["at"]
        tracking: str = ed.kwargs["tracking_number"]
        self.tracking_number, self.dispatched_at = tracking, at
        if at > self.dispatch_deadline:
            self.incidents.append(pr.late_dispatch(self, at, tracking))

    def record_delivery(self, ed: EventData) -> None:
        """R13: the claim window opens."""
        at: dt.datetime = ed.kwargs["at"]
        self.delivered_at, self.claim_deadline = at, pr.claim_deadline(at)

    def open_claim_refund(self, ed: EventData) -> None:
        """R9: who funds the claim's refund."""
        kw = ed.kwargs
        reason: str = kw["reason"]
        blame = pr.blame_for(reason, bool(kw.get("listing_altered", False)))
        self.pending_refund = pr.PendingRefund(reason, kw["amount"], blame, kw["at"])

    def settle_pending_refund(self, ed: EventData) -> None:
        """R11: book the settled amount in the ledger."""
        pending = self.pending_refund
        assert pending is not None
        kw = ed.kwargs
        entry = pr.LedgerEntry(
            kw["at"], kw["amount"], pending.reason, pending.blame, kw["event_id"]
        )
        self.refunds.append(entry)
        self.pending_refund = None

    def record_history(self, ed: EventData) -> None:
        """Every applied event, with the data that mattered; R15 remembers its id."""
        kw = ed.kwargs
        data = {k: str(v) for k, v in kw.items() if k not in ("at", "event_id")}
        at, event_id = kw["at"], kw["event_id"]
        row = ed.transition
        assert row is not None
        assert row.dest is not None
        record = pr.HistoryRecord(ed.event.name, row.source, row.dest, at, event_id, data)
        self.history.append(record)
        self.last_at = at
        if event_id is not None:
            self.applied[event_id] = record


@dataclass(eq=False)
class PerOrder(TransitionsOrder):
    """An order with a ``Machine`` of its own, which binds ``trigger`` onto it."""

    def __post_init__(self) -> None:
        Machine(model=self, **OPTIONS)

    def run(self, event: str, **kwargs: Any) -> None:
        """The trigger the order's own machine bound onto it."""
        self.trigger(event, **kwargs)  # type: ignore[attr-defined]


SHARED = Machine(model=None, **OPTIONS)
_EVENTS = SHARED.events


@dataclass(eq=False)
class Shared(TransitionsOrder):
    """An order driven by the one shared ``Machine``."""

    def run(self, event: str, **kwargs: Any) -> None:
        """The shared machine's event, triggered for this order."""
        _EVENTS[event].trigger(self, **kwargs)


def claim_path(order: TransitionsOrder, plan: harness.Plan) -> None:
    """The four claim-path events."""
    ids = plan.ids
    order.fire("dispatch", at=DISPATCH_AT, event_id=ids[0], tracking_number=plan.tracking)
    order.fire("confirm_delivery", at=DELIVERED_AT, event_id=ids[1])
    order.fire("open_claim", at=CLAIM_AT, event_id=ids[2], reason=CLAIM_REASON, amount=CLAIM_AMOUNT)
    order.fire("settle_refund", at=SETTLE_AT, event_id=ids[3])


def dispatch(order: TransitionsOrder, plan: harness.Plan) -> None:
    """Only the dispatch."""
    order.fire("dispatch", at=DISPATCH_AT, event_id=plan.ids[0], tracking_number=plan.tracking)


def late_cancellation(order: TransitionsOrder, plan: harness.Plan) -> None:
    """A cancellation of a dispatched order: refused R2."""
    order.fire("request_cancellation", at=harness.CANCEL_AT, event_id=plan.cancel_id)


def _contender(name: str, cls: type[TransitionsOrder]) -> harness.Contender:
    return harness.Contender(
        name=name,
        versions={"transitions": version("transitions")},
        rejected=pr.Rejected,
        invalid=pr.BadInput,
        create=partial(pr.new_order, cls=cls),
        claim_path=claim_path,
        dispatch=dispatch,
        late_cancellation=late_cancellation,
        fire=lambda o, e, at, eid, data: o.fire(e, at=at, event_id=eid, **data),
        view=harness.view,
    )


if __name__ == "__main__":
    harness.main(
        {
            "transitions-per-order": lambda: _contender("transitions-per-order", PerOrder),
            "transitions-shared": lambda: _contender("transitions-shared", Shared),
        }
    )
