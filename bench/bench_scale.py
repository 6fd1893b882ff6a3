"""Scale: a bulk import, a sweep and a long log check, against the bare SQL and the old way.

Run with ``make bench``; it writes its tables into ``bench/README.md`` between the markers
``<!-- bench:scale:start -->`` and ``<!-- bench:scale:end -->`` (and prints them).

* **Bulk import** of 100,000 new orders: ``store.add_many`` (one transaction) against the same
  statements sent bare (one transaction, ``executemany`` per batch of 1,000 orders as
  ``add_many`` sends them, parameters computed beforehand) and against ``store.add`` per order
  (one commit each, the only way before ``add_many``; measured on ``--old-add`` orders and
  scaled up, since at one fsync per order it takes a minute or more).
* **sweep** of 1,000 due orders among 100,000 stored, ``limit=1000``: this release against the
  baseline release (the package at ``--baseline``, taken with ``git archive`` and run from the
  same virtual environment) and the bare SQL (the same statements, parameters computed
  beforehand). Each run starts from a fresh copy of a database holding the same orders.
* **check_log** over 1,000,000 JSON lines of about 200,000 orders (a window of 1,000 orders open
  at a time; every order ends in a final state): this release against the baseline, each in a
  process of its own reading the file line by line; peak memory is the process's high-water
  resident size.

The bare SQL is what this release's store runs under schema 3 (``bench/store_sql.py``, checked
against the store's own statements at start): for the import, ``INSERT INTO orders (order_id,
version, head, state, dispatch_deadline, repayment_deadline, due_at) ... ON CONFLICT DO
NOTHING`` (and the log and outbox inserts, which orders just created do not need); for the
sweep, the due rows (``... WHERE due_at <= ? ORDER BY due_at LIMIT ?``, ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), their logs in one query (the sweeping store has not read them yet),
the compare-and-swaps, the new ``order_log`` rows and the ``outbox (order_id, position)``
rows, each as one batch. Parameters are computed by the store's own ``Rows``; a fresh store
object reads the bare orders back through the machine afterwards (every fired order of the
sweep, every 1,000th of the import), outside the timing.

Each release sweeps a database it built itself. A release reads only its own schema and older
ones: the baseline (schema 1) refuses a schema-3 database (``SchemaVersionError``), and this
release would migrate the baseline's to schema 3 on opening it, which is neither release's
sweep. So the sweep's source database is built twice, once by each release with its own code
in a process of its own (``add_many`` where the release has it, else ``add`` per order;
commits not waited for, since building is not timed), holding the same orders; every trial
sweeps a fresh copy of its release's source (``TEMPLATE`` on PostgreSQL), and the bare SQL
sweeps a copy of this release's. Both releases then do the same work: find the 1,000 due
orders through the ``due_at`` index, fire the same clock event on each and write the result
in one transaction. check_log needs no database: both releases read the same file.

SQLite runs on a file with ``synchronous=FULL``; PostgreSQL on ``ORDER_SM_BENCH_PG_DSN`` if set
(its user must be allowed to create databases), else on a throwaway local server started here
with its durable defaults.

Usage: python bench/bench_scale.py [--orders N] [--due N] [--records N] [--old-add N]
[--trials N] [--stores sqlite,postgres] [--baseline REV] [--no-readme]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import io
import itertools
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import report
import store_sql as sql

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASELINE = "2b1b15f"
"""The last commit before issue 8's scale work: add per order, sweep and check_log as they were."""

PAID = dt.datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
LATER_PAID = PAID + dt.timedelta(days=60)
NOW = PAID + dt.timedelta(days=30)
"""Past the R1 deadline of orders paid at PAID, before that of orders paid at LATER_PAID."""

Spec = tuple[str, str]


# ------------------------------------------------------------------------------------------
# Workers: run in a process of their own, against this release or the baseline's package


def worker_sweep(kind: str, target: str, limit: int) -> dict[str, Any]:
    """Time one ``sweep(NOW, limit)`` on the store at ``target``, once the process has made
    its calendars (a one-time cost of the first order, not of the sweep)."""
    from statemachine import Order
    from statemachine.store import PostgresStore, SQLiteStore

    warm = Order.create("W", "25.00", "USD", PAID)
    Order.from_dict(warm.to_dict()).tick(NOW)
    store = SQLiteStore(target) if kind == "sqlite" else PostgresStore(target)
    began = time.perf_counter()
    fired = store.sweep(NOW, limit=limit)
    took = time.perf_counter() - began
    store.close()
    return {"seconds": took, "fired": len(fired)}


def worker_populate(kind: str, target: str, due: int, total: int) -> dict[str, Any]:
    """Store ``total`` new orders at ``target`` (an empty database) with this process's
    release, its own code and schema: ``due`` of them paid at PAID (due at NOW), the rest at
    LATER_PAID. With ``add_many`` where the release has it, else ``add`` per order. Building
    the database is not measured, so commits are not waited for (SQLite ``synchronous=OFF``,
    PostgreSQL ``synchronous_commit=off``, this connection only)."""
    from statemachine.store import PostgresStore, SQLiteStore

    if kind == "sqlite":
        store = SQLiteStore(target, synchronous="OFF")
    else:
        from psycopg.conninfo import make_conninfo

        store = PostgresStore(make_conninfo(target, options="-csynchronous_commit=off"))
    orders = itertools.chain(
        (o for i in range(0, due, 1000) for o in new_orders(min(1000, due - i), "D", PAID, i)),
        (
            o
            for i in range(0, total - due, 1000)
            for o in new_orders(min(1000, total - due - i), "L", LATER_PAID, i)
        ),
    )
    began = time.perf_counter()
    if hasattr(store, "add_many"):
        stored = store.add_many(orders)
    else:
        stored = sum(store.add(order) for order in orders)
    took = time.perf_counter() - began
    store.close()
    return {"orders": stored, "seconds": took, "add_many": hasattr(store, "add_many")}


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM starts afresh at exec; ru_maxrss
    would still count the parent that forked the process."""
    try:
        with open("/proc/self/status", encoding="utf-8") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_check_log(path: str) -> dict[str, Any]:
    """Time ``check_log`` over the JSON lines at ``path``, and the process's peak memory."""
    from statemachine.testing import check_log

    before = peak_rss_mb()
    began = time.perf_counter()
    with open(path, encoding="utf-8") as lines:
        report = check_log(lines)
    took = time.perf_counter() - began
    return {
        "seconds": took,
        "peak_mb": peak_rss_mb(),
        "start_mb": before,
        "records": report.records,
        "orders": len(report.orders),
        "findings": len(report.findings()),
        "max_open": getattr(report, "max_open", None),
    }


WORKERS: dict[str, Callable[..., dict[str, Any]]] = {
    "populate": worker_populate,
    "sweep": worker_sweep,
    "check_log": worker_check_log,
}


def run_worker(package: Path | None, name: str, *args: object) -> dict[str, Any]:
    """Run a worker in a fresh process; ``package`` is a folder holding another release's
    ``statemachine`` (the baseline), ``None`` for this release."""
    env = dict(os.environ)
    if package is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(package), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, __file__, "--worker", name, *map(str, args)],
        env=env,
        cwd=tempfile.gettempdir(),
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    loaded = Path(result.pop("package")).resolve()
    expected = ROOT if package is None else package.resolve()
    if not loaded.is_relative_to(expected):
        raise RuntimeError(f"the {name} worker imported {loaded}, not the package in {expected}")
    return result


@contextmanager
def baseline_package(rev: str) -> Iterator[Path]:
    """The ``statemachine`` package as it was at ``rev``, in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="order-sm-baseline-") as folder:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "statemachine"],
            check=True,
            capture_output=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        yield Path(folder)


# ------------------------------------------------------------------------------------------
# Databases


@contextmanager
def postgres_server() -> Iterator[str]:
    """A DSN of a PostgreSQL server whose user may create databases."""
    dsn = os.environ.get("ORDER_SM_BENCH_PG_DSN")
    if dsn:
        yield dsn
        return
    sys.path.insert(0, str(ROOT / "tests" / "store"))
    from pg_server import TempPostgres

    server = TempPostgres(durable=True).start()
    try:
        yield server.dsn
    finally:
        server.stop()


class Databases:
    """Fresh, empty or copied, databases for one store kind."""

    def __init__(self, kind: str, folder: Path, pg_dsn: str | None) -> None:
        self.kind = kind
        self.folder = folder
        self.pg_dsn = pg_dsn
        self.made = itertools.count()

    def fresh(self, copy_of: Spec | None = None) -> Spec:
        """A new database: empty, or a copy of ``copy_of`` (closed, no open connection)."""
        n = next(self.made)
        if self.kind == "sqlite":
            path = self.folder / f"db{n}.sqlite"
            if copy_of is not None:
                shutil.copyfile(copy_of[1], path)
            return ("sqlite", str(path))
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        assert self.pg_dsn is not None
        name = f"scale_{os.getpid()}_{n}"
        template = f" TEMPLATE {conninfo_to_dict(copy_of[1])['dbname']}" if copy_of else ""
        with psycopg.connect(self.pg_dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}{template}")
        return ("postgres", make_conninfo(self.pg_dsn, dbname=name))

    def drop(self, spec: Spec) -> None:
        """Remove a database made here."""
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(spec[1] + suffix).unlink(missing_ok=True)
            return
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        with psycopg.connect(self.pg_dsn or "", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {conninfo_to_dict(spec[1])['dbname']}")


def open_store(spec: Spec) -> Any:
    from statemachine.store import PostgresStore, SQLiteStore

    return SQLiteStore(spec[1]) if spec[0] == "sqlite" else PostgresStore(spec[1])


# ------------------------------------------------------------------------------------------
# Bulk import


def new_orders(
    count: int, prefix: str = "A", paid: dt.datetime = PAID, first: int = 0
) -> list[Any]:
    """``count`` new orders, ``{prefix}-{first}`` on, made by this process's release."""
    from statemachine import Order

    return [
        Order.create(f"{prefix}-{i}", "25.00", "USD", paid) for i in range(first, first + count)
    ]


def import_plan(db: Any, orders: list[Any]) -> list[list[tuple[str, list[tuple[Any, ...]]]]]:
    """What ``add_many`` sends for ``orders``, computed ahead by the store's own ``Rows`` on
    ``db`` (a database of the same kind): per batch of ``SQLStore._ADD_BATCH`` orders, each
    statement with its rows (the orders' rows; their log and outbox rows, none for orders
    just created). The store runs a statement only when it has rows for it."""
    from statemachine.store import SQLStore
    from statemachine.store._rows import Rows

    rows = Rows(db)
    batches = []
    for first in range(0, len(orders), SQLStore._ADD_BATCH):
        batch = orders[first : first + SQLStore._ADD_BATCH]
        batches.append(
            [
                (
                    sql.INSERT_ORDER,
                    [(o.order_id, 1, rows.head(o), *rows.derived(o)) for o in batch],
                ),
                (
                    sql.APPEND,
                    [
                        rows.log_row(o.order_id, seq, record, "add")
                        for o in batch
                        for seq, record in enumerate(o.history, start=1)
                    ],
                ),
                (
                    sql.QUEUE,
                    [(o.order_id, pos) for o in batch for pos in range(len(o.notifications))],
                ),
            ]
        )
    return batches


def time_bare_import(
    spec: Spec, plan: list[list[tuple[str, list[tuple[Any, ...]]]]], orders: list[Any]
) -> float:
    """The statements of ``plan`` in one transaction, as ``add_many`` sends them
    (``executemany`` per batch); then, outside the timing, every 1,000th order read back
    through the machine by a fresh store object."""
    store = open_store(spec)
    db = store._db
    began = time.perf_counter()
    with db.write() as tx:
        for batch in plan:
            for statement, rows in batch:
                written = tx.run(statement, rows, db)
                if statement == sql.INSERT_ORDER and written != len(rows):
                    raise AssertionError(f"bare import: {written} of {len(rows)} rows inserted")
    took = time.perf_counter() - began
    store.close()
    with open_store(spec) as check:
        for order in orders[::1000]:
            if check.get(order.order_id).to_dict() != order.to_dict():
                raise AssertionError(f"bare import: {order.order_id} reads back differently")
    return took


def time_add_many(spec: Spec, orders: list[Any]) -> float:
    store = open_store(spec)
    began = time.perf_counter()
    store.add_many(orders)
    took = time.perf_counter() - began
    store.close()
    return took


def time_add_each(spec: Spec, orders: list[Any]) -> float:
    store = open_store(spec)
    began = time.perf_counter()
    for order in orders:
        store.add(order)
    took = time.perf_counter() - began
    store.close()
    return took


def bench_import(dbs: Databases, args: argparse.Namespace) -> dict[str, Any]:
    orders = new_orders(args.orders)
    probe = dbs.fresh()
    store = open_store(probe)
    plan = import_plan(store._db, orders)
    store.close()
    dbs.drop(probe)
    found: dict[str, list[float]] = {"add_many": [], "bare": []}
    for _ in range(args.trials):  # alternate, so disk noise hits both alike
        for name in ("bare", "add_many"):
            spec = dbs.fresh()
            open_store(spec).close()  # the schema, outside the timing
            if name == "bare":
                found[name].append(time_bare_import(spec, plan, orders))
            else:
                found[name].append(time_add_many(spec, orders))
            dbs.drop(spec)
    spec = dbs.fresh()
    open_store(spec).close()
    each = time_add_each(spec, orders[: args.old_add])
    dbs.drop(spec)
    return {
        "add_many": statistics.median(found["add_many"]),
        "bare": statistics.median(found["bare"]),
        "add_each": each * args.orders / args.old_add,
        "add_each_measured": args.old_add,
    }


# ------------------------------------------------------------------------------------------
# Sweep


def populate_for_sweep(dbs: Databases, package: Path | None, args: argparse.Namespace) -> Spec:
    """A database built by the release in ``package`` (``None``: this one), with its own code
    and schema: ``args.orders`` stored orders, of which ``args.due`` are due at NOW (closed)."""
    spec = dbs.fresh()
    result = run_worker(package, "populate", *spec, args.due, args.orders)
    assert result["orders"] == args.orders, result
    if spec[0] == "sqlite":  # fold the WAL into the file before copying it
        conn = sqlite3.connect(spec[1])
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    return spec


def time_bare_sweep(spec: Spec, args: argparse.Namespace) -> float:
    """The statements ``sweep(NOW, limit=args.due)`` runs on a store object that has not read
    the orders yet (as in the worker's fresh process), with the fired orders' rows computed
    ahead by the store's own ``Rows``: the due rows (locked on PostgreSQL), their logs in one
    query, the compare-and-swaps, the new log rows and outbox rows, each as one batch. Then,
    outside the timing, a fresh store object reads every fired order back through the
    machine."""
    from statemachine.store._rows import Rows

    store = open_store(spec)
    db = store._db
    rows = Rows(db)
    ids: list[str] = []
    swaps: dict[str, list[tuple[Any, ...]]] = {sql.SWAP: [], sql.SWAP_WITH_HEAD: []}
    log: list[tuple[Any, ...]] = []
    queue: list[tuple[Any, ...]] = []
    fired = new_orders(args.due, "D", PAID)
    for order in fired:
        history_from, notes_from, warnings = (
            len(order.history),
            len(order.notifications),
            order.warnings,
        )
        order.tick(NOW)
        ids.append(order.order_id)
        if order.warnings is warnings:
            swaps[sql.SWAP].append((2, *rows.derived(order), order.order_id, 1))
        else:
            head = rows.head(order)
            swaps[sql.SWAP_WITH_HEAD].append((2, *rows.derived(order), head, order.order_id, 1))
        log += [
            rows.log_row(order.order_id, seq, record, "sweep")
            for seq, record in enumerate(order.history[history_from:], start=history_from + 1)
        ]
        queue += [(order.order_id, pos) for pos in range(notes_from, len(order.notifications))]
    began = time.perf_counter()
    with db.write() as tx:
        tx.cur.execute(db.q(sql.DUE + db.lock_due), (db.ts(NOW), args.due))
        assert len(tx.cur.fetchall()) == args.due
        tx.cur.execute(db.q(sql.logs_of(len(ids))), ids)
        tx.cur.fetchall()
        written = sum(tx.run(statement, params, db) for statement, params in swaps.items())
        assert written == args.due, written
        tx.run(sql.APPEND, log, db)
        tx.run(sql.QUEUE, queue, db)
    took = time.perf_counter() - began
    store.close()
    with open_store(spec) as check:
        for order in fired:
            if check.get(order.order_id).to_dict() != order.to_dict():
                raise AssertionError(f"bare sweep: {order.order_id} reads back differently")
    return took


def bench_sweep(dbs: Databases, baseline: Path, args: argparse.Namespace) -> dict[str, Any]:
    packages = {"now": None, "baseline": baseline}
    sources = {
        release: populate_for_sweep(dbs, package, args) for release, package in packages.items()
    }
    found: dict[str, list[float]] = {"now": [], "baseline": [], "bare": []}
    for _ in range(args.trials):
        for name in found:
            spec = dbs.fresh(copy_of=sources["baseline" if name == "baseline" else "now"])
            if name == "bare":
                found[name].append(time_bare_sweep(spec, args))
            else:
                result = run_worker(packages[name], "sweep", *spec, args.due)
                assert result["fired"] == args.due, result
                found[name].append(result["seconds"])
            dbs.drop(spec)
    for source in sources.values():
        dbs.drop(source)
    return {name: statistics.median(times) for name, times in found.items()}


# ------------------------------------------------------------------------------------------
# check_log


def write_log(path: Path, records: int, window: int) -> tuple[int, int]:
    """JSON lines of orders whose lives end in a final state, ``window`` open at a time,
    round robin; about ``records`` lines. (lines, orders)."""
    from statemachine.testing import shortest_paths, transition_cover
    from statemachine.testing.log import log_of

    by_state = {p.final_state: p for p in shortest_paths()}
    refunded, cancelled, late = by_state["refunded"], by_state["cancelled"], transition_cover()[1]
    lives = []  # 5, 6, 3, 5 and 6 records: 5 a life on average
    for life in (refunded, late, cancelled, refunded, late):
        assert life.final_state in ("cancelled", "refunded")
        lives.append(log_of(life.replay(life.new_order("T"))))
    mean = sum(map(len, lives)) / len(lives)
    orders = round(records / mean)
    started = written = 0
    active: collections.deque[tuple[str, Iterator[dict[str, Any]]]] = collections.deque()
    with path.open("w", encoding="utf-8") as out:
        while started < orders or active:
            while started < orders and len(active) < window:
                order_id = f"L-{started}"
                life = lives[started % len(lives)]
                active.append((order_id, iter(life)))
                started += 1
            order_id, life_records = active.popleft()
            record = next(life_records, None)
            if record is None:
                continue
            n = written
            line = dict(record, order_id=order_id)
            if line["event"] != "created":
                line["event_id"] = f"{order_id}:{n}"
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
            written += 1
            active.append((order_id, life_records))
    return written, orders


def bench_check_log(folder: Path, baseline: Path, args: argparse.Namespace) -> dict[str, Any]:
    path = folder / "events.jsonl"
    lines, orders = write_log(path, args.records, args.window)
    results = {
        "now": run_worker(None, "check_log", path),
        "baseline": run_worker(baseline, "check_log", path),
    }
    for result in results.values():
        assert (result["records"], result["orders"]) == (lines, orders), result
        assert result["findings"] == results["now"]["findings"]
    path.unlink()
    return {"lines": lines, "orders": orders, **results}


# ------------------------------------------------------------------------------------------
# Report


def machine() -> str:
    """The machine line of the report, with the SQLite version."""
    return f"{report.machine()}, SQLite {sqlite3.sqlite_version}"


def markdown(results: dict[str, Any], args: argparse.Namespace, pg_version: str | None) -> str:
    def s(seconds: float) -> str:
        return f"{seconds:,.2f} s" if seconds < 100 else f"{seconds:,.0f} s"

    out = [
        "## Scale: bulk import, sweep, check_log",
        "",
        f"`{' '.join(['python', 'bench/bench_scale.py', *sys.argv[1:]])}` (run by `make bench`) "
        f"on {dt.date.today().isoformat()}: {machine()}"
        + (f", PostgreSQL {pg_version} (local, durable: fsync on)" if pg_version else "")
        + f". Medians of {args.trials} alternating trials where a trial count is given. "
        f"Baseline: the package at `{args.baseline}` (before issue 8), run from `git archive` "
        "in the same run, on the same orders; each release sweeps copies of a database it "
        "built itself, with its own code and schema. Bare SQL: the statements this release's "
        "store runs (schema 3), parameters computed beforehand.",
        "",
        f"**Bulk import of {args.orders:,} new orders.** `add` per order commits once per "
        f"order, so it was measured on {args.old_add:,} orders and scaled to {args.orders:,}.",
        "",
        "| store | `add_many` (one transaction) | bare SQL (one transaction) | `add` per order "
        "| `add_many` / bare | `add` per order / `add_many` |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, r in results["import"].items():
        out.append(
            f"| {kind} | {s(r['add_many'])} ({args.orders / r['add_many']:,.0f} orders/s) | "
            f"{s(r['bare'])} | {s(r['add_each'])} | {r['add_many'] / r['bare']:.1f}x | "
            f"{r['add_each'] / r['add_many']:.1f}x |"
        )
    out += [
        "",
        f"**sweep of {args.due:,} due orders among {args.orders:,} stored**, "
        f"`sweep(now, limit={args.due})`, each run on a fresh copy of a database holding the "
        "same orders, built by the release that sweeps it (the bare SQL: this release's).",
        "",
        "| store | `sweep` now | `sweep` at baseline | bare SQL | now / baseline | now / bare |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, r in results["sweep"].items():
        out.append(
            f"| {kind} | {r['now'] * 1000:,.0f} ms | {r['baseline'] * 1000:,.0f} ms | "
            f"{r['bare'] * 1000:,.0f} ms | {r['now'] / r['baseline']:.2f} | "
            f"{r['now'] / r['bare']:.1f}x |"
        )
    c = results["check_log"]
    out += [
        "",
        f"**check_log over {c['lines']:,} JSON lines of {c['orders']:,} orders** read from a "
        f"file, {args.window:,} orders open at a time, each in a process of its own; peak "
        "memory is the process's high-water resident size (`VmHWM`; the interpreter with the "
        f"package imported takes about {c['now']['start_mb']:,.0f} MB of it). Both report "
        f"the same {c['now']['findings']} findings.",
        "",
        "| check_log | seconds | peak memory | orders held in memory at most |",
        "|---|---:|---:|---:|",
        f"| now | {c['now']['seconds']:,.1f} | {c['now']['peak_mb']:,.0f} MB | "
        f"{c['now']['max_open']:,} |",
        f"| baseline | {c['baseline']['seconds']:,.1f} | {c['baseline']['peak_mb']:,.0f} MB | "
        f"{c['orders']:,} (all) |",
    ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="stored / imported orders")
    parser.add_argument("--due", type=int, default=1_000, help="orders due at the sweep")
    parser.add_argument("--records", type=int, default=1_000_000, help="log lines for check_log")
    parser.add_argument("--window", type=int, default=1_000, help="orders open at once in the log")
    parser.add_argument("--old-add", type=int, default=5_000, help="orders for add per order")
    parser.add_argument("--trials", type=int, default=3, help="alternating trials (median)")
    parser.add_argument("--stores", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    parser.add_argument("--no-readme", action="store_true", help="print only")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        name, *rest = args.worker
        params = [int(a) if a.isdigit() else a for a in rest]
        import statemachine

        print(json.dumps({**WORKERS[name](*params), "package": statemachine.__file__}))
        return
    sys.path.insert(0, str(ROOT))
    sql.check()
    stores = args.stores.split(",")
    results: dict[str, Any] = {"import": {}, "sweep": {}}
    pg_version = None
    with (
        tempfile.TemporaryDirectory(prefix="order-sm-scale-") as tmp,
        baseline_package(args.baseline) as baseline,
    ):
        folder = Path(tmp)
        with postgres_server() if "postgres" in stores else _nothing() as pg_dsn:
            if pg_dsn:
                import psycopg

                with psycopg.connect(pg_dsn) as conn:
                    pg_version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
            for kind in stores:
                dbs = Databases(kind, folder, pg_dsn)
                print(f"{kind}: bulk import ...", flush=True)
                results["import"][kind] = bench_import(dbs, args)
                print(f"{kind}: sweep ...", flush=True)
                results["sweep"][kind] = bench_sweep(dbs, baseline, args)
        print("check_log ...", flush=True)
        results["check_log"] = bench_check_log(folder, baseline, args)
    section = markdown(results, args, pg_version)
    print("\n" + section)
    if not args.no_readme:
        report.write_section("scale", section)
        print("written to bench/README.md")


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    main()
