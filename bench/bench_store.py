"""Store throughput: ``apply`` through the machine against the same SQL statements run bare.

Run with ``make bench``. Every event is its own transaction. SQLite runs on a file with
``synchronous=FULL`` (WAL); PostgreSQL on ``ORDER_SM_BENCH_PG_DSN`` if set, else on a
throwaway server started here with its durable defaults (fsync on, synchronous_commit on).

Each writer owns its orders and sends each one a realistic life of six webhook events
(request and declined cancellation, dispatch, delivery, claim, settlement), each with an
event id. "bare" executes the statements ``apply`` executes (inbox claim, row read,
compare-and-swap update, log append, outbox insert) with parameters computed beforehand, so
the gap between the two is the price of the machine: loading and validating the order,
firing the event and serialising the result.

Usage: python bench/bench_store.py [--orders N] [--trials N] [--writers 1,8]
[--stores sqlite,postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "store"))
from pg_server import TempPostgres

from statemachine import Order
from statemachine.store import PostgresStore, SQLiteStore, clock_due_at

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


def _plan(order: Order, store: Any) -> list[dict[str, Any]]:
    """The parameters of each statement ``apply`` runs for the order's life, computed ahead."""
    steps = []
    for step, (event, data) in enumerate(LIFE):
        before_notes = len(order.notifications)
        version = step + 1
        eid = f"{order.order_id}:{step}"
        order.fire(event, at=_at(step), event_id=eid, **data)
        record = order.history[-1]
        pending = order.pending_refund
        repayment = pending.repayment_deadline if pending else None
        due = clock_due_at(order)
        steps.append(
            {
                "inbox": (order.order_id, eid, event, "bench"),
                "update": (
                    order.state,
                    version + 1,
                    store._ts(order.dispatch_deadline),
                    None if repayment is None else store._ts(repayment),
                    None if due is None else store._ts(due),
                    json.dumps(order.to_dict(), separators=(",", ":"), sort_keys=True),
                    order.order_id,
                    version,
                ),
                "log": (
                    order.order_id,
                    len(order.history),
                    record.event,
                    record.source,
                    record.dest,
                    store._ts(record.at),
                    eid,
                    "bench",
                    json.dumps(dict(record.data)),
                ),
                "outbox": [
                    (order.order_id, pos, n.kind, n.channel, store._ts(n.at), n.rule, n.message)
                    for pos, n in enumerate(order.notifications[before_notes:], before_notes)
                ],
            }
        )
    return steps


def run_bare(spec: Spec, prefix: str, count: int, start: Callable[[], None]) -> tuple[int, float]:
    """The same statements, one transaction per event, with no machine; (events, seconds)."""
    store = _open(spec)
    plans = []
    for order in _orders(prefix, count):
        store.add(order)
        plans.append((order.order_id, _plan(order, store)))
    pg = spec[0] == "postgres"
    if pg:
        from psycopg.types.json import Jsonb

    def q(sql: str) -> str:
        return sql.replace("?", "%s") if pg else sql

    claim = q(
        "INSERT INTO inbox (order_id, event_id, event, source) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (order_id, event_id) DO NOTHING"
    )
    load = q(
        "SELECT order_id, state, version, dispatch_deadline, repayment_deadline, due_at, body "
        "FROM orders WHERE order_id = ?"
    )
    swap = q(
        "UPDATE orders SET state = ?, version = ?, dispatch_deadline = ?, "
        "repayment_deadline = ?, due_at = ?, body = ? WHERE order_id = ? AND version = ?"
    )
    log = q(
        "INSERT INTO order_log (order_id, seq, event, from_state, to_state, at, event_id, "
        "source, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    queue = q(
        "INSERT INTO outbox (order_id, position, kind, channel, at, rule, message) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)"
    )

    def jsonish(params: tuple[Any, ...], index: int) -> tuple[Any, ...]:
        if not pg:
            return params
        values = list(params)
        values[index] = Jsonb(json.loads(values[index]))
        return tuple(values)

    for _, steps in plans:  # wrap the JSON once, outside the timing
        for s in steps:
            s["update"] = jsonish(s["update"], 5)
            s["log"] = jsonish(s["log"], 8)
    start()
    began = time.monotonic()
    for oid, steps in plans:
        for s in steps:
            with store._write() as tx:
                cur = tx.cur
                cur.execute(claim, s["inbox"])
                cur.execute(load, (oid,))
                cur.fetchone()
                cur.execute(swap, s["update"])
                assert cur.rowcount == 1
                cur.execute(log, s["log"])
                for row in s["outbox"]:
                    cur.execute(queue, row)
    took = time.monotonic() - began
    store.close()
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
        server = None
        if "postgres" in stores:
            dsn = os.environ.get("ORDER_SM_BENCH_PG_DSN")
            if not dsn:
                server = TempPostgres(durable=True).start()
                dsn = server.dsn
            specs["postgres"] = ("postgres", dsn)
        try:
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
