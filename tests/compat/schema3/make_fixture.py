"""How ``tests/compat/schema3`` was written: by ``main`` at commit 5a21c0e (store schema 3,
order format 2), before the outbox relay took leases and kept a table of delivery tries. Kept
to show what the fixture holds; it runs only against that release (``git worktree add
/tmp/old 5a21c0e``, then run it with that checkout first on ``sys.path``)::

    PYTHONPATH=/tmp/old python tests/compat/schema3/make_fixture.py OUT_DIR [PG_DSN]

It writes ``orders.db`` (SQLite), ``bodies/<order id>.json`` (each order's ``to_dict()``),
``expected.json`` (what that release read back: state, version, history with sources, pending
and acknowledged notifications, delivery records: ``deliveries`` the four fields
``tests/test_compat.py`` compares, ``delivery_records`` each whole, with its next try and when
it was written) and, given a DSN, ``postgres.sql`` (the same orders in PostgreSQL, dumped
with ``pg_dump --inserts`` from the schema ``orderfsm_fixture``; the PostgreSQL store must
read back as the SQLite one did).

Schema 3 keeps what the relay did with each notification in the ``outbox`` row itself
(``attempts``, ``status``, ``next_attempt_at``, ``last_error``, ``updated_at``), written here
through the store's own ``record_delivery``, ``give_up`` and ``ack``, as the relay of that
release wrote them.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
"""When the relay's tries happened."""


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


def deliveries(store: Any) -> None:
    """What the relay recorded in the outbox rows: one notification delivered, one retrying
    (its next try due, its last error kept), one dead letter after three tries; and one more
    acknowledged by hand (``outbox --ack``), never tried by a relay."""
    pending = store.outbox(limit=10_000)
    first, second, third, fourth = pending[0], pending[1], pending[2], pending[3]
    store.record_delivery(first.id, status="acked", error=None, next_attempt_at=None, now=NOW)
    store.record_delivery(second.id, status="retrying", error="HTTP 503",
                          next_attempt_at=NOW + dt.timedelta(minutes=5), now=NOW)  # fmt: skip
    for _ in range(3):
        store.record_delivery(third.id, status="retrying", error="connection refused",
                              next_attempt_at=NOW, now=NOW)  # fmt: skip
    store.give_up(third.id, NOW)
    assert store.ack([fourth.id]) == 1


def expected(store: Any) -> dict[str, Any]:
    """What this release reads back from a store."""
    out: dict[str, Any] = {"orders": {}}
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
    tried = store.deliveries(range(1, 10_000)).values()
    out["deliveries"] = [
        {k: d.to_dict()[k] for k in ("notification_id", "attempts", "status", "last_error")}
        for d in tried
    ]
    # Whole, for the release that moves them out of the outbox rows: next try, last written.
    out["delivery_records"] = [d.to_dict() for d in tried]
    return out


def pg_dump() -> str:
    """The newest server's pg_dump (as ``.ci/postgres`` picks its server), else the PATH's."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_dump"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return found[-1] if found else "pg_dump"


def main(out: Path, dsn: str | None) -> None:
    import statemachine
    from statemachine.store import SCHEMA_VERSION, PostgresStore, SQLiteStore

    print(f"statemachine from {statemachine.__file__}, store schema {SCHEMA_VERSION}")
    version: int = SCHEMA_VERSION
    assert version == 3, f"run this with 5a21c0e first on sys.path, not schema {version}"
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
        deliveries(store)
    conn_checkpoint(str(db))
    with SQLiteStore(db, create=False) as store:
        read = expected(store)
    conn_checkpoint(str(db))
    (out / "expected.json").write_text(
        json.dumps(read, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
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
        deliveries(pg)
    with PostgresStore(schema_dsn) as pg:
        assert expected(pg) == read, "PostgreSQL reads back otherwise than SQLite"
    dump = subprocess.run(
        [pg_dump(), "--schema=orderfsm_fixture", "--inserts", "--no-owner", "--no-privileges",
         "--no-comments", dsn],
        check=True, capture_output=True, text=True, env={**os.environ, "PGTZ": "UTC"},
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
