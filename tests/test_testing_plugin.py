"""The pytest plugin (statemachine.testing.plugin): fixtures, the marker, the entry point."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from statemachine import EventRejected, InvalidInput, Policy
from statemachine.testing import DEFAULT_PAID_AT, refusal_cover, shortest_paths, transition_cover
from statemachine.testing.paths import Path
from statemachine.testing.plugin import Clock, OrderFactory

pytest_plugins = ["pytester"]


def test_clock_starts_at_the_default_payment_and_moves_only_when_told(clock: Clock) -> None:
    """The clock fixture is a controllable now: advance, past a deadline, never back."""
    assert clock.now == DEFAULT_PAID_AT
    assert clock.advance(hours=5) == DEFAULT_PAID_AT + dt.timedelta(hours=5)
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(dt.timedelta(minutes=-1))
    deadline = DEFAULT_PAID_AT + dt.timedelta(days=3)
    assert clock.past(deadline) > deadline
    assert clock() == clock.now


def test_clock_refuses_naive_moments() -> None:
    """R16: the clock, like the order, takes only timezone-aware datetimes."""
    with pytest.raises(InvalidInput):
        Clock(dt.datetime(2026, 3, 2, 10, 0))


def test_clock_tick_fires_r12_auto_close(order_factory: OrderFactory, clock: Clock) -> None:
    """R12: nothing is due before the dispatch deadline; just past it, the clock auto-closes."""
    order = order_factory()
    assert clock.tick(order) == []
    clock.past(order.dispatch_deadline)
    (result,) = clock.tick(order)
    assert result.event == "dispatch_deadline_expired"
    assert order.state == "refund_pending"


def test_order_factory_defaults(order_factory: OrderFactory, clock: Clock) -> None:
    """Defaults: 100.00 USD, paid at clock.now, default policy, unique ids per test."""
    a, b = order_factory(), order_factory()
    assert (a.amount, a.currency, a.paid_at, a.state) == (
        Decimal("100.00"),
        "USD",
        clock.now,
        "paid",
    )
    assert a.order_id != b.order_id


def test_order_factory_overrides_any_field(order_factory: OrderFactory, clock: Clock) -> None:
    """Creation arguments and stored fields can be overridden; the result is validated."""
    policy = Policy(dispatch_business_days=2)
    order = order_factory(order_id="X-1", amount="7", currency="JPY", policy=policy)
    assert (order.order_id, order.amount, order.currency, order.policy) == (
        "X-1", Decimal("7"), "JPY", policy,
    )  # fmt: skip
    later = order.dispatch_deadline + dt.timedelta(days=30)
    assert order_factory(dispatch_deadline=later).dispatch_deadline == later
    with pytest.raises(InvalidInput):
        order_factory(state="delivered", delivered_at=None)  # a delivered order needs the date
    with pytest.raises(InvalidInput):
        order_factory(colour="red")


@pytest.mark.parametrize("state", [p.final_state for p in shortest_paths()])
def test_order_factory_state_drives_the_order_there(
    order_factory: OrderFactory, clock: Clock, state: str
) -> None:
    """state= replays the shortest path; the clock moves to its last event so tests go on."""
    order = order_factory(state=state)
    assert order.state == state
    last = order.history[-1].at if order.history else order.paid_at
    assert clock.now >= last


def test_order_factory_state_then_a_refusal(order_factory: OrderFactory, clock: Clock) -> None:
    """R2: an order made dispatched by the factory refuses a cancellation at clock.now."""
    order = order_factory(state="dispatched")
    with pytest.raises(EventRejected) as refused:
        order.request_cancellation(at=clock.advance(minutes=1))
    assert refused.value.rule == "R2"


def test_order_factory_rejects_unknown_state(order_factory: OrderFactory) -> None:
    """An unknown state name is InvalidInput naming the states."""
    with pytest.raises(InvalidInput, match="unknown state 'lost'"):
        order_factory(state="lost")


@pytest.mark.order_paths
def test_marker_parametrizes_over_transition_cover(path: Path) -> None:
    """The marker runs this once per covering path; each replays to its final state."""
    assert path in transition_cover()
    assert path.replay().state == path.final_state


def test_entry_point_loads_the_plugin_in_a_fresh_run(pytester: pytest.Pytester) -> None:
    """A new pytest process gets the fixtures and marker with no import and no conftest."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.order_paths(kind="refusals", argname="case")
        def test_refused(case):
            from statemachine import EventRejected
            order = case.replay()
            with pytest.raises(EventRejected) as e:
                case.refused.fire(order)
            assert e.value.rule == case.rule

        @pytest.mark.order_paths(kind="states")
        def test_states(path, order_factory):
            assert order_factory(state=path.final_state).state == path.final_state

        def test_clock(clock):
            assert clock.now.tzinfo is not None
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "--strict-markers")
    expected = len(refusal_cover()) + len(shortest_paths()) + 1
    result.assert_outcomes(passed=expected)
    result.stdout.no_fnmatch_line("*PytestUnknownMarkWarning*")


def test_marker_with_missing_argument_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """A marked test that does not take the parametrized argument fails with a clear error."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.order_paths(argname="case")
        def test_wrong(path):
            pass

        @pytest.mark.order_paths(kind="everything")
        def test_bad_kind(path):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        ["*parametrizes the argument 'case', which the test does not take*"]
    )
    assert result.ret != 0
