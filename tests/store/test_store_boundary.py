"""Stores validate before they write, report in their own words, and name corrupt rows
(issue 9, classes 5 to 7), on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import (
    PAID,
    StoreSpec,
    head_text,
    new_order,
    open_store,
    raw,
    set_head,
    tamper_log,
)

from statemachine import InvalidInput, OrderError
from statemachine.store import (
    MAX_LIMIT,
    CorruptOrder,
    OrderStore,
    PostgresStore,
    SQLiteStore,
    StoreUnavailable,
)

LATER = PAID + dt.timedelta(days=60)

BAD_CALLS: list[tuple[str, Any, str]] = [
    ("apply-no-event", lambda s: s.apply("AE-1", None, at=PAID, event_id="x"), "event"),
    ("apply-unknown-event", lambda s: s.apply("AE-1", "teleport", at=PAID), "event"),
    ("apply-naive", lambda s: s.apply("AE-1", "dispatch", at=dt.datetime(2026, 3, 3)), "at"),
    ("apply-long-id", lambda s: s.apply("A" * 201, "confirm_delivery", at=PAID), "order_id"),
    ("apply-nul-id", lambda s: s.apply("AE\x00", "confirm_delivery", at=PAID), "order_id"),
    ("apply-surrogate-event-id",
     lambda s: s.apply("AE-1", "confirm_delivery", at=PAID, event_id="\udc80"), "event_id"),
    ("apply-version-text",
     lambda s: s.apply("AE-1", "confirm_delivery", at=PAID, expected_version="1"),
     "expected_version"),
    ("apply-data-named-event",
     lambda s: s.apply("AE-1", "dispatch", at=PAID, **{"event": "x", "tracking_number": "L"}),
     "event"),
    ("ack-none", lambda s: s.ack(None), "ids"),
    ("ack-huge", lambda s: s.ack([2**70]), "ids"),
    ("ack-text", lambda s: s.ack("12"), "ids"),
    ("outbox-huge", lambda s: s.outbox(limit=2**70), "limit"),
    ("outbox-zero", lambda s: s.outbox(limit=0), "limit"),
    ("sweep-huge", lambda s: s.sweep(LATER, limit=2**70), "limit"),
    ("sweep-naive", lambda s: s.sweep(dt.datetime(2026, 5, 1)), "now"),
    ("get-blank", lambda s: s.get("  "), "order_id"),
    ("history-spaces", lambda s: s.history(" AE-1"), "order_id"),
    ("add-not-an-order", lambda s: s.add({"order_id": "AE-2"}), "order"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "call", "field"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_arguments_are_input_errors_before_anything_is_written(
    store: OrderStore, spec: StoreSpec, name: str, call: Any, field: str
) -> None:
    """R15 R16: a bad argument is InvalidInput naming it, raised before the store is touched:
    no log row, no row changed (never IntegrityError, OverflowError or DataError)."""
    store.add(new_order())
    before = (raw(spec, "SELECT count(*) FROM order_log"), raw(spec, "SELECT version FROM orders"))
    with pytest.raises(InvalidInput) as caught:
        call(store)
    assert caught.value.field == field, caught.value
    after = (raw(spec, "SELECT count(*) FROM order_log"), raw(spec, "SELECT version FROM orders"))
    assert after == before


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    order_id=st.one_of(st.text(max_size=300), st.integers(), st.none()),
    event_id=st.one_of(st.none(), st.text(max_size=300), st.integers()),
)
def test_any_id_is_stored_or_refused_in_our_words(
    store: OrderStore, order_id: object, event_id: object
) -> None:
    """R15: any order id or event id an HTTP caller can send is applied, unknown, or refused
    as an OrderError; never a driver's error (UnicodeEncodeError, DataError...)."""
    with contextlib.suppress(OrderError):
        store.apply(order_id, "confirm_delivery", at=PAID, event_id=event_id)  # type: ignore[arg-type]


def test_limit_bounds_are_documented() -> None:
    """The largest limit is MAX_LIMIT, and a limit of MAX_LIMIT is accepted."""
    assert MAX_LIMIT == 10_000


# --------------------------------------------------------------------------------------------
# Opening a store where it cannot live (SQLite: paths)


def test_opening_what_is_not_a_database_names_the_path(tmp_path: Path) -> None:
    """A file that is not a SQLite database is StoreUnavailable naming the path."""
    target = tmp_path / "notes.txt"
    target.write_text("these are not the orders you are looking for\n" * 100)
    with pytest.raises(StoreUnavailable, match="not a SQLite database") as caught:
        SQLiteStore(target)
    assert caught.value.where == str(target)


@pytest.mark.parametrize("where", ["missing-dir", "a-directory"])
def test_opening_a_missing_directory_or_a_directory_names_the_path(
    tmp_path: Path, where: str
) -> None:
    """A path in a missing directory, or a directory itself, is StoreUnavailable naming it."""
    target = tmp_path / "nope" / "orders.db" if where == "missing-dir" else tmp_path
    with pytest.raises(StoreUnavailable) as caught:
        SQLiteStore(target)
    assert str(target) in str(caught.value)


_ADD_ONE: Final = """
import datetime as dt, sys
from statemachine import Order
from statemachine.errors import StoreUnavailable
from statemachine.store import SQLiteStore
store = SQLiteStore(sys.argv[1])
try:
    store.add(Order.create("AE-2", "25.00", "USD", dt.datetime(2026, 3, 2, tzinfo=dt.UTC)))
except StoreUnavailable as exc:
    print(exc.where, exc.message, sep="\\n")
    try:
        store.ping()
    except StoreUnavailable:
        print("not ready")
"""


def test_a_read_only_file_is_store_unavailable_naming_the_path(tmp_path: Path) -> None:
    """A read-only database file (a restore without write permission, a read-only volume):
    a write is StoreUnavailable naming the path and saying read-only, `ping` (readiness) says
    it is not ready, and the file is unchanged."""
    import subprocess
    import sys

    from tests.helpers import read_only

    target = tmp_path / "orders.db"
    with SQLiteStore(target) as store:
        store.add(new_order())
    before = target.read_bytes()
    argv = read_only(target, [sys.executable, "-c", _ADD_ONE, str(target)])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    where, message, ready = done.stdout.splitlines()
    assert where == str(target) and message.endswith(": the file is read-only; a store writes")
    assert ready == "not ready"
    assert target.read_bytes() == before


def test_another_applications_orders_table_is_refused(tmp_path: Path) -> None:
    """A database holding another application's `orders` table is StoreUnavailable naming the
    table, and its data is left alone."""
    target = tmp_path / "shop.db"
    conn = sqlite3.connect(target)
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO orders VALUES (1, 9.5)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreUnavailable, match=r"another application.*orders"):
        SQLiteStore(target)
    conn = sqlite3.connect(target)
    assert conn.execute("SELECT * FROM orders").fetchall() == [(1, 9.5)]
    conn.close()


@pytest.mark.parametrize("path", [None, "", 42, "bad\x00path"])
def test_a_path_that_names_no_file_is_input_error(path: object) -> None:
    """A path that cannot name a file is InvalidInput naming `path`."""
    with pytest.raises(InvalidInput) as caught:
        SQLiteStore(path)  # type: ignore[arg-type]
    assert caught.value.field == "path"


def test_a_non_numeric_schema_version_is_named(store: OrderStore, spec: StoreSpec) -> None:
    """A schema_version row that is not a number is StoreUnavailable, not TypeError."""
    store.close()
    if spec[0] == "sqlite":
        raw(spec, "UPDATE schema_version SET version = 'one'")
    else:
        raw(spec, "ALTER TABLE schema_version ALTER COLUMN version TYPE TEXT")
        raw(spec, "UPDATE schema_version SET version = 'one'")
    with pytest.raises(StoreUnavailable, match="schema_version"):
        open_store(spec)


# --------------------------------------------------------------------------------------------
# Corrupt rows are named, never fatal to others


def test_a_head_that_is_not_utf8_is_corrupt_order(tmp_path: Path) -> None:
    """A head whose bytes are not UTF-8 is CorruptOrder naming the order and `head`, and the
    other orders still read."""
    store = SQLiteStore(tmp_path / "orders.db")
    store.add_many([new_order("AE-1"), new_order("AE-2")])
    conn = sqlite3.connect(tmp_path / "orders.db")
    conn.execute("UPDATE orders SET head = CAST(X'7B22FF22' AS TEXT) WHERE order_id = 'AE-1'")
    conn.commit()
    conn.close()
    with pytest.raises(CorruptOrder) as caught:
        store.get("AE-1")
    assert (caught.value.order_id, caught.value.field) == ("AE-1", "head")
    assert store.get("AE-2").order_id == "AE-2"
    swept = store.sweep(LATER)
    assert [a.order.order_id for a in swept] == ["AE-2"]
    assert [s.order_id for s in swept.skipped] == ["AE-1"]


def test_deeply_nested_json_is_corrupt_order(store: OrderStore, spec: StoreSpec) -> None:
    """A head nested deeper than any order's is CorruptOrder naming `head` (no
    RecursionError)."""
    store.add(new_order())
    deep = "[" * 100_000 + "]" * 100_000
    if spec[0] == "postgres":
        deep = json.dumps({"nested": json.loads("[" * 500 + "]" * 500)})
    set_head(spec, "AE-1", deep)
    with pytest.raises(CorruptOrder) as caught:
        store.get("AE-1")
    assert caught.value.order_id == "AE-1"
    assert caught.value.field is not None and caught.value.field.startswith("head")


def test_an_outbox_row_queued_ahead_never_fails_an_apply(
    store: OrderStore, spec: StoreSpec
) -> None:
    """R6: an outbox row put in by hand where the order's next notification goes never fails
    the apply that makes it (no UNIQUE violation): the notification is queued once, and its
    text is the order's."""
    store.add(new_order())
    raw(spec, "INSERT INTO outbox (order_id, position) VALUES ('AE-1', 0)")
    applied = store.apply("AE-1", "request_cancellation", at=PAID + dt.timedelta(hours=1))
    assert applied.version == 2
    (item,) = store.outbox()
    assert (item.position, item.notification) == (0, applied.order.notifications[0])
    assert raw(spec, "SELECT count(*) FROM outbox") == [(1,)]


@pytest.mark.parametrize(
    ("sql", "field"),
    [
        ("UPDATE order_log SET at = 'not a time'", "order_log[1]"),
        ("UPDATE order_log SET utc_offset = 86400", "order_log[1]"),
        ("UPDATE order_log SET data = '[1]'", "order_log[1].data"),
        ("UPDATE order_log SET from_state = 'delivered'", "order_log[1].from_state"),
        ("UPDATE order_log SET seq = 2", "order_log[1].seq"),
        ("UPDATE outbox SET position = 7", "outbox[1].position"),
    ],
)
def test_tampered_log_and_outbox_rows_are_corrupt_order(
    store: OrderStore, spec: StoreSpec, sql: str, field: str
) -> None:
    """R6 R16: history(), get() and outbox() check what they return: a tampered log or outbox
    row is CorruptOrder naming the order and the row's field, even for a store object that
    has the order cached (history reads the log itself)."""
    store.add(new_order())
    store.apply("AE-1", "request_cancellation", at=PAID + dt.timedelta(hours=1))
    if spec[0] == "postgres" and "at =" in sql:
        pytest.skip("PostgreSQL types the log's time column: a text time cannot be stored")
    if "order_log" in sql:
        tamper_log(spec, sql)
    else:
        raw(spec, sql)
    fresh = open_store(spec)
    try:
        reads: list[Any] = (
            [lambda: fresh.history("AE-1"), lambda: fresh.get("AE-1")]
            if "order_log" in sql
            else [fresh.outbox]
        )
        for read in reads:
            with pytest.raises(CorruptOrder) as caught:
                read()
            assert caught.value.order_id == "AE-1"
            assert caught.value.field is not None and caught.value.field.startswith(field)
    finally:
        fresh.close()


def test_log_times_keep_the_offset_they_were_sent_with(store: OrderStore) -> None:
    """R16: history() and outbox() return times with the offset the caller gave (+08:00), not
    the UTC the database keeps."""
    store.add(new_order())
    at = PAID + dt.timedelta(hours=1)
    store.apply("AE-1", "request_cancellation", at=at)
    (entry,) = store.history("AE-1")
    assert entry.at.isoformat() == at.isoformat()
    assert entry.to_dict()["at"].endswith("+08:00")
    (item,) = store.outbox()
    assert item.notification.at.isoformat() == at.isoformat()


# --------------------------------------------------------------------------------------------
# Rows edited by hand, and what callers do with what they get


def test_a_log_seq_that_is_not_a_number_is_corrupt(tmp_path: Path) -> None:
    """A log whose seq column holds text is CorruptOrder naming the log, on every read
    (never a TypeError)."""
    spec: StoreSpec = ("sqlite", str(tmp_path / "o.db"))
    store = open_store(spec)
    store.add(new_order())
    store.apply("AE-1", "request_cancellation", at=PAID + dt.timedelta(hours=1))
    tamper_log(spec, "UPDATE order_log SET seq = 'two'")
    fresh = open_store(spec)
    for read in (lambda: fresh.get("AE-1"), lambda: fresh.history("AE-1")):
        with pytest.raises(CorruptOrder) as caught:
            read()
        assert caught.value.field is not None and caught.value.field.startswith("order_log")
    fresh.close()
    store.close()


def test_a_naive_log_time_is_corrupt(tmp_path: Path) -> None:
    """R16: a log time without its offset is CorruptOrder, never read in the process's zone."""
    spec: StoreSpec = ("sqlite", str(tmp_path / "o.db"))
    store = open_store(spec)
    store.add(new_order())
    store.apply("AE-1", "request_cancellation", at=PAID + dt.timedelta(hours=1))
    tamper_log(spec, "UPDATE order_log SET at = '2026-03-02T02:00:00'")
    with pytest.raises(CorruptOrder):
        open_store(spec).get("AE-1")
    store.close()


def test_a_listing_names_a_corrupt_column(store: OrderStore, spec: StoreSpec) -> None:
    """A listed row whose deadline column is not a time is CorruptOrder naming the order and
    the column, never a ValueError."""
    store.add(new_order())
    if spec[0] == "postgres":
        pytest.skip("PostgreSQL types the deadline columns: text cannot be stored in them")
    raw(spec, "UPDATE orders SET dispatch_deadline = 'soon'")
    with pytest.raises(CorruptOrder) as caught:
        store.orders()  # type: ignore[attr-defined]
    assert (caught.value.order_id, caught.value.field) == ("AE-1", "dispatch_deadline")


def test_an_outbox_row_of_no_order_is_corrupt(tmp_path: Path) -> None:
    """R6: an outbox row that names no stored order (written with foreign keys off) is
    CorruptOrder naming the row, never a KeyError."""
    store = SQLiteStore(tmp_path / "o.db")
    store.add(new_order())
    conn = sqlite3.connect(tmp_path / "o.db")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO outbox (order_id, position) VALUES ('AE-404', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(CorruptOrder) as caught:
        store.outbox()
    assert caught.value.field == "outbox[1].order_id"
    store.close()


def test_an_order_handed_out_cannot_change_what_the_store_holds(store: OrderStore) -> None:
    """R11: an order a store hands out shares nothing changeable with its cache: a history
    record's data cannot be changed, and the next read is what was stored."""
    store.add(new_order())
    store.apply("AE-1", "dispatch", at=PAID, tracking_number="LP1")
    got = store.get("AE-1")
    with pytest.raises(TypeError, match="cannot be changed"):
        got.history[0].data["tracking_number"] = "EVIL"  # type: ignore[index]
    got.tracking_number = "EVIL"
    again = store.get("AE-1")
    assert (again.tracking_number, again.history[0].data["tracking_number"]) == ("LP1", "LP1")


def test_a_head_edited_at_the_same_version_is_noticed(store: OrderStore, spec: StoreSpec) -> None:
    """A head edited behind the store to a value that only looks equal (1 for true) is a miss
    for the store object that cached the order, and is refused (the flag must be a flag)."""
    store.add(new_order())
    assert store.get("AE-1").policy.auto_close_unshipped is True
    text = json.loads(head_text(spec))
    text["policy"]["auto_close_unshipped"] = 1
    set_head(spec, "AE-1", json.dumps(text))
    with pytest.raises(CorruptOrder) as caught:
        store.get("AE-1")
    assert caught.value.field == "head.policy.auto_close_unshipped"


def test_a_moment_past_year_9999_in_utc_is_an_input_error(store: OrderStore) -> None:
    """R16: an event dated where no store can keep its instant (9999-12-31T23:00-05:00 is year
    10000 in UTC) is InvalidInput naming `at`, and nothing is written."""
    store.add(new_order())
    late = dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    with pytest.raises(InvalidInput) as caught:
        store.apply("AE-1", "request_cancellation", at=late)
    assert caught.value.field == "at"
    assert store.history("AE-1") == ()
    with pytest.raises(InvalidInput):
        store.sweep(late)


def test_a_server_that_drops_the_connection_is_unavailable_then_comes_back(pg_dsn: str) -> None:
    """A PostgreSQL backend killed under a store is StoreUnavailable (a fault to retry, never
    a driver error), and the store connects again for the next call."""
    from statemachine.store import PostgresStore

    store = PostgresStore(pg_dsn)
    try:
        store.add(new_order())
        pid = store._db._conn.info.backend_pid  # type: ignore[attr-defined]
        raw(("postgres", pg_dsn), "SELECT pg_terminate_backend(?)", (pid,))
        with pytest.raises(StoreUnavailable) as caught:
            store.get("AE-1")
        assert "password" not in str(caught.value)
        assert store.get("AE-1").order_id == "AE-1"
    finally:
        store.close()


def test_a_sqlite_file_whose_tables_went_is_unavailable(tmp_path: Path) -> None:
    """Tables dropped under a SQLite store make its calls StoreUnavailable naming the file,
    never a raw sqlite3 error."""
    store = SQLiteStore(tmp_path / "o.db")
    store.add(new_order())
    raw(("sqlite", str(tmp_path / "o.db")), "DROP TABLE outbox")
    with pytest.raises(StoreUnavailable, match=r"o\.db"):
        store.outbox()
    store.close()


def test_a_stopped_postgresql_is_answered_within_seconds_and_recovers() -> None:
    """A PostgreSQL server stopped under a pooled store: each read and write is
    StoreUnavailable within seconds (a bounded wait for a connection, not half a minute), the
    order untouched; started again, the same store object serves the order as it was."""
    import time

    from pg_server import PostgresUnavailable, TempPostgres

    from statemachine.errors import StoreUnavailable
    from statemachine.store import PostgresStore
    from tests.helpers import skip_or_fail

    try:
        server = TempPostgres().start()
    except PostgresUnavailable as exc:
        skip_or_fail(f"PostgresStore is not tested: {exc}")
    store = None
    try:
        store = PostgresStore(server.dsn, pool_size=2)
        store.add(new_order())
        server.halt()
        began = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get("AE-1")
        with pytest.raises(StoreUnavailable):
            store.apply("AE-1", "request_cancellation", at=PAID)
        assert time.monotonic() - began < 30  # two bounded waits, with room to spare
        server.resume()
        deadline = time.monotonic() + 60
        while True:  # the pool reconnects on its own
            try:
                order = store.get("AE-1")
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not recover"
                time.sleep(0.2)
        assert (order.state, len(order.history)) == ("paid", 0)
    finally:
        if store is not None:
            store.close()
        server.stop()


def test_a_postgresql_database_that_takes_no_writes_is_unavailable(pg_base_dsn: str) -> None:
    """R1: `ping`, the readiness check, proves the store takes a write, not only that it
    answers. After a failover to a database that takes no writes (a hot standby; here
    `default_transaction_read_only` and the sessions ended), `ping` and `add` are
    StoreUnavailable (503 with Retry-After over HTTP, status 4 on the command line), never a
    bug, and reads still work; opening a store there says the same. Nothing is stored."""
    import uuid

    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"ro_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_base_dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    dsn = make_conninfo(pg_base_dsn, dbname=name)
    try:
        with PostgresStore(dsn) as store:
            store.add(new_order("AE-1"))
            store.ping()
            with psycopg.connect(pg_base_dsn, autocommit=True) as admin:
                admin.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
            with contextlib.suppress(StoreUnavailable):
                store.ping()  # the session that was ended, if the store still held it
            with pytest.raises(StoreUnavailable, match="read-only"):
                store.ping()
            with pytest.raises(StoreUnavailable, match="read-only"):
                store.add(new_order("AE-2"))
            assert store.get("AE-1").state == "paid"
        with pytest.raises(StoreUnavailable, match="read-only"):
            PostgresStore(dsn)
        rows = raw(("postgres", dsn), "SELECT order_id FROM orders")
        assert rows == [("AE-1",)]
    finally:
        with psycopg.connect(pg_base_dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
