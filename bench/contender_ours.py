"""Contender ``ours``: order-statemachine's ``Order``, through its public API only.

Run by ``bench/peers.py`` in the package's virtual environment; see ``bench/harness.py``.
"""

from __future__ import annotations

import datetime as dt
from importlib.metadata import version
from typing import Any

import harness
from harness import CLAIM_AMOUNT, CLAIM_AT, CLAIM_REASON, DELIVERED_AT, DISPATCH_AT, SETTLE_AT

from statemachine import EventRejected, InvalidInput, Order


def claim_path(order: Order, plan: harness.Plan) -> None:
    """The four claim-path events, through the typed methods a caller uses."""
    ids = plan.ids
    order.dispatch(tracking_number=plan.tracking, at=DISPATCH_AT, event_id=ids[0])
    order.confirm_delivery(at=DELIVERED_AT, event_id=ids[1])
    order.open_claim(reason=CLAIM_REASON, amount=CLAIM_AMOUNT, at=CLAIM_AT, event_id=ids[2])
    order.settle_refund(at=SETTLE_AT, event_id=ids[3])


def dispatch(order: Order, plan: harness.Plan) -> None:
    """Only the dispatch: the set-up of a late cancellation."""
    order.dispatch(tracking_number=plan.tracking, at=DISPATCH_AT, event_id=plan.ids[0])


def late_cancellation(order: Order, plan: harness.Plan) -> None:
    """A cancellation of a dispatched order: refused R2."""
    order.request_cancellation(at=harness.CANCEL_AT, event_id=plan.cancel_id)


def fire(
    order: Order, event: str, at: dt.datetime, event_id: str | None, data: dict[str, Any]
) -> bool:
    """Any event; whether it was a duplicate (R15)."""
    return order.fire(event, at=at, event_id=event_id, **data).duplicate


def contender() -> harness.Contender:
    """``ours``."""
    return harness.Contender(
        name="ours",
        versions={"order-statemachine": version("order-statemachine")},
        rejected=EventRejected,
        invalid=InvalidInput,
        create=Order.create,
        claim_path=claim_path,
        dispatch=dispatch,
        late_cancellation=late_cancellation,
        fire=fire,
        view=harness.view,
    )


if __name__ == "__main__":
    harness.main({"ours": contender})
