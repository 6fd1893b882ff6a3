"""Generated paths (statemachine.testing.paths): 100% transition and refusal coverage,
measured against the table, and every generated step agrees with the reference machine."""

from __future__ import annotations

import copy
import datetime as dt
from collections import deque

import pytest

from statemachine import EventRejected, Order, Policy
from statemachine.declaration._checks import graph
from statemachine.declaration._table import CLOCK_EVENTS, FINAL_STATES, INITIAL_STATE, STATES, TABLE
from statemachine.testing import (
    Path,
    RefusalCase,
    Start,
    params,
    refusal_cover,
    refusal_targets,
    row_label,
    shortest_paths,
    transition_cover,
    transition_targets,
)
from statemachine.testing.paths import next_steps

POLICIES = [Policy(), Policy(auto_close_unshipped=False)]
POLICY_IDS = ["default", "auto-close-off"]


def _taken(path: Path) -> list[str]:
    """Replay ``path`` and name the row the reference machine takes at each step."""
    order = path.new_order()
    labels = []
    for step in path:
        (row,) = TABLE.candidates(order, step.event)
        labels.append(row_label(row, order.state))
        step.fire(order)
    return labels


@pytest.mark.parametrize("policy", POLICIES, ids=POLICY_IDS)
def test_transition_cover_takes_every_row_from_every_source(policy: Policy) -> None:
    """100% transition coverage: every (row, source) of the table is taken by some path."""
    targets = set(transition_targets(policy))
    assert len(targets) == sum(len(t.sources) for t in TABLE.rows_for(policy))
    taken = {label for path in transition_cover(policy=policy) for label in _taken(path)}
    assert taken == targets


@pytest.mark.parametrize("policy", POLICIES, ids=POLICY_IDS)
def test_refusal_cover_hits_every_declared_refusal(policy: Policy) -> None:
    """100% refusal coverage: every (state, event, rule) the table declares refused is hit,
    and every rule a guard enforces refuses some case."""
    cases = refusal_cover(policy=policy)
    hit = {c.target for c in cases} | {("*", "*", c.rule) for c in cases if c.rule}
    missing = refusal_targets(policy) - hit
    assert not missing, f"refusals no generated case hits: {sorted(map(str, missing))}"


def test_transition_cover_includes_clock_events_and_the_r7_incident() -> None:
    """Clock events fire past their deadlines and a dispatch after cancellation records R7."""
    events = {e for p in transition_cover() for e in p.events}
    assert set(CLOCK_EVENTS) <= events
    incidents = [i.kind for p in transition_cover() for i in p.replay().incidents]
    assert "dispatched_after_cancellation" in incidents


def test_clock_steps_are_dated_just_past_the_deadline_the_order_holds() -> None:
    """R12: the auto-close step comes right after the R1 deadline, not at a guessed time."""
    for path in transition_cover():
        order = path.new_order()
        for step in path:
            if step.event == "dispatch_deadline_expired":
                assert step.at > order.dispatch_deadline
                assert step.at - order.dispatch_deadline < dt.timedelta(seconds=1)
            step.fire(order)


@pytest.mark.parametrize("path", params(transition_cover()))
def test_transition_path_is_accepted_step_by_step(path: Path) -> None:
    """Every step of a covering path is accepted and leads to the state the path says."""
    order = path.new_order()
    for step, state in zip(path, path.states, strict=True):
        result = step.fire(order)
        assert not result.duplicate
        assert order.state == state
    assert order.state == path.final_state


@pytest.mark.parametrize("case", params(refusal_cover()))
def test_refusal_case_is_refused_with_its_rule(case: RefusalCase) -> None:
    """The refused step raises EventRejected naming the expected rule and changes nothing."""
    order = case.replay()
    assert order.state == case.state
    before = copy.deepcopy(order.to_dict())
    with pytest.raises(EventRejected) as caught:
        case.refused.fire(order)
    assert caught.value.rule == case.rule
    assert caught.value.state == case.state
    assert order.to_dict() == before


def test_refusal_cases_in_final_states_name_r14() -> None:
    """R14: every event without a row in a final state is refused under R14."""
    finals = [c for c in refusal_cover() if c.state in FINAL_STATES and c.kind == "state"]
    assert finals
    assert {c.rule for c in finals} == {"R14"}


def test_refusal_cover_includes_guard_refusals_of_r7_and_r5() -> None:
    """R7 (early reimbursement with a claim pending) and R5 (decline a cancellation refund)."""
    by_id = {c.id: c for c in refusal_cover()}
    assert by_id["refund_pending[claim_refund]:reimburse_customer->R7:supplier_can_no_longer_ship"]
    assert by_id["refund_pending[cancellation_refund]:decline_claim->R5:not_a_cancellation_refund"]


def _distances() -> dict[str, int]:
    edges, dist = graph(TABLE.rows_for(Policy())), {INITIAL_STATE: 0}
    todo = deque([INITIAL_STATE])
    while todo:
        state = todo.popleft()
        for nxt in edges.get(state, ()):
            if nxt not in dist:
                dist[nxt] = dist[state] + 1
                todo.append(nxt)
    return dist


def _reached_within(depth: int) -> set[str]:
    """States any sequence of at most ``depth`` admitted steps reaches (no pruning)."""
    reached, level = {"paid"}, [Start().new_order()]
    for _ in range(depth):
        nxt = []
        for order in level:
            for _row, step in next_steps(order):
                child = copy.copy(order)
                step.fire(child)
                reached.add(child.state)
                nxt.append(child)
        level = nxt
    return reached


def test_shortest_paths_are_as_short_as_the_table_allows() -> None:
    """Each state's path ends there, is no shorter than the table's route (graph distance),
    and no shorter sequence of admitted steps reaches it (exhaustive search)."""
    dist = _distances()
    paths = shortest_paths()
    assert [p.final_state for p in paths] == list(STATES)
    for path in paths:
        assert len(path) >= dist[path.final_state]
        assert path.replay().state == path.final_state
        if len(path):
            assert path.final_state not in _reached_within(len(path) - 1)


def test_ids_are_unique_and_readable() -> None:
    """Ids feed pytest.mark.parametrize: unique, and naming the events or the refusal."""
    for items in (shortest_paths(), transition_cover(), refusal_cover()):
        ids = [str(i) for i in items]
        assert len(ids) == len(set(ids))
    assert str(shortest_paths()[3]).startswith("to-cancelled:")
    assert all(" " not in i.id for i in refusal_cover())


def test_paths_follow_the_start_they_are_given() -> None:
    """Data come from the order: amounts within a JPY order's caps, its own currency unit."""
    start = Start("JP-1", "3000", "JPY")
    for path in transition_cover(start=start):
        order = path.replay()
        assert order.currency == "JPY"
        assert order.refunded_total <= order.amount
        assert order.customer_refunded_total <= order.amount


def test_generated_steps_stay_within_r11_caps() -> None:
    """R11: every generated amount is positive and within the order's caps at that point."""
    for path in transition_cover():
        for step in path:
            amount = step.data.get("amount")
            if amount is not None:
                assert amount > 0
        order: Order = path.replay()
        assert order.refunded_total <= order.amount
