"""The HTTP service's event rate against the store's direct ``apply`` rate, in the same run.

Run with ``make bench``; it writes its table into ``bench/README.md`` between the markers
``<!-- bench:http:start -->`` and ``<!-- bench:http:end -->`` (and prints it).

Each client owns its orders and sends each one the six-event life of ``bench_store.py``
(request and declined cancellation, dispatch, delivery, claim, settlement), each event with
an event id, one at a time. "direct" calls ``store.apply`` from that many threads, each with
its own store object; "HTTP" sends the same events as ``POST /orders/{id}/events/{event}``
with the write token and an ``Idempotency-Key``, over keep-alive connections, to a real
``python -m statemachine.web`` process (one uvicorn worker, no sweeper, no relay). SQLite on a
file with ``synchronous=FULL``; PostgreSQL on ``ORDER_SM_BENCH_PG_DSN`` if set, else on a
throwaway local server with its durable defaults, in a schema of its own (``CREATE SCHEMA``,
dropped afterwards; the server reaches it through its ``--dsn``). Trials alternate direct and
HTTP.

Usage: python bench/bench_http.py [--orders N] [--trials N] [--clients 1,8]
[--stores sqlite,postgres] [--no-readme]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "store"))
sys.path.insert(0, str(ROOT / "tests" / "web"))
import httpx  # noqa: E402
from pg_server import TempPostgres  # noqa: E402
from report import cpu_model, postgres_schema, write_section  # noqa: E402
from web_helpers import WRITE, ProcessServer, server_env  # noqa: E402

from statemachine import Order  # noqa: E402
from statemachine.store import PostgresStore, SQLiteStore  # noqa: E402

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


def _at(step: int) -> str:
    return (PAID + dt.timedelta(hours=step + 1)).isoformat()


def open_store(spec: Spec) -> SQLiteStore | PostgresStore:
    """A store object of its own on the database ``spec`` names."""
    kind, target = spec
    return SQLiteStore(target) if kind == "sqlite" else PostgresStore(target)


def add_orders(spec: Spec, ids: list[str]) -> None:
    """Store new paid orders under ``ids`` (one transaction); ``[]`` creates the schema."""
    with open_store(spec) as store:
        store.add_many(Order.create(oid, "25.00", "USD", PAID) for oid in ids)


def server_version(dsn: str) -> str | None:
    """The PostgreSQL server's version number, for the bench's heading."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else None


def _together(clients: int, work: Callable[[int, Callable[[], None]], None]) -> float:
    """Run ``work(n, ready)`` in ``clients`` threads released at once; seconds they took."""
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            work(n, barrier.wait)
        except BaseException as exc:  # reported after the run
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - began


def direct(spec: Spec, clients: int, orders: int) -> float:
    """Events per second through ``store.apply``."""
    prefix = uuid.uuid4().hex[:8]
    ids = [[f"D{prefix}-{n}-{i}" for i in range(orders)] for n in range(clients)]
    add_orders(spec, [oid for group in ids for oid in group])

    def work(n: int, ready: Callable[[], None]) -> None:
        with open_store(spec) as store:
            ready()
            for oid in ids[n]:
                for step, (event, data) in enumerate(LIFE):
                    store.apply(
                        oid, event, at=PAID + dt.timedelta(hours=step + 1),
                        event_id=f"{oid}-{step}", **data,
                    )  # fmt: skip

    seconds = _together(clients, work)
    return clients * orders * len(LIFE) / seconds


def over_http(spec: Spec, url: str, clients: int, orders: int) -> float:
    """Events per second through ``POST /orders/{id}/events/{event}``."""
    prefix = uuid.uuid4().hex[:8]
    ids = [[f"H{prefix}-{n}-{i}" for i in range(orders)] for n in range(clients)]
    add_orders(spec, [oid for group in ids for oid in group])
    headers = {"Authorization": f"Bearer {WRITE}"}

    def work(n: int, ready: Callable[[], None]) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            client.get("/healthz")  # open the connection before the clock starts
            ready()
            for oid in ids[n]:
                for step, (event, data) in enumerate(LIFE):
                    answer = client.post(
                        f"/orders/{oid}/events/{event}",
                        json={"at": _at(step), **data},
                        headers={"Idempotency-Key": f"{oid}-{step}"},
                    )
                    if answer.status_code != 200:
                        raise RuntimeError(f"{event} on {oid}: {answer.status_code} {answer.text}")

    seconds = _together(clients, work)
    return clients * orders * len(LIFE) / seconds


def health(url: str, requests: int = 500) -> float:
    """Answers per second of ``GET /healthz`` from one client: the floor of any request
    through the same client, server and framework."""
    with httpx.Client(base_url=url, timeout=60) as client:
        client.get("/healthz")
        began = time.perf_counter()
        for _ in range(requests):
            client.get("/healthz")
        return requests / (time.perf_counter() - began)


@contextmanager
def postgres() -> Iterator[str]:
    """A DSN reaching a new, empty schema (see ``report.postgres_schema``) on the server of
    ``ORDER_SM_BENCH_PG_DSN``, else of a throwaway one."""
    dsn = os.environ.get("ORDER_SM_BENCH_PG_DSN")
    if dsn:
        with postgres_schema(dsn, "bench_http") as schema:
            yield schema
        return
    with TempPostgres(durable=True) as server, postgres_schema(server.dsn, "bench_http") as schema:
        yield schema


@contextmanager
def databases(kinds: list[str], folder: Path) -> Iterator[dict[str, Spec]]:
    specs: dict[str, Spec] = {}
    if "sqlite" in kinds:
        specs["sqlite"] = ("sqlite", str(folder / "orders.db"))
    if "postgres" in kinds:
        with postgres() as dsn:
            specs["postgres"] = ("postgres", dsn)
            yield specs
        return
    yield specs


def measure(args: argparse.Namespace) -> tuple[list[dict[str, Any]], str | None, float]:
    rows: list[dict[str, Any]] = []
    floors: list[float] = []
    pg_version = None
    with tempfile.TemporaryDirectory(prefix="order-sm-http-") as tmp:
        folder = Path(tmp)
        with databases(args.stores.split(","), folder) as specs:
            for kind, spec in specs.items():
                if kind == "postgres":
                    pg_version = server_version(spec[1])
                add_orders(spec, [])  # create the schema before the server starts
                where = {"db": spec[1]} if kind == "sqlite" else {"dsn": spec[1]}
                server = ProcessServer(**where, log=folder / f"{kind}.log", env=server_env())
                server.start()
                try:
                    floors.extend(health(server.url) for _ in range(args.trials))
                    for clients in args.clients:
                        orders = max(1, args.orders // clients)
                        rates: dict[str, list[float]] = {"direct": [], "http": []}
                        for trial in range(args.trials):
                            print(f"{kind}, {clients} clients, trial {trial + 1} ...", flush=True)
                            rates["direct"].append(direct(spec, clients, orders))
                            rates["http"].append(over_http(spec, server.url, clients, orders))
                        rows.append(
                            {
                                "store": kind,
                                "clients": clients,
                                "events": clients * orders * len(LIFE),
                                "direct": statistics.median(rates["direct"]),
                                "http": statistics.median(rates["http"]),
                            }
                        )
                finally:
                    server.stop()
    return rows, pg_version, statistics.median(floors)


def markdown(
    rows: list[dict[str, Any]], args: argparse.Namespace, pg: str | None, floor: float
) -> str:
    cpu = cpu_model()
    today = dt.date.today().isoformat()
    lines = [
        "## The HTTP service against the store's direct `apply`",
        "",
        f"`python bench/bench_http.py` (run by `make bench`) on {today}: {cpu}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}"
        + (f", PostgreSQL {pg} (local, durable: fsync on)" if pg else "")
        + f". Medians of {args.trials} alternating trials. Each client sends its own orders "
        "the six-event life (cancellation asked and declined, dispatch, delivery, claim, "
        "settlement), one event at a time, each with an event id; HTTP is "
        "`POST /orders/{id}/events/{event}` with a bearer token and an `Idempotency-Key` over "
        "keep-alive connections to one `python -m statemachine.web` process (one uvicorn "
        "worker, the clients in the bench's process); direct is `store.apply` from as many "
        "threads, each with its own store object.",
        "",
        "| store | clients | events | direct events/s | HTTP events/s | HTTP / direct |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['store']} | {r['clients']} | {r['events']:,} | {r['direct']:,.0f} | "
            f"{r['http']:,.0f} | {r['http'] / r['direct']:.2f} |"
        )
    lines += [
        "",
        f"For scale: the same client got {floor:,.0f} answers/s from `GET /healthz` (no store, "
        f"{1000 / floor:.2f} ms a round trip), the floor of any request through this client, "
        "uvicorn and FastAPI on this machine. An event costs that, plus its `apply` in a "
        "worker thread, plus the order's JSON in the answer; with 8 clients the server's one "
        "process and the clients share the 2 cores.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--orders", type=int, default=160, help="orders per run, all clients")
    parser.add_argument("--trials", type=int, default=3, help="alternating trials (median)")
    parser.add_argument("--clients", default="1,8", help="concurrent clients, e.g. 1,8")
    parser.add_argument("--stores", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--no-readme", action="store_true", help="print only")
    args = parser.parse_args(argv)
    args.clients = [int(c) for c in args.clients.split(",")]
    rows, pg, floor = measure(args)
    section = markdown(rows, args, pg, floor)
    print("\n" + section)
    if not args.no_readme:
        write_section("http", section)
        print("written to bench/README.md")


if __name__ == "__main__":
    main()
