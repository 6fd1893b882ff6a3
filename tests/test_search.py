"""Finding orders through the use cases every front end shares (issue 20): find_orders,
needs_attention and the sortable list_orders, their pages and cursors, on a real SQLite file
and a real PostgreSQL database."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statemachine import InvalidInput
from statemachine.application import (
    MAX_PAGE,
    find_orders,
    list_orders,
    needs_attention,
)
from statemachine.store import SORT_KEYS, OrderRow, OrderStore, PostgresStore, SQLiteStore

from .helpers import new_order, t


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[OrderStore]:
    """A store on a real SQLite file, and one on a real PostgreSQL database."""
    opened: OrderStore
    if request.param == "sqlite":
        opened = SQLiteStore(tmp_path / "orders.db")
    else:
        opened = PostgresStore(request.getfixturevalue("pg_dsn"))
    yield opened
    opened.close()


def _shop(store: OrderStore) -> None:
    """Nine orders of several amounts, ages and states: two dispatched (no next deadline),
    one of them late (an R1 incident), one with its cancellation accepted (R4's repayment
    window running)."""
    amounts = ["25.00", "9.90", "100.00", "25.00", "39.90", "1.00", "25.00", "39.90", "60.00"]
    for i, amount in enumerate(amounts):
        store.add(new_order(f"AE-{1000 + i}", amount, paid_at=t(days=i % 4, hours=i)))
    store.apply("AE-1001", "dispatch", at=t(days=12), tracking_number="LP00001CN")  # late: R1
    store.apply("AE-1005", "dispatch", at=t(days=5), tracking_number="LP00005CN")
    store.apply("AE-1007", "request_cancellation", at=t(days=5))
    store.apply("AE-1007", "supplier_accepts_cancellation", at=t(days=6))


def _walk(page_of: Any) -> list[str]:
    """Every order id of a listing, following next_cursor to the end."""
    ids: list[str] = []
    cursor = None
    while True:
        page = page_of(cursor)
        ids += [row.order_id for row in page.orders]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def test_find_orders_finds_by_id_number_tracking_and_amount_and_pages(store: OrderStore) -> None:
    """R1 R11: find_orders is the store's search in pages: ``ae-100`` and ``100`` find the ids
    (and 100.00 by amount), a tracking number its dispatched order, ``39.90`` both orders of
    that amount; its cursor walks every match once and is refused by another listing."""
    _shop(store)
    found = _walk(lambda cursor: find_orders(store, " ae-100", cursor=cursor, limit=4))
    assert found == [f"AE-{1000 + i}" for i in range(9)]
    assert [r.order_id for r in find_orders(store, "1004").orders] == ["AE-1004"]
    assert [r.order_id for r in find_orders(store, "lp00005cn").orders] == ["AE-1005"]
    assert [r.order_id for r in find_orders(store, "39.90").orders] == ["AE-1004", "AE-1007"]
    page = find_orders(store, "ae", limit=2)
    assert page.next_cursor is not None
    with pytest.raises(InvalidInput, match="another listing") as refused:
        needs_attention(store, t(days=30), cursor=page.next_cursor)
    assert refused.value.field == "cursor"
    for bad in ({"text": ""}, {"text": "ae", "limit": MAX_PAGE + 1}, {"text": "ae", "cursor": "x"}):
        with pytest.raises(InvalidInput):
            find_orders(store, **bad)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sort=st.sampled_from(SORT_KEYS),
    order=st.sampled_from(["asc", "desc"]),
    limit=st.integers(1, 4),
    data=st.data(),
)
def test_a_sorted_listing_walked_by_its_cursors_is_every_row_sorted(
    store: OrderStore, sort: Any, order: Any, limit: int, data: st.DataObject
) -> None:
    """R12 R4: whatever the sort (state, amount, age, next deadline, id), the direction and the
    page size, following next_cursor gives every order once, as sorting them all at once
    does: ties by id, orders without a next deadline (dispatched) last."""
    if not store.orders(limit=1):
        _shop(store)
    every = store.orders(limit=100)

    def value(row: OrderRow) -> Any:
        return {
            "id": row.order_id,
            "state": row.state,
            "amount": row.amount,
            "age": None if row.paid_at is None else -row.paid_at.timestamp(),
            "deadline": row.due_at,
        }[sort]

    valued = sorted(
        (r for r in every if value(r) is not None),
        key=lambda r: (value(r), r.order_id),
        reverse=order == "desc",
    )
    rest = sorted(
        (r for r in every if value(r) is None), key=lambda r: r.order_id, reverse=order == "desc"
    )
    walked = _walk(
        lambda cursor: list_orders(store, sort=sort, order=order, cursor=cursor, limit=limit)
    )
    assert walked == [r.order_id for r in valued + rest]


def test_a_listing_cursor_holds_its_sort_and_one_of_the_release_before_still_reads(
    store: OrderStore,
) -> None:
    """R12: a cursor is the next page of the listing it was given for: another sort or
    direction is refused naming cursor; a cursor written before listings had sorts
    (``[due_at, order_id]``) still reads, for the deadline or id listing it was given for."""
    _shop(store)
    page = list_orders(store, sort="amount", limit=3)
    assert page.next_cursor is not None
    for sort, order in (("age", "asc"), ("amount", "desc")):
        with pytest.raises(InvalidInput, match="sorted by amount asc") as refused:
            list_orders(store, sort=sort, order=order, cursor=page.next_cursor)  # type: ignore[arg-type]
        assert refused.value.field == "cursor"
    old = base64.urlsafe_b64encode(json.dumps([None, "AE-1004"]).encode()).decode().rstrip("=")
    assert [r.order_id for r in list_orders(store, cursor=old, limit=2).orders] == [
        "AE-1005",
        "AE-1006",
    ]
    due = list_orders(store, due_before=t(days=60), limit=1)
    last = due.orders[0]
    assert last.due_at is not None
    old_due = [last.due_at.astimezone(dt.UTC).isoformat(), last.order_id]
    cursor = base64.urlsafe_b64encode(json.dumps(old_due).encode()).decode().rstrip("=")
    again = list_orders(store, due_before=t(days=60), cursor=cursor, limit=1)
    assert again.orders == list_orders(store, due_before=t(days=60), cursor=due.next_cursor,
                                       limit=1).orders  # fmt: skip
    for bad in ({"sort": "body"}, {"order": "up"}):
        with pytest.raises(InvalidInput) as refused:
            list_orders(store, **bad)  # type: ignore[arg-type]
        assert refused.value.field == next(iter(bad))


def test_rows_say_state_amount_currency_age_and_next_deadline(store: OrderStore) -> None:
    """R1 R4: each listed row carries what a person needs to tell orders apart: the state,
    the amount and currency, when it was paid (its age) and its next clock deadline (R1's
    while it waits for dispatch, R4's once a refund is pending, none once dispatched)."""
    _shop(store)
    rows = {r.order_id: r for r in list_orders(store, limit=50).orders}
    paid = rows["AE-1000"]
    assert (paid.state, paid.amount, paid.currency, paid.paid_at) == (
        "paid",
        Decimal("25.00"),
        "USD",
        t(days=0, hours=0),
    )
    assert paid.due_at == paid.dispatch_deadline
    assert rows["AE-1001"].due_at is None
    pending = rows["AE-1007"]
    assert pending.state == "refund_pending" and pending.due_at == pending.repayment_deadline


def test_needs_attention_pages_the_orders_a_person_must_look_at_with_why(
    store: OrderStore,
) -> None:
    """R4 R1 R12 R16: needs_attention lists, by id, the orders that need a person and why: a
    repayment overdue (R4) whose escalation the sweep has not fired, unshipped orders past R1
    whose auto-close (R12) it has not fired, a late dispatch (R1 incident); after the sweep
    only what a person must still do is left (the overdue repayment, the incident); a
    deadline within the sweep's grace is left to it."""
    _shop(store)
    now = t(days=40)
    first = needs_attention(store, now, limit=3)
    every = {a.order.order_id: a.reasons for a in first.orders}
    cursor = first.next_cursor
    while cursor is not None:
        page = needs_attention(store, now, cursor=cursor, limit=3)
        every.update({a.order.order_id: a.reasons for a in page.orders})
        cursor = page.next_cursor
    assert every["AE-1007"] == ("repayment_overdue", "sweep_behind")
    assert every["AE-1001"] == ("incident",)
    assert every["AE-1000"] == ("sweep_behind",)
    assert "AE-1005" not in every  # dispatched in time: nothing to look at
    store.sweep(now)
    left = {a.order.order_id: a.reasons for a in needs_attention(store, now, limit=50).orders}
    assert left["AE-1007"] == ("repayment_overdue",)
    assert all("sweep_behind" not in reasons for reasons in left.values())
    only = needs_attention(store, now, reasons=["incident"], limit=50)
    assert all(a.reasons == ("incident",) for a in only.orders)
    fresh = new_order("AE-2000", paid_at=t(days=50))
    store.add(fresh)
    just_past = fresh.dispatch_deadline + dt.timedelta(seconds=30)
    graced = needs_attention(store, just_past, sweep_grace=dt.timedelta(minutes=1), limit=50)
    assert "AE-2000" not in {a.order.order_id for a in graced.orders}
    ahead = needs_attention(store, t(days=49), reasons=["ahead_of_clock"], limit=50)
    assert [a.order.order_id for a in ahead.orders] == ["AE-2000"]  # R16: paid after now


def test_a_search_typed_in_full_width_forms_finds_the_order(store: OrderStore) -> None:
    """R15: text typed on a phone or pasted from a chat in full-width forms (the U+FF21
    block: full-width AE-1004, 1004, lp00001cn) finds what its ASCII finds."""
    _shop(store)
    for text in ("\uff21\uff25-\uff11\uff10\uff10\uff14", "\uff11\uff10\uff10\uff14"):
        assert [r.order_id for r in find_orders(store, text).orders] == ["AE-1004"], text
    tracking = "\uff4c\uff50\uff10\uff10\uff10\uff10\uff11\uff43\uff4e"
    assert [r.order_id for r in find_orders(store, tracking).orders] == ["AE-1001"]
