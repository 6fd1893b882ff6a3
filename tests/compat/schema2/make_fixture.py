"""How ``tests/compat/schema2`` was written: by ``main`` at commit bf76a8f (store schema 2,
order format 2), before the store kept each fact once. Kept to show what the fixture holds; it
runs only against that release (``git worktree add /tmp/old bf76a8f``, then run it with that
checkout first on ``sys.path``)::

    python tests/compat/schema2/make_fixture.py OUT_DIR [PG_DSN]

It writes ``orders.db`` (SQLite), ``bodies/<order id>.json`` (each order's ``to_dict()``),
``expected.json`` (what that release read back: state, version, history with sources, pending
and acknowledged notifications, delivery records) and, given a DSN, ``postgres.sql`` (the same
orders in PostgreSQL, dumped with ``pg_dump --inserts`` from the schema ``orderfsm_fixture``).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def at(month: int, day: int, hour: int = 10, minute: int = 0, tz: Any = SHANGHAI) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=tz)


def fill(store: Any) -> None:
    """The demo's eight stories, then orders that use what the demo does not."""
    from statemachine import Order, Policy
    from statemachine._demo import tell_all

    tell_all(store)
    # A policy of its own, an event id per event, a source per event, left in flight.
    policy = Policy(
        dispatch_business_days=5,
        claim_window_days=20,
        extra_holidays=["2026-09-07"],
        extra_working_days=["2026-09-12"],
    )
    store.add(Order.create("AE-2001", "12.34", "EUR", at(9, 1), policy=policy))
    store.apply("AE-2001", "dispatch", at=at(9, 2, 9), event_id="wh-9001", source="supplier",
                tracking_number="LP-ÜNI-2001")  # fmt: skip
    store.apply("AE-2001", "confirm_delivery", at=at(9, 9, 14), event_id="wh-9002",
                source="carrier")  # fmt: skip
    # Times sent from New York (-04:00), a claim left open, its refund pending.
    store.add(Order.create("AE-2002", "99.99", "USD", at(9, 3, 8, tz=NEW_YORK)))
    store.apply("AE-2002", "dispatch", at=at(9, 4, 9, tz=NEW_YORK), event_id="wh-9101",
                source="supplier", tracking_number="LP00002002CN")  # fmt: skip
    store.apply("AE-2002", "confirm_delivery", at=at(9, 14, 9, tz=NEW_YORK), source="carrier")
    store.apply("AE-2002", "open_claim", at=at(9, 15, 9, tz=NEW_YORK), event_id="cl-1",
                source="customer", reason="damaged_in_transit", amount="50.00",
                listing_altered=True)  # fmt: skip
    # Added with a history of its own (an import), a cancellation request in flight.
    imported = Order.create("AE-2003", "7.00", "GBP", at(10, 12))
    imported.fire("request_cancellation", at=at(10, 12, 11), event_id="imp-1")
    store.add_many([imported], source="import")
    # Paid and never touched: due for the clock at the end of its R1 window.
    store.add(Order.create("AE-2004", "250", "JPY", at(11, 2)))
    # A supplier who accepted a cancellation and has not repaid: R4 overdue comes later.
    store.add(Order.create("AE-2005", "45.00", "USD", at(11, 16)))
    store.apply("AE-2005", "request_cancellation", at=at(11, 16, 12), source="customer")
    store.apply("AE-2005", "supplier_accepts_cancellation", at=at(11, 17, 9), source="supplier")


def deliveries(store: Any, tables: Any) -> None:
    """What the web relay recorded: one notification acked, one retrying, one dead letter."""
    pending = store.outbox(limit=10_000)
    store.ack([pending[0].id])
    tables.setup()
    now = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
    first, second, third = pending[0], pending[1], pending[2]
    tables.record(first.id, first.order_id, first.position, status="acked", error=None,
                  next_attempt_at=None, now=now)  # fmt: skip
    tables.record(second.id, second.order_id, second.position, status="retrying",
                  error="HTTP 503", next_attempt_at=now + dt.timedelta(minutes=5),
                  now=now)  # fmt: skip
    for _ in range(3):
        tables.record(third.id, third.order_id, third.position, status="retrying",
                      error="connection refused", next_attempt_at=now, now=now)  # fmt: skip
    tables.give_up(third.id, now)


def expected(path: str) -> dict[str, Any]:
    """What this release reads back from the SQLite file."""
    import sqlite3

    from statemachine.store import SQLiteStore

    out: dict[str, Any] = {"orders": {}}
    with SQLiteStore(path) as store:
        ids = [row.order_id for row in store.orders(limit=10_000)]
        for order_id in ids:
            loaded = store.load(order_id)
            out["orders"][order_id] = {
                "state": loaded.order.state,
                "version": loaded.version,
                "history": [e.to_dict() for e in store.history(order_id)],
                "notifications": [
                    {"id": n.notification_id, "position": n.position, "acked": n.acked}
                    for n in store.notifications(order_id)
                ],
            }
        out["outbox"] = [item.to_dict() for item in store.outbox(limit=10_000)]
    conn = sqlite3.connect(path)
    out["deliveries"] = [
        dict(zip(("notification_id", "attempts", "status", "last_error"), row, strict=True))
        for row in conn.execute(
            "SELECT notification_id, attempts, status, last_error FROM orderfsm_web_deliveries "
            "ORDER BY notification_id"
        )
    ]
    conn.close()
    return out


def main(out: Path, dsn: str | None) -> None:
    from statemachine.store import PostgresStore, SQLiteStore

    out.mkdir(parents=True, exist_ok=True)
    db = out / "orders.db"
    db.unlink(missing_ok=True)
    with SQLiteStore(db) as store:
        fill(store)
        bodies = out / "bodies"
        bodies.mkdir(exist_ok=True)
        for row in store.orders(limit=10_000):
            body = store.get(row.order_id).to_dict()
            (bodies / f"{row.order_id}.json").write_text(
                json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
    from statemachine.web._tables import PostgresTables, SQLiteTables

    with SQLiteStore(db) as store:
        tables = SQLiteTables(str(db))
        deliveries(store, tables)
        tables.close()
    conn_checkpoint(str(db))
    (out / "expected.json").write_text(
        json.dumps(expected(str(db)), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    if dsn is None:
        return
    import psycopg
    from psycopg.conninfo import make_conninfo

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS orderfsm_fixture CASCADE")
        conn.execute("CREATE SCHEMA orderfsm_fixture")
    schema_dsn = make_conninfo(dsn, options="-csearch_path=orderfsm_fixture")
    with PostgresStore(schema_dsn) as pg:
        fill(pg)
        pg_tables = PostgresTables(schema_dsn)
        deliveries(pg, pg_tables)
        pg_tables.close()
    dump = subprocess.run(
        ["pg_dump", "--schema=orderfsm_fixture", "--inserts", "--no-owner", "--no-privileges",
         "--no-comments", dsn],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (out / "postgres.sql").write_text(dump.stdout, encoding="utf-8")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA orderfsm_fixture CASCADE")


def conn_checkpoint(path: str) -> None:
    """Fold the WAL into the file, so that one file holds the whole database."""
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
