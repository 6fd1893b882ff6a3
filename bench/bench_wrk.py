"""The HTTP service under load, measured by wrk, against what each request does: reading an
order against the service's own floor, and each write against the store called directly.

Run with ``make bench``; it writes its table into ``bench/README.md`` between the markers
``<!-- bench:wrk:start -->`` and ``<!-- bench:wrk:end -->`` (and prints it). It needs the
external load generator ``wrk`` (Debian's package: ``apt-get install wrk``); without it, it
says so and skips, leaving the README as it was.

One ``python -m statemachine.web`` process (one uvicorn worker, ``--log-level warning``, so no
access log; no sweeper, no relay) serves a store; ``wrk -c 8 -t 2`` keeps it busy for
``--seconds`` per run, on keep-alive connections, from this machine. Each round runs, one after
the other:

- ``GET /healthz`` (no store, no credentials: the floor of any request through uvicorn and
  FastAPI) and ``GET /orders/{id}`` (read token; one order with three events, so after the
  first request it is in the store's cache of checked orders, as a popular order is);
- ``POST /orders`` with a new order id on every request (``wrk/create.lua``), and
  ``store.add(Order.create(...))`` called directly in a loop for as long, on a store object
  of its own, in this process;
- ``POST /orders/{id}/events/dispatch`` on a different paid order every request, each with its
  ``Idempotency-Key`` (``wrk/dispatch.lua``), and ``store.apply(id, "dispatch", ...)`` with an
  event id called directly in a loop on as many other paid orders; both sets of orders are
  stored beforehand by another store object, so neither the server nor the direct loop has
  them in its cache (each apply reads the order's row and log and makes it again).

Rounds interleave the runs, and the table gives medians. A run with any answer that is not 2xx,
or any socket error, is refused. SQLite on a file with ``synchronous=FULL`` (the store's
default); PostgreSQL on ``ORDER_SM_BENCH_PG_DSN`` if set, else on a throwaway local server with
its durable defaults, in a schema of its own (see ``bench_http.py``). The server's CPU time per
request (all its threads, user and system, from ``/proc``) is reported beside each rate.

Usage: python bench/bench_wrk.py [--seconds 5] [--rounds 3] [--connections 8] [--threads 2]
[--stores sqlite,postgres] [--no-readme]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "store"))
sys.path.insert(0, str(ROOT / "tests" / "web"))
from bench_http import PAID, Spec, add_orders, databases, open_store, server_version  # noqa: E402
from report import cpu_model, write_section  # noqa: E402
from web_helpers import READ, WRITE, ProcessServer, server_env  # noqa: E402

from statemachine import Order  # noqa: E402

LUA = Path(__file__).resolve().parent / "wrk"
DISPATCHED_AT = PAID + dt.timedelta(hours=1)
"""The moment wrk/dispatch.lua sends (2026-03-02T10:00:00+08:00)."""
READ_ID = "bench-read"
TARGETS = {"read": 0.5, "create": 0.6, "dispatch": 0.6}
"""The least ratio each SQLite row must reach (issue 16); PostgreSQL's are reported only."""
INSTALL = (
    "wrk is not installed: on Debian or Ubuntu, `apt-get install wrk` (the distribution's "
    "package); skipping the HTTP load bench (bench/bench_wrk.py)"
)


@dataclass(frozen=True)
class Run:
    """One wrk run: answers per second, and the server's CPU seconds per answer."""

    rate: float
    requests: int
    cpu: float | None


def _cpu(pid: int) -> float | None:
    """The CPU seconds (user and system, all threads) process ``pid`` has used, if known."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk_version(wrk: str) -> str:
    """``wrk --version``'s version word (it prints its usage and exits 1)."""
    out = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    words = (out.stdout + out.stderr).split()
    return words[1] if len(words) > 1 else "?"


def wrk(
    wrk_path: str,
    url: str,
    args: argparse.Namespace,
    pid: int,
    *,
    script: str | None = None,
    script_args: tuple[str, ...] = (),
    headers: tuple[str, ...] = (),
) -> Run:
    """One wrk run against ``url``; refused (RuntimeError) when any answer is not 2xx or a
    socket failed."""
    command = [wrk_path, "-c", str(args.connections), "-t", str(args.threads)]
    command += ["-d", f"{args.seconds}s", "--timeout", "10s"]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(LUA / script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    before = _cpu(pid)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    after = _cpu(pid)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = re.search(r"Socket errors: (.*)", out)
    if bad or failed:
        raise RuntimeError(f"wrk {url}: answers that are not 2xx, or socket errors:\n{out}")
    found = re.search(r"(\d+) requests in", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None or rate is None:
        raise RuntimeError(f"wrk {url}: cannot read its report:\n{out}")
    requests = int(found.group(1))
    cpu = None if before is None or after is None or not requests else (after - before) / requests
    return Run(float(rate.group(1)), requests, cpu)


def direct_add(spec: Spec, seconds: float) -> float:
    """New orders per second through ``store.add(Order.create(...))`` in a loop."""
    prefix = f"A{uuid.uuid4().hex[:8]}"
    with open_store(spec) as store:
        done = 0
        began = time.perf_counter()
        deadline = began + seconds
        while time.perf_counter() < deadline:
            store.add(Order.create(f"{prefix}-{done}", "25.00", "USD", PAID))
            done += 1
        return done / (time.perf_counter() - began)


def direct_apply(spec: Spec, seconds: float, ids: list[str]) -> float:
    """Dispatches per second through ``store.apply`` on ``ids``, paid orders stored by another
    store object, in a loop."""
    with open_store(spec) as store:
        began = time.perf_counter()
        deadline = began + seconds
        for done, oid in enumerate(ids, 1):
            store.apply(
                oid, "dispatch", at=DISPATCHED_AT, event_id=f"{oid}-dispatch",
                tracking_number="LP00012345",
            )  # fmt: skip
            if time.perf_counter() >= deadline:
                return done / (time.perf_counter() - began)
    raise RuntimeError(f"direct apply ran out of its {len(ids)} orders: raise the pool")


def _read_order(spec: Spec) -> None:
    """The order ``GET /orders/{id}`` reads: paid, a cancellation asked and declined, dispatched."""
    with open_store(spec) as store:
        store.add(Order.create(READ_ID, "25.00", "USD", PAID))
        at = PAID
        for event, data in (
            ("request_cancellation", {}),
            ("supplier_declines_cancellation", {}),
            ("dispatch", {"tracking_number": "LP00012345"}),
        ):
            at += dt.timedelta(hours=1)
            store.apply(READ_ID, event, at=at, event_id=f"{READ_ID}-{event}", **data)


def measure_store(
    kind: str, spec: Spec, args: argparse.Namespace, wrk_path: str, folder: Path
) -> dict[str, list[Any]]:
    """Every run of every round on one store: lists of :class:`Run` (HTTP) and of rates
    (direct), by name."""
    add_orders(spec, [])  # create the schema before the server starts
    _read_order(spec)
    where = {"db": spec[1]} if kind == "sqlite" else {"dsn": spec[1]}
    server = ProcessServer(**where, log=folder / f"{kind}.log", env=server_env())
    server.start()
    assert server.process is not None
    pid = server.process.pid
    url = server.url
    runs: dict[str, list[Any]] = {}
    expected = 4000.0  # writes per second the pools are sized for, then the best seen

    def pool() -> int:
        return int(expected * args.seconds * 1.5) + 1000

    def record(name: str, value: Any) -> None:
        runs.setdefault(name, []).append(value)

    try:
        for round_no in range(args.rounds):
            print(f"{kind}: round {round_no + 1} of {args.rounds} ...", flush=True)
            record("healthz", wrk(wrk_path, f"{url}/healthz", args, pid))
            read = wrk(
                wrk_path, f"{url}/orders/{READ_ID}", args, pid,
                headers=(f"Authorization: Bearer {READ}",),
            )  # fmt: skip
            record("read", read)
            prefix = f"C{uuid.uuid4().hex[:8]}"
            record(
                "create",
                wrk(wrk_path, url, args, pid, script="create.lua", script_args=(prefix, WRITE)),
            )
            record("add", direct_add(spec, args.seconds))
            prefix = f"D{uuid.uuid4().hex[:8]}"
            per_thread = pool() // args.threads + 1
            add_orders(
                spec,
                [f"{prefix}-{t}-{n}" for t in range(1, args.threads + 1)
                 for n in range(1, per_thread + 1)],
            )  # fmt: skip
            dispatch = wrk(
                wrk_path, url, args, pid, script="dispatch.lua", script_args=(prefix, WRITE)
            )
            record("dispatch", dispatch)
            ids = [f"P{uuid.uuid4().hex[:8]}-{n}" for n in range(pool())]
            add_orders(spec, ids)
            applied = direct_apply(spec, args.seconds, ids)
            record("apply", applied)
            expected = max(expected, applied, dispatch.rate)
    finally:
        server.stop()
    return runs


def _median_run(runs: list[Run]) -> Run:
    cpus = [r.cpu for r in runs if r.cpu is not None]
    return Run(
        statistics.median(r.rate for r in runs),
        sum(r.requests for r in runs),
        statistics.median(cpus) if cpus else None,
    )


ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("read", "`GET /orders/{id}`", "healthz", "`GET /healthz`"),
    ("create", "`POST /orders`, a new id each", "add", "`store.add` in a loop"),
    (
        "dispatch",
        "`POST /orders/{id}/events/dispatch`, a new order each",
        "apply",
        "`store.apply(id, 'dispatch')` in a loop",
    ),
)


def table(results: dict[str, dict[str, list[Any]]]) -> tuple[list[str], bool]:
    """The table's lines, and whether every SQLite row reached its target."""
    lines = [
        "| store | HTTP requests | answers/s | server CPU per answer | against | per second "
        "| ratio | target |",
        "|---|---|---:|---:|---|---:|---:|---|",
    ]
    met = True
    for kind, runs in results.items():
        name = "SQLite" if kind == "sqlite" else "PostgreSQL"
        for http, what, base, against in ROWS:
            got = _median_run(runs[http])
            if base == "healthz":
                floor_run = _median_run(runs[base])
                floor = floor_run.rate
            else:
                floor = statistics.median(runs[base])
            ratio = got.rate / floor
            cpu = "" if got.cpu is None else f"{got.cpu * 1e6:,.0f} µs"
            if kind == "sqlite":
                ok = ratio >= TARGETS[http]
                met = met and ok
                target = f"≥ {TARGETS[http]} {'✓' if ok else '✗'}"
            else:
                target = "reported"
            lines.append(
                f"| {name} | {what} | {got.rate:,.0f} | {cpu} | {against} | {floor:,.0f} "
                f"| {ratio:.2f} | {target} |"
            )
    return lines, met


def markdown(
    results: dict[str, dict[str, list[Any]]],
    args: argparse.Namespace,
    wrk_path: str,
    pg: str | None,
) -> tuple[str, bool]:
    today = dt.date.today().isoformat()
    rows, met = table(results)
    healthz = _median_run(results["sqlite"]["healthz"]) if "sqlite" in results else None
    lines = [
        "## The HTTP service under load (wrk) against what each request does",
        "",
        f"`python bench/bench_wrk.py` (run by `make bench`) on {today}: {cpu_model()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}"
        + (f", PostgreSQL {pg} (local, durable: fsync on)" if pg else "")
        + f"; uvicorn {version('uvicorn')} with httptools {version('httptools')} and uvloop "
        f"{version('uvloop')}, wrk {wrk_version(wrk_path)}. One `python -m statemachine.web` "
        "process (one uvicorn worker, `--log-level warning`: no access log), "
        f"`wrk -c {args.connections} -t {args.threads} -d {args.seconds}s` from the same "
        f"machine; medians of {args.rounds} interleaved rounds. Direct loops run in the bench's "
        "process, one store object each, while the server idles.",
        "",
        *rows,
        "",
        "What each ratio compares: reading an order (read token, warm cache, its `ETag` and "
        "JSON) against the cheapest answer the same server gives, `/healthz`; creating an "
        "order over HTTP (its JSON parsed by the application layer, the write token checked, "
        "`store.add` in the store's writer thread, committed with the creates waiting "
        "with it, the order's JSON, `Location` and `ETag` in "
        "the answer) against `store.add` alone; dispatching a stored order over HTTP (with "
        "its `Idempotency-Key`, and the answer's result and order) against `store.apply` "
        "alone. Every HTTP write runs the very store method the direct call runs; on SQLite "
        "the writes that wait at the same time are committed as one group (one `fsync`, "
        "each write in a savepoint of its own), and no answer leaves before its group's "
        "commit (`synchronous=FULL`). The direct loops commit each write on its own, as a "
        "script calling the store does.",
    ]
    if healthz is not None and healthz.cpu is not None:
        lines += [
            "",
            f"For scale: `/healthz` costs the server {healthz.cpu * 1e6:,.0f} µs of CPU an "
            "answer (uvicorn, FastAPI and the kernel's loopback), the rest of each HTTP row's "
            "CPU is its own; wrk and the server share the machine's cores.",
        ]
    return "\n".join(lines) + "\n", met


def measure(args: argparse.Namespace, wrk_path: str) -> tuple[dict[str, Any], str | None]:
    results: dict[str, dict[str, list[Any]]] = {}
    pg_version = None
    with tempfile.TemporaryDirectory(prefix="order-sm-wrk-") as tmp:
        folder = Path(tmp)
        with databases(args.stores.split(","), folder) as specs:
            for kind, spec in specs.items():
                if kind == "postgres":
                    pg_version = server_version(spec[1])
                results[kind] = measure_store(kind, spec, args, wrk_path, folder)
    return results, pg_version


def main(
    argv: list[str] | None = None, *, which: Callable[[str], str | None] = shutil.which
) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--connections", type=int, default=8, help="wrk's -c")
    parser.add_argument("--threads", type=int, default=2, help="wrk's -t")
    parser.add_argument("--stores", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--no-readme", action="store_true", help="print only")
    args = parser.parse_args(argv)
    wrk_path = which("wrk")
    if wrk_path is None:
        print(INSTALL)
        return 0
    results, pg = measure(args, wrk_path)
    section, met = markdown(results, args, wrk_path, pg)
    print("\n" + section)
    if not args.no_readme:
        write_section("wrk", section)
        print("written to bench/README.md")
    if not met:
        print("SQLite misses a target (see the table)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
