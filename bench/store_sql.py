"""The statements the store runs under schema 3, written out for the benches' "bare SQL"
paths (``bench_store.py``, ``bench_scale.py``), with ``?`` placeholders (``db.q`` makes them
the driver's).

They are copied here, not imported, so that a reader sees the SQL that is measured;
:func:`check` stops a run when the store's own statements (``statemachine/store/_unit.py``,
``_rows.py``, ``_store.py``) have moved away from them. Standard library only at import: the
baseline release's workers in ``bench_scale.py`` import the script that imports this.
"""

from __future__ import annotations

ORDER_COLUMNS = "order_id, version, head, state, dispatch_deadline, repayment_deadline, due_at"
"""An ``orders`` row as the store reads it (``_rows.ORDER_COLUMNS``)."""
LOG_COLUMNS = "seq, event, at, utc_offset, event_id, source, data, from_state, to_state"
"""An ``order_log`` row of one order as the store reads it (``_rows.LOG_COLUMNS``)."""

LOAD = f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = ?"
"""``apply``'s read of the order's row; a warm store (the order in its cache) reads no more."""
INSERT_ORDER = (
    f"INSERT INTO orders ({ORDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (order_id) DO NOTHING"
)
"""A new order's row (``add``, ``add_many``)."""
SWAP = (
    "UPDATE orders SET version = ?, state = ?, dispatch_deadline = ?, repayment_deadline = ?, "
    "due_at = ? WHERE order_id = ? AND version = ?"
)
"""The compare-and-swap of a changed order's row."""
SWAP_WITH_HEAD = (
    "UPDATE orders SET version = ?, state = ?, dispatch_deadline = ?, repayment_deadline = ?, "
    "due_at = ?, head = ? WHERE order_id = ? AND version = ?"
)
"""The same, when the event changed the order's calendar warnings (part of its head)."""
APPEND = (
    "INSERT INTO order_log (order_id, seq, event, at, utc_offset, event_id, source, data, "
    "from_state, to_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
"""One new event of an order."""
QUEUE = (
    "INSERT INTO outbox (order_id, position) VALUES (?, ?) "
    "ON CONFLICT (order_id, position) DO NOTHING"
)
"""One new notification of an order (its text is the order's: only its place is stored)."""
DUE = f"SELECT {ORDER_COLUMNS} FROM orders WHERE due_at <= ? ORDER BY due_at LIMIT ?"
"""``sweep``'s read of the due rows (PostgreSQL adds ``FOR UPDATE SKIP LOCKED``)."""


def logs_of(count: int) -> str:
    """The read of the logs of ``count`` orders at once (``sweep`` on orders it has not
    checked yet)."""
    marks = ", ".join("?" * count)
    return (
        f"SELECT order_id, {LOG_COLUMNS} FROM order_log "
        f"WHERE order_id IN ({marks}) ORDER BY order_id, seq"
    )


def check() -> None:
    """Stop unless the statements above are the store's own."""
    from statemachine.store import _rows, _unit

    same = {
        "ORDER_COLUMNS": _rows.ORDER_COLUMNS == ORDER_COLUMNS,
        "LOG_COLUMNS": _rows.LOG_COLUMNS == LOG_COLUMNS,
        **{
            name: getattr(_unit, f"_{name}") == globals()[name]
            for name in ("INSERT_ORDER", "SWAP", "SWAP_WITH_HEAD", "APPEND", "QUEUE")
        },
    }
    moved = [name for name, ok in same.items() if not ok]
    if moved:
        raise SystemExit(
            f"bench/store_sql.py: {', '.join(moved)} no longer the store's; update the bench"
        )
