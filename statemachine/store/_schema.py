"""The schema: its version, creating it, and bringing an older one up to date.

Versions (:data:`SCHEMA_VERSION` is the one this release writes; a database at a higher one is
refused with :class:`~statemachine.errors.SchemaVersionError`):

1. ``orders`` (one row per order, its whole body as JSON), ``order_log``, ``inbox`` (claimed
   event ids), ``outbox`` (each notification's text), ``schema_version``.
2. An index of orders by state, for listings.
3. Each fact stored once. The log is the truth of an order's history: ``orders`` keeps the
   order's **head** (what it was created with) and derived index columns, no body;
   ``order_log`` keeps each event with the offset it was sent with and a unique event id per
   order (R15 in the database: the ``inbox`` is gone); ``outbox`` keeps, per notification,
   only its place in the order and what a relay did with it (tries, last error, next try,
   dead letter), the text being the order's; the web relay's ``orderfsm_web_deliveries`` is
   folded into it.

Upgrading runs in one write transaction, under a lock that keeps other processes from
upgrading at the same time. The move to 3 reads every order as release 2 stored it (its body,
checked by :meth:`Order.from_dict <statemachine.order.Order.from_dict>`) and writes its head
and log; a row that release 2 could not read either is carried over as it is (its body as its
head, its log rows unchanged), so it stays :class:`~statemachine.errors.CorruptOrder` for
someone to repair, and nothing is lost.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Final

from ..errors import InvalidInput, SchemaVersionError, StoreUnavailable
from ..order import Order
from ._db import Cursor, Database, Transaction
from ._rows import Rows

__all__ = ["OUR_TABLES", "SCHEMA_VERSION", "migrate"]

SCHEMA_VERSION: Final = 3
"""The schema this release writes and reads (see the module docstring for each version)."""

OUR_TABLES: Final = frozenset({"orders", "order_log", "outbox"})
"""Tables a database holds when it is a store (a version-less one holding them is another
application's)."""

_OLD_TABLES: Final = frozenset({"inbox"})
_WEB_DELIVERIES: Final = "orderfsm_web_deliveries"
_BATCH: Final = 500


def migrate(db: Database) -> None:
    """Create the schema in an empty database or bring an older one to
    :data:`SCHEMA_VERSION`; :class:`SchemaVersionError` if it is newer,
    :class:`StoreUnavailable` if the database holds another application's tables."""
    with db.write() as tx:
        cur = tx.cur
        db.lock_migration(cur)
        tables = db.tables(cur)
        cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        cur.execute("SELECT version FROM schema_version")
        found = [r[0] for r in cur.fetchall()]
        for value in found:
            if isinstance(value, bool) or not isinstance(value, int):
                raise StoreUnavailable(
                    db.described, f"its schema_version table holds {value!r}, not a version number"
                )
        current = max(found, default=0)
        if current == 0 and tables & (OUR_TABLES | _OLD_TABLES):
            names = ", ".join(sorted(tables & (OUR_TABLES | _OLD_TABLES)))
            raise StoreUnavailable(
                db.described,
                f"it holds tables of another application ({names}) and no order-statemachine "
                "schema; point the store at its own database or schema",
            )
        if current > SCHEMA_VERSION:
            raise SchemaVersionError(db.described, current, SCHEMA_VERSION)
        if current == SCHEMA_VERSION:
            return
        if current == 0:
            for statement in db.create:
                cur.execute(statement)
        else:
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in db.upgrades.get(version, ()):
                    cur.execute(statement)
                if version == 3:
                    _move_to_3(tx, db, tables)
        cur.execute("DELETE FROM schema_version")
        cur.execute(db.q("INSERT INTO schema_version (version) VALUES (?)"), (SCHEMA_VERSION,))


# ------------------------------------------------------------------------------------------------
# 2 -> 3: heads and logs instead of bodies


def _move_to_3(tx: Transaction, db: Database, tables: set[str]) -> None:
    """Move the orders of the ``*_v2`` tables (the dialect's upgrade statements renamed them
    and created the new ones) into the new tables, then drop the old ones."""
    cur, rows = tx.cur, Rows(db)
    last = ""
    while True:
        cur.execute(
            db.q(
                "SELECT order_id, version, body, state, dispatch_deadline, repayment_deadline, "
                "due_at FROM orders_v2 WHERE order_id > ? ORDER BY order_id LIMIT ?"
            ),
            (last, _BATCH),
        )
        batch = cur.fetchall()
        if not batch:
            break
        last = batch[-1][0]
        marks = ", ".join("?" * len(batch))
        cur.execute(
            db.q(
                "SELECT order_id, seq, event, from_state, to_state, at, event_id, source, data "
                f"FROM order_log_v2 WHERE order_id IN ({marks}) ORDER BY order_id, seq"
            ),
            [row[0] for row in batch],
        )
        logs = {
            order_id: list(entries)
            for order_id, entries in itertools.groupby(cur.fetchall(), key=lambda r: r[0])
        }
        for row in batch:
            _move_order(tx, db, rows, row, logs.get(row[0], []))
    cur.execute(
        "INSERT INTO outbox (id, order_id, position, acked) "
        "SELECT id, order_id, position, acked FROM outbox_v2"
    )
    if _WEB_DELIVERIES in tables:
        cur.execute(
            f"UPDATE outbox SET attempts = d.attempts, status = d.status, "
            "next_attempt_at = d.next_attempt_at, last_error = d.last_error, "
            f"updated_at = d.updated_at FROM {_WEB_DELIVERIES} AS d "
            "WHERE outbox.id = d.notification_id"
        )
        cur.execute(f"DROP TABLE {_WEB_DELIVERIES}")
    for statement in db.after_move:
        cur.execute(statement)
    for table in ("outbox_v2", "order_log_v2", "inbox", "orders_v2"):
        cur.execute(f"DROP TABLE {table}")


def _move_order(
    tx: Transaction, db: Database, rows: Rows, row: Sequence[Any], log: Sequence[Sequence[Any]]
) -> None:
    """One order of release 2 into the new tables: made from its body if release 2 could read
    it, else carried over as it is."""
    order_id, version, body = row[0], row[1], row[2]
    try:
        if isinstance(body, str):
            body = db.from_json(body)
        order = Order.from_dict(body)
        if order.order_id != order_id:
            raise InvalidInput(f"its body is order {order.order_id!r}", field="order_id")
    except (InvalidInput, ValueError, TypeError, RecursionError):
        _carry_over(tx.cur, db, order_id)
        return
    sources = {entry[1]: entry[7] for entry in log}
    tx.run(
        "INSERT INTO orders (order_id, version, head, state, dispatch_deadline, "
        "repayment_deadline, due_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(order_id, version, rows.head(order), *rows.derived(order))],
        db,
    )
    tx.run(
        "INSERT INTO order_log (order_id, seq, event, at, utc_offset, event_id, source, data, "
        "from_state, to_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            rows.log_row(order_id, seq, record, sources.get(seq))
            for seq, record in enumerate(order.history, start=1)
        ],
        db,
    )


def _carry_over(cur: Cursor, db: Database, order_id: str) -> None:
    """A row release 2 could not read, moved as it is: its body as its head (a read names it
    corrupt), its columns and log rows unchanged, the log's times with offset 0."""
    cur.execute(
        db.q(
            "INSERT INTO orders (order_id, version, head, state, dispatch_deadline, "
            "repayment_deadline, due_at) SELECT order_id, version, body, state, "
            "dispatch_deadline, repayment_deadline, due_at FROM orders_v2 WHERE order_id = ?"
        ),
        (order_id,),
    )
    cur.execute(
        db.q(
            "INSERT INTO order_log (order_id, seq, event, at, utc_offset, event_id, source, data, "
            "from_state, to_state) SELECT order_id, seq, event, at, 0, event_id, source, data, "
            "from_state, to_state FROM order_log_v2 WHERE order_id = ?"
        ),
        (order_id,),
    )
