"""Concurrent writers on one order, on both stores, with real processes started together."""

from __future__ import annotations

import multiprocessing
from decimal import Decimal
from typing import Any

import pytest
from store_helpers import PAID, StoreSpec, new_order, open_store, raw

from statemachine import EVENTS, EventRejected, Order
from statemachine.store import ConcurrentUpdate, OrderExists, OrderStore

WORKERS = 8
ROUNDS = 3


def _run_together(target: Any, args: list[tuple[Any, ...]]) -> list[Any]:
    """One process per ``args`` entry; all pass a barrier together; their results."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(args))
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(barrier, results, *a)) for a in args]
    for p in procs:
        p.start()
    collected = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    return collected


def _outcome(
    store: OrderStore, order_id: str, event: str, event_id: str, **data: Any
) -> tuple[str, str, str]:
    try:
        applied = store.apply(order_id, event, at=PAID, event_id=event_id, **data)
    except EventRejected as exc:
        return (event, event_id, f"rejected {exc.rule}")
    except ConcurrentUpdate:
        return (event, event_id, "concurrent")
    return (event, event_id, "duplicate" if applied.duplicate else "applied")


def _racer(barrier: Any, results: Any, spec: StoreSpec, order_id: str, worker: int) -> None:
    store = open_store(spec)
    barrier.wait()
    if worker % 2 == 0:
        out = [_outcome(store, order_id, "dispatch", f"d{worker}", tracking_number=f"T{worker}")]
    else:
        out = [
            _outcome(store, order_id, "request_cancellation", f"r{worker}"),
            _outcome(store, order_id, "supplier_accepts_cancellation", f"a{worker}"),
        ]
    store.close()
    results.put(out)


def _check_consistent(
    store: OrderStore, spec: StoreSpec, order_id: str, applied: list[tuple[str, str]]
) -> None:
    """The stored order is the serial replay of its log; the log and the outbox agree with it."""
    order = store.get(order_id)
    log = store.history(order_id)
    seqs = [s for (s,) in raw(spec, "SELECT seq FROM order_log WHERE order_id = ?", (order_id,))]
    assert sorted(seqs) == list(range(1, len(log) + 1)), "gap or duplicate sequence number"
    # every applied event is in the log exactly once, and nothing else is
    assert sorted((e.event, e.event_id) for e in log) == sorted(applied)
    # the order is what the rules make of the log's events, fired one after the other
    # (the log holds instants; the order's history keeps the caller's time zone for messages)
    replay = new_order(order_id)
    assert len(order.history) == len(log)
    for entry, record in zip(log, order.history, strict=True):
        assert (entry.event, entry.from_state, entry.to_state, entry.at, entry.event_id) == (
            record.event,
            record.source,
            record.dest,
            record.at,
            record.event_id,
        )
        params = {p.name for p in EVENTS[entry.event].params}
        data = {k: v for k, v in entry.data.items() if k in params}
        replay.fire(entry.event, at=record.at, event_id=entry.event_id, **data)
    assert replay == order
    # each notification is queued exactly once, in its position
    rows = raw(spec, "SELECT position FROM outbox WHERE order_id = ? ORDER BY id", (order_id,))
    assert rows == [(i,) for i in range(len(order.notifications))]
    queued = [i.notification for i in store.outbox(limit=10_000) if i.order_id == order_id]
    assert queued == list(order.notifications)
    ids = raw(
        spec,
        "SELECT count(*) FROM order_log WHERE order_id = ? AND event_id IS NOT NULL",
        (order_id,),
    )
    assert ids == [(len(log),)]


def _allowed_final(events: list[str], state: str) -> bool:
    """R2/R3/R7: the final state is the one the first winning events lead to."""
    if events[0] == "dispatch":  # R2: no cancellation once dispatched
        return state == "dispatched" and set(events) == {"dispatch"}
    if "supplier_accepts_cancellation" in events:  # R3 accepted before any dispatch; R7 after
        accepted = events.index("supplier_accepts_cancellation")
        return "dispatch" not in events[:accepted] and state == "refund_pending"
    return state == "dispatched"  # R3: the pending request lapsed on dispatch


def test_dispatch_races_cancellation(store: OrderStore, spec: StoreSpec) -> None:
    """R2, R3, R7: 8 processes race dispatch against request+accept cancellation on one order;
    the outcome is a serial order of the winners, the log has no gap or duplicate seq, and
    each notification is in the outbox exactly once."""
    for rnd in range(ROUNDS):
        order_id = f"RACE-{rnd}"
        store.add(new_order(order_id))
        outcomes = _run_together(_racer, [(spec, order_id, w) for w in range(WORKERS)])
        flat = [o for out in outcomes for o in out]
        assert not [o for o in flat if o[2] in ("concurrent", "duplicate")]
        applied = [(event, eid) for event, eid, kind in flat if kind == "applied"]
        _check_consistent(store, spec, order_id, applied)
        events = [e.event for e in store.history(order_id)]
        assert _allowed_final(events, store.get(order_id).state), events


def _deliverer(barrier: Any, results: Any, spec: StoreSpec) -> None:
    store = open_store(spec)
    barrier.wait()
    results.put(_outcome(store, "AE-1", "request_cancellation", "webhook-1"))
    store.close()


def test_same_webhook_delivered_eight_times_concurrently_applies_once(
    store: OrderStore, spec: StoreSpec
) -> None:
    """R15, R6: 8 concurrent deliveries of one webhook: one applies, 7 are duplicates, one
    log row and one notification."""
    store.add(new_order())
    outcomes = _run_together(_deliverer, [(spec,)] * WORKERS)
    assert sorted(kind for *_, kind in outcomes) == ["applied"] + ["duplicate"] * (WORKERS - 1)
    _check_consistent(store, spec, "AE-1", [("request_cancellation", "webhook-1")])
    assert [i.notification.kind for i in store.outbox()] == ["cancellation_request_received"]


def _importer(barrier: Any, results: Any, spec: StoreSpec, worker: int) -> None:
    store = open_store(spec)
    orders = [Order.create(f"IMP-{i}", f"{10 + worker}.00", "USD", PAID) for i in range(300)]
    barrier.wait()
    try:
        out: tuple[str, object] = ("added", store.add_many(orders))
    except OrderExists as exc:
        out = ("exists", exc.order_id)
    store.close()
    results.put((worker, out))


def test_two_overlapping_imports_one_is_stored_whole(store: OrderStore, spec: StoreSpec) -> None:
    """Two processes import the same 300 ids at once: one import is stored whole, the other
    raises OrderExists naming the first id and adds nothing."""
    outcomes = dict(_run_together(_importer, [(spec, 0), (spec, 1)]))
    assert sorted(kind for kind, _ in outcomes.values()) == ["added", "exists"]
    winner = next(w for w, (kind, _) in outcomes.items() if kind == "added")
    assert outcomes[winner] == ("added", 300)
    assert outcomes[1 - winner] == ("exists", "IMP-0")
    assert {store.get(f"IMP-{i}").amount for i in range(300)} == {Decimal(f"{10 + winner}.00")}
    assert raw(spec, "SELECT count(*) FROM orders") == [(300,)]


def _sweeper(barrier: Any, results: Any, spec: StoreSpec, now: Any, limit: int) -> None:
    store = open_store(spec)
    barrier.wait()
    fired: list[tuple[str, str]] = []
    while batch := store.sweep(now, limit=limit):
        fired += [(a.order.order_id, a.result.event) for a in batch]
    store.close()
    results.put(fired)


@pytest.mark.parametrize("limit", [3, 40])
def test_two_sweepers_fire_each_clock_event_once(
    store: OrderStore, spec: StoreSpec, limit: int
) -> None:
    """R12, R4: two sweepers started together over the same due orders, each firing batches
    of ``limit`` in one transaction, fire each clock event exactly once (FOR UPDATE SKIP
    LOCKED on PostgreSQL, the write lock on SQLite); log and rows agree."""
    plain = [new_order(f"AE-{i}") for i in range(40)]
    accepted = [new_order(f"AC-{i}") for i in range(40)]
    for order in accepted:  # R4: the repayment window runs
        order.fire("request_cancellation", at=PAID)
        order.fire("supplier_accepts_cancellation", at=PAID)
    store.add_many(plain + accepted)
    now = PAID.replace(month=5)
    first, second = _run_together(_sweeper, [(spec, now, limit), (spec, now, limit)])
    assert not set(first) & set(second)
    expected = [(o.order_id, "dispatch_deadline_expired") for o in plain]
    expected += [(o.order_id, "repayment_overdue") for o in accepted]
    assert sorted(first + second) == sorted(expected)
    for order_id, event in expected:
        swept = [e.event for e in store.history(order_id) if e.source == "sweep"]
        assert swept == [event]
        assert raw(spec, "SELECT version FROM orders WHERE order_id = ?", (order_id,)) == [(2,)]
    assert store.sweep(now) == []


def test_postgres_sweeper_skips_orders_another_sweeper_holds(pg_dsn: str) -> None:
    """R12: while one sweeper holds due orders in its transaction, a second one skips them
    (FOR UPDATE SKIP LOCKED) instead of waiting or firing them twice."""
    import threading

    from statemachine.store import PostgresStore

    holder, other = PostgresStore(pg_dsn), PostgresStore(pg_dsn)
    try:
        for i in range(4):
            holder.add(new_order(f"AE-{i}", PAID.replace(day=2 + i)))
        now = PAID.replace(month=4)
        inside, release = threading.Event(), threading.Event()
        unit = holder._unit  # type: ignore[attr-defined]
        original = unit.append

        def stall(*args: Any) -> None:
            original(*args)
            inside.set()
            release.wait(30)

        unit.append = stall
        held: list[str] = []
        thread = threading.Thread(
            target=lambda: held.extend(a.order.order_id for a in holder.sweep(now, limit=2))
        )
        thread.start()
        assert inside.wait(30)
        skipped = [a.order.order_id for a in other.sweep(now)]
        release.set()
        thread.join(30)
        assert held == ["AE-0", "AE-1"]
        assert skipped == ["AE-2", "AE-3"]
        assert other.sweep(now) == []
    finally:
        release.set()
        holder.close()
        other.close()


def _meddling_store(pg_dsn: str, max_attempts: int, meddle_times: int) -> Any:
    """A PostgresStore whose loads are each followed, ``meddle_times`` times, by another
    writer's committed change to the same order (a real second connection)."""
    from statemachine.store import PostgresStore

    other = PostgresStore(pg_dsn)
    toggles = iter(["request_cancellation", "withdraw_cancellation"] * 10)

    store = PostgresStore(pg_dsn, max_attempts=max_attempts)
    unit = store._unit  # type: ignore[attr-defined]
    load = unit.load
    meddled = 0

    def meddling_load(cur: Any, order_id: str) -> Any:
        nonlocal meddled
        loaded = load(cur, order_id)
        if meddled < meddle_times:
            meddled += 1
            other.apply(order_id, next(toggles), at=PAID, source="other")
        return loaded

    unit.load = meddling_load
    return store, other


def test_lost_compare_and_swap_retries_on_fresh_data(pg_dsn: str) -> None:
    """R3: a writer whose version moved on retries on the fresh order: its dispatch then lands
    on the cancel_requested order the other writer made, and the request lapses."""
    store, other = _meddling_store(pg_dsn, max_attempts=3, meddle_times=1)
    try:
        store.add(new_order())
        applied = store.apply("AE-1", "dispatch", at=PAID, tracking_number="T1", event_id="d1")
        assert (applied.result.source, applied.order.state, applied.version) == (
            "cancel_requested",
            "dispatched",
            3,
        )
        assert [e.source for e in store.history("AE-1")] == ["other", None]
    finally:
        store.close()
        other.close()


def test_compare_and_swap_lost_every_time_raises_concurrent_update(pg_dsn: str) -> None:
    """A writer that loses every compare-and-swap gives up after max_attempts and writes
    nothing of its own: no log row, the other writer's changes intact."""
    store, other = _meddling_store(pg_dsn, max_attempts=3, meddle_times=99)
    try:
        store.add(new_order())
        with pytest.raises(ConcurrentUpdate) as err:
            store.apply("AE-1", "dispatch", at=PAID, tracking_number="T1", event_id="d1")
        assert (err.value.order_id, err.value.event, err.value.attempts) == ("AE-1", "dispatch", 3)
        assert [e.source for e in store.history("AE-1")] == ["other"] * 3
        assert store.get("AE-1").tracking_number is None
        spec: StoreSpec = ("postgres", pg_dsn)
        assert raw(spec, "SELECT count(*) FROM order_log WHERE event_id = 'd1'") == [(0,)]
    finally:
        store.close()
        other.close()
