"""Store throughput: ``apply`` through the machine against the same SQL statements run bare.

Run with ``make bench``. Every event is its own transaction. SQLite runs on a file with
``synchronous=FULL`` (WAL); PostgreSQL on ``ORDER_SM_BENCH_PG_DSN`` if set, else on a
throwaway server started here with its durable defaults (fsync on, synchronous_commit on), in
a schema of its own (``CREATE SCHEMA``, dropped afterwards), so the bench never opens or
migrates tables already in that database.

Each writer owns its orders and sends each one a realistic life of six webhook events
(request and declined cancellation, dispatch, delivery, claim, settlement), each with an
event id. The orders are added through ``store.add`` first, by the same store object, so
``apply`` finds each in its cache of checked orders (a warm store: at most 1,024 orders per
writer) and reads only the order's row.

"bare" executes, in one transaction per event (``BEGIN IMMEDIATE`` on SQLite, as ``apply``),
exactly the statements ``apply`` executes on that warm store under schema 3: the row read
(``SELECT ... FROM orders WHERE order_id = ?``), the compare-and-swap
(``UPDATE orders ... WHERE order_id = ? AND version = ?``), the log append
(``INSERT INTO order_log``) and the outbox insert (``INSERT INTO outbox (order_id, position)
... ON CONFLICT DO NOTHING``, only for an event that makes notifications), with parameters
computed beforehand by the store's own ``Rows`` (``derived``, ``head``, ``log_row``). The
statements are written out in ``bench/store_sql.py``; the run stops if they differ from the
store's (``statemachine/store/_unit.py``), and
afterwards a fresh store object reads every bare order back through the machine, so the bare
rows are the very orders ``apply`` stores. The gap between the two is the price of the
machine and the store's own work: checking the arguments, copying the checked order out of the
cache, firing the event, computing the rows' values, logging and counting.

Usage: python bench/bench_store.py [--orders N] [--trials N] [--writers 1,8]
[--stores sqlite,postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "store"))
import store_sql as sql
from pg_server import TempPostgres
from report import postgres_schema

from statemachine import Order
from statemachine.store import PostgresStore, SQLiteStore
from statemachine.store._rows import Rows

PAID = dt.datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
LIFE: tuple[tuple[str, dict[str, Any]], ...] = (
    ("request_cancellation", {}),
    ("supplier_declines_cancellation", {}),
    ("dispatch", {"tracking_number": "LP00012345"}),
    ("confirm_delivery", {}),
    ("open_claim", {"reason": "damaged_in_transit", "amount": "5.00"}),
    ("settle_refund", {}),
)

Spec = tuple[str, str]


def _orders(prefix: str, count: int) -> list[Order]:
    return [Order.create(f"{prefix}-{i}", "25.00", "USD", PAID) for i in range(count)]


def _at(step: int) -> dt.datetime:
    return PAID + dt.timedelta(hours=step)


def _open(spec: Spec) -> SQLiteStore | PostgresStore:
    kind, target = spec
    return SQLiteStore(target, synchronous="FULL") if kind == "sqlite" else PostgresStore(target)


# ------------------------------------------------------------------------------------------
# The two writers


def run_apply(spec: Spec, prefix: str, count: int, start: Callable[[], None]) -> tuple[int, float]:
    """Send every order its life through ``store.apply``; (events, seconds)."""
    store = _open(spec)
    for order in _orders(prefix, count):
        store.add(order)
    start()
    began = time.monotonic()
    for i in range(count):
        oid = f"{prefix}-{i}"
        for step, (event, data) in enumerate(LIFE):
            store.apply(oid, event, at=_at(step), event_id=f"{oid}:{step}", **data)
    took = time.monotonic() - began
    store.close()
    return count * len(LIFE), took


@attrs.frozen
class Step:
    """The parameters of one event's statements, computed ahead."""

    swap: str
    """``SWAP``, or ``SWAP_WITH_HEAD`` when the event changed the order's calendar warnings."""
    row: tuple[Any, ...]
    log: list[tuple[Any, ...]]
    queue: list[tuple[Any, ...]]


def _plan(order: Order, rows: Rows) -> list[Step]:
    """The parameters of the statements ``apply`` runs for each event of the order's life
    (``order`` as stored at version 1, fired here), as ``Rows`` computes them for the store."""
    steps = []
    for step, (event, data) in enumerate(LIFE):
        history_from, notes_from, warnings = (
            len(order.history),
            len(order.notifications),
            order.warnings,
        )
        version = step + 1
        order.fire(event, at=_at(step), event_id=f"{order.order_id}:{step}", **data)
        derived = rows.derived(order)
        if order.warnings is warnings:
            swap, row = sql.SWAP, (version + 1, *derived, order.order_id, version)
        else:
            head = rows.head(order)
            swap, row = sql.SWAP_WITH_HEAD, (version + 1, *derived, head, order.order_id, version)
        log = [
            rows.log_row(order.order_id, seq, record, None)  # apply's source: None
            for seq, record in enumerate(order.history[history_from:], start=history_from + 1)
        ]
        queue = [(order.order_id, pos) for pos in range(notes_from, len(order.notifications))]
        steps.append(Step(swap, row, log, queue))
    return steps


def run_bare(spec: Spec, prefix: str, count: int, start: Callable[[], None]) -> tuple[int, float]:
    """The same statements, one transaction per event, with no machine; (events, seconds).

    Afterwards (outside the timing) a fresh store object reads every order back through the
    machine: the bare rows must be the very orders ``apply`` would have stored."""
    store = _open(spec)
    db = store._db
    rows = Rows(db)
    orders = _orders(prefix, count)
    plans = []
    for order in orders:
        store.add(order)
        plans.append((order.order_id, _plan(order, rows)))
    start()
    began = time.monotonic()
    for oid, steps in plans:
        for s in steps:
            with db.write() as tx:  # SQLite: BEGIN IMMEDIATE, as apply
                tx.cur.execute(db.q(sql.LOAD), (oid,))
                tx.cur.fetchone()
                if tx.run(s.swap, [s.row], db) != 1:
                    raise AssertionError(f"{oid}: the compare-and-swap missed")
                tx.run(sql.APPEND, s.log, db)
                tx.run(sql.QUEUE, s.queue, db)
    took = time.monotonic() - began
    store.close()
    with _open(spec) as check:
        for order in orders:
            if check.get(order.order_id).to_dict() != order.to_dict():
                raise AssertionError(f"{order.order_id}: the bare rows read back differently")
    return count * len(LIFE), took


RUNNERS = {"apply": run_apply, "bare": run_bare}


# ------------------------------------------------------------------------------------------
# Many writers at once


def _worker(runner: str, spec: Spec, prefix: str, count: int, barrier: Any, out: Any) -> None:
    events, _ = RUNNERS[runner](spec, prefix, count, barrier.wait)
    out.put((events, time.monotonic()))


def measure(runner: str, spec: Spec, writers: int, count: int, tag: str) -> float:
    """Events per second of ``writers`` processes started together, each on its own orders."""
    if writers == 1:
        events, took = RUNNERS[runner](spec, tag, count, lambda: None)
        return events / took
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(writers + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(runner, spec, f"{tag}w{w}", count, barrier, out))
        for w in range(writers)
    ]
    for p in procs:
        p.start()
    barrier.wait()
    began = time.monotonic()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return sum(e for e, _ in results) / (max(end for _, end in results) - began)


@contextmanager
def _databases(stores: list[str]) -> Iterator[dict[str, Spec]]:
    with tempfile.TemporaryDirectory(prefix="order-sm-bench-") as folder:
        specs: dict[str, Spec] = {}
        if "sqlite" in stores:
            specs["sqlite"] = ("sqlite", str(Path(folder) / "bench.db"))
        if "postgres" not in stores:
            yield specs
            return
        dsn = os.environ.get("ORDER_SM_BENCH_PG_DSN")
        server = None
        if not dsn:
            server = TempPostgres(durable=True).start()
            dsn = server.dsn
        try:
            with postgres_schema(dsn, "bench_store") as schema:
                specs["postgres"] = ("postgres", schema)
                yield specs
        finally:
            if server is not None:
                server.stop()


def main(argv: list[str] | None = None) -> None:
    """Measure and print one table: events/s per store, writer count and path."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=50, help="orders per writer and trial")
    parser.add_argument("--trials", type=int, default=5, help="alternating trials (median)")
    parser.add_argument("--writers", default="1,8", help="writer counts, comma separated")
    parser.add_argument("--stores", default="sqlite,postgres", help="sqlite, postgres or both")
    args = parser.parse_args(argv)
    if args.orders > SQLiteStore._CACHE_SIZE:
        parser.error(
            f"--orders is at most {SQLiteStore._CACHE_SIZE}: each writer's store object must "
            "keep all its orders in its cache (a warm store), as the bare path assumes"
        )
    sql.check()
    stores = args.stores.split(",")
    writer_counts = [int(w) for w in args.writers.split(",")]
    rows = []
    with _databases(stores) as specs:
        for name, spec in specs.items():
            _open(spec).close()  # create the schema before writers race to
            for writers in writer_counts:
                trials: dict[str, list[float]] = {"bare": [], "apply": []}
                for _ in range(args.trials):  # alternate, so disk noise hits both alike
                    for runner, found in trials.items():
                        tag = f"{runner}{writers}r{time.monotonic_ns()}"
                        found.append(measure(runner, spec, writers, args.orders, tag))
                rows.append(
                    (
                        name,
                        writers,
                        statistics.median(trials["apply"]),
                        statistics.median(trials["bare"]),
                    )
                )
    print(
        f"\nstore throughput: median of {args.trials} alternating trials, {args.orders} orders "
        f"x {len(LIFE)} events per writer per trial, one transaction per event, "
        f"{os.cpu_count()} cores"
    )
    print("| store | writers | apply events/s | bare SQL events/s | apply / bare |")
    print("|---|---:|---:|---:|---:|")
    for name, writers, apply_rate, bare_rate in rows:
        print(
            f"| {name} | {writers} | {apply_rate:,.0f} | {bare_rate:,.0f} | "
            f"{apply_rate / bare_rate:.2f} |"
        )
    sqlite_one = [r for r in rows if r[0] == "sqlite" and r[1] == 1]
    if sqlite_one:
        ratio = sqlite_one[0][2] / sqlite_one[0][3]
        verdict = "meets" if ratio >= 0.5 else "MISSES"
        print(f"\nSQLite, 1 writer: apply runs at {ratio:.0%} of bare SQL ({verdict} the 50% goal)")


if __name__ == "__main__":
    main()
