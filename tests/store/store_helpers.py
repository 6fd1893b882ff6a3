"""Helpers shared by the store tests (importable from the child processes of race tests)."""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo

from statemachine import Order
from statemachine.store import OrderStore, PostgresStore, SQLiteStore

Kind = Literal["sqlite", "postgres"]
StoreSpec = tuple[Kind, str]
"""What a child process needs to open the same store: ("sqlite", path) or ("postgres", dsn)."""

SHANGHAI = ZoneInfo("Asia/Shanghai")
PAID = dt.datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
"""A Monday; the R1 dispatch deadline is the end of 2026-03-11 in Shanghai."""


def open_store(spec: StoreSpec) -> OrderStore:
    """A new store object (own connection) on the database ``spec`` names."""
    kind, target = spec
    if kind == "sqlite":
        return SQLiteStore(target)
    return PostgresStore(target)


def new_order(order_id: str = "AE-1", paid_at: dt.datetime = PAID) -> Order:
    """A fresh order in ``paid``."""
    return Order.create(order_id, "25.00", "USD", paid_at)


def raw(spec: StoreSpec, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run ``sql`` (``?`` placeholders) straight on the database, outside any store; its rows."""
    kind, target = spec
    if kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(target, isolation_level=None)
        try:
            cur = conn.execute(sql, params)
            return cur.fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(target, autocommit=True) as pg:
        cur = pg.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def head_text(spec: StoreSpec, order_id: str = "AE-1") -> str:
    """The ``head`` column of an order's row as JSON text."""
    cast = "" if spec[0] == "sqlite" else "::text"
    [(head,)] = raw(spec, f"SELECT head{cast} FROM orders WHERE order_id = ?", (order_id,))
    assert isinstance(head, str)
    return head


def set_head(spec: StoreSpec, order_id: str, text: str) -> None:
    """Write ``text`` into an order's ``head`` column behind the store's back."""
    cast = "" if spec[0] == "sqlite" else "::jsonb"
    raw(spec, f"UPDATE orders SET head = ?{cast} WHERE order_id = ?", (text, order_id))


def tamper_log(spec: StoreSpec, sql: str, params: tuple[object, ...] = ()) -> None:
    """Run ``sql`` on ``order_log`` with its append-only triggers out of the way: what only
    someone with the database's owner rights could do."""
    if spec[0] == "sqlite":
        raw(spec, "DROP TRIGGER IF EXISTS order_log_no_update")
        raw(spec, "DROP TRIGGER IF EXISTS order_log_no_delete")
    else:
        raw(spec, "ALTER TABLE order_log DISABLE TRIGGER order_log_append_only")
    raw(spec, sql, params)
