"""Property: a store holds exactly what the machine makes of the same events in memory."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import PAID, new_order

from statemachine import EventRejected, InvalidInput, Order
from statemachine.store import OrderStore

SENDABLE = (
    ("request_cancellation", {}),
    ("withdraw_cancellation", {}),
    ("supplier_declines_cancellation", {}),
    ("supplier_accepts_cancellation", {}),
    ("dispatch", {"tracking_number": "LP9"}),
    ("dispatch_deadline_expired", {}),
    ("confirm_delivery", {}),
    ("open_claim", {"reason": "not_as_described", "amount": "5.00"}),
    ("open_claim", {"reason": "changed_mind", "amount": "5.00"}),
    ("offer_goodwill_refund", {"amount": "3.00"}),
    ("decline_claim", {}),
    ("settle_refund", {}),
    ("repayment_overdue", {}),
    ("reimburse_customer", {"amount": "25.00"}),
)
_ids = itertools.count()

steps = st.lists(
    st.tuples(
        st.sampled_from(SENDABLE),
        st.integers(min_value=0, max_value=24 * 40),  # hours after the previous event
        st.one_of(st.none(), st.sampled_from(["e1", "e2", "e3"])),
    ),
    max_size=8,
)


def _outcome(fire: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    try:
        result = fire(*args, **kwargs)
    except (EventRejected, InvalidInput) as exc:
        return f"{type(exc).__name__}:{getattr(exc, 'rule', None)}"
    return "duplicate" if result.duplicate else "applied"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
def test_store_agrees_with_the_machine_in_memory(store: OrderStore, steps: list[Any]) -> None:
    """R1-R16: any event sequence gives the same outcomes, order, log and outbox in the store
    as on an order in memory."""
    order_id = f"P-{next(_ids)}"
    mirror: Order = new_order(order_id)
    store.add(new_order(order_id))
    at = PAID
    for (event, data), hours, event_id in steps:
        at = at + dt.timedelta(hours=hours)
        expected = _outcome(mirror.fire, event, at=at, event_id=event_id, **data)
        got = _outcome(store.apply, order_id, event, at=at, event_id=event_id, **data)
        assert got == expected, (event, data)
    assert store.get(order_id) == mirror
    log = store.history(order_id)
    assert [(e.seq, e.event, e.to_state) for e in log] == [
        (i, r.event, r.dest) for i, r in enumerate(mirror.history, start=1)
    ]
    queued = [i.notification for i in store.outbox(limit=1000) if i.order_id == order_id]
    assert queued == list(mirror.notifications)
