"""Random event sequences, right and wrong, against the invariants of R11, R14, R15, R16."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from statemachine import FINAL_STATES, EventRejected, InvalidInput, Order, Policy
from statemachine.declaration._table import TABLE

from . import strategies as s


class OrderLifecycle(RuleBasedStateMachine):
    """Fires random events with random data and timestamps and checks the rules hold."""

    order: Order
    paid_cents: int
    clock: dt.datetime
    final_state: str | None

    @initialize(cents=s.amounts_in_cents, paid_at=s.paid_ats, policy=s.policies)
    def create(self, cents: int, paid_at: dt.datetime, policy: Policy) -> None:
        self.paid_cents = cents
        self.order = Order.create("AE-1", s.amount_text(cents), "USD", paid_at, policy=policy)
        self.clock = paid_at
        self.final_state = None

    def _attempt(self, call: Any) -> None:
        before = json.dumps(self.order.to_dict(), sort_keys=True)
        try:
            call()
        except (EventRejected, InvalidInput):
            # A refused event or a bad input leaves the order exactly as it was.
            assert json.dumps(self.order.to_dict(), sort_keys=True) == before

    @rule(data=st.data(), step=s.steps, event_id=s.event_ids)
    def fire(self, data: st.DataObject, step: dt.timedelta, event_id: str | None) -> None:
        at = self.clock + step
        allowed = self.order.allowed_events(at) if at.tzinfo else ()
        # Half the time an event the order admits, to go deep; else any name, also unknown.
        names = st.sampled_from(allowed) if allowed else s.event_names
        event = data.draw(st.one_of(names, s.event_names), label="event")
        kwargs = data.draw(s.event_data(event, self.paid_cents), label="data")
        if data.draw(st.integers(0, 30), label="naive") == 0:
            at = at.replace(tzinfo=None)
        self.clock = max(self.clock, at) if at.tzinfo else self.clock
        self._attempt(lambda: self.order.fire(event, at=at, event_id=event_id, **kwargs))

    @rule(step=s.steps)
    def tick(self, step: dt.timedelta) -> None:
        self.clock += abs(step) * 3
        self._attempt(lambda: self.order.tick(self.clock))

    @invariant()
    def label_state(self) -> None:
        """Label the states reached, for --hypothesis-show-statistics."""
        event(f"state {self.order.state}")

    @invariant()
    def r11_money_within_amount_paid(self) -> None:
        """R11: neither ledger exceeds the amount paid; every entry is positive."""
        order = self.order
        assert order.refunded_total <= order.amount
        assert order.customer_refunded_total <= order.amount
        assert all(e.amount > 0 for e in (*order.refunds, *order.customer_refunds))
        if order.pending_refund is not None:
            assert 0 < order.pending_refund.amount <= order.amount - order.refunded_total

    @invariant()
    def r14_final_states_stay(self) -> None:
        """R14: once final, the state never changes."""
        if self.final_state is not None:
            assert self.order.state == self.final_state
        elif self.order.state in FINAL_STATES:
            self.final_state = self.order.state

    @invariant()
    def r16_history_in_time_order(self) -> None:
        """R16: records are aware, not before payment, and in time order."""
        last = self.order.paid_at
        for record in self.order.history:
            assert record.at.utcoffset() is not None
            assert record.at >= last
            last = record.at

    @invariant()
    def history_agrees_with_state(self) -> None:
        """History replays through table rows to the current state; R15 ids are unique."""
        rows = TABLE.rows_for(self.order.policy)
        state = "paid"
        ids = [r.event_id for r in self.order.history if r.event_id is not None]
        assert len(ids) == len(set(ids))
        for record in self.order.history:
            assert record.source == state
            assert any(
                r.event == record.event and state in r.sources and r.dest_from(state) == record.dest
                for r in rows
            )
            state = record.dest
        assert state == self.order.state
        assert (self.order.pending_refund is not None) == (self.order.state == "refund_pending")

    @invariant()
    def round_trip(self) -> None:
        """The order survives to_dict / from_dict unchanged."""
        assert Order.from_dict(json.loads(json.dumps(self.order.to_dict()))) == self.order


OrderLifecycle.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestOrderLifecycle = OrderLifecycle.TestCase
