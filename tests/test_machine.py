"""The runtime (statemachine.machine): one engine per policy, and a direct path that takes the
engine's own transitions and gives exactly what the engine's Event.trigger gives."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transitions import Machine

from statemachine import EVENTS, EventRejected, InvalidInput, Order, Policy, machine_for
from statemachine.machine import _Apply, _Check, _Select, fire, moves_for
from statemachine.table import TABLE
from statemachine.testing.paths import next_steps
from statemachine.testing.strategies import arbitrary_steps, starts, valid_steps

from . import strategies as s
from .helpers import reach, t


def test_one_machine_per_policy_shared_by_every_order() -> None:
    """The engine is one transitions.Machine per policy, built once, holding no order."""
    first, second = reach("paid"), reach("delivered")
    machine = machine_for(first.policy)
    assert isinstance(machine, Machine)
    assert machine is machine_for(second.policy)
    assert machine is machine_for(Policy())
    assert machine.models == []
    assert machine_for(Policy(auto_close_unshipped=False)) is not machine


def test_orders_get_no_bound_methods_and_no_auto_transitions() -> None:
    """Orders stay plain: no trigger or to_<state> methods appear on them, and the machine has
    no auto transitions."""
    order = reach("refunded")
    assert not hasattr(order, "__dict__")  # slotted: nothing can be bound onto it
    assert not any(name.startswith(("to_paid", "may_", "trigger")) for name in dir(order))
    assert set(machine_for(order.policy).events) == set(EVENTS)


def test_engine_holds_the_rows_guards_and_effects_in_table_order() -> None:
    """R8 R13 R11 R9: the engine's open_claim transition holds the row's guards as conditions
    in table order and its effects as after-callbacks; the direct path reads exactly those."""
    machine = machine_for(Policy())
    (transition,) = machine.events["open_claim"].transitions["delivered"]
    funcs = [c.func for c in transition.conditions]
    assert all(isinstance(f, _Check) for f in funcs)
    assert [f.guard.rule for f in funcs] == ["R8", "R13", "R11"]
    assert [a.effect.name for a in transition.after if isinstance(a, _Apply)] == [
        "open_claim_refund"
    ]
    (move,) = moves_for(Policy())[("delivered", "open_claim")]
    assert [g.rule for g in move.guards] == ["R8", "R13", "R11"]
    assert move.dest == transition.dest == "refund_pending"


def test_moves_are_the_engine_transitions_of_every_row() -> None:
    """R12: the direct path knows a (state, event) exactly when a row of the policy has it; with
    auto-close off there is no dispatch_deadline_expired move."""
    for policy in (Policy(), Policy(auto_close_unshipped=False)):
        pairs = {(src, row.event) for row in TABLE.rows_for(policy) for src in row.sources}
        assert set(moves_for(policy)) == pairs
    assert ("paid", "dispatch_deadline_expired") not in moves_for(
        Policy(auto_close_unshipped=False)
    )


def test_selectors_sit_before_the_guards_in_the_engine() -> None:
    """R5: in refund_pending, settle_refund has two engine transitions chosen by selectors; a
    cancellation refund takes the one to cancelled, a claim refund the one to refunded."""
    machine = machine_for(Policy())
    transitions = machine.events["settle_refund"].transitions["refund_pending"]
    assert type(transitions[0].conditions[0].func) is _Select
    assert [tr.dest for tr in transitions] == ["cancelled", "refunded"]
    assert reach("refund_pending:cancellation").settle_refund(at=t(5)).dest == "cancelled"
    assert reach("refund_pending:claim").settle_refund(at=t(5)).dest == "refunded"


def _outcome(order: Order, step: Any, event_id: str | None, via_engine: bool) -> object:
    try:
        result = fire(order, step.event, step.at, event_id, step.data, via_engine=via_engine)
    except (EventRejected, InvalidInput) as exc:
        return (type(exc).__name__, str(exc), getattr(exc, "rule", None))
    return result


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), starts())
def test_direct_path_equals_the_engines_trigger(data: st.DataObject, start: Any) -> None:
    """R1-R16: random sequences, valid and wrong, give the same results, refusals (rule and
    message) and orders whether run directly or through transitions' Event.trigger."""
    direct = start.new_order()
    engine = start.new_order()
    for _ in range(data.draw(st.integers(1, 10), label="length")):
        choices = [arbitrary_steps(around=direct.paid_at)]
        if next_steps(direct):  # a final state may offer nothing more
            choices.append(valid_steps(direct))
        step = data.draw(st.one_of(*choices), label="step")
        event_id = data.draw(s.event_ids, label="event_id")
        assert _outcome(direct, step, event_id, False) == _outcome(engine, step, event_id, True)
        assert direct == engine
        assert direct.to_dict() == engine.to_dict()


def test_no_log_record_on_the_hot_path(caplog: pytest.LogCaptureFixture) -> None:
    """R15: firing, refusing and replaying events writes no log record, even at DEBUG."""
    order = reach("paid")
    with caplog.at_level(logging.DEBUG):
        order.dispatch(tracking_number="LP1", at=t(1), event_id="wh-1")
        order.dispatch(tracking_number="LP1", at=t(1), event_id="wh-1")
        with pytest.raises(EventRejected):
            order.request_cancellation(at=t(2))
        order.confirm_delivery(at=t(2))
    assert caplog.records == []


def test_an_effect_that_fails_leaves_the_order_as_it_was() -> None:
    """R13 R16: a delivery on the last day of year 9999 cannot open a claim window (its end is
    past what a datetime holds): InvalidInput naming `at`; record_delivery had already set
    delivered_at and the state had moved, yet the order is put back exactly as it was."""
    order = Order.create("AE-9", "10.00", "USD", dt.datetime(9999, 12, 1, tzinfo=dt.UTC))
    order.dispatch(tracking_number="LP1", at=dt.datetime(9999, 12, 2, tzinfo=dt.UTC))
    before = json.dumps(order.to_dict(), sort_keys=True)
    with pytest.raises(InvalidInput, match="outside the years 1 to 9999") as caught:
        order.confirm_delivery(at=dt.datetime(9999, 12, 31, tzinfo=dt.UTC))
    assert caught.value.field == "at"
    assert json.dumps(order.to_dict(), sort_keys=True) == before
    assert order.state == "dispatched" and order.delivered_at is None


def test_duplicate_lookup_is_right_for_copies_sharing_an_index() -> None:
    """R15: two copies of one order fire different event ids; each knows only its own ids as
    duplicates, although a shallow copy shares the id index of the original."""
    first = reach("paid")
    first.dispatch(tracking_number="LP1", at=t(1), event_id="wh-1")
    second = copy.copy(first)
    first.confirm_delivery(at=t(2), event_id="wh-2")
    second.confirm_delivery(at=t(3), event_id="wh-3")
    assert first.confirm_delivery(at=t(4), event_id="wh-2").duplicate
    assert second.confirm_delivery(at=t(4), event_id="wh-3").duplicate
    with pytest.raises(EventRejected):  # wh-3 is new to the first copy: a second delivery
        first.confirm_delivery(at=t(4), event_id="wh-3")
    assert [r.event_id for r in first.history] == ["wh-1", "wh-2"]
    assert [r.event_id for r in second.history] == ["wh-1", "wh-3"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([f"id-{i}" for i in range(5)]), min_size=1, max_size=12))
def test_duplicate_lookup_matches_a_scan_of_the_history(ids: list[str]) -> None:
    """R15: after any sequence of keyed reimbursements, each id is a duplicate exactly when a
    scan of the history finds it, and a duplicate changes nothing."""
    order = reach("cancelled")
    for i, event_id in enumerate(ids):
        seen = any(r.event_id == event_id for r in order.history)
        before = order.to_dict()
        result = order.reimburse_customer(amount="0.01", at=t(5, i), event_id=event_id)
        assert result.duplicate is seen
        if seen:
            assert order.to_dict() == before
