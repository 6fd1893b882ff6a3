"""The runtime (statemachine.runtime._machine): one engine per policy, and a direct path that
takes the engine's own transitions and gives exactly what the engine's Event.trigger gives."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transitions import Machine

from statemachine import EVENTS, EventRejected, InvalidInput, Order, OrderError, Policy, machine_for
from statemachine.declaration._money import minor_unit
from statemachine.declaration._table import TABLE
from statemachine.runtime._machine import _Apply, _Check, _Select, fire, moves_for
from statemachine.testing.paths import next_steps
from statemachine.testing.strategies import arbitrary_steps, starts, valid_paths, valid_steps

from . import strategies as s
from .helpers import VARIANTS, reach, t


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


# --------------------------------------------------------------------------------------------
# Asking before firing, and what kind of refusal it is

KIND_BY_RULE = {"R2": "state", "R14": "state", None: "state", "R5": "state", "R7": "state",
                "R8": "state", "R10": "state", "R12": "time", "R4": "time"}  # fmt: skip
"""In the RULES.md matrix (at t(5), data valid): what refuses each refused pair."""


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_state_refusal_of_the_matrix_has_its_kind(variant: str) -> None:
    """R2 R4 R5 R7 R8 R10 R12 R14: a state that does not take an event refuses it with kind
    'state'; a deadline not reached (R12 auto-close, R4 overdue) with kind 'time'."""
    for event in EVENTS:
        order = reach(variant)
        refusal = order.explain(event, at=t(5), **DATA.get(event, {}))
        if isinstance(refusal, EventRejected):
            assert refusal.kind == KIND_BY_RULE[refusal.rule], (variant, event, refusal.rule)


@pytest.mark.parametrize(
    ("variant", "event", "data", "rule", "kind"),
    [
        ("delivered", "open_claim", {"reason": "changed_mind", "amount": "1.00"}, "R8", "data"),
        ("delivered", "open_claim", {"reason": "damaged_in_transit", "amount": "0"}, "R11", "data"),
        ("delivered", "offer_goodwill_refund", {"amount": "100.00"}, "R10", "data"),
        ("refund_pending:cancellation", "settle_refund", {"amount": "1.00"}, "R5", "data"),
        ("refund_pending:claim", "settle_refund", {"amount": "99.00"}, "R11", "data"),
        ("cancelled", "reimburse_customer", {"amount": "101.00"}, "R11", "data"),
        ("delivered", "open_claim", {"reason": "damaged_in_transit", "amount": "1.00"}, "R13",
         "time"),
    ],
)  # fmt: skip
def test_data_and_time_refusals_have_their_kind(
    variant: str, event: str, data: dict[str, Any], rule: str, kind: str
) -> None:
    """R5 R8 R10 R11 R13: a rule broken by the event's data is kind 'data' (HTTP 422); a claim
    after its window is kind 'time'."""
    order = reach(variant)
    at = t(40) if rule == "R13" else t(5)
    with pytest.raises(EventRejected) as caught:
        order.fire(event, at=at, **data)
    assert (caught.value.rule, caught.value.kind) == (rule, kind)


def test_r16_is_a_time_refusal() -> None:
    """R16: an event before the last record is refused with kind 'time'."""
    order = reach("dispatched")
    refusal = order.explain("confirm_delivery", at=t(0))
    assert isinstance(refusal, EventRejected)
    assert (refusal.rule, refusal.kind) == ("R16", "time")


def _same(a: object, b: object) -> bool:
    return (type(a), str(a), getattr(a, "rule", None), getattr(a, "kind", None)) == (
        type(b),
        str(b),
        getattr(b, "rule", None),
        getattr(b, "kind", None),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), starts())
def test_explain_says_what_fire_would_do_and_changes_nothing(
    data: st.DataObject, start: Any
) -> None:
    """R1-R16: for random orders and random requests, explain() returns exactly the error
    fire() raises (type, message, rule, kind), or None when fire() accepts; explain changes
    nothing."""
    order = start.new_order()
    for _ in range(data.draw(st.integers(1, 8), label="length")):
        choices = [arbitrary_steps(around=order.paid_at)]
        if next_steps(order):
            choices.append(valid_steps(order))
        step = data.draw(st.one_of(*choices), label="step")
        event_id = data.draw(s.event_ids, label="event_id")
        before = order.to_dict()
        told = order.explain(step.event, at=step.at, event_id=event_id, **step.data)
        assert order.to_dict() == before
        raised: OrderError | None = None
        try:
            order.fire(step.event, at=step.at, event_id=event_id, **step.data)
        except (EventRejected, InvalidInput) as exc:
            raised = exc
        if raised is None:
            assert told is None
        else:
            assert _same(told, raised), (told, raised)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_paths(max_steps=6), st.integers(-48, 24 * 40))
def test_refusals_are_the_reasons_behind_allowed_events(path: Any, hours: int) -> None:
    """R2 R4 R7 R12 R13 R14 R16: refusals(at) names exactly the caller events allowed_events
    leaves out, each with the rule and kind fire() gives for it with well-formed data; a
    refusal naming no rule lists the events the state takes, which are allowed_events."""
    order = path.replay()
    last = order.history[-1].at if order.history else order.paid_at
    at = last + dt.timedelta(hours=hours)
    refused = order.refusals(at)
    allowed = order.allowed_events(at)
    callers = [e for e, spec in EVENTS.items() if not spec.clock]
    assert set(refused) | set(allowed) == set(callers)
    assert not set(refused) & set(allowed)
    unit = str(Decimal(1).scaleb(-minor_unit(order.currency)))
    data = {e: {k: unit if k == "amount" else v for k, v in d.items()} for e, d in DATA.items()}
    for event, refusal in refused.items():
        with pytest.raises(EventRejected) as caught:
            order.fire(event, at=at, **data.get(event, {}))
        assert (caught.value.rule, caught.value.kind) == (refusal.rule, refusal.kind)
        if refusal.rule is None:
            assert f"it takes now: {', '.join(allowed) or 'nothing'}." in str(refusal)


DATA: dict[str, dict[str, Any]] = {
    "dispatch": {"tracking_number": "LP9"},
    "open_claim": {"reason": "damaged_in_transit", "amount": "0.01"},
    "offer_goodwill_refund": {"amount": "0.01"},
    "reimburse_customer": {"amount": "0.01"},
}
