"""The store interface on both stores: add, get, apply, history, outbox, ack and sweep."""

from __future__ import annotations

import datetime as dt

import pytest
from store_helpers import PAID, new_order

from statemachine import EventRejected, InvalidInput, Order
from statemachine.store import (
    ConcurrentUpdate,
    OrderExists,
    OrderStore,
    SQLiteStore,
    UnknownOrder,
    clock_due_at,
)

US = dt.timedelta(microseconds=1)


def test_add_then_get_round_trips(store: OrderStore) -> None:
    """A stored order reads back equal to what was added, at version 1."""
    order = new_order()
    assert store.add(order) == 1
    assert store.get("AE-1") == order
    assert isinstance(store, OrderStore)


def test_add_refuses_a_taken_id(store: OrderStore) -> None:
    """Adding a second order under a stored id raises OrderExists and keeps the first."""
    store.add(new_order())
    other = Order.create("AE-1", "99.00", "USD", PAID)
    with pytest.raises(OrderExists, match="AE-1"):
        store.add(other)
    assert store.get("AE-1").amount == new_order().amount


def test_apply_changes_state_logs_and_queues(store: OrderStore) -> None:
    """R6: apply moves the stored order, logs the transition and queues its notification."""
    store.add(new_order())
    applied = store.apply("AE-1", "request_cancellation", at=PAID, source="customer")
    assert (applied.order.state, applied.version, applied.seq) == ("cancel_requested", 2, 1)
    assert store.get("AE-1") == applied.order
    [entry] = store.history("AE-1")
    assert (entry.seq, entry.event, entry.from_state, entry.to_state, entry.source) == (
        1,
        "request_cancellation",
        "paid",
        "cancel_requested",
        "customer",
    )
    assert entry.at == PAID
    [item] = store.outbox()
    assert (item.order_id, item.position) == ("AE-1", 0)
    assert item.notification == applied.order.notifications[0]


def test_apply_passes_event_data_to_the_machine(store: OrderStore) -> None:
    """R1: dispatch data (the tracking number) reaches the order and the log."""
    store.add(new_order())
    store.apply("AE-1", "dispatch", at=PAID, tracking_number="LP00123")
    assert store.get("AE-1").tracking_number == "LP00123"
    assert store.history("AE-1")[0].data == {"tracking_number": "LP00123"}


def test_duplicate_event_id_changes_nothing(store: OrderStore) -> None:
    """R15: a webhook delivered twice is applied once; the second result is a duplicate."""
    store.add(new_order())
    first = store.apply("AE-1", "request_cancellation", at=PAID, event_id="wh-1")
    again = store.apply("AE-1", "request_cancellation", at=PAID, event_id="wh-1")
    assert not first.duplicate
    assert again.duplicate
    assert (again.version, again.seq) == (2, 1)
    assert len(store.history("AE-1")) == 1
    assert len(store.outbox()) == 1


def test_event_id_reused_for_another_event_is_invalid(store: OrderStore) -> None:
    """R15: the same event id with another event name is InvalidInput and writes nothing."""
    store.add(new_order())
    store.apply("AE-1", "request_cancellation", at=PAID, event_id="wh-1")
    with pytest.raises(InvalidInput, match="R15"):
        store.apply("AE-1", "withdraw_cancellation", at=PAID, event_id="wh-1")
    assert store.get("AE-1").state == "cancel_requested"
    assert len(store.history("AE-1")) == 1


def test_refused_event_writes_nothing(store: OrderStore) -> None:
    """R2: a refused cancellation raises EventRejected and leaves row, log and outbox."""
    store.add(new_order())
    store.apply("AE-1", "dispatch", at=PAID, tracking_number="LP1")
    with pytest.raises(EventRejected) as refused:
        store.apply("AE-1", "request_cancellation", at=PAID, event_id="wh-2")
    assert refused.value.rule == "R2"
    assert store.get("AE-1").state == "dispatched"
    assert [e.event for e in store.history("AE-1")] == ["dispatch"]
    assert store.outbox() == []
    # the refused delivery's id was not claimed: the same id may carry a valid event later
    again = store.apply("AE-1", "confirm_delivery", at=PAID, event_id="wh-2")
    assert not again.duplicate


def test_unknown_order_is_a_clear_error(store: OrderStore) -> None:
    """Reading or changing an order that is not stored raises UnknownOrder naming the id."""
    for call in (
        lambda: store.get("NOPE-1"),
        lambda: store.history("NOPE-1"),
        lambda: store.apply("NOPE-1", "request_cancellation", at=PAID, event_id="x"),
    ):
        with pytest.raises(UnknownOrder, match="NOPE-1") as err:
            call()
        assert err.value.field == "order_id"
    assert store.outbox() == []


def test_bad_input_is_refused_before_any_write(store: OrderStore) -> None:
    """R16: a naive datetime, a blank id or a bad limit is InvalidInput."""
    store.add(new_order())
    with pytest.raises(InvalidInput, match="timezone-aware"):
        store.apply("AE-1", "request_cancellation", at=dt.datetime(2026, 3, 2, 9))
    with pytest.raises(InvalidInput, match="order_id"):
        store.get(" ")
    with pytest.raises(InvalidInput, match="limit"):
        store.outbox(0)
    with pytest.raises(InvalidInput, match="unknown event"):
        store.apply("AE-1", "teleport", at=PAID)
    assert store.history("AE-1") == ()


def test_ack_removes_items_from_the_outbox_once(store: OrderStore) -> None:
    """R6: acknowledged notifications leave the outbox; acking twice counts once."""
    store.add(new_order("AE-1"))
    store.add(new_order("AE-2"))
    store.apply("AE-1", "request_cancellation", at=PAID)
    store.apply("AE-2", "request_cancellation", at=PAID)
    first, second = store.outbox()
    assert first.id < second.id
    assert store.outbox(limit=1) == [first]
    assert store.ack([first.id]) == 1
    assert store.ack([first.id]) == 0
    assert store.outbox() == [second]


def test_add_queues_history_an_order_brings(store: OrderStore) -> None:
    """R15: an order added with history has it logged and its event ids claimed."""
    order = new_order()
    order.fire("request_cancellation", at=PAID, event_id="wh-1")
    store.add(order, source="import")
    assert [(e.seq, e.source) for e in store.history("AE-1")] == [(1, "import")]
    assert [i.notification.kind for i in store.outbox()] == ["cancellation_request_received"]
    assert store.apply("AE-1", "request_cancellation", at=PAID, event_id="wh-1").duplicate


# ------------------------------------------------------------------------------------------
# Clock


def test_clock_due_at_is_when_tick_starts_firing() -> None:
    """R1/R12/R4: clock_due_at is the last moment tick fires nothing; a microsecond later it
    fires, until R4 has escalated once."""
    order = new_order()
    due = clock_due_at(order)
    assert due == order.dispatch_deadline
    assert order.tick(due) == []
    assert [r.event for r in order.tick(due + US)] == ["dispatch_deadline_expired"]
    repay = clock_due_at(order)
    assert order.pending_refund is not None
    assert repay == order.pending_refund.repayment_deadline
    assert order.tick(repay) == []
    assert [r.event for r in order.tick(repay + US)] == ["repayment_overdue"]
    assert clock_due_at(order) is None


def test_clock_due_at_follows_the_policy_switch_and_final_states() -> None:
    """R12 off: nothing is due on a paid order; R14: nothing is due in a final state."""
    from statemachine import Policy

    manual = Order.create("AE-9", "10.00", "USD", PAID, policy=Policy(auto_close_unshipped=False))
    assert clock_due_at(manual) is None
    order = new_order()
    order.fire("request_cancellation", at=PAID)
    order.fire("supplier_accepts_cancellation", at=PAID)
    order.fire("settle_refund", at=PAID)
    assert order.state == "cancelled"
    assert clock_due_at(order) is None


def test_sweep_fires_due_clock_events_once(store: OrderStore) -> None:
    """R12 and R4: sweep auto-closes an unshipped order, escalates later, and is idempotent."""
    store.add(new_order("AE-1"))
    store.add(new_order("AE-2"))
    store.apply("AE-2", "dispatch", at=PAID, tracking_number="LP2")
    deadline = store.get("AE-1").dispatch_deadline
    assert store.sweep(deadline) == []
    swept = store.sweep(deadline + US)
    assert [(a.order.order_id, a.result.event, a.version) for a in swept] == [
        ("AE-1", "dispatch_deadline_expired", 2)
    ]
    assert store.get("AE-1").state == "refund_pending"
    assert store.sweep(deadline + US) == []
    assert store.history("AE-1")[-1].source == "sweep"
    pending = store.get("AE-1").pending_refund
    assert pending is not None
    assert pending.repayment_deadline is not None
    later = pending.repayment_deadline + US
    assert [a.result.event for a in store.sweep(later)] == ["repayment_overdue"]
    assert store.sweep(later + dt.timedelta(days=30)) == []
    kinds = [i.notification.kind for i in store.outbox()]
    assert kinds == ["repayment_overdue"]


def test_sweep_respects_the_limit_oldest_deadline_first(store: OrderStore) -> None:
    """R12: sweep changes at most ``limit`` orders, the earliest deadline first."""
    for day in (3, 1, 2):
        store.add(new_order(f"AE-{day}", PAID + dt.timedelta(days=day)))
    far = PAID + dt.timedelta(days=60)
    assert [a.order.order_id for a in store.sweep(far, limit=2)] == ["AE-1", "AE-2"]
    assert [a.order.order_id for a in store.sweep(far, limit=2)] == ["AE-3"]
    assert store.sweep(far) == []


def test_sweep_leaves_orders_whose_last_event_is_later(store: OrderStore) -> None:
    """R16: a due order whose last event is dated after ``now`` is left for a later sweep."""
    store.add(new_order())
    deadline = store.get("AE-1").dispatch_deadline
    store.apply("AE-1", "request_cancellation", at=deadline + dt.timedelta(hours=2))
    assert store.sweep(deadline + dt.timedelta(hours=1)) == []
    assert [a.result.event for a in store.sweep(deadline + dt.timedelta(hours=3))] == [
        "dispatch_deadline_expired"
    ]


def test_apply_fires_a_clock_event_sent_by_the_caller(store: OrderStore) -> None:
    """R12: a caller's own scheduler may send the clock event through apply."""
    store.add(new_order())
    late = store.get("AE-1").dispatch_deadline + US
    applied = store.apply("AE-1", "dispatch_deadline_expired", at=late, source="scheduler")
    assert applied.order.state == "refund_pending"
    assert store.sweep(late) == []


# ------------------------------------------------------------------------------------------
# SQLite specifics


def test_sqlite_store_uses_wal_and_full_sync(tmp_path: object) -> None:
    """The SQLite file is in WAL mode with synchronous=FULL by default."""
    store = SQLiteStore(tmp_path / "o.db")  # type: ignore[operator]
    try:
        conn = store._db._conn  # type: ignore[attr-defined]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    finally:
        store.close()


def test_sqlite_busy_writer_raises_concurrent_update(tmp_path: object) -> None:
    """A writer that cannot get the write lock within the busy timeout writes nothing."""
    path = tmp_path / "o.db"  # type: ignore[operator]
    holder = SQLiteStore(path)
    holder.add(new_order())
    waiter = SQLiteStore(path, timeout=0.05)
    try:
        holder._db._conn.execute("BEGIN IMMEDIATE")
        with pytest.raises(ConcurrentUpdate, match="write lock"):
            waiter.apply("AE-1", "request_cancellation", at=PAID)
        holder._db._conn.rollback()
        assert waiter.apply("AE-1", "request_cancellation", at=PAID).version == 2
    finally:
        holder.close()
        waiter.close()


def test_max_attempts_must_be_positive(tmp_path: object) -> None:
    """A store needs at least one attempt per event."""
    with pytest.raises(InvalidInput, match="max_attempts"):
        SQLiteStore(tmp_path / "o.db", max_attempts=0)  # type: ignore[operator]
