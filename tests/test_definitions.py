"""Definitions (issue 19, point 1): the table with everything that decides an event is named,
versioned and fingerprinted; the fingerprint changes with the rules and with nothing else."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import attrs
import pytest

from statemachine.declaration import Policy
from statemachine.declaration._definition import (
    DEFINITIONS,
    Definition,
    _code,
    recorded_fingerprints,
    shipped,
)


def test_the_shipped_rules_are_the_recorded_version() -> None:
    """R1-R16: the table of RULES.md is orders@1, and its fingerprint is the one recorded for
    orders@1 (definitions.lock): any change to a rule without a new version fails here, and
    in `orderfsm definitions --check`."""
    definition = DEFINITIONS["orders@1"]
    assert (definition.id, definition.version, definition.key) == ("orders", 1, "orders@1")
    assert definition.fingerprint() == recorded_fingerprints()["orders@1"]
    assert shipped().fingerprint() == definition.fingerprint()  # the same, computed again


def _guard_a(order: object, ctx: object) -> object:
    """One docstring."""
    return None if order else ctx


def _guard_b(order: object, ctx: object) -> object:
    """Another docstring, and the same code written otherwise."""
    return (None if order else ctx)  # fmt: skip


def _guard_c(order: object, ctx: object) -> object:
    return ctx if order else None


def test_the_code_of_a_guard_counts_not_its_docstring_or_layout() -> None:
    """R8: a guard's syntax tree is what the fingerprint reads: its docstring and its layout
    change nothing, its logic changes it."""
    assert _code(_guard_a) != _code(_guard_c)
    a, b = _code(_guard_a), _code(_guard_b)
    assert a is not None and b is not None
    assert a.replace("_guard_a", "x") == b.replace("_guard_b", "x")


def _changed_guard() -> Definition:
    table = shipped().table
    row = next(r for r in table.rows if r.guards)
    guard = attrs.evolve(row.guards[0], fn=_guard_c)
    rows = tuple(
        attrs.evolve(r, guards=(guard, *r.guards[1:])) if r is row else r for r in table.rows
    )
    return attrs.evolve(shipped(), table=attrs.evolve(table, rows=rows))


def _changed_row() -> Definition:
    table = shipped().table
    row = next(r for r in table.rows if r.event == "confirm_delivery" and r.dest is not None)
    rows = tuple(attrs.evolve(r, dest="refunded") if r is row else r for r in table.rows)
    return attrs.evolve(shipped(), table=attrs.evolve(table, rows=rows))


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(_changed_guard, id="a guard's code"),
        pytest.param(_changed_row, id="a row's destination"),
        pytest.param(
            lambda: attrs.evolve(shipped(), policy=Policy(dispatch_business_days=8)),
            id="a Policy default (R1)",
        ),
        pytest.param(
            lambda: attrs.evolve(
                shipped(), constants={"CLAIM_REASONS": ("not_as_described", "late")}
            ),
            id="R8's reasons",
        ),
    ],
)
def test_a_change_to_what_decides_an_event_changes_the_fingerprint(changed: object) -> None:
    """R1 R8: changing a guard, a row, a Policy default or the reasons R8 accepts gives
    another fingerprint."""
    assert changed().fingerprint() != shipped().fingerprint()  # type: ignore[operator]


def test_definitions_check_fails_when_the_rules_changed_without_a_new_version() -> None:
    """`orderfsm definitions --check` is status 0 on the shipped rules and 1, naming the
    version and what to do, when a rule changed (here: R1's default dispatch window)."""
    script = (
        "import sys, attrs\n"
        "from statemachine.declaration import Policy\n"
        "from statemachine.declaration import _definition as d\n"
        "d.DEFINITIONS['orders@1'] = attrs.evolve(d.shipped(),"
        " policy=Policy(dispatch_business_days=8))\n"
        "from statemachine.cli import main\n"
        "sys.exit(main(['definitions', '--check']))\n"
    )
    changed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=60, check=False)  # fmt: skip
    assert changed.returncode == 1, changed.stderr
    assert "orders@1" in changed.stdout and "new version" in changed.stdout
    same = subprocess.run([sys.executable, "-m", "statemachine", "definitions", "--check"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert same.returncode == 0, same.stdout + same.stderr


def test_every_order_and_every_logged_event_name_their_version(tmp_path: object) -> None:
    """R15 R16: the store keeps, with each order, the definition it runs under and, with each
    logged event, the definition that decided it (orders@1, the only one so far); history
    shows it."""
    import datetime as dt
    import sqlite3
    from pathlib import Path

    from statemachine import Order
    from statemachine.store import SQLiteStore

    path = Path(str(tmp_path)) / "orders.db"
    paid = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    with SQLiteStore(path) as store:
        store.add(Order.create("AE-1", "25.00", "USD", paid))
        store.apply("AE-1", "request_cancellation", at=paid + dt.timedelta(hours=1))
        assert [e.definition for e in store.history("AE-1")] == ["orders@1"]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT definition FROM orders").fetchall() == [("orders@1",)]
    assert conn.execute("SELECT definition FROM order_log").fetchall() == [("orders@1",)]
    conn.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_definitions_counts_the_unfinished_orders_of_each_version(
    kind: str, tmp_path: object, request: pytest.FixtureRequest
) -> None:
    """R14: `orderfsm definitions --db/--dsn` counts, per version, the orders not in a final
    state (what must drain before the version may go): a cancelled order is not counted."""
    import datetime as dt
    import json
    from pathlib import Path

    from statemachine import Order
    from statemachine.store import PostgresStore, SQLiteStore

    if kind == "sqlite":
        target = str(Path(str(tmp_path)) / "orders.db")
        store: Any = SQLiteStore(target)
        where = ["--db", target]
    else:
        target = request.getfixturevalue("pg_dsn")
        store = PostgresStore(target)
        where = ["--dsn", target]
    paid = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    with store:
        for oid in ("AE-1", "AE-2", "AE-3"):
            store.add(Order.create(oid, "25.00", "USD", paid))
        at = paid + dt.timedelta(hours=1)
        store.apply("AE-3", "request_cancellation", at=at)
        store.apply("AE-3", "supplier_accepts_cancellation", at=at)
        store.apply("AE-3", "settle_refund", at=at)
        assert store.get("AE-3").state == "cancelled"
    done = subprocess.run(
        [sys.executable, "-m", "statemachine", "definitions", *where, "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["definitions"]
    assert (row["key"], row["unfinished"], row["matches"]) == ("orders@1", 2, True)


def _helper(order: object) -> object:
    return order


def _helper_changed(order: object) -> object:
    return None


def _guard_calling_a_helper(order: object, ctx: object) -> object:
    return _helper(order)


def test_a_helper_a_guard_calls_decides_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """R5: the fingerprint follows the functions of the guard's own package it calls, and
    the constants it reads: changing a helper's code changes the guard's fingerprint."""
    before = _code(_guard_calling_a_helper)
    monkeypatch.setitem(globals(), "_helper", _helper_changed)
    assert _code(_guard_calling_a_helper) != before
    monkeypatch.undo()
    assert _code(_guard_calling_a_helper) == before
