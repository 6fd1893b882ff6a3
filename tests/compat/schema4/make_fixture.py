"""How ``tests/compat/schema4`` was written: by ``main`` at commit 9d0c32e (store schema 4,
order format 2), the last release before definitions had versions (every order and log entry
``orders@1``, order bodies without a ``definition``). Kept to show what the fixture holds; it
runs only against that release (``git worktree add /tmp/old9d 9d0c32e``, then run it with that
checkout first on ``sys.path``)::

    PYTHONPATH=/tmp/old9d python tests/compat/schema4/make_fixture.py OUT_DIR [PG_DSN]

It writes ``orders.db`` (SQLite), ``bodies/<order id>.json`` (each order's ``to_dict()``),
``expected.json`` (what that release read back: see :func:`expected`) and, given a DSN,
``postgres.sql`` (the same store in PostgreSQL, dumped with ``pg_dump --inserts`` from the
schema ``orderfsm_fixture``; the PostgreSQL store must read back as the SQLite one did, but
for the time each notification was queued, which is the database's own clock and kept for
each).

What schema 4 stores that schema 3 did not, and is written here as that release wrote it:

* who sent an event and what they wrote with it (``order_log.actor``, ``order_log.note``,
  through ``apply(..., actor=, note=)`` and ``add_many(..., actor=)``), and the definition
  that decided it (``orders@1``, the column's default then);
* the relay's leases and tries, through that release's own relay (``claim``, then
  :func:`statemachine.application.relay_one` on each claimed notification under a relay's
  name, ``release`` when the round ends; its backoff's jitter seeded, so that both stores
  get the same next tries): tries kept in ``outbox_tries``, a notification delivered on
  its first try, one on its second, a dead letter, one redelivered after dying and then
  delivered, one still retrying, one acknowledged by hand, and one claimed by a relay that
  never came back (its lease run out, held by nobody alive);
* when each notification was queued (``outbox.queued_at``, the database's clock);
* the inspector's sign-ins (``sessions``): one open, one ended.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
"""When the relay's first round ran, and the inspector's sign-ins began."""
RELAYS = ("fixture-host:4101:0a1b2c3d", "fixture-host:4102:4e5f6a7b")
CRASHED = "fixture-host:4103:8c9d0e1f"
"""A relay that claimed a notification and was never heard of again."""
SESSIONS = {
    "open": ("fixture-session-open-Qm9yZGVyLWZzbQ", "ops-anna", "anna's secret token"),
    "ended": ("fixture-session-ended-c2lnbmVkLW91dA", "ops-ben", "ben's secret token"),
}
"""The inspector's sign-ins: the session id (what the cookie holds), the credential's name
and its secret (the store keeps its SHA-256, as the service did)."""


def at(month: int, day: int, hour: int = 10, minute: int = 0, tz: Any = SHANGHAI) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=tz)


def fill(store: Any) -> None:
    """The demo's eight stories, then the orders schema 3's fixture added: the same events,
    several now with who sent them (``actor``) and what they wrote (``note``), AE-2002's
    claim sent by an actor without a source."""
    from statemachine import Order, Policy
    from statemachine._demo import tell_all

    tell_all(store)
    # A policy of its own, an event id, a source and an actor per event, left in flight.
    policy = Policy(
        dispatch_business_days=5,
        claim_window_days=20,
        extra_holidays=["2026-09-07"],
        extra_working_days=["2026-09-12"],
    )
    store.add(Order.create("AE-2001", "12.34", "EUR", at(9, 1), policy=policy))
    store.apply("AE-2001", "dispatch", at=at(9, 2, 9), event_id="wh-9001", source="supplier",
                actor="supplier-shenzhen", note="Zwei Pakete, 包裹 2 件 — one label",
                tracking_number="LP-ÜNI-2001")  # fmt: skip
    store.apply("AE-2001", "confirm_delivery", at=at(9, 9, 14), event_id="wh-9002",
                source="carrier", actor="carrier-webhook")  # fmt: skip
    # Times sent from New York (-04:00), a claim left open, its refund pending; a note
    # without an actor, an actor without a source.
    store.add(Order.create("AE-2002", "99.99", "USD", at(9, 3, 8, tz=NEW_YORK)))
    store.apply("AE-2002", "dispatch", at=at(9, 4, 9, tz=NEW_YORK), event_id="wh-9101",
                source="supplier", tracking_number="LP00002002CN")  # fmt: skip
    store.apply("AE-2002", "confirm_delivery", at=at(9, 14, 9, tz=NEW_YORK), source="carrier",
                note="Left with the neighbour at no. 12")  # fmt: skip
    store.apply("AE-2002", "open_claim", at=at(9, 15, 9, tz=NEW_YORK), event_id="cl-1",
                actor="cs-alice", note="Photos of the broken lid attached; buyer wants half back",
                reason="damaged_in_transit", amount="50.00", listing_altered=True)  # fmt: skip
    # Added with a history of its own (an import by a named tool), a cancellation in flight.
    imported = Order.create("AE-2003", "7.00", "GBP", at(10, 12))
    imported.fire("request_cancellation", at=at(10, 12, 11), event_id="imp-1")
    store.add_many([imported], source="import", actor="importer-2026-10")
    # Paid and never touched: due for the clock at the end of its R1 window.
    store.add(Order.create("AE-2004", "250", "JPY", at(11, 2)))
    # A supplier who accepted a cancellation and has not repaid: R4 overdue comes later.
    store.add(Order.create("AE-2005", "45.00", "USD", at(11, 16)))
    store.apply("AE-2005", "request_cancellation", at=at(11, 16, 12), source="customer",
                actor="shop-frontend", note="Ordered the wrong size")  # fmt: skip
    store.apply("AE-2005", "supplier_accepts_cancellation", at=at(11, 17, 9), source="supplier",
                actor="supplier-key-2005")  # fmt: skip


# What the receiver answers in each relay round, by notification id, and what the relay
# makes of it (the outbox after ``fill`` holds nine: 1 and 2 of AE-1001, 3 and 4 of AE-1003,
# 5 and 6 of AE-1004, 7 of AE-1008, 8 of AE-2003, 9 of AE-2005); a claimed notification not
# named is not tried that round.
Script = dict[int, tuple[str, str]]
ROUNDS: list[tuple[dt.timedelta, str, Script]] = [
    (dt.timedelta(0), RELAYS[0], {
        1: ("HTTP 204", "sent"),
        3: ("HTTP 503", "failed"),
        5: ("ConnectError: [Errno 111] Connection refused", "failed"),
        7: ("HTTP 500", "failed"),
    }),
    (dt.timedelta(minutes=5), RELAYS[1], {
        3: ("HTTP 200", "sent"),
        5: ("ReadTimeout: timed out", "failed"),
        7: ("HTTP 500", "failed"),
    }),
    (dt.timedelta(minutes=15), RELAYS[1], {
        5: ("ConnectError: [Errno 111] Connection refused", "dead"),
        7: ("HTTP 500", "dead"),
    }),
    # 7 is redelivered before this round (a dead letter sent again by hand).
    (dt.timedelta(minutes=20), RELAYS[0], {
        7: ("HTTP 202", "sent"),
        4: ("HTTP 429", "failed"),
    }),
]  # fmt: skip


def policy() -> Any:
    """The relay's settings in this fixture: three tries make a dead letter."""
    from statemachine.application import RelayPolicy

    return RelayPolicy(attempts=3)


async def relay_round(store: Any, owner: str, now: dt.datetime, script: Script) -> list[int]:
    """One round of a relay named ``owner`` at ``now``, as that release's relay ran one:
    claim what is due, try each named notification (:func:`relay_one`, which records the try
    under the owner), then release the rest (a relay stopping). The ids claimed."""
    from statemachine.application import Answer, relay_one

    rules = policy()
    items = await store.claim(owner, now, rules.lease, 100)
    known = await store.deliveries([item.id for item in items])
    for item in items:
        if item.id not in script:
            continue
        said, outcome = script[item.id]
        answer = Answer(outcome == "sent", said)

        async def send(_item: Any, answer: Any = answer) -> Any:
            return answer

        random.seed(f"{item.id}@{now.isoformat()}")  # the backoff's jitter, alike in both stores
        done = await relay_one(store, item, known.get(item.id), send, rules, owner, lambda: now)
        assert done == outcome, (item.id, done)
    await store.release(owner)
    return [item.id for item in items]


async def deliveries(open_async: Callable[[], Any]) -> None:
    """The relay's rounds (:data:`ROUNDS`), a dead letter redelivered, one notification
    acknowledged by hand (``outbox --ack``), a relay that claims and never comes back, and
    the inspector's sign-ins."""
    from statemachine.application import redeliver

    store = open_async()
    try:
        for offset, owner, script in ROUNDS:
            if offset == dt.timedelta(minutes=20):
                assert await store.run(redeliver, [7]) == 1
            claimed = await relay_round(store, owner, NOW + offset, script)
            assert set(script) <= set(claimed), (offset, claimed)
        assert await store.ack([9]) == 1
        crashed = await store.claim(CRASHED, NOW + dt.timedelta(minutes=30), policy().lease, 1)
        assert [item.id for item in crashed] == [2]
        for session_id, credential, secret in SESSIONS.values():
            await store.open_session(
                session_id,
                credential=credential,
                secret_print=hashlib.sha256(secret.encode("utf-8")).hexdigest(),
                csrf=f"csrf-{credential}",
                now=NOW,
                expires_at=NOW + dt.timedelta(hours=8),
            )
        assert await store.end_session(SESSIONS["ended"][0])
    finally:
        await store.aclose()


def _session(found: Any) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "credential": found.credential,
        "secret_print": found.secret_print,
        "csrf": found.csrf,
        "created_at": found.created_at.isoformat(),
        "expires_at": found.expires_at.isoformat(),
    }


def expected(store: Any) -> dict[str, Any]:
    """What this release reads back from a store: each order's state, version, log (with
    sources, actors, notes and definitions) and notifications; the unfinished orders by
    definition; the outbox; the delivery records (``deliveries``: the four fields
    ``tests/test_compat.py`` compares for every folder; ``delivery_records`` each whole); where
    each notification's delivery stands (``delivery_states``, without ``queued_at``, which
    :func:`queued` keeps per database) and every try kept; the dead letters; the sessions."""
    from statemachine.declaration._table import FINAL_STATES

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
    out["final_states"] = sorted(FINAL_STATES)
    out["unfinished_by_definition"] = store.unfinished_by_definition(FINAL_STATES)
    out["outbox"] = [item.to_dict() for item in store.outbox(limit=10_000)]
    tried = store.deliveries(range(1, 10_000)).values()
    out["deliveries"] = [
        {k: d.to_dict()[k] for k in ("notification_id", "attempts", "status", "last_error")}
        for d in tried
    ]
    out["delivery_records"] = [d.to_dict() for d in tried]
    states = store.delivery_states(limit=1000)
    out["delivery_states"] = [
        {k: v for k, v in s.to_dict().items() if k != "queued_at"} for s in states
    ]
    out["tries"] = {
        str(s.notification_id): [t.to_dict() for t in store.tries(s.notification_id)]
        for s in states
    }
    out["dead_letters"] = [d.to_dict() for d in store.dead_letters(limit=1000)]
    out["outbox_depth"] = store.outbox_depth()
    out["sessions"] = {
        "at": NOW.isoformat(),
        **{
            name: {"id": sid, "reads": _session(store.session(sid, NOW))}
            for name, (sid, _, _) in SESSIONS.items()
        },
    }
    return out


def queued(store: Any) -> dict[str, str | None]:
    """When each notification was queued, by id: the database's clock at the time."""
    return {
        str(s.notification_id): None if s.queued_at is None else s.queued_at.isoformat()
        for s in store.delivery_states(limit=1000)
    }


def pg_dump() -> str:
    """The newest server's pg_dump (as ``.ci/postgres`` picks its server), else the PATH's."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_dump"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return found[-1] if found else "pg_dump"


def main(out: Path, dsn: str | None) -> None:
    import anyio

    import statemachine
    from statemachine.store import SCHEMA_VERSION, SQLiteStore
    from statemachine.store._async import AsyncSQLiteStore

    print(f"statemachine from {statemachine.__file__}, store schema {SCHEMA_VERSION}")
    version: int = SCHEMA_VERSION
    assert version == 4, f"run this with 9d0c32e first on sys.path, not schema {version}"
    out.mkdir(parents=True, exist_ok=True)
    db = out / "orders.db"
    db.unlink(missing_ok=True)
    with SQLiteStore(db) as store:
        fill(store)
        bodies = out / "bodies"
        bodies.mkdir(exist_ok=True)
        for row in store.orders(limit=10_000):
            body = store.get(row.order_id).to_dict()
            assert "definition" not in body and body["format_version"] == 2
            (bodies / f"{row.order_id}.json").write_text(
                json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
    anyio.run(deliveries, lambda: AsyncSQLiteStore(db))
    conn_checkpoint(str(db))
    with SQLiteStore(db, create=False) as store:
        read = expected(store)
        read["queued_at"] = {"sqlite": queued(store)}
    conn_checkpoint(str(db))
    if dsn is not None:
        read["queued_at"]["postgres"] = postgres(dsn, read, out)
    (out / "expected.json").write_text(
        json.dumps(read, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def postgres(dsn: str, read: dict[str, Any], out: Path) -> dict[str, str | None]:
    """The same store in PostgreSQL, checked to read back as SQLite's did, dumped into
    ``postgres.sql``; when its notifications were queued."""
    import anyio
    import psycopg
    from psycopg.conninfo import make_conninfo

    from statemachine.store import PostgresStore
    from statemachine.store._async import AsyncPostgresStore

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS orderfsm_fixture CASCADE")
        conn.execute("CREATE SCHEMA orderfsm_fixture")
    schema_dsn = make_conninfo(dsn, options="-csearch_path=orderfsm_fixture")
    with PostgresStore(schema_dsn) as pg:
        fill(pg)
    anyio.run(deliveries, lambda: AsyncPostgresStore(schema_dsn, pool_size=2))
    with PostgresStore(schema_dsn) as pg:
        again = expected(pg)
        times = queued(pg)
    assert again == {k: v for k, v in read.items() if k != "queued_at"}, (
        "PostgreSQL reads back otherwise than SQLite"
    )
    dump = subprocess.run(
        [pg_dump(), "--schema=orderfsm_fixture", "--inserts", "--no-owner", "--no-privileges",
         "--no-comments", dsn],
        check=True, capture_output=True, text=True, env={**os.environ, "PGTZ": "UTC"},
    )  # fmt: skip
    (out / "postgres.sql").write_text(dump.stdout, encoding="utf-8")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA orderfsm_fixture CASCADE")
    return times


def conn_checkpoint(path: str) -> None:
    """Fold the WAL into the file, so that one file holds the whole database."""
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
