"""The worked example of docs/testing.md: testing a small service with the test kit.

The guide includes this file verbatim (tests/test_testing_guide.py checks that it does).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import settings

from statemachine import EventRejected, InvalidInput, Order
from statemachine.testing import Path, RefusalCase, Start, Step, check_log
from statemachine.testing.log import record_of
from statemachine.testing.plugin import Clock, OrderFactory
from statemachine.testing.stateful import ReferenceMachine


class Refused(Exception):
    """The service's own refusal, carrying the rule id when a rule speaks."""

    def __init__(self, message: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule


class OrderDesk:
    """A small service: orders stored as JSON documents, one log line per applied event."""

    def __init__(self) -> None:
        self.documents: dict[str, str] = {}
        self.log: list[str] = []

    def create(self, start: Start) -> None:
        order = start.new_order()
        self.documents[order.order_id] = json.dumps(order.to_dict())
        data = {"amount": order.amount, "currency": order.currency}
        self._write(order.order_id, "created", order.paid_at, data, "paid")

    def handle(self, order_id: str, event: str, at: dt.datetime, **data: object) -> str:
        order = Order.from_dict(json.loads(self.documents[order_id]))
        try:
            order.fire(event, at=at, **data)
        except (EventRejected, InvalidInput) as exc:
            raise Refused(str(exc), getattr(exc, "rule", None)) from exc
        self.documents[order_id] = json.dumps(order.to_dict())
        self._write(order_id, event, at, data, order.state)
        return order.state

    def state_of(self, order_id: str) -> str:
        return str(json.loads(self.documents[order_id])["state"])

    def _write(self, order_id: str, event: str, at: dt.datetime, data: dict, state: str) -> None:
        self.log.append(json.dumps(record_of(order_id, event, at, data=data, state=state)))


@pytest.fixture
def desk() -> OrderDesk:
    return OrderDesk()


@pytest.mark.order_paths(kind="transitions")
def test_desk_takes_every_transition(desk: OrderDesk, path: Path) -> None:
    """Every row of the table, driven through the desk, ends where the rules say."""
    desk.create(path.start)
    for step in path:
        desk.handle(path.start.order_id, step.event, step.at, **step.data)
    assert desk.state_of(path.start.order_id) == path.final_state
    assert check_log(desk.log).ok


@pytest.mark.order_paths(kind="refusals", argname="case")
def test_desk_refuses_what_the_rules_refuse(desk: OrderDesk, case: RefusalCase) -> None:
    """Every refusal of the table is a refusal of the desk, naming the same rule."""
    order_id = case.path.start.order_id
    desk.create(case.path.start)
    for step in case.steps:
        desk.handle(order_id, step.event, step.at, **step.data)
    with pytest.raises(Refused) as refused:
        desk.handle(order_id, case.refused.event, case.refused.at, **case.refused.data)
    assert refused.value.rule == case.rule
    assert desk.state_of(order_id) == case.state


def test_claim_window_with_fixtures(order_factory: OrderFactory, clock: Clock) -> None:
    """R13: a claim 16 days after delivery is refused; the clock moves, nobody waits."""
    order = order_factory(state="delivered", amount="40.00")
    clock.advance(days=16)
    with pytest.raises(EventRejected) as refused:
        order.open_claim(reason="damaged_in_transit", amount="40.00", at=clock.now)
    assert refused.value.rule == "R13"


class DeskInStep(ReferenceMachine):
    """Hypothesis drives the desk and the reference machine with the same steps."""

    compare_rules = True  # a refusal must name the rule the reference names (its `rule`)
    refusal_errors = (Refused,)  # the desk's own refusal; anything else fails the run

    def create(self, start: Start) -> None:
        self.desk, self.order_id = OrderDesk(), start.order_id
        self.desk.create(start)

    def send(self, step: Step) -> None:
        self.desk.handle(self.order_id, step.event, step.at, **step.data)

    def service_state(self) -> str:
        return self.desk.state_of(self.order_id)


TestDeskInStep = DeskInStep.TestCase
TestDeskInStep.settings = settings(max_examples=20, stateful_step_count=8, deadline=None)
