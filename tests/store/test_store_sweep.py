"""sweep on both stores: due orders fired in one batch, and what a corrupt row does to it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import PAID, StoreSpec, new_order, open_store, raw, set_head

from statemachine import Order
from statemachine.store import CorruptOrder, OrderStore, clock_due_at

LATER = PAID + dt.timedelta(days=60)
"""Past every R1 dispatch deadline and every R4 repayment deadline of orders paid at PAID."""


def _corrupt(spec: StoreSpec, order_id: str) -> list[tuple[object, ...]]:
    """Make the head of ``order_id`` unreadable; the row as it then is."""
    set_head(spec, order_id, "[]")
    return _row(spec, order_id)


def _row(spec: StoreSpec, order_id: str) -> list[tuple[object, ...]]:
    cast = "" if spec[0] == "sqlite" else "::text"
    return raw(
        spec,
        f"SELECT state, version, due_at, head{cast} FROM orders WHERE order_id = ?",
        (order_id,),
    )


def _accepted(order_id: str) -> Order:
    """An order whose cancellation was accepted at PAID: R4's repayment window runs."""
    order = new_order(order_id)
    order.fire("request_cancellation", at=PAID)
    order.fire("supplier_accepts_cancellation", at=PAID)
    return order


def test_sweep_fires_a_batch_and_writes_what_tick_would(store: OrderStore, spec: StoreSpec) -> None:
    """R12, R4: one sweep fires every due order of its batch with source "sweep"; rows, log,
    versions and seq numbers are those of tick on the same orders, and a fresh store reads
    them back equal."""
    orders = [new_order(f"AE-{i}", PAID + dt.timedelta(hours=i)) for i in range(4)]
    orders += [_accepted(f"AC-{i}") for i in range(3)]
    store.add_many(orders)
    swept = store.sweep(LATER, limit=50)
    expected = []
    for order in orders:
        version, seq = 1, len(order.history)
        for result in order.tick(LATER):
            seq += 1
            expected.append((order.order_id, result.event, version + 1, seq))
    assert sorted((a.order.order_id, a.result.event, a.version, a.seq) for a in swept) == sorted(
        expected
    )
    fresh = open_store(spec)
    try:
        for order in orders:
            assert fresh.get(order.order_id) == order == store.get(order.order_id)
            entries = fresh.history(order.order_id)
            assert [(e.event, e.source) for e in entries[-1:]] == [
                (order.history[-1].event, "sweep")
            ]
    finally:
        fresh.close()
    assert store.sweep(LATER, limit=50) == []


def test_a_corrupt_row_does_not_hold_back_the_others(store: OrderStore, spec: StoreSpec) -> None:
    """R12: corrupt due rows in the middle of a batch are passed over and never overwritten;
    the other due orders are fired and committed, and the result's skipped names the corrupt
    ones with their CorruptOrder; after a repair the next sweep fires it."""
    store.add_many(new_order(f"AE-{i}", PAID + dt.timedelta(hours=i)) for i in range(6))
    good_head = _row(spec, "AE-2")[0][3]
    corrupt_rows = {oid: _corrupt(spec, oid) for oid in ("AE-2", "AE-4")}
    swept = store.sweep(LATER)
    assert len(swept) == 4
    assert [(s.order_id, s.reason) for s in swept.skipped] == [
        ("AE-2", "corrupt"),
        ("AE-4", "corrupt"),
    ]
    assert all(isinstance(s.error, CorruptOrder) for s in swept.skipped)
    for oid, before in corrupt_rows.items():
        assert _row(spec, oid) == before
        assert raw(spec, "SELECT count(*) FROM order_log WHERE order_id = ?", (oid,)) == [(0,)]
        with pytest.raises(CorruptOrder):  # history() checks the order as get() does
            store.history(oid)
    for oid in ("AE-0", "AE-1", "AE-3", "AE-5"):
        assert store.get(oid).state == "refund_pending"
        assert [e.event for e in store.history(oid)] == ["dispatch_deadline_expired"]
    assert isinstance(good_head, str)
    set_head(spec, "AE-2", good_head)
    again = store.sweep(LATER)
    assert [a.order.order_id for a in again] == ["AE-2"]
    assert [(s.order_id, s.reason) for s in again.skipped] == [("AE-4", "corrupt")]
    assert store.get("AE-2").state == "refund_pending"


def test_corrupt_rows_alone_fire_nothing(store: OrderStore, spec: StoreSpec) -> None:
    """A batch holding only corrupt rows writes nothing, and says so every time."""
    store.add_many([new_order("AE-1"), new_order("AE-2")])
    _corrupt(spec, "AE-1")
    _corrupt(spec, "AE-2")
    for _ in range(2):
        swept = store.sweep(LATER)
        assert swept == []
        assert [s.order_id for s in swept.skipped] == ["AE-1", "AE-2"]
    assert raw(spec, "SELECT count(*) FROM order_log") == [(0,)]


SETUPS = ("paid", "accepted", "dispatched", "settled")
LATE_EVENT: dict[str, tuple[str, dict[str, str]]] = {
    "paid": ("request_cancellation", {}),
    "accepted": ("reimburse_customer", {"amount": "1.00"}),
    "dispatched": ("confirm_delivery", {}),
    "settled": ("reimburse_customer", {"amount": "1.00"}),  # R7: a late fact in cancelled
}
"""An event each setup takes, sent dated after the sweep's ``now``."""


def _order(order_id: str, setup: str, paid_at: dt.datetime) -> Order:
    order = new_order(order_id, paid_at)
    if setup in ("accepted", "settled"):
        order.fire("request_cancellation", at=paid_at)
        order.fire("supplier_accepts_cancellation", at=paid_at)
    if setup == "settled":
        order.fire("settle_refund", at=paid_at)
    if setup == "dispatched":
        order.fire("dispatch", at=paid_at, tracking_number="LP1")
    return order


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    orders=st.lists(
        st.tuples(st.sampled_from(SETUPS), st.integers(0, 30 * 24), st.booleans(), st.booleans()),
        min_size=1,
        max_size=8,
    ),
    now_hours=st.integers(0, 60 * 24),
    limit=st.integers(1, 4),
)
def test_sweep_fires_what_tick_fires_and_nothing_else(
    spec: StoreSpec, orders: list[Any], now_hours: int, limit: int
) -> None:
    """R12, R4, R14, R16: on any mix of orders, some corrupt and some with an event after
    ``now``, sweeps at one ``now`` fire on each readable order exactly what tick fires in
    memory, once, however small ``limit``; corrupt rows are left as they are and reported
    while due."""
    with _empty_store(spec) as store:
        _sweep_like_tick(store, spec, orders, PAID + dt.timedelta(hours=now_hours), limit)


@contextmanager
def _empty_store(spec: StoreSpec) -> Iterator[OrderStore]:
    """A store on ``spec``'s database with every table dropped and made again."""
    for table in ("outbox_tries", "sessions", "order_log", "outbox", "orders", "schema_version"):
        raw(spec, f"DROP TABLE IF EXISTS {table}" + ("" if spec[0] == "sqlite" else " CASCADE"))
    if spec[0] == "postgres":
        raw(spec, "DROP FUNCTION IF EXISTS order_log_append_only() CASCADE")
    store = open_store(spec)
    try:
        yield store
    finally:
        store.close()


def _sweep_like_tick(
    store: OrderStore, spec: StoreSpec, orders: list[Any], now: dt.datetime, limit: int
) -> None:
    """Store ``orders`` (setup, hours after PAID, corrupt?, event after now?), sweep them at
    ``now`` until nothing is left to fire, and compare with tick on copies in memory."""
    mirror: dict[str, Order] = {}
    corrupt: set[str] = set()
    late: dict[str, str] = {}
    for i, (setup, hours, broken, after_now) in enumerate(orders):
        mirror[f"S-{i}"] = _order(f"S-{i}", setup, PAID + dt.timedelta(hours=hours))
        if broken:
            corrupt.add(f"S-{i}")
        elif after_now:
            late[f"S-{i}"] = setup
    store.add_many(mirror.values())
    for order_id, setup in late.items():  # R16: an event dated after now keeps it from firing
        order = mirror[order_id]
        event, data = LATE_EVENT[setup]
        at = max([now, order.paid_at, *(r.at for r in order.history)]) + dt.timedelta(hours=1)
        order.fire(event, at=at, **data)
        store.apply(order_id, event, at=at, **data)
    rows = {order_id: _corrupt(spec, order_id) for order_id in corrupt}
    due_corrupt = {oid for oid in corrupt if (due := clock_due_at(mirror[oid])) and due <= now}
    returned: list[tuple[str, str]] = []
    reported: set[str] = set()
    for _ in range(len(orders) + 1):
        swept = store.sweep(now, limit=limit)
        returned += [(a.order.order_id, a.result.event) for a in swept]
        reported |= {s.order_id for s in swept.skipped if s.reason == "corrupt"}
    assert reported <= due_corrupt
    assert bool(reported) == bool(due_corrupt)
    fired = [
        (order_id, entry.event)
        for order_id in mirror
        if order_id not in corrupt  # history() refuses a corrupt order, as get() does
        for entry in store.history(order_id)
        if entry.source == "sweep"
    ]
    assert set(returned) <= set(fired)
    expected = [
        (order_id, result.event)
        for order_id, order in mirror.items()
        if order_id not in corrupt and order_id not in late
        for result in order.tick(now)
    ]
    assert sorted(fired) == sorted(expected)
    for order_id, order in mirror.items():
        if order_id in corrupt:
            assert _row(spec, order_id) == rows[order_id]
        else:
            assert store.get(order_id) == order
