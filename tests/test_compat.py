"""Stored data outlives releases: every database and JSON body an earlier release wrote
(``tests/compat/<folder>``, each with a README saying which release wrote it) opens, replays,
lists and takes new events with this one, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from statemachine import Order
from statemachine.declaration._table import FINAL_STATES
from statemachine.runtime._serialize import FORMAT_VERSION
from statemachine.store import (
    SCHEMA_VERSION,
    CorruptOrder,
    OrderStore,
    PostgresStore,
    SQLiteStore,
    StoreUnavailable,
)

COMPAT = Path(__file__).parent / "compat"
FOLDERS = sorted(p for p in COMPAT.iterdir() if (p / "expected.json").exists())
SHANGHAI = ZoneInfo("Asia/Shanghai")
LATER = dt.datetime(2027, 2, 1, 10, tzinfo=SHANGHAI)
"""After every deadline the fixtures' orders hold, so the clock has work on each."""


def _expected(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    return data


def _bodies(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((folder / "bodies").glob("*.json"))
    }


def _as_written_now(body: dict[str, Any]) -> dict[str, Any]:
    """An earlier release's body as this release writes the same order: the layout of today
    (``FORMAT_VERSION``), which names the definition; every body written before versions
    existed is an ``orders@1`` order."""
    assert "definition" not in body and body["format_version"] < FORMAT_VERSION
    return {**body, "definition": "orders@1", "format_version": FORMAT_VERSION}


def _as_read_now(entry: dict[str, Any]) -> dict[str, Any]:
    """A log entry an earlier release read back, as this release reads the same row: who sent
    it and their note are unknown (``None``) for one logged before schema 4 kept them, and
    every event logged before versions existed was decided by ``orders@1``."""
    return {"actor": None, "note": None, "definition": "orders@1", **entry}


@pytest.fixture(params=FOLDERS, ids=[p.name for p in FOLDERS])
def folder(request: pytest.FixtureRequest) -> Path:
    """One fixture folder written by an earlier release."""
    found: Path = request.param
    return found


@pytest.fixture
def sqlite_copy(folder: Path, tmp_path: Path) -> str:
    """A copy of the folder's SQLite store (the fixture itself is never written to)."""
    target = tmp_path / "orders.db"
    shutil.copyfile(folder / "orders.db", target)
    return str(target)


@pytest.fixture
def postgres_copy(folder: Path, pg_base_dsn: str) -> Iterator[str]:
    """The folder's PostgreSQL dump restored into a schema of its own; its DSN."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    schema = f"compat_{uuid.uuid4().hex[:10]}"
    dump = (folder / "postgres.sql").read_text(encoding="utf-8")
    script = "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))
    script = re.sub(r"\borderfsm_fixture\b", schema, script)
    with psycopg.connect(pg_base_dsn, autocommit=True) as conn:
        conn.execute(script)  # type: ignore[arg-type]
        conn.execute("SELECT pg_catalog.set_config('search_path', 'public', false)")
    yield make_conninfo(pg_base_dsn, options=f"-csearch_path={schema}")
    with psycopg.connect(pg_base_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[arg-type]


def _reads_as_written(store: OrderStore, expected: dict[str, Any], bodies: dict[str, Any]) -> None:
    """Every order reads back as the old release read it: state, version, log (events,
    states, times with their offsets, event ids, sources, data, and from schema 4 who sent
    each event and their note), notifications, outbox; every order and log entry is
    ``orders@1``, the only definition there was, and a migration's listing finds them."""
    orders = expected["orders"]
    listed = [row.order_id for row in store.orders(limit=10_000)]  # type: ignore[attr-defined]
    assert listed == sorted(orders)
    counts: dict[str, int] = {}
    for order_id, want in orders.items():
        loaded = store.load(order_id)
        assert (loaded.order.state, loaded.version) == (want["state"], want["version"])
        assert loaded.order.definition == "orders@1"
        logged = [e.to_dict() for e in store.history(order_id)]
        assert all(e["definition"] == "orders@1" for e in logged)
        assert logged == [_as_read_now(e) for e in want["history"]]
        assert loaded.order.to_dict() == _as_written_now(bodies[order_id])
        queued = store.notifications(order_id)  # type: ignore[attr-defined]
        assert [
            {"id": n.notification_id, "position": n.position, "acked": n.acked} for n in queued
        ] == want["notifications"]
        counts[want["state"]] = counts.get(want["state"], 0) + 1
    assert store.state_counts() == counts  # type: ignore[attr-defined]
    unfinished = sorted(oid for oid, want in orders.items() if want["state"] not in FINAL_STATES)
    by_definition = {"orders@1": len(unfinished)}  # and so the old release counted, if it did
    assert store.unfinished_by_definition(FINAL_STATES) == by_definition
    assert expected.get("unfinished_by_definition", by_definition) == by_definition
    assert store.unfinished_ids("orders@1", FINAL_STATES, limit=1000) == unfinished
    assert [item.to_dict() for item in store.outbox(limit=10_000)] == expected["outbox"]
    _found_as_written(store, bodies)
    tried = store.deliveries(range(1, 10_000))  # type: ignore[attr-defined]
    assert [
        {k: d.to_dict()[k] for k in ("notification_id", "attempts", "status", "last_error")}
        for d in tried.values()
    ] == expected["deliveries"]
    _relays_as_left(store, expected)


def _found_as_written(store: OrderStore, bodies: dict[str, Any]) -> None:
    """Issue 20 (store schema 5): the move made every order's search columns from its log, so
    each order the old release wrote is found by its id, its number, its tracking number and
    its amount, listed with its amount, currency and age, and sorted by amount as the bodies
    say; the attention list names every order with an incident (R1, R7)."""
    for order_id, body in bodies.items():
        assert order_id in [r.order_id for r in store.search(order_id.lower())]  # type: ignore[attr-defined]
        number = order_id.split("-")[-1]
        assert order_id in [r.order_id for r in store.search(number)]  # type: ignore[attr-defined]
        if body["tracking_number"] is not None:
            tracked = store.search(body["tracking_number"].lower())  # type: ignore[attr-defined]
            assert order_id in [r.order_id for r in tracked]
        priced = store.search(f"{body['amount']} {body['currency']}")  # type: ignore[attr-defined]
        assert order_id in [r.order_id for r in priced]
    rows = {r.order_id: r for r in store.orders(sort="amount", limit=10_000)}  # type: ignore[call-arg]
    for order_id, body in bodies.items():
        row = rows[order_id]
        assert (str(row.amount), row.currency) == (body["amount"], body["currency"])
        assert row.paid_at == dt.datetime.fromisoformat(body["paid_at"])
    by_amount = [Decimal(bodies[oid]["amount"]) for oid in rows]
    assert by_amount == sorted(by_amount)
    flagged = {a.order.order_id for a in store.attention(LATER, reasons=["incident"])}  # type: ignore[attr-defined]
    assert flagged == {oid for oid, body in bodies.items() if body["incidents"]}


def _relays_as_left(store: OrderStore, expected: dict[str, Any]) -> None:
    """R6: the old release's outbox goes on under leases: each notification stands as its
    tries left it (a dead letter dead, a retrying one retrying, the rest waiting or
    delivered); before schema 4 no lease held and no time of queuing known, from schema 4
    what that release's relay kept reads as it read it (:func:`_kept_by_the_relay`). A relay
    claims the waiting ones first in their order's queue (one an old relay claimed and
    left to its lease included), and its tries are kept after the old ones."""
    states = {s.notification_id: s for s in store.delivery_states(limit=1000)}  # type: ignore[attr-defined]
    tried = {d["notification_id"]: d["status"] for d in expected["deliveries"]}
    waiting = {item["id"] for item in expected["outbox"]}
    for nid, state in states.items():
        want = {"dead": "dead", "retrying": "retrying", "acked": "sent"}.get(
            tried.get(nid, ""), "waiting" if nid in waiting else "sent"
        )
        assert state.standing == want, (nid, state)
    if "delivery_states" in expected:
        _kept_by_the_relay(store, expected, list(states.values()))
    else:
        for state in states.values():
            assert (state.leased_until, state.queued_at) == (None, None)
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)  # past every next try the old release set
    claimed = store.claim("compat", now, dt.timedelta(minutes=1), 1000)  # type: ignore[attr-defined]
    firsts: dict[str, int] = {}
    for item in expected["outbox"]:
        firsts.setdefault(item["order_id"], item["id"])
    assert sorted(item.id for item in claimed) == sorted(firsts.values())
    one = claimed[0]
    store.record_delivery(one.id, status="acked", error=None, next_attempt_at=None,  # type: ignore[attr-defined]
                          now=now, answer="HTTP 200", owner="compat")  # fmt: skip
    before = [t["answer"] for t in expected.get("tries", {}).get(str(one.id), [])]
    assert [t.answer for t in store.tries(one.id)] == [*before, "HTTP 200"]  # type: ignore[attr-defined]
    assert store.release("compat") == len(claimed) - 1  # type: ignore[attr-defined]
    for dead in expected.get("dead_letters", []):  # sent again, its old tries kept
        nid = dead["notification_id"]
        assert store.redeliver([nid]) == 1
        again = store.delivery_state(nid)  # type: ignore[attr-defined]
        assert (again.standing, again.attempts) == ("waiting", 0)
        assert len(store.tries(nid)) == len(expected["tries"][str(nid)])  # type: ignore[attr-defined]


def _kept_by_the_relay(store: OrderStore, expected: dict[str, Any], states: list[Any]) -> None:
    """Schema 4: what the old release's relay kept reads back as that release read it: where
    each notification stands (its tries, last answer, next try, a lease left to run out),
    when each was queued (the database's own clock, so each database's apart), every try,
    the dead letters, the outbox's depth; and the inspector's sessions, the open one open
    until this release ends it, the ended one gone."""
    backend = "postgres" if isinstance(store, PostgresStore) else "sqlite"
    standing = [{k: v for k, v in s.to_dict().items() if k != "queued_at"} for s in states]
    assert standing == expected["delivery_states"]
    assert {
        str(s.notification_id): None if s.queued_at is None else s.queued_at.isoformat()
        for s in states
    } == expected["queued_at"][backend]
    assert {
        str(s.notification_id): [t.to_dict() for t in store.tries(s.notification_id)]  # type: ignore[attr-defined]
        for s in states
    } == expected["tries"]
    dead = store.dead_letters(limit=1000)  # type: ignore[attr-defined]
    assert [d.to_dict() for d in dead] == expected["dead_letters"]
    assert store.outbox_depth() == expected["outbox_depth"]  # type: ignore[attr-defined]
    sessions = expected["sessions"]
    at = dt.datetime.fromisoformat(sessions["at"])
    for kept in (sessions["open"], sessions["ended"]):
        found = store.session(kept["id"], at)  # type: ignore[attr-defined]
        assert kept["reads"] == (
            None
            if found is None
            else {
                "credential": found.credential,
                "secret_print": found.secret_print,
                "csrf": found.csrf,
                "created_at": found.created_at.isoformat(),
                "expires_at": found.expires_at.isoformat(),
            }
        )
    assert store.end_session(sessions["open"]["id"])  # type: ignore[attr-defined]
    assert store.session(sessions["open"]["id"], at) is None  # type: ignore[attr-defined]


def _takes_new_events(store: OrderStore, reopen: Any, expected: dict[str, Any]) -> None:
    """R15 R12 R4: an event id the old release applied is still a duplicate; callers' events
    and the clock's go on from where the old release left each order, and a store object
    that has cached nothing reads the result back."""
    old = expected["orders"]
    dup = store.apply(
        "AE-1003", "dispatch", at=LATER, event_id="wh-7731", tracking_number="LP00000103CN"
    )
    assert (dup.duplicate, dup.version) == (True, old["AE-1003"]["version"])
    moves = {
        "AE-2001": ("offer_goodwill_refund", {"amount": "3.00"}),
        "AE-2002": ("settle_refund", {}),
        "AE-2003": ("supplier_accepts_cancellation", {}),
    }
    at = dt.datetime(2026, 12, 20, 10, tzinfo=SHANGHAI)
    for order_id, (event, data) in moves.items():
        applied = store.apply(
            order_id,
            event,
            at=at,
            source="compat",
            event_id=f"new-{order_id}",
            actor="compat-check",
            note=f"{event} after the upgrade",
            **data,
        )
        assert applied.version == old[order_id]["version"] + 1
    swept = store.sweep(LATER, limit=100)
    fired = {(a.order.order_id, a.result.event) for a in swept}
    assert ("AE-2004", "dispatch_deadline_expired") in fired
    assert ("AE-2005", "repayment_overdue") in fired
    assert not swept.skipped
    fresh = reopen()
    try:
        for order_id, (event, _) in moves.items():
            log = fresh.history(order_id)
            new = log[len(old[order_id]["history"])]  # then, maybe, the clock's
            kept = [e.to_dict() for e in log[: new.seq - 1]]
            assert kept == [_as_read_now(e) for e in old[order_id]["history"]]
            assert (new.event, new.source, new.event_id, new.actor, new.note) == (
                event,
                "compat",
                f"new-{order_id}",
                "compat-check",
                f"{event} after the upgrade",
            )
            assert new.definition == "orders@1"
            assert fresh.get(order_id).definition == "orders@1"
            assert fresh.get(order_id) == store.get(order_id)
        assert fresh.get("AE-2004").state == "refund_pending"
        assert fresh.sweep(LATER) == []
    finally:
        fresh.close()


def test_a_sqlite_store_of_an_earlier_release_opens_replays_lists_and_goes_on(
    folder: Path, sqlite_copy: str
) -> None:
    """R15 R16: a SQLite store written by an earlier release is brought to this schema on
    opening, reads back exactly as that release read it, and takes new events."""
    store = SQLiteStore(sqlite_copy)
    try:
        conn = sqlite3.connect(sqlite_copy)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        conn.close()
        assert {"inbox", "orderfsm_web_deliveries"}.isdisjoint(tables)
        _reads_as_written(store, _expected(folder), _bodies(folder))
        _takes_new_events(store, lambda: SQLiteStore(sqlite_copy), _expected(folder))
    finally:
        store.close()


def test_a_postgres_store_of_an_earlier_release_opens_replays_lists_and_goes_on(
    folder: Path, postgres_copy: str
) -> None:
    """R15 R16: a PostgreSQL store written by an earlier release is brought to this schema on
    opening, reads back exactly as that release read it, and takes new events."""
    store = PostgresStore(postgres_copy)
    try:
        _reads_as_written(store, _expected(folder), _bodies(folder))
        _takes_new_events(store, lambda: PostgresStore(postgres_copy), _expected(folder))
    finally:
        store.close()


def test_json_bodies_of_an_earlier_release_read_back_and_go_on(
    folder: Path, tmp_path: Path
) -> None:
    """R16: every JSON body an earlier release wrote reads back (from_dict replays it), writes
    back the same, is stored by add_many, and takes a new event."""
    bodies = _bodies(folder)
    orders = {oid: Order.from_dict(body) for oid, body in bodies.items()}
    for oid, order in orders.items():
        assert order.to_dict() == _as_written_now(bodies[oid])
    with SQLiteStore(tmp_path / "again.db") as store:
        assert store.add_many(orders.values(), source="import") == len(orders)
        for oid, order in orders.items():
            assert store.get(oid) == order
        store.apply("AE-2003", "supplier_accepts_cancellation", at=LATER)
        assert store.get("AE-2003").state == "refund_pending"
    paid = orders["AE-2004"]
    paid.dispatch(tracking_number="LP-NEW", at=LATER)
    assert Order.from_dict(paid.to_dict()) == paid


# ------------------------------------------------------------------------------------------
# What release 2 could not read either is carried over, archived, and holds nobody back

schema2_only = pytest.mark.parametrize("folder", [COMPAT / "schema2"], ids=["schema2"])
"""The tests below write release 2's tables (``inbox``, ``order_log`` of nine columns) into
its store before the move: only the schema-2 folder has them."""


def _schema2_sqlite(path: str, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def _unread(path: str) -> dict[str, tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT order_id, body, log, inbox FROM schema2_unread").fetchall()
    conn.close()
    return {row[0]: row[1:] for row in rows}


@schema2_only
def test_an_unreadable_order_with_a_repeated_event_id_is_carried_over(sqlite_copy: str) -> None:
    """R15: an order release 2 could not read (its body broken, its log repeating an event id)
    does not stop the store from opening: it is carried over, named corrupt, and kept whole in
    schema2_unread; every other order reads as before."""
    _schema2_sqlite(
        sqlite_copy,
        "UPDATE orders SET body = '{\"truncated\": ' WHERE order_id = 'AE-2001'",
        "INSERT INTO order_log VALUES ('AE-2001', 3, 'dispatch', 'delivered', 'delivered', "
        "'2026-09-10T02:00:00.000000+00:00', 'wh-9001', 'supplier', '{}')",
    )
    with SQLiteStore(sqlite_copy) as store:
        with pytest.raises(CorruptOrder, match="schema2_unread") as caught:
            store.get("AE-2001")
        assert caught.value.field == "head"
        assert store.get("AE-2002").state == "refund_pending"
        assert len(store.orders(limit=100)) == len(_expected(COMPAT / "schema2")["orders"])
        swept = store.sweep(LATER)
        assert "AE-2004" in {a.order.order_id for a in swept}
    body, log, inbox = _unread(sqlite_copy)["AE-2001"]
    assert body.startswith('{"truncated"')
    assert [entry[0] for entry in json.loads(log)] == [1, 2, 3]
    assert sorted(json.loads(inbox)) == ["wh-9001", "wh-9002"]


@schema2_only
def test_a_log_or_inbox_that_says_more_than_the_body_is_not_dropped(sqlite_copy: str) -> None:
    """R15: release 2 called an order corrupt whose log held an event its body did not; such an
    order is carried over (never moved with the extra row and claim dropped), so the claimed
    event id is never applied again."""
    _schema2_sqlite(
        sqlite_copy,
        "INSERT INTO order_log VALUES ('AE-2001', 3, 'open_claim', 'delivered', 'claim_open', "
        "'2026-09-10T02:00:00.000000+00:00', 'wh-9003', 'customer', '{}')",
        "INSERT INTO inbox VALUES ('AE-2001', 'wh-9003', 'open_claim', 'customer')",
    )
    with SQLiteStore(sqlite_copy) as store:
        with pytest.raises(CorruptOrder):
            store.history("AE-2001")
        with pytest.raises(CorruptOrder):
            store.apply("AE-2001", "open_claim", at=LATER, event_id="wh-9003",
                        reason="damaged_in_transit", amount="1.00")  # fmt: skip
    _, log, inbox = _unread(sqlite_copy)["AE-2001"]
    assert [entry[5] for entry in json.loads(log)] == ["wh-9001", "wh-9002", "wh-9003"]
    assert "wh-9003" in json.loads(inbox)


@schema2_only
def test_an_order_id_that_is_not_text_does_not_stop_the_move(sqlite_copy: str) -> None:
    """A release-2 row whose id is not UTF-8 text is carried over by its place in the file, and
    the other orders move and read."""
    _schema2_sqlite(
        sqlite_copy,
        "INSERT INTO orders SELECT CAST(X'41452DFF' AS TEXT), state, version, dispatch_deadline, "
        "repayment_deadline, due_at, body FROM orders WHERE order_id = 'AE-2004'",
    )
    with SQLiteStore(sqlite_copy) as store:
        ids = {row.order_id for row in store.orders(limit=100)}
        assert set(_expected(COMPAT / "schema2")["orders"]) <= ids
        assert store.get("AE-2004").state == "paid"


@schema2_only
def test_a_postgres_time_past_year_9999_does_not_stop_the_move(
    folder: Path, postgres_copy: str
) -> None:
    """R16: a release-2 PostgreSQL log time past year 9999 in UTC (which release 2 let in) does
    not stop the move: the order is carried over and named corrupt, its rows archived; every
    other order reads."""
    import psycopg

    with psycopg.connect(postgres_copy, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO order_log VALUES ('AE-2004', 1, 'request_cancellation', 'paid', "
            "'cancel_requested', '9999-12-31T23:00:00-05:00', 'far', 'customer', '{}')"
        )
    with PostgresStore(postgres_copy) as store:
        with pytest.raises(CorruptOrder, match="schema2_unread"):
            store.get("AE-2004")
        assert store.get("AE-2005").state == "refund_pending"
        with psycopg.connect(postgres_copy, autocommit=True) as conn:
            row = conn.execute("SELECT log FROM schema2_unread WHERE order_id = 'AE-2004'")
            (log,) = row.fetchone() or (None,)
        assert log is not None and "10000-01-01" in log


# ------------------------------------------------------------------------------------------
# The move to store schema 5 makes every order again from its log

schema4_only = pytest.mark.parametrize("folder", [COMPAT / "schema4"], ids=["schema4"])
"""The tests below change a schema-4 store (a copy) before this release opens it."""


def _schema4_sqlite(path: str, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


@schema4_only
def test_the_move_to_5_refuses_orders_of_a_version_not_registered(sqlite_copy: str) -> None:
    """The move to schema 5 makes every order again through its own machine: a store holding
    orders of a version this process has not registered is refused, naming it, and left at
    schema 4, unchanged; registered, it moves."""
    _schema4_sqlite(
        sqlite_copy, "UPDATE orders SET definition = 'orders@9' WHERE order_id = 'AE-2004'"
    )
    with pytest.raises(StoreUnavailable, match=r"1 under orders@9.*nothing was changed"):
        SQLiteStore(sqlite_copy)
    conn = sqlite3.connect(sqlite_copy)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(4,)]
    assert "order_key" not in {row[1] for row in conn.execute("PRAGMA table_info(orders)")}
    conn.close()
    _schema4_sqlite(
        sqlite_copy, "UPDATE orders SET definition = 'orders@1' WHERE order_id = 'AE-2004'"
    )
    with SQLiteStore(sqlite_copy) as store:
        assert [r.order_id for r in store.search("2004")] == ["AE-2004"]


@schema4_only
def test_an_order_the_move_to_5_cannot_make_stays_corrupt_until_repaired_and_rebuilt(
    sqlite_copy: str,
) -> None:
    """R16: an order whose rows are corrupt when the store moves to schema 5 does not stop the
    move: its new columns stay empty, it stays CorruptOrder (naming its head), search does not
    find it and a listing still shows it; repaired by hand, it is CorruptOrder naming the
    first empty column until ``rebuild`` writes them from its log."""
    conn = sqlite3.connect(sqlite_copy)
    [(head,)] = conn.execute("SELECT head FROM orders WHERE order_id = 'AE-1003'").fetchall()
    conn.close()
    _schema4_sqlite(sqlite_copy, "UPDATE orders SET head = '[]' WHERE order_id = 'AE-1003'")
    with SQLiteStore(sqlite_copy) as store:
        with pytest.raises(CorruptOrder) as corrupt:
            store.get("AE-1003")
        assert corrupt.value.field == "head"
        assert store.search("ae-1003") == []
        [listed] = [r for r in store.orders(limit=100) if r.order_id == "AE-1003"]
        assert (listed.amount, listed.paid_at) == (None, None)
        assert store.get("AE-1002").state == "dispatched"
    conn = sqlite3.connect(sqlite_copy)
    conn.execute("UPDATE orders SET head = ? WHERE order_id = 'AE-1003'", (head,))
    conn.commit()
    conn.close()
    with SQLiteStore(sqlite_copy) as store:
        with pytest.raises(CorruptOrder) as corrupt:
            store.get("AE-1003")
        assert corrupt.value.field == "tracking_key"
        assert store.rebuild("AE-1003").order.state == "dispatched"
        assert [r.order_id for r in store.search("LP00000103CN")] == ["AE-1003"]


@schema4_only
def test_the_move_to_5_on_postgres_refuses_an_unregistered_version_and_changes_nothing(
    postgres_copy: str,
) -> None:
    """The same refusal on PostgreSQL: the move runs in one transaction, so the store is left
    at schema 4 with none of schema 5's columns."""
    import psycopg

    with psycopg.connect(postgres_copy, autocommit=True) as conn:
        conn.execute("UPDATE orders SET definition = 'orders@9' WHERE order_id = 'AE-2004'")
    with pytest.raises(StoreUnavailable, match="orders@9"):
        PostgresStore(postgres_copy)
    with psycopg.connect(postgres_copy, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(4,)]
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders' "
            "AND table_schema = current_schema()"
        ).fetchall()
        assert ("order_key",) not in columns
