"""Hypothesis strategies and the ReferenceMachine base class (statemachine.testing)."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from statemachine import EventRejected, Order, OrderError
from statemachine.errors import CorruptOrder
from statemachine.testing import Path, Start, Step, transition_targets
from statemachine.testing.stateful import ReferenceMachine
from statemachine.testing.strategies import arbitrary_steps, starts, valid_paths, valid_steps

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(valid_paths())
def test_valid_paths_are_accepted_step_by_step(path: Path) -> None:
    """Every drawn valid path is accepted by a fresh order and ends in the state it says."""
    order = path.new_order()
    for step, state in zip(path, path.states, strict=True):
        step.fire(order)
        assert order.state == state
    assert set(path.covers) <= set(transition_targets())


@FAST
@given(st.data())
def test_valid_steps_respect_r11_caps(data: st.DataObject) -> None:
    """R11: drawn amounts are positive and every ledger stays within the amount paid."""
    path = data.draw(valid_paths(max_steps=8))
    order = path.replay()
    assert order.refunded_total <= order.amount
    assert order.customer_refunded_total <= order.amount
    for step in path:
        amount = step.data.get("amount")
        assert amount is None or amount > 0


@FAST
@given(valid_paths(max_steps=6), st.lists(arbitrary_steps(), max_size=8))
def test_arbitrary_steps_never_break_an_order(path: Path, junk: list[Step]) -> None:
    """Any event, data and time is applied or refused with an OrderError that changes nothing
    (R16 for bad times); the order always survives its JSON round trip."""
    order = path.replay()
    for step in junk:
        before = order.to_dict()
        try:
            step.fire(order)
        except OrderError:
            assert order.to_dict() == before
        assert Order.from_dict(order.to_dict()) == order


@FAST
@given(starts())
def test_starts_make_valid_orders(start: Start) -> None:
    """Drawn starts create orders in paid, paid at an aware moment, in the currency's unit."""
    order = start.new_order()
    assert order.state == "paid"
    assert order.paid_at.utcoffset() is not None
    assert order.amount > 0


@FAST
@given(st.data())
def test_valid_steps_of_a_paid_order_are_accepted(data: st.DataObject) -> None:
    """A drawn step for a fresh paid order is one of the rows paid offers, and is accepted."""
    order = Start().new_order()
    step = data.draw(valid_steps(order))
    assert step.event in {"request_cancellation", "dispatch", "dispatch_deadline_expired"}
    step.fire(order)


# --------------------------------------------------------------------------------------------
# ReferenceMachine against services, faithful and buggy


class Service:
    """A service holding a reference order, with knobs to make it wrong on purpose."""

    def __init__(self, start: Start) -> None:
        self.order = start.new_order()
        self.state: str = self.order.state

    def handle(self, step: Step) -> None:
        step.fire(self.order)
        self.state = self.order.state


class Faithful(ReferenceMachine):
    compare_rules = True

    def create(self, start: Start) -> None:
        self.service = Service(start)

    def send(self, step: Step) -> None:
        self.service.handle(step)

    def service_state(self) -> str:
        return self.service.state


class SettlesCancellationsAsRefunded(Faithful):
    """Bug: a settled cancellation refund is stored as refunded, not cancelled (R5/R6)."""

    def send(self, step: Step) -> None:
        super().send(step)
        if self.service.state == "cancelled":
            self.service.state = "refunded"


class AcceptsEverything(Faithful):
    """Bug: the service never refuses anything."""

    def send(self, step: Step) -> None:
        with contextlib.suppress(OrderError):
            super().send(step)


class NamesNoRule(Faithful):
    """Bug: refusals do not say which rule (compare_rules catches it)."""

    refusal_errors = (OrderError, ValueError)

    def send(self, step: Step) -> None:
        try:
            super().send(step)
        except EventRejected as exc:
            raise ValueError(str(exc)) from None


STATEFUL = settings(
    max_examples=60,
    stateful_step_count=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_faithful_service_passes() -> None:
    """A service that follows the rules passes the reference machine's run."""
    run_state_machine_as_test(Faithful, settings=STATEFUL)


@pytest.mark.parametrize(
    ("machine", "message"),
    [
        (
            SettlesCancellationsAsRefunded,
            "the service says 'refunded' but the rules give 'cancelled'",
        ),
        (AcceptsEverything, "the service accepted"),
        (NamesNoRule, "naming rule None"),
    ],
    ids=["wrong-state", "accepts-everything", "wrong-rule"],
)
def test_buggy_services_are_caught(machine: type[ReferenceMachine], message: str) -> None:
    """Each bug (wrong state, a refusal missing, a refusal naming no rule) fails the run
    (shrinking is skipped: finding the bug is what is tested; the run is derandomized and long
    enough that a refusal naming a rule always comes up, so the test cannot pass by luck)."""
    hunt = settings(STATEFUL, phases=[Phase.generate], max_examples=200, derandomize=True)
    with pytest.raises(AssertionError, match=message):
        run_state_machine_as_test(machine, settings=hunt)


class CrashesOnBadData(Faithful):
    """Bug: the service crashes with a TypeError on data it cannot handle."""

    def send(self, step: Step) -> None:
        if any(not isinstance(v, str | bool) for v in step.data.values()):
            raise TypeError("unhandled value")
        super().send(step)


def test_a_crashing_service_fails_instead_of_passing_as_a_refusal() -> None:
    """R11: refusal_errors defaults to RequestError, so a TypeError from the service fails the
    run rather than counting as a refusal."""
    hunt = settings(STATEFUL, phases=[Phase.generate], max_examples=200, derandomize=True)
    with pytest.raises(TypeError, match="unhandled value"):
        run_state_machine_as_test(CrashesOnBadData, settings=hunt)


class StoreFailsOnClaims(Faithful):
    """Bug: the service's store fails (a corrupt row) when a claim comes in."""

    def send(self, step: Step) -> None:
        if step.event == "open_claim":
            raise CorruptOrder("AE-1", "its head is not JSON", field="head")
        super().send(step)


def test_a_store_fault_fails_instead_of_passing_as_a_refusal() -> None:
    """R8: a StoreFault is the operator's problem, not a refusal of the rules: by default it
    fails the run (only RequestError counts as refused)."""
    hunt = settings(STATEFUL, phases=[Phase.generate], max_examples=300, derandomize=True)
    with pytest.raises(CorruptOrder, match="AE-1"):
        run_state_machine_as_test(StoreFailsOnClaims, settings=hunt)


@settings(max_examples=300, deadline=None)
@given(arbitrary_steps(json_only=True))
def test_json_only_steps_carry_only_what_json_can(step: Step) -> None:
    """R16: with json_only, arbitrary steps carry no Decimal, NaN or infinity: their data
    survive a JSON round trip unchanged."""
    assert json.loads(json.dumps(dict(step.data), allow_nan=False)) == dict(step.data)


def test_unimplemented_subclass_says_what_to_implement() -> None:
    """A subclass that forgot its hooks fails naming the method to write."""

    class Empty(ReferenceMachine):
        pass

    with pytest.raises(NotImplementedError, match=r"implement create\(start\)"):
        run_state_machine_as_test(Empty, settings=STATEFUL)
