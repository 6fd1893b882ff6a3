"""add_many on both stores: a bulk import in one transaction, all of it or none of it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import PAID, StoreSpec, new_order, raw

from statemachine import InvalidInput, Order
from statemachine.store import OrderExists, OrderStore

TABLES = ("orders", "order_log", "outbox")


def _counts(spec: StoreSpec) -> dict[str, int]:
    """How many rows each table holds."""
    return {t: raw(spec, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}  # type: ignore[misc]


def _with_history(order_id: str) -> Order:
    """An order that brings history: an event id, a notification and a lapsed cancellation."""
    order = new_order(order_id)
    order.fire("request_cancellation", at=PAID, event_id=f"{order_id}:r")
    order.fire("dispatch", at=PAID, event_id=f"{order_id}:d", tracking_number="LP1")
    return order


def _small_batches(store: OrderStore) -> OrderStore:
    """The store, sending add_many's statements 3 orders at a time (still one transaction)."""
    store._ADD_BATCH = 3  # type: ignore[attr-defined]
    return store


def test_add_many_stores_every_order_like_add(store: OrderStore, spec: StoreSpec) -> None:
    """R15, R6: after add_many each order reads back equal, at version 1, with its history
    logged under the source (its event ids with it) and its notifications queued once."""
    orders = [new_order("AE-1"), _with_history("AE-2"), new_order("AE-3"), _with_history("AE-4")]
    assert _small_batches(store).add_many(orders, source="import") == 4
    for order in orders:
        assert store.get(order.order_id) == order
        log = store.history(order.order_id)
        assert [(e.seq, e.event, e.to_state, e.event_id, e.source) for e in log] == [
            (i, r.event, r.dest, r.event_id, "import") for i, r in enumerate(order.history, start=1)
        ]
    assert [(i.order_id, i.position, i.notification) for i in store.outbox()] == [
        (o.order_id, p, n) for o in orders for p, n in enumerate(o.notifications)
    ]
    assert raw(spec, "SELECT DISTINCT version FROM orders") == [(1,)]
    assert raw(spec, "SELECT count(*) FROM order_log WHERE event_id IS NOT NULL") == [(4,)]
    assert store.apply("AE-2", "dispatch", at=PAID, event_id="AE-2:d", tracking_number="LP1")
    assert store.apply("AE-2", "confirm_delivery", at=PAID).version == 2
    assert store.apply("AE-1", "request_cancellation", at=PAID).seq == 1


def test_add_many_reads_a_generator_once_and_counts(store: OrderStore) -> None:
    """An import may be a generator (read batch by batch); the count of stored orders is
    returned, 0 for nothing."""
    read: list[str] = []

    def orders() -> Iterator[Order]:
        for i in range(10):
            read.append(f"G-{i}")
            yield new_order(f"G-{i}")

    assert _small_batches(store).add_many(orders()) == 10
    assert read == [f"G-{i}" for i in range(10)]
    assert store.add_many([]) == 0
    assert store.get("G-9") == new_order("G-9")


def test_duplicate_id_in_the_middle_adds_nothing(store: OrderStore, spec: StoreSpec) -> None:
    """An id given twice (in different batches) is InvalidInput naming it; nothing is added."""
    orders = [_with_history(f"AE-{i}") for i in range(8)]
    orders[6] = new_order("AE-2")
    with pytest.raises(InvalidInput, match=r"'AE-2' is given twice, at positions 2 and 6") as err:
        _small_batches(store).add_many(orders)
    assert not isinstance(err.value, OrderExists)
    assert err.value.field == "order_id"
    assert _counts(spec) == dict.fromkeys(TABLES, 0)


def test_id_already_stored_adds_nothing(store: OrderStore, spec: StoreSpec) -> None:
    """An id already stored is OrderExists naming it; the stored order is untouched and none
    of the import is kept, not even the batches before it."""
    stored = _with_history("AE-5")
    stored.fire("confirm_delivery", at=PAID)
    store.add(stored)
    before = _counts(spec)
    orders = [_with_history(f"AE-{i}") for i in range(8)]
    with pytest.raises(OrderExists, match="'AE-5' is already stored") as err:
        _small_batches(store).add_many(orders)
    assert err.value.order_id == "AE-5"
    assert _counts(spec) == before
    assert store.get("AE-5") == stored


def test_invalid_order_adds_nothing(store: OrderStore, spec: StoreSpec) -> None:
    """An order that does not read back (its state contradicts its history) is InvalidInput
    naming the order and the field; nothing is added."""
    orders = [new_order(f"AE-{i}") for i in range(8)]
    orders[7].state = "dispatched"
    with pytest.raises(InvalidInput, match="order 'AE-7' cannot be stored") as err:
        _small_batches(store).add_many(orders)
    assert err.value.field == "state"
    assert _counts(spec) == dict.fromkeys(TABLES, 0)


def test_something_not_an_order_adds_nothing(store: OrderStore, spec: StoreSpec) -> None:
    """An item that is not an Order is InvalidInput naming its position; nothing is added."""
    with pytest.raises(InvalidInput, match="item 1 is a dict"):
        store.add_many([new_order("AE-1"), {"order_id": "AE-2"}])  # type: ignore[list-item]
    assert _counts(spec) == dict.fromkeys(TABLES, 0)


_prefixes = itertools.count()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kinds=st.lists(
        st.sampled_from(["new", "with_history", "repeat", "stored", "invalid"]),
        min_size=1,
        max_size=12,
    )
)
def test_add_many_is_all_or_nothing(store: OrderStore, spec: StoreSpec, kinds: list[str]) -> None:
    """Any mix of new, repeated, already stored and invalid orders: either every order is
    added (none was bad) or the tables are exactly as before."""
    prefix = f"H{next(_prefixes)}"
    store.add(new_order(f"{prefix}-stored"))
    orders: list[Order] = []
    for i, kind in enumerate(kinds):
        if kind == "repeat" and orders:
            orders.append(new_order(orders[0].order_id))
        elif kind == "stored":
            orders.append(new_order(f"{prefix}-stored"))
        elif kind == "with_history":
            orders.append(_with_history(f"{prefix}-{i}"))
        else:
            orders.append(new_order(f"{prefix}-{i}"))
            if kind == "invalid":
                orders[-1].state = "refunded"
    bad = any(k in ("stored", "invalid") for k in kinds) or "repeat" in kinds[1:]
    before = _counts(spec)
    if bad:
        with pytest.raises((InvalidInput, OrderExists)):  # a taken id is not malformed input
            _small_batches(store).add_many(orders)
        assert _counts(spec) == before
    else:
        assert _small_batches(store).add_many(orders) == len(orders)
        assert [store.get(o.order_id) for o in orders] == orders
        assert _counts(spec)["orders"] == before["orders"] + len(orders)
