"""What a store refuses to read, and what a crash leaves: corrupt rows, newer schemas, SIGKILL."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
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

from statemachine import InvalidInput, RequestError, StoreFault
from statemachine.store import (
    SCHEMA_VERSION,
    CorruptOrder,
    OrderStore,
    SchemaVersionError,
)


def _dispatched(store: OrderStore) -> None:
    """AE-1 dispatched (one log row), AE-2 paid."""
    store.add(new_order("AE-1"))
    store.add(new_order("AE-2"))
    store.apply("AE-1", "dispatch", at=PAID, tracking_number="LP1", event_id="wh-0")


CORRUPTIONS: dict[str, Callable[[StoreSpec], None]] = {
    "head is not an order's": lambda spec: set_head(spec, "AE-1", "[1, 2, 3]"),
    "head lost a key": lambda spec: set_head(
        spec, "AE-1", head_text(spec).replace('"currency"', '"kurrency"', 1)
    ),
    "amount is not a decimal": lambda spec: set_head(
        spec, "AE-1", head_text(spec).replace('"25.00"', '"lots"')
    ),
    "amount edited": lambda spec: set_head(
        spec, "AE-1", head_text(spec).replace('"25.00"', '"-5.00"')
    ),
    "logged state the machine does not give": lambda spec: tamper_log(
        spec, "UPDATE order_log SET to_state = 'delivered'"
    ),
    "logged event the machine refuses": lambda spec: tamper_log(
        spec, "UPDATE order_log SET event = 'confirm_delivery'"
    ),
    "log row deleted": lambda spec: tamper_log(spec, "DELETE FROM order_log"),
    "state column contradicts the log": lambda spec: raw(
        spec, "UPDATE orders SET state = 'paid' WHERE order_id = 'AE-1'"
    ),
    "version column is not positive": lambda spec: raw(
        spec, "UPDATE orders SET version = 0 WHERE order_id = 'AE-1'"
    ),
    "due_at column lost": lambda spec: raw(
        spec,
        "UPDATE orders SET due_at = dispatch_deadline, state = 'paid' WHERE order_id = 'AE-1'",
    ),
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupt_row_is_refused_naming_the_order(
    store: OrderStore, spec: StoreSpec, corrupt: Callable[[StoreSpec], None]
) -> None:
    """A head, log or derived column the machine could not have produced raises CorruptOrder
    (a StoreFault, not an input error) naming the order; nothing is ever overwritten."""
    _dispatched(store)
    corrupt(spec)
    before = raw(spec, "SELECT state, version, head FROM orders WHERE order_id = 'AE-1'")
    log = raw(spec, "SELECT count(*) FROM order_log")
    fresh = open_store(spec)  # another process: nothing of AE-1 cached
    try:
        with pytest.raises(CorruptOrder, match="stored order 'AE-1' is corrupt") as err:
            fresh.get("AE-1")
        assert isinstance(err.value, StoreFault)
        assert not isinstance(err.value, InvalidInput | RequestError)
        assert err.value.order_id == "AE-1"
        with pytest.raises(CorruptOrder, match="AE-1"):
            fresh.apply("AE-1", "confirm_delivery", at=PAID, event_id="wh-1")
        assert raw(spec, "SELECT state, version, head FROM orders WHERE order_id = 'AE-1'") == (
            before
        )
        assert raw(spec, "SELECT count(*) FROM order_log") == log
        # the other order is untouched and usable
        assert fresh.apply("AE-2", "request_cancellation", at=PAID).version == 2
    finally:
        fresh.close()


def test_a_head_changed_behind_the_store_is_read_in_full(
    store: OrderStore, spec: StoreSpec
) -> None:
    """R11: a store that just wrote an order still notices a head changed at the same version."""
    store.add(new_order())
    store.apply("AE-1", "request_cancellation", at=PAID)
    assert store.get("AE-1").state == "cancel_requested"
    set_head(spec, "AE-1", head_text(spec).replace('"25.00"', '"-5.00"', 1))
    with pytest.raises(CorruptOrder, match=r"AE-1.*amount"):
        store.get("AE-1")


def test_sqlite_head_that_is_not_json_is_corrupt(tmp_path: Any) -> None:
    """A head that is not even JSON names the order and says so."""
    spec: StoreSpec = ("sqlite", str(tmp_path / "o.db"))
    store = open_store(spec)
    store.add(new_order())
    set_head(spec, "AE-1", "{not json")
    with pytest.raises(CorruptOrder, match=r"AE-1.*not JSON"):
        store.get("AE-1")
    store.close()


def test_sweep_refuses_a_corrupt_due_row(store: OrderStore, spec: StoreSpec) -> None:
    """R12: the sweep does not fire on, nor overwrite, a corrupt due order; it reports it in
    its result's skipped, with the CorruptOrder that says why."""
    store.add(new_order())
    deadline = store.get("AE-1").dispatch_deadline
    set_head(spec, "AE-1", "[]")
    swept = store.sweep(deadline.replace(year=2027))
    assert swept == []
    assert [(s.order_id, s.reason) for s in swept.skipped] == [("AE-1", "corrupt")]
    assert isinstance(swept.skipped[0].error, CorruptOrder)
    assert raw(spec, "SELECT count(*) FROM order_log") == [(0,)]


def test_an_event_id_is_logged_once_per_order_by_the_database(
    store: OrderStore, spec: StoreSpec
) -> None:
    """R15: the log itself refuses a second row with an order's event id (the inbox of
    schema 2 is this unique index now); a redelivery is answered from the log, writing nothing."""
    store.add(new_order())
    store.apply("AE-1", "request_cancellation", at=PAID, event_id="wh-1")
    again = store.apply("AE-1", "request_cancellation", at=PAID, event_id="wh-1")
    assert (again.duplicate, again.version, again.seq) == (True, 2, 1)
    assert raw(spec, "SELECT version FROM orders") == [(2,)]
    with pytest.raises(Exception, match=r"(?i)unique"):
        raw(
            spec,
            "INSERT INTO order_log (order_id, seq, event, at, utc_offset, event_id, source, "
            "data, from_state, to_state) SELECT order_id, 2, event, at, utc_offset, event_id, "
            "source, data, from_state, to_state FROM order_log",
        )
    assert len(store.history("AE-1")) == 1


def test_log_is_append_only(store: OrderStore, spec: StoreSpec) -> None:
    """The log refuses UPDATE and DELETE at the database itself."""
    store.add(new_order())
    store.apply("AE-1", "request_cancellation", at=PAID)
    for sql in ("UPDATE order_log SET event = 'x'", "DELETE FROM order_log"):
        with pytest.raises(Exception, match="append-only"):
            raw(spec, sql)
    assert len(store.history("AE-1")) == 1


def test_schema_is_created_once_and_reopened(spec: StoreSpec) -> None:
    """A new database gets the current schema version; reopening keeps the data."""
    first = open_store(spec)
    first.add(new_order())
    first.close()
    assert raw(spec, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    again = open_store(spec)
    assert again.get("AE-1") == new_order()
    again.close()
    assert raw(spec, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_newer_schema_is_refused(spec: StoreSpec) -> None:
    """A database written by a newer release raises SchemaVersionError and is left alone."""
    open_store(spec).close()
    raw(spec, "UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 98,))
    with pytest.raises(SchemaVersionError, match=f"version {SCHEMA_VERSION + 98}") as err:
        open_store(spec)
    assert (err.value.found, err.value.supported) == (SCHEMA_VERSION + 98, SCHEMA_VERSION)
    assert "upgrade order-statemachine" in str(err.value)
    assert raw(spec, "SELECT version FROM schema_version") == [(SCHEMA_VERSION + 98,)]


# ------------------------------------------------------------------------------------------
# A writer killed in the middle of apply

KILL_POINTS = ("load", "swap", "append")


def _writer_that_stalls(spec: StoreSpec, step: str, ready: Any) -> None:
    """Open a store, stall inside apply right after ``step``, and wait to be killed."""
    store = open_store(spec)
    unit = store._unit  # type: ignore[attr-defined]
    original = getattr(unit, step)

    def stall(*args: Any, **kwargs: Any) -> Any:
        outcome = original(*args, **kwargs)
        ready.set()
        time.sleep(60)
        return outcome

    setattr(unit, step, stall)
    store.apply("AE-1", "request_cancellation", at=PAID, event_id="wh-1")


@pytest.mark.parametrize("step", KILL_POINTS)
def test_sigkill_in_the_middle_of_apply_leaves_the_database_consistent(
    store: OrderStore, spec: StoreSpec, step: str
) -> None:
    """A writer SIGKILLed inside apply's transaction leaves no trace; the order loads and the
    same delivery then applies once (R15)."""
    store.add(new_order())
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    writer = ctx.Process(target=_writer_that_stalls, args=(spec, step, ready))
    writer.start()
    try:
        assert ready.wait(30), "the writer never reached the kill point"
        os.kill(writer.pid, signal.SIGKILL)  # type: ignore[arg-type]
    finally:
        writer.join(30)
    assert writer.exitcode == -signal.SIGKILL
    assert store.get("AE-1") == new_order()
    assert store.history("AE-1") == ()
    assert store.outbox() == []
    assert raw(spec, "SELECT version FROM orders") == [(1,)]
    if spec[0] == "sqlite":
        assert raw(spec, "PRAGMA integrity_check") == [("ok",)]
    applied = store.apply("AE-1", "request_cancellation", at=PAID, event_id="wh-1")
    assert (applied.duplicate, applied.version) == (False, 2)
    assert [i.notification.kind for i in store.outbox()] == ["cancellation_request_received"]


def test_a_derived_column_changed_behind_the_store_is_refused_on_every_read(
    store: OrderStore, spec: StoreSpec
) -> None:
    """R1 R12: a store that remembers an order (it wrote it, and read it since, so what the
    order's derived columns should hold was worked out once) still checks them on each read:
    a state or due_at changed behind it is CorruptOrder naming the column, and so on the next
    read too."""
    store.add(new_order())
    assert store.get("AE-1").state == "paid"
    assert store.get("AE-1").state == "paid"  # remembered, its derived columns worked out
    raw(spec, "UPDATE orders SET state = 'dispatched' WHERE order_id = 'AE-1'")
    for _ in range(2):
        with pytest.raises(CorruptOrder, match=r"AE-1.*state"):
            store.get("AE-1")
    raw(spec, "UPDATE orders SET state = 'paid', due_at = NULL WHERE order_id = 'AE-1'")
    with pytest.raises(CorruptOrder, match=r"AE-1.*due_at"):
        store.get("AE-1")
