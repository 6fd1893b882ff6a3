"""What reading an order back costs: ``Order.from_dict``, and the store's ``get`` with its
validated-row cache missing (cold) and holding the order (warm), now against the baseline.

The baseline is the package at ``bf76a8f``, main just before issue 15 rewrote the store so that
each fact is stored once (the append-only log is the truth of an order's history, the order row
keeps only index columns). The issue demands that a read missing the store's cache cost no more
than that release's ``from_dict`` for the same order, and that a warm read stay a cache hit: the
table gives exactly those two comparisons, measured in the same run.

* ``from_dict``: ``Order.from_dict(body)`` of the order's ``to_dict()`` (through JSON).
* **cold**: ``store.get(order_id)`` on a store object whose validated-row cache holds nothing (a
  subclass with ``_CACHE_SIZE = 0``), so every read fetches and validates the order in full.
* **warm**: ``store.get(order_id)`` repeated on a store object that has read the order once, so
  its cache holds it.

Miss and hit are checked, not assumed, by counting the Python functions one read enters
(``sys.setprofile``, outside the timings): a certain miss is the first ``get`` of the order on
a store object that has never seen it (after reading another order, so that its connection's
first statements are not counted). A cold read must enter as many functions as that (the run
stops otherwise); a warm read that enters fewer is a hit, one that does not is marked in the
table. Counts, unlike times, do not depend on what else the machine is doing.

Each store measurement gets a database of its own holding the order (and one other, read
first by the miss check's store object), written with ``store.add``: a fresh SQLite file, and a
fresh PostgreSQL schema (``CREATE SCHEMA``, reached with ``options=-csearch_path=...``, dropped
afterwards) when ``ORDER_SM_PG_DSN`` is set; without it, SQLite only, and the table says so.
Only the public store API (``SQLiteStore(path)``, ``PostgresStore(dsn)``, ``add``, ``get``,
``close``) and ``_CACHE_SIZE`` are used, so the same worker runs on both releases.

Run with ``make bench``; it writes its table into ``bench/README.md`` between the markers
``<!-- bench:serialize:start -->`` and ``<!-- bench:serialize:end -->`` (and prints it).

Each measurement (``from_dict``, SQLite, PostgreSQL) of each release runs in a process of its
own, the baseline's package taken with ``git archive`` (see ``bench_scale.py``), interleaved
over several rounds (which release goes first alternates); the table gives medians.

Usage: python bench/bench_serialize.py [--rounds N] [--number N] [--repeat N] [--baseline REV]
[--no-readme]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHAPES = ("paid", "claim path", "cancelled + 8 reimbursements")
EVENTS = {"paid": 0, "claim path": 4, "cancelled + 8 reimbursements": 11}
BASELINE = "bf76a8f"
"""Main before issue 15 (each fact stored once): the release whose ``from_dict`` and warm reads
the rewritten store is judged against."""
PG_ENV = "ORDER_SM_PG_DSN"


def _order(shape: str, order_id: str = "AE-1") -> Any:
    from zoneinfo import ZoneInfo

    from statemachine import Order

    paid = dt.datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    hour = dt.timedelta(hours=1)
    order = Order.create(order_id, "100.00", "USD", paid)
    if shape == "claim path":
        order.dispatch(tracking_number="LP1", at=paid + hour, event_id="e1")
        order.confirm_delivery(at=paid + 2 * hour, event_id="e2")
        order.open_claim(reason="damaged_in_transit", amount="25.00", at=paid + 3 * hour)
        order.settle_refund(at=paid + 4 * hour, event_id="e4")
    elif shape.startswith("cancelled"):
        order.request_cancellation(at=paid + hour)
        order.supplier_accepts_cancellation(at=paid + 2 * hour)
        order.settle_refund(at=paid + 3 * hour)
        for i in range(8):
            order.reimburse_customer(amount="1.00", at=paid + (4 + i) * hour, event_id=f"r{i}")
    return order


# ------------------------------------------------------------------------------------------
# Workers: run in a process of their own, against this release or the baseline's package


def _best(read: Callable[[], object], number: int, repeat: int) -> float:
    """Microseconds per call of ``read``: the best of ``repeat`` runs of ``number`` calls (many
    short runs, so that the best one falls in a moment when nothing else ran)."""
    return min(timeit.repeat(read, number=number, repeat=repeat)) / number * 1e6


def worker_from_dict(number: int, repeat: int) -> dict[str, Any]:
    """Microseconds per ``from_dict`` of each shape."""
    from statemachine import Order

    out: dict[str, float] = {}
    for shape in SHAPES:
        body = json.loads(json.dumps(_order(shape).to_dict()))
        Order.from_dict(body)
        out[shape] = _best(lambda b=body: Order.from_dict(b), number, repeat)
    return out


@contextmanager
def _sqlite_database() -> Iterator[str]:
    """A path for a new SQLite file, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="order-sm-serialize-") as folder:
        yield str(Path(folder) / "orders.db")


@contextmanager
def _postgres_schema() -> Iterator[str]:
    """A DSN whose search_path is a new, empty schema; the schema is dropped afterwards."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    dsn = os.environ[PG_ENV]
    name = f"bench_serialize_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield make_conninfo(dsn, options=f"-csearch_path={name}")
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


REPLAYS = frozenset({"rebuild", "structure_order"})
"""The functions that make an order again from what is stored: ``serialize.rebuild`` (from a
head and a log, this release) and ``serialize.structure_order`` (``from_dict``, the baseline's
read of a body). A read that enters neither is a cache hit."""


def _python_calls(read: Callable[[], object]) -> tuple[int, int]:
    """How many Python functions one call of ``read`` enters, and how many of them make an
    order again (:data:`REPLAYS`), by ``sys.setprofile``."""
    calls = replays = 0

    def count(frame: Any, event: str, arg: object) -> None:
        nonlocal calls, replays
        if event == "call":
            calls += 1
            replays += frame.f_code.co_name in REPLAYS

    sys.setprofile(count)
    try:
        read()
    finally:
        sys.setprofile(None)
    return calls, replays


def _worker_store(kind: str, number: int, repeat: int) -> dict[str, Any]:
    """Microseconds per cold and warm ``get`` of each shape, each on a database of its own,
    with the Python calls of one such read and of a certain miss (the check)."""
    from statemachine.store import PostgresStore, SQLiteStore

    store_class: Any = SQLiteStore if kind == "sqlite" else PostgresStore
    database = _sqlite_database if kind == "sqlite" else _postgres_schema

    class Cold(store_class):
        _CACHE_SIZE = 0

    neighbour = _order("paid", "AE-0")
    out: dict[str, dict[str, float]] = {}
    for shape in SHAPES:
        order = _order(shape)
        expected = order.to_dict()
        found: dict[str, float] = {}
        for mode in ("cold", "warm"):
            with database() as target:
                writer = store_class(target)
                writer.add(order)
                writer.add(neighbour)
                writer.close()
                store = (Cold if mode == "cold" else store_class)(target)
                got = store.get(order.order_id)  # warm: the cache now holds the order
                if got.to_dict() != expected:
                    raise AssertionError(f"{kind} {shape}: the stored order reads back changed")
                read = functools.partial(store.get, order.order_id)
                found[mode] = _best(read, number, repeat)
                found[f"{mode}_calls"], found[f"{mode}_replays"] = _python_calls(read)
                store.close()
                if mode == "cold":
                    # A store object that has never seen the order cannot have it cached; it
                    # reads another order first, so only the order's own read is counted.
                    other = store_class(target)
                    other.get(neighbour.order_id)
                    first = functools.partial(other.get, order.order_id)
                    found["miss_calls"], found["miss_replays"] = _python_calls(first)
                    other.close()
        out[shape] = found
    return out


def worker_sqlite(number: int, repeat: int) -> dict[str, Any]:
    return _worker_store("sqlite", number, repeat)


def worker_postgres(number: int, repeat: int) -> dict[str, Any]:
    return _worker_store("postgres", number, repeat)


WORKERS: dict[str, Callable[[int, int], dict[str, Any]]] = {
    "from_dict": worker_from_dict,
    "sqlite": worker_sqlite,
    "postgres": worker_postgres,
}


def _worker(name: str, number: int, repeat: int) -> None:
    """Print, as JSON, what worker ``name`` measured and where its package came from."""
    import statemachine

    result = WORKERS[name](number, repeat)
    print(json.dumps({"package": statemachine.__file__, "result": result}))


def _run(package: Path | None, name: str, number: int, repeat: int) -> dict[str, Any]:
    """Worker ``name`` in a fresh process; ``package`` holds another release's
    ``statemachine`` (the baseline), ``None`` for this release."""
    import subprocess

    env = dict(os.environ)
    if package is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(package), env.get("PYTHONPATH", "")])
    args = ["--worker", name, "--number", str(number), "--repeat", str(repeat)]
    out = subprocess.run(
        [sys.executable, __file__, *args],
        env=env,
        cwd=tempfile.gettempdir(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    answer = json.loads(out.splitlines()[-1])
    loaded = Path(answer["package"]).resolve()
    if package is not None and not loaded.is_relative_to(package.resolve()):
        raise RuntimeError(f"the baseline worker imported {loaded}, not the baseline")
    if package is None and not loaded.is_relative_to(HERE.parent):
        raise RuntimeError(f"the worker for this release imported {loaded}, not {HERE.parent}")
    result: dict[str, Any] = answer["result"]
    return result


# ------------------------------------------------------------------------------------------
# Report


def _median(rounds: list[dict[str, Any]], *keys: str) -> float:
    values = []
    for found in rounds:
        for key in keys:
            found = found[key]
        values.append(found)
    return float(statistics.median(values))


def markdown(
    results: dict[str, dict[str, list[dict[str, Any]]]],
    args: argparse.Namespace,
    pg_version: str | None,
) -> str:
    """The section of bench/README.md."""
    import sqlite3

    from report import machine

    command = " ".join(["python", "bench/bench_serialize.py", *sys.argv[1:]])
    databases = f"SQLite {sqlite3.sqlite_version} (a file)" + (
        f" and PostgreSQL {pg_version} (local, a schema of its own per measurement)"
        if pg_version
        else f"; PostgreSQL not measured ({PG_ENV} not set), SQLite only"
    )
    lines = [
        "## Reading an order back: `Order.from_dict` and the store's `get`, cold and warm",
        "",
        f"`{command}` (run by `make bench`) on {dt.date.today()}: {machine()}; {databases}. "
        f"Medians of {args.rounds} interleaved rounds, each figure the best of {args.repeat} "
        f"runs of {args.number} reads, each release and each database in a process of its own. "
        f"Baseline: the package at `{args.baseline}`, main before issue 15 rewrote the store "
        "so that each fact is stored once (the log holds an order's history, the order row "
        "only index columns); it runs from `git archive` in the same run, on the same orders.",
        "",
        "**Cold** is `store.get(order_id)` on a store object whose validated-row cache holds "
        "nothing (a subclass with `_CACHE_SIZE = 0`): every read fetches the order and "
        "validates it in full, as the first read after a change does. **Warm** is the same "
        "`get` repeated on a store object that has read the order once, so its cache holds "
        "it: what every other read costs. Each store figure is measured on a database of its "
        "own holding the order (and one other, for the check below), written with `store.add`. "
        "Issue 15 demands that a read missing the cache cost no more than `from_dict` at the "
        "baseline, and that a warm read stay a cache hit. A store read also pays the database "
        "(a round trip, the row) whether it hits or misses, which `from_dict` in memory never "
        "does (a warm PostgreSQL read alone costs more than any `from_dict`), so the miss is "
        "compared as what it adds to a hit: **miss = cold - warm**, making the order from its "
        "rows, against `from_dict` at the baseline (≤ 1.00x). Cold and warm are also compared "
        "with the baseline's own.",
        "",
        "| order | events | `from_dict` now | at baseline | now / baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    now, before = results["now"], results["baseline"]
    for shape in SHAPES:
        a = _median(now["from_dict"], shape)
        b = _median(before["from_dict"], shape)
        lines.append(f"| {shape} | {EVENTS[shape]} | {a:,.0f} µs | {b:,.0f} µs | {a / b:.2f}x |")
    lines += [
        "",
        "| store | order | cold now | at baseline | now / baseline | warm now | at baseline "
        "| now / baseline | miss now | `from_dict` at baseline | miss / `from_dict` (≤ 1.00x) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    kinds = [k for k in ("sqlite", "postgres") if k in now]
    shares: dict[str, list[float]] = {"cold": [], "warm": []}
    for kind in kinds:
        name = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[kind]
        for shape in SHAPES:
            cold = _median(now[kind], shape, "cold")
            cold_b = _median(before[kind], shape, "cold")
            warm = _median(now[kind], shape, "warm")
            warm_b = _median(before[kind], shape, "warm")
            from_dict_b = _median(before["from_dict"], shape)
            hit = {}
            for release, rounds in (("now", now[kind]), ("baseline", before[kind])):
                for r in rounds:
                    for mode in shares:
                        shares[mode].append(r[shape][f"{mode}_calls"] / r[shape]["miss_calls"])
                hit[release] = all(r[shape]["warm_replays"] == 0 for r in rounds)
            miss = cold - warm
            over = "" if miss <= from_dict_b else " (over)"
            lines.append(
                f"| {name} | {shape} | {cold:,.0f} µs | {cold_b:,.0f} µs | {cold / cold_b:.2f}x | "
                f"{warm:,.1f} µs{'' if hit['now'] else ' (not a hit)'} | "
                f"{warm_b:,.1f} µs{'' if hit['baseline'] else ' (not a hit)'} | "
                f"{warm / warm_b:.2f}x | {miss:,.0f} µs | {from_dict_b:,.0f} µs | "
                f"{miss / from_dict_b:.2f}x{over} |"
            )
    lines += [
        "",
        "Checked by tracing one read of each kind: every cold read made the order again (it "
        "entered `serialize.rebuild`, or the baseline's `from_dict`) and no warm read did (a "
        "cache hit), over every round, release, store and order. A cold read entered "
        f"{min(shares['cold']):.0%} to {max(shares['cold']):.0%} as many Python functions as "
        "the first `get` of the order on a store object that has never seen it (a certain "
        f"miss), a warm read {min(shares['warm']):.0%} to {max(shares['warm']):.0%}.",
    ]
    return "\n".join(lines)


def main() -> None:
    """Measure, print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=100, help="reads per timed run")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs; the best counts")
    parser.add_argument(
        "--baseline",
        default=BASELINE,
        help="git revision to compare with (default: bf76a8f, the release before issue 15)",
    )
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.number, args.repeat)
        return
    sys.path.insert(0, str(HERE))
    from bench_scale import baseline_package

    kinds = ["from_dict", "sqlite"]
    pg_version = None
    if os.environ.get(PG_ENV):
        import psycopg

        with psycopg.connect(os.environ[PG_ENV]) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            assert row is not None
            pg_version = str(row[0]).split()[0]
        kinds.append("postgres")
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        release: {kind: [] for kind in kinds} for release in ("now", "baseline")
    }
    with baseline_package(args.baseline) as baseline:
        packages = {"now": None, "baseline": baseline}
        for round_ in range(args.rounds):
            order = ["now", "baseline"] if round_ % 2 == 0 else ["baseline", "now"]
            print(f"round {round_ + 1} of {args.rounds} ...", file=sys.stderr, flush=True)
            for kind in kinds:
                for release in order:
                    found = _run(packages[release], kind, args.number, args.repeat)
                    results[release][kind].append(found)
                    if kind == "from_dict":
                        continue
                    for shape, r in found.items():
                        if not r["cold_replays"] or not r["miss_replays"] or r["warm_replays"]:
                            raise RuntimeError(
                                f"{release} {kind} {shape}: a cold read made the order "
                                f"{r['cold_replays']} times, a certain miss "
                                f"{r['miss_replays']}, a warm read {r['warm_replays']}: the "
                                "cold store must miss its cache and the warm one hit it"
                            )
    section = markdown(results, args, pg_version)
    print(section)
    if not args.no_readme:
        from report import write_section

        write_section("serialize", section)


if __name__ == "__main__":
    main()
