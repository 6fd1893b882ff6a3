"""The runtime is a value: two tables run side by side in one process, each order by its own.

:data:`VARIANT` is the shipped table with two rules changed the way a second definition of the
order's life would change them: the clock never auto-closes an unshipped order (R12 forbids
``dispatch_deadline_expired`` outright instead of the policy switch deciding), and the merchant
may reimburse the customer once the order is delivered (R7 forbids it only before delivery).
"""

from __future__ import annotations

import copy
import datetime as dt
import pickle
from typing import Any, Final

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statemachine import EventRejected, InvalidInput, Order, Policy
from statemachine.declaration._guards import explain_early_reimbursement
from statemachine.declaration._spec import Context, Objection, Prohibition, Table
from statemachine.declaration._table import (
    CANCEL_REQUESTED,
    CANCELLED,
    DELIVERED,
    DISPATCHED,
    PAID,
    TABLE,
)
from statemachine.runtime import _machine as machine
from statemachine.runtime._machine import Runtime, machine_for, moves_for, runtime_for
from statemachine.runtime._serialize import FORMAT_VERSION, replay
from statemachine.store import clock_due_at
from statemachine.store._cache import ValidatedOrders
from statemachine.testing.paths import Start, Step, next_steps
from statemachine.testing.strategies import arbitrary_steps, starts, valid_steps

from . import strategies as s
from .helpers import PAID_AT, reach, t

END_OF_R1: Final = dt.datetime.fromisoformat("2026-03-11T23:59:59.999999+08:00")


def _no_auto_close(order: Any, ctx: Context) -> Objection:
    return Objection(
        f"this table closes no unshipped order by the clock; order {order.order_id} stays open "
        "until the supplier ships it or a cancellation is agreed.",
        {"state": order.state},
    )


VARIANT: Final = attrs.evolve(
    TABLE,
    rows=tuple(
        attrs.evolve(row, sources=(DELIVERED.name, *row.sources))
        if row.event == "reimburse_customer" and CANCELLED.name in row.sources
        else row
        for row in TABLE.rows
        if row.event != "dispatch_deadline_expired"
    ),
    prohibitions=(
        *(
            p
            for p in TABLE.prohibitions
            if p.event not in ("dispatch_deadline_expired", "reimburse_customer")
        ),
        Prohibition(
            "reimburse_customer",
            (PAID, CANCEL_REQUESTED, DISPATCHED),
            "R7",
            explain_early_reimbursement,
        ),
        Prohibition("dispatch_deadline_expired", (PAID, CANCEL_REQUESTED), "R12", _no_auto_close),
    ),
)
"""The shipped table without the clock's auto-close, and with reimbursements after delivery."""

TABLES: Final = (TABLE, VARIANT)


def _order(table: Table, order_id: str = "AE-1") -> Order:
    return Order.create(order_id, "100.00", "USD", PAID_AT, table=table)


def _delivered(table: Table) -> Order:
    order = _order(table)
    order.dispatch(tracking_number="LP1", at=t(1))
    order.confirm_delivery(at=t(2))
    return order


# --------------------------------------------------------------------------------------------
# The runtime of a table


def test_the_variant_is_a_sound_table_with_a_runtime_of_its_own() -> None:
    """R7 R12: the variant passes check_table under both R12 switches; each (table, policy)
    has one runtime, built once, whose engine and moves machine_for and moves_for return."""
    for policy in (Policy(), Policy(auto_close_unshipped=False)):
        mine, shipped = runtime_for(VARIANT, policy), runtime_for(TABLE, policy)
        assert isinstance(mine, Runtime) and mine is not shipped and mine != shipped
        assert mine is runtime_for(VARIANT, Policy(**attrs.asdict(policy, recurse=False)))
        assert mine.table is VARIANT and shipped.table is TABLE
        assert machine_for(policy, VARIANT) is mine.engine is not machine_for(policy)
        assert moves_for(policy, VARIANT) is mine.moves
        assert moves_for(policy) is shipped.moves
        assert ("paid", "dispatch_deadline_expired") not in mine.moves
        assert ("delivered", "reimburse_customer") in mine.moves
        assert ("delivered", "reimburse_customer") not in shipped.moves


def test_each_order_carries_its_table_outside_its_json_form() -> None:
    """R14: an order's table is set at creation (the shipped one by default), compared by
    identity, not shown by repr and not written by to_dict, whose layout does not change."""
    shipped, mine = _order(TABLE), _order(VARIANT)
    assert Order.create("AE-1", "100.00", "USD", PAID_AT).table is TABLE
    assert mine.table is VARIANT and mine.runtime is runtime_for(VARIANT, mine.policy)
    named = shipped.to_dict()
    assert named.pop("definition") == shipped.definition == "orders@1"
    assert named == mine.to_dict()  # a table that is no registered version is not named
    assert mine.definition is None
    assert "table" not in mine.to_dict() and mine.to_dict()["format_version"] == FORMAT_VERSION
    assert shipped != mine
    assert _order(attrs.evolve(VARIANT)) != mine  # the same rows, another table
    assert "table" not in repr(mine) and repr(shipped) == repr(mine)
    with pytest.raises(InvalidInput, match="table must be a Table") as caught:
        Order.begin("AE-1", "100.00", "USD", PAID_AT, table=object())  # type: ignore[arg-type]
    assert caught.value.field == "table"


def test_copies_and_pickles_keep_the_table_and_not_the_runtime() -> None:
    """R15: copies, deep copies, attrs.evolve (the store's cache) and pickles of an order keep
    its very table; a pickle holds the shipped table by reference and no runtime."""
    mine = _delivered(VARIANT)
    assert mine.runtime is runtime_for(VARIANT, mine.policy)
    for twin in (copy.copy(mine), copy.deepcopy(mine), attrs.evolve(mine)):
        assert twin == mine and twin.table is VARIANT
        twin.reimburse_customer(amount="10.00", at=t(3))
    cache = ValidatedOrders()
    cache.remember(mine, 1, "body")
    recalled = cache.recall("AE-1", 1, "body")
    assert recalled is not None and recalled.table is VARIANT
    shipped = _delivered(TABLE)
    shipped.runtime  # noqa: B018 - found, and kept beside the order
    again = pickle.loads(pickle.dumps(shipped))
    assert again == shipped and again.table is TABLE
    assert not {"_runtime", "table"} & set(shipped.__getstate__())
    assert mine.__getstate__()["table"] is VARIANT


# --------------------------------------------------------------------------------------------
# Every question answered from the order's own table


def test_refusals_and_allowed_events_come_from_the_orders_table() -> None:
    """R7: two orders delivered by the same events: the shipped table refuses a customer
    reimbursement (R7) and does not list it; the variant lists it and refuses nothing more."""
    shipped, mine = _delivered(TABLE), _delivered(VARIANT)
    assert shipped.allowed_events(t(3)) == ("open_claim", "offer_goodwill_refund")
    assert mine.allowed_events(t(3)) == (
        "open_claim",
        "offer_goodwill_refund",
        "reimburse_customer",
    )
    refused = shipped.refusals(t(3))
    assert refused["reimburse_customer"].rule == "R7"
    assert set(refused) - set(mine.refusals(t(3))) == {"reimburse_customer"}
    assert machine.allowed_events(mine, t(3)) == mine.allowed_events(t(3))
    assert machine.refusals(mine, t(3)).keys() == mine.refusals(t(3)).keys()


def test_a_prohibition_refusal_names_the_rule_and_takes_of_the_orders_table() -> None:
    """R12: past the R1 deadline, dispatch_deadline_expired closes the shipped table's order
    but is forbidden by the variant's R12 prohibition; an event no rule forbids lists what each
    table takes now."""
    shipped, mine = _order(TABLE), _order(VARIANT)
    before = mine.explain("dispatch_deadline_expired", at=t(20))
    assert shipped.explain("dispatch_deadline_expired", at=t(20)) is None
    assert isinstance(before, EventRejected) and before.rule == "R12" and before.kind == "state"
    assert "closes no unshipped order by the clock" in str(before)
    early = shipped.explain("dispatch_deadline_expired", at=t(2))
    assert isinstance(early, EventRejected) and (early.rule, early.kind) == ("R12", "time")
    with pytest.raises(EventRejected, match="R12: this table closes no unshipped order"):
        mine.dispatch_deadline_expired(at=t(20))
    assert shipped.dispatch_deadline_expired(at=t(20)).dest == "refund_pending"

    shipped, mine = _delivered(TABLE), _delivered(VARIANT)
    takes = "it takes now: open_claim, offer_goodwill_refund"
    for order, listed in ((shipped, f"{takes}."), (mine, f"{takes}, reimburse_customer.")):
        refusal = order.explain("withdraw_cancellation", at=t(3))
        assert isinstance(refusal, EventRejected) and refusal.rule is None
        assert str(refusal).endswith(listed)
        ctx = Context("withdraw_cancellation", t(3))
        assert str(order.runtime.prohibited(order, ctx)) == str(refusal)


def test_the_clock_follows_the_orders_table() -> None:
    """R1 R12 R4: the shipped table's unshipped order is due at the R1 deadline and auto-closed
    by tick; the variant's is never due and tick fires nothing; both escalate an overdue
    repayment (R4), which neither table changed."""
    shipped, mine = _order(TABLE), _order(VARIANT)
    assert clock_due_at(shipped) == shipped.runtime.clock_due_at(shipped) == END_OF_R1
    assert clock_due_at(mine) is None and mine.runtime.clock_due_at(mine) is None
    assert machine.due_clock_event(shipped, t(20)) == "dispatch_deadline_expired"
    assert machine.due_clock_event(mine, t(20)) is None
    assert [r.event for r in shipped.tick(t(20))] == ["dispatch_deadline_expired"]
    assert mine.tick(t(20)) == [] and mine.state == "paid"
    for table in TABLES:
        order = _order(table)
        order.request_cancellation(at=t(1))
        order.supplier_accepts_cancellation(at=t(2))
        deadline = clock_due_at(order)
        assert order.pending_refund is not None and deadline is not None
        assert deadline == order.pending_refund.repayment_deadline
        assert order.tick(deadline) == []
        assert [r.event for r in order.tick(t(40))] == ["repayment_overdue"]


def test_each_order_fires_by_its_own_table() -> None:
    """R7: the variant's delivered order reimburses the customer (directly and through the
    engine alike); the shipped table's refuses it with R7 and stays as it was."""
    shipped, mine, engine = _delivered(TABLE), _delivered(VARIANT), _delivered(VARIANT)
    done = mine.reimburse_customer(amount="10.00", at=t(3))
    assert done == machine.fire(engine, "reimburse_customer", t(3), None, {"amount": "10.00"})
    assert engine == mine and engine.customer_refunded_total == 10
    via_engine = _delivered(VARIANT)
    machine.fire(via_engine, "reimburse_customer", t(3), None, {"amount": "10.00"}, via_engine=True)
    assert via_engine == mine
    before = shipped.to_dict()
    with pytest.raises(EventRejected, match=r"^R7: ") as caught:
        shipped.reimburse_customer(amount="10.00", at=t(3))
    assert caught.value.kind == "state" and shipped.to_dict() == before


def test_from_dict_and_replay_use_the_table_given() -> None:
    """R7 R12: a body only the variant produces reads back with table=VARIANT and is refused
    by the shipped table (R7); an auto-closed body of the shipped table is refused by the
    variant (R12); replay remakes an order by its own table."""
    mine = _delivered(VARIANT)
    mine.reimburse_customer(amount="10.00", at=t(3))
    body = mine.to_dict()
    back = Order.from_dict(body, table=VARIANT)
    assert back == mine and back.table is VARIANT
    with pytest.raises(InvalidInput, match=r"history\[2\]: the machine refuses it: R7: ") as no:
        Order.from_dict(body)
    assert no.value.field == "history[2]"
    again, results = replay(mine)
    assert again == mine and again.table is VARIANT
    assert [r.event for r in results] == ["dispatch", "confirm_delivery", "reimburse_customer"]

    closed = reach("paid")
    closed.tick(t(20))
    assert Order.from_dict(closed.to_dict()) == closed
    body = closed.to_dict()
    with pytest.raises(InvalidInput, match="definition: is orders@1, but the table given is"):
        Order.from_dict(body, table=VARIANT)  # the body names its version: not another table
    del body["definition"]
    with pytest.raises(InvalidInput, match=r"history\[0\]: the machine refuses it: R12: "):
        Order.from_dict(body, table=VARIANT)


def test_orders_of_two_tables_interleaved_in_one_loop_never_cross() -> None:
    """R1 R7 R12: orders of both tables take the same script in turn, one event each; every
    one ends where an order of its own table that ran the script alone ends."""
    script: list[tuple[str, dt.datetime, dict[str, object]]] = [
        ("dispatch", t(1), {"tracking_number": "LP1"}),
        ("confirm_delivery", t(2), {}),
        ("reimburse_customer", t(3), {"amount": "10.00"}),
        ("offer_goodwill_refund", t(4), {"amount": "20.00"}),
    ]
    orders = [_order(TABLES[i % 2], f"AE-{i}") for i in range(8)]
    shipping = orders[:4]  # the other four stay unshipped for the clock
    outcomes: dict[str, list[object]] = {o.order_id: [] for o in orders}
    for event, at, data in script:
        for order in shipping:
            outcomes[order.order_id].append(_try(order, event, at, data))
    for order in orders:
        outcomes[order.order_id].append(tuple(r.event for r in order.tick(t(20))))
    for order in orders:
        alone = _order(order.table, order.order_id)
        expected = [_try(alone, *step) for step in (script if order in shipping else ())]
        expected.append(tuple(r.event for r in alone.tick(t(20))))
        assert outcomes[order.order_id] == expected
        assert order == alone
    assert [o.state for o in orders] == [
        *("refund_pending",) * 4,
        "refund_pending",
        "paid",
        "refund_pending",
        "paid",
    ]
    assert [len(o.customer_refunds) for o in shipping] == [0, 1, 0, 1]


def _try(order: Order, event: str, at: object, data: dict[str, object]) -> object:
    try:
        return order.fire(event, at=at, **data)  # type: ignore[arg-type]
    except (EventRejected, InvalidInput) as exc:
        return (type(exc).__name__, str(exc), getattr(exc, "rule", None))


def _outcome(order: Order, step: Step, event_id: str | None) -> object:
    try:
        return step.fire(order, event_id=event_id)
    except (EventRejected, InvalidInput) as exc:
        return (type(exc).__name__, str(exc), getattr(exc, "rule", None))


@st.composite
def _reimbursements(draw: st.DrawFn, order: Order) -> Step:
    """A customer reimbursement of the whole amount paid, some hours after the last record."""
    last = order.history[-1].at if order.history else order.paid_at
    hours = draw(st.integers(min_value=0, max_value=24 * 20))
    return Step(
        "reimburse_customer", {"amount": str(order.amount)}, last + dt.timedelta(hours=hours)
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), starts())
def test_random_sequences_on_both_tables_agree_with_a_fresh_order_of_each(
    data: st.DataObject, start: Start
) -> None:
    """R1-R16: random steps (valid, wrong, reimbursements), each sent to an order of either
    table in turn, give what they give to a fresh order of that table alone, and each order
    reads back by its own table."""
    orders = {table: _start(start, table) for table in TABLES}
    shipped = orders[TABLE]
    sent: list[tuple[Step, str | None]] = []
    outcomes: dict[Table, list[object]] = {table: [] for table in TABLES}
    for _ in range(data.draw(st.integers(1, 10), label="length")):
        choices = [arbitrary_steps(around=start.paid_at), _reimbursements(shipped)]
        if next_steps(shipped):
            choices.append(valid_steps(shipped))
        step = data.draw(st.one_of(*choices), label="step")
        event_id = data.draw(s.event_ids, label="event_id")
        sent.append((step, event_id))
        for table, order in orders.items():
            outcomes[table].append(_outcome(order, step, event_id))
    for table, order in orders.items():
        alone = _start(start, table)
        assert [_outcome(alone, step, event_id) for step, event_id in sent] == outcomes[table]
        assert alone == order and alone.to_dict() == order.to_dict()
        assert Order.from_dict(order.to_dict(), table=table) == order


def _start(start: Start, table: Table) -> Order:
    return Order.create(
        start.order_id,
        start.amount,
        start.currency,
        start.paid_at,
        policy=start.policy,
        table=table,
    )
