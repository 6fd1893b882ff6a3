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
4. The relay delivers each notification once at a time: ``outbox`` gains a lease
   (``lease_until``, ``lease_owner``: a relay claims a notification before sending it) and
   ``queued_at`` (the database's time when it was queued; unknown, ``NULL``, for those queued
   before), and ``outbox_tries`` keeps every try (when, the answer, whether it was delivered),
   dead letters' included. Tries made before schema 4 are only counted (``attempts``).
   ``order_log`` gains ``actor`` (the name of the credential that sent the event) and ``note``
   (what they wrote with it), unknown (``NULL``) for events logged before; ``orders`` and
   ``order_log`` gain ``definition``, the version of the machine an order runs under and an
   event was decided by (:mod:`statemachine.declaration._definition`; ``orders@1``, the only
   one so far, for everything stored before); ``sessions`` keeps
   the inspector's sign-ins (a hash of the session's id, the credential, a print of its
   secret so that rotating it ends the session, the form token, the expiry).
5. Finding orders: ``orders`` gains derived, indexed columns for search and sorting
   (``order_key``, ``order_number``, ``tracking_key``, ``amount_key``, ``currency``,
   ``paid_at``: :mod:`~statemachine.store._keys`) and for the orders that need a person
   (``last_at``, the latest moment the order holds; ``incidents``, how many it has), with
   their indexes, and an index of dead letters by order; ``orders_due_at`` becomes
   ``orders_deadline`` (``due_at, order_id``), which pages as well as it sweeps. The move to
   5 makes every order again from its head and log (as a read does) and writes its new
   columns; an order that cannot be made (its rows corrupt, as a read would say) keeps them
   empty, and stays :class:`~statemachine.errors.CorruptOrder` until it is repaired and
   rebuilt (``store.rebuild``). It needs every definition the orders run under registered,
   and refuses to start otherwise.

Upgrading runs in one write transaction, under a lock that keeps other processes from
upgrading at the same time. The move to 3 reads every order as release 2 stored it (its body,
checked by :meth:`Order.from_dict <statemachine.runtime.Order.from_dict>`, its log and inbox
claims checked against it) and writes its head and log. An order release 2 could not read
either (a broken body, a log or an inbox that says more or other than the body) is carried
over: a marker as its head, its columns and log rows as they were, so that it stays
:class:`~statemachine.errors.CorruptOrder` for someone to repair, and its rows kept whole, as
JSON text, in the table ``schema2_unread``. Nothing is dropped, and no such order keeps the
others from moving.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Final

from .._observe import LOGGER
from ..declaration._definition import DEFINITIONS
from ..errors import CorruptOrder, InvalidInput, SchemaVersionError, StoreUnavailable
from ..runtime._order import Order
from ._db import Cursor, Database, Transaction
from ._rows import DERIVED_COLUMNS, LOG_COLUMNS, SCHEMA3_DERIVED, Rows

__all__ = ["OUR_TABLES", "SCHEMA_VERSION", "UNREAD_TABLE", "migrate"]

SCHEMA_VERSION: Final = 5
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
            if current < 5:
                _refuse_unregistered(db, cur)
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in db.upgrades.get(version, ()):
                    cur.execute(statement)
                if version == 3:
                    _move_to_3(tx, db, tables)
                if version == 5:
                    _fill_5(tx, db)
                for statement in db.after_fill.get(version, ()):
                    cur.execute(statement)
        cur.execute("DELETE FROM schema_version")
        cur.execute(db.q("INSERT INTO schema_version (version) VALUES (?)"), (SCHEMA_VERSION,))


# ------------------------------------------------------------------------------------------------
# 2 -> 3: heads and logs instead of bodies

UNREAD_TABLE: Final = "schema2_unread"
CARRIED_OVER: Final = {"carried_over_to": UNREAD_TABLE}
"""The head of an order carried over: no head at all, and where its rows are."""
"""Where the move to schema 3 keeps, whole, the rows of each order release 2 could not read
either (its body, its log rows and its inbox claims as JSON text), for someone to repair."""


def _move_to_3(tx: Transaction, db: Database, tables: set[str]) -> None:
    """Move the orders of the ``*_v2`` tables (the dialect's upgrade statements renamed them
    and created the new ones) into the new tables, then drop the old ones.

    Orders are read a batch at a time by the dialect's page key (SQLite's ``rowid``, so that
    an id that is not text still pages). Each is made from its body as release 2 made it, and
    moved only if its log and its inbox claims say exactly what its body says; any other is
    carried over as it is and archived whole in :data:`UNREAD_TABLE`.
    """
    cur, rows = tx.cur, Rows(db)
    key = db.page_key
    inbox = "inbox" in tables
    previous: Any = None
    while True:
        after = "" if previous is None else f"WHERE {key} > ? "
        cur.execute(
            db.q(
                f"SELECT {key}, order_id, version, body FROM orders_v2 {after}"
                f"ORDER BY {key} LIMIT ?"
            ),
            (() if previous is None else (previous,)) + (_BATCH,),
        )
        batch = cur.fetchall()
        if not batch:
            break
        within = f"o.{key} <= ?" + ("" if previous is None else f" AND o.{key} > ?")
        bounds = (batch[-1][0],) + (() if previous is None else (previous,))
        cur.execute(
            db.q(
                f"SELECT o.{key}, l.seq, l.event, l.from_state, l.to_state, {db.old_at}, "
                "l.event_id, l.source, l.data FROM order_log_v2 AS l JOIN orders_v2 AS o "
                f"ON o.order_id = l.order_id WHERE {within} ORDER BY o.{key}, l.seq"
            ),
            bounds,
        )
        logs = {k: list(group) for k, group in itertools.groupby(cur.fetchall(), key=_first)}
        claims: dict[Any, set[Any]] = {}
        if inbox:
            cur.execute(
                db.q(
                    f"SELECT o.{key}, i.event_id FROM inbox AS i JOIN orders_v2 AS o "
                    f"ON o.order_id = i.order_id WHERE {within}"
                ),
                bounds,
            )
            for k, event_id in cur.fetchall():
                claims.setdefault(k, set()).add(event_id)
        for row in batch:
            log = logs.get(row[0], [])
            order = _readable(db, row, log, claims.get(row[0], set()) if inbox else None)
            if order is None:
                _carry_over(tx, db, row[0], inbox)
            else:
                _move(tx, db, rows, order, row[2], log)
        previous = batch[-1][0]
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
        cur.execute(f"DROP TABLE IF EXISTS {table}")


def _first(row: Sequence[Any]) -> Any:
    return row[0]


def _readable(
    db: Database, row: Sequence[Any], log: Sequence[Sequence[Any]], claims: set[Any] | None
) -> Order | None:
    """The order release 2 would have read from ``row`` (its body checked by
    :meth:`Order.from_dict`), if its log rows and its inbox claims (``None``: no inbox) are
    exactly its history; else ``None``."""
    _, order_id, _, body = row
    try:
        if not isinstance(order_id, str):
            return None
        order_id.encode("utf-8")  # SQLite hands text that is not UTF-8 as lone surrogates
        order = Order.from_dict(db.from_json(body) if isinstance(body, str) else body)
    except (InvalidInput, ValueError, TypeError, RecursionError, UnicodeEncodeError):
        return None
    if order.order_id != order_id or len(log) != len(order.history):
        return None
    for seq, (entry, record) in enumerate(zip(log, order.history, strict=True), start=1):
        _, number, event, source, dest, at, event_id, _, data = entry
        try:
            same_data = db.from_json(data) == dict(record.data)
            same_at = db.same_old_at(at, record.at)
        except (ValueError, TypeError, RecursionError, OverflowError):
            return None
        if (number, event, source, dest, event_id) != (
            seq,
            record.event,
            record.source,
            record.dest,
            record.event_id,
        ) or not (same_data and same_at):
            return None
    if claims is not None and claims != {r.event_id for r in order.history if r.event_id}:
        return None
    return order


def _move(
    tx: Transaction,
    db: Database,
    rows: Rows,
    order: Order,
    version: int,
    log: Sequence[Sequence[Any]],
) -> None:
    """One order release 2 could read into the new tables: its head, its log (the sources
    release 2 logged kept), its derived columns."""
    sources = {entry[1]: entry[7] for entry in log}
    tx.run(
        "INSERT INTO orders (order_id, version, head, state, dispatch_deadline, "
        "repayment_deadline, due_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(order.order_id, version, rows.head(order), *rows.derived(order)[:SCHEMA3_DERIVED])],
        db,
    )
    tx.run(
        "INSERT INTO order_log (order_id, seq, event, at, utc_offset, event_id, source, data, "
        "from_state, to_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            rows.log_row(order.order_id, seq, record, sources.get(seq))
            for seq, record in enumerate(order.history, start=1)
        ],
        db,
    )


def _carry_over(tx: Transaction, db: Database, page: Any, inbox: bool) -> None:
    """An order release 2 could not read, moved as it is, by its page key (no id is sent
    back): :data:`CARRIED_OVER` as its head (a read names it corrupt and says where its rows
    are), its columns and log rows unchanged (their times with offset 0, an event id repeated
    in its log kept once); and archived whole in :data:`UNREAD_TABLE`, body, log and inbox
    claims."""
    cur, key = tx.cur, db.page_key
    if UNREAD_TABLE not in db.tables(cur):
        cur.execute(
            f"CREATE TABLE {UNREAD_TABLE} (order_id TEXT PRIMARY KEY, body TEXT, log TEXT, "
            "inbox TEXT)"
        )
    cur.execute(db.q(db.archive_v2(inbox)), (page,))
    cur.execute(
        db.q(
            "INSERT INTO orders (order_id, version, head, state, dispatch_deadline, "
            "repayment_deadline, due_at) SELECT order_id, version, ?, state, "
            f"dispatch_deadline, repayment_deadline, due_at FROM orders_v2 WHERE {key} = ?"
        ),
        (db.json(CARRIED_OVER), page),
    )
    cur.execute(
        db.q(
            "INSERT INTO order_log (order_id, seq, event, at, utc_offset, event_id, source, data, "
            "from_state, to_state) SELECT l.order_id, l.seq, l.event, l.at, 0, CASE WHEN "
            "ROW_NUMBER() OVER (PARTITION BY l.event_id ORDER BY l.seq) = 1 THEN l.event_id END, "
            "l.source, l.data, l.from_state, l.to_state FROM order_log_v2 AS l JOIN orders_v2 AS o "
            f"ON o.order_id = l.order_id WHERE o.{key} = ? AND {db.old_at_in_range}"
        ),
        (page,),
    )


# ------------------------------------------------------------------------------------------------
# 4 -> 5: the columns search, sorting and the attention list read

_NEW_IN_5: Final = DERIVED_COLUMNS[SCHEMA3_DERIVED:]


def _refuse_unregistered(db: Database, cur: Cursor) -> None:
    """Refuse to start the move to 5 when an order runs under a definition this process has
    not registered: its new columns can only be made through its machine. Nothing is
    changed then (the transaction rolls back)."""
    if "definition" not in _columns(db, cur, "orders"):
        return  # before schema 4 every order is orders@1
    cur.execute("SELECT definition, COUNT(*) FROM orders GROUP BY definition")
    missing = {str(key): int(n) for key, n in cur.fetchall() if key not in DEFINITIONS}
    if missing:
        held = ", ".join(f"{n} under {key}" for key, n in sorted(missing.items()))
        raise StoreUnavailable(
            db.described,
            f"moving it to store schema {SCHEMA_VERSION} makes every order again through its "
            f"machine, and it holds orders of versions this process has not registered "
            f"({held}); register them (ORDERFSM_DEFINITIONS, or import the module that "
            "declares them) and open it again: nothing was changed",
        )


def _columns(db: Database, cur: Cursor, table: str) -> set[str]:
    """The names of ``table``'s columns."""
    cur.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    description = getattr(cur, "description", None) or ()
    return {str(column[0]) for column in description}


def _fill_5(tx: Transaction, db: Database) -> None:
    """Write the new columns of every order (the dialect's statements added them, empty): each
    order made again from its head and log, a batch at a time by the dialect's page key. An
    order that cannot be made keeps them empty (logged at WARNING), so that it stays corrupt
    until repaired and rebuilt."""
    cur, rows, key = tx.cur, Rows(db), db.page_key
    assignments = ", ".join(f"{name} = ?" for name in _NEW_IN_5)
    update = f"UPDATE orders SET {assignments} WHERE {key} = ?"
    columns = (
        "order_id, version, head, state, dispatch_deadline, repayment_deadline, due_at, definition"
    )
    previous: Any = None
    while True:
        after = "" if previous is None else f"WHERE {key} > ? "
        cur.execute(
            db.q(f"SELECT {key}, {columns} FROM orders {after}ORDER BY {key} LIMIT ?"),
            (() if previous is None else (previous,)) + (_BATCH,),
        )
        batch = cur.fetchall()
        if not batch:
            break
        within = f"o.{key} <= ?" + ("" if previous is None else f" AND o.{key} > ?")
        bounds = (batch[-1][0],) + (() if previous is None else (previous,))
        logged = ", ".join(f"l.{name.strip()}" for name in LOG_COLUMNS.split(","))
        cur.execute(
            db.q(
                f"SELECT o.{key}, {logged} FROM order_log AS l JOIN orders AS o "
                f"ON o.order_id = l.order_id WHERE {within} ORDER BY o.{key}, l.seq"
            ),
            bounds,
        )
        logs = {k: list(group) for k, group in itertools.groupby(cur.fetchall(), key=_first)}
        filled: list[tuple[Any, ...]] = []
        for page, *row in batch:
            log = [entry[1:] for entry in logs.get(page, [])]
            try:
                order, _ = rows.order(row, log, check_derived=False)
            except CorruptOrder as exc:
                LOGGER.warning(
                    "order %s cannot be made from its rows (%s): its columns of store schema 5 "
                    "are left empty until it is repaired and rebuilt",
                    row[0],
                    exc,
                    extra={"order_id": str(row[0]), "outcome": "corrupt"},
                )
                continue
            filled.append((*rows.derived(order)[SCHEMA3_DERIVED:], page))
        tx.run(update, filled, db)
        previous = batch[-1][0]
