"""Finding orders in a store (issue 20): search by a prefix of the id or of its number, by
tracking number and by amount; listings sorted by one indexed column and paged by keyset; the
orders that need a person, with why; every one a lookup in an index (the query plans say so),
on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import PAID, StoreSpec, open_store, raw

from statemachine import InvalidInput, Order
from statemachine.store import (
    REASONS,
    SORT_KEYS,
    CorruptOrder,
    OrderRow,
    OrderStore,
    SortKey,
)

LATER = PAID + dt.timedelta(days=60)
"""Past every R1 dispatch deadline and R4 repayment deadline of orders paid at PAID."""


def _add(
    store: OrderStore,
    order_id: str,
    amount: str = "25.00",
    currency: str = "USD",
    paid_at: dt.datetime = PAID,
) -> None:
    store.add(Order.create(order_id, amount, currency, paid_at))


def _ids(rows: Sequence[OrderRow]) -> list[str]:
    return [row.order_id for row in rows]


# ------------------------------------------------------------------------------------------
# Search


def test_search_finds_an_id_by_its_prefix_or_its_number(store: OrderStore) -> None:
    """Issue 20: what a person types for an id finds it, case and the spaces around it aside:
    a prefix of the id (``ae-10``), or of its number, the id after its leading letters and
    separators (``1004`` finds AE-1004 and #1004-B; ``1004`` is also an amount no order
    has)."""
    for order_id in ("AE-1004", "AE-1005", "AE-2004", "#1004-B", "ae-10x", "XY-9"):
        _add(store, order_id)
    assert _ids(store.search("ae-1004 ")) == ["AE-1004"]
    assert _ids(store.search("  AE-10")) == ["AE-1004", "AE-1005", "ae-10x"]
    assert _ids(store.search("1004")) == ["#1004-B", "AE-1004"]
    assert _ids(store.search("#1004")) == ["#1004-B"]
    assert _ids(store.search("2004")) == ["AE-2004"]
    assert store.search("ZZ") == []


def test_search_finds_a_tracking_number_whole_even_after_a_cancellation(
    store: OrderStore,
) -> None:
    """R1 R7: the tracking number of an order's dispatch finds it, whole and in any case; so
    does one reported after its cancellation was accepted (R7 keeps it only in the log and
    an incident: the parcel is still in someone's hands)."""
    _add(store, "AE-1")
    _add(store, "AE-2")
    store.apply("AE-1", "dispatch", at=PAID, tracking_number="LP00123CN")
    store.apply("AE-2", "request_cancellation", at=PAID)
    store.apply("AE-2", "supplier_accepts_cancellation", at=PAID)
    store.apply("AE-2", "dispatch", at=PAID, tracking_number="LP00999CN")
    assert _ids(store.search("lp00123cn")) == ["AE-1"]
    assert _ids(store.search(" LP00999CN")) == ["AE-2"]
    assert store.search("LP00123") == []  # a tracking number matches whole, not by prefix


def test_search_finds_an_amount_as_a_number_in_any_currency_or_the_one_named(
    store: OrderStore,
) -> None:
    """R11: an amount is exact: ``39.90``, ``39.9`` and ``39.900`` find every order of 39.90
    whatever its currency, ``39.90 usd`` or ``USD 39.90`` only those in dollars; 3990 yen is
    another amount."""
    _add(store, "A-1", "39.90", "USD")
    _add(store, "A-2", "39.90", "EUR")
    _add(store, "A-3", "3990", "JPY")
    _add(store, "A-4", "39.91", "USD")
    for text in ("39.90", "39.9", "39.900"):
        assert _ids(store.search(text)) == ["A-1", "A-2"], text
    assert _ids(store.search("39.90 usd")) == ["A-1"]
    assert _ids(store.search("USD 39.90")) == ["A-1"]
    assert _ids(store.search("3990")) == ["A-3"]
    assert store.search("39.90001") == []
    found = store.search("39.9")[0]
    assert (found.amount, found.currency, found.paid_at) == (Decimal("39.90"), "USD", PAID)


def test_search_pages_by_key_without_repeating_or_losing_a_row(store: OrderStore) -> None:
    """Issue 20: search pages (``after`` the previous page's last id) list every match once,
    in the order of the ids case-folded, whichever lookup found each."""
    ids = ["ae-7", "AE-5", "AE-6", "Ae-8", "AE-70", "b-7"]
    for order_id in ids:
        _add(store, order_id)
    assert _ids(store.search("ae")) == ["AE-5", "AE-6", "ae-7", "AE-70", "Ae-8"]
    walked: list[str] = []
    after = None
    while page := store.search("ae", limit=2, after=after):
        walked += _ids(page)
        after = page[-1].order_id
    assert walked == ["AE-5", "AE-6", "ae-7", "AE-70", "Ae-8"]
    assert _ids(store.search("7")) == ["ae-7", "AE-70", "b-7"]


@pytest.mark.parametrize(
    ("text", "field"),
    [("", "q"), ("   ", "q"), ("x" * 201, "q"), ("a\x00b", "q"), (7, "q")],
)
def test_search_refuses_what_cannot_be_searched(store: OrderStore, text: Any, field: str) -> None:
    """Issue 20: nothing to look for, or more than an id can be, is InvalidInput naming q."""
    with pytest.raises(InvalidInput) as refused:
        store.search(text)
    assert refused.value.field == field


_id_chars = st.sampled_from("aAeEbB-#_1002345ßẞİ\u0131 ")
_order_ids = st.text(_id_chars, min_size=1, max_size=8).map(str.strip).filter(bool)
_specs = st.tuples(
    _order_ids,
    st.sampled_from(["1.00", "10.00", "10.50", "39.90", "100", "1000.00"]),
    st.sampled_from(["USD", "EUR", "JPY"]),
    st.one_of(st.none(), st.sampled_from(["LP1", "lp1", "LP10", "CX-ß", "CX-SS"])),
).map(lambda s: (s[0], s[1].split(".")[0] if s[2] == "JPY" else s[1], s[2], s[3]))
_orders = st.lists(_specs, min_size=1, max_size=8, unique_by=lambda s: s[0].casefold())


def _number(order_id: str) -> str:
    """The brute force's own reading of an id's number: after its leading letters and then
    its separators."""
    key = order_id.casefold()
    rest = itertools.dropwhile(str.isalpha, key)
    return "".join(itertools.dropwhile(lambda c: not c.isalnum(), rest))


def _matches(text: str, order_id: str, amount: str, currency: str, tracking: str | None) -> bool:
    """Whether the brute force finds the order for ``text``."""
    q = text.strip().casefold()
    if order_id.casefold().startswith(q) or _number(order_id).startswith(q):
        return True
    if tracking is not None and tracking.casefold() == q:
        return True
    words = text.split()
    named = words[1].upper() if len(words) == 2 else None
    if len(words) not in (1, 2) or not words[0].replace(".", "", 1).isdigit():
        return False
    return Decimal(words[0]) == Decimal(amount) and named in (None, currency)


@contextlib.contextmanager
def _fresh(spec: StoreSpec, base: str) -> Iterator[OrderStore]:
    """A new, empty store on ``spec``'s kind of database: a file of its own, or a PostgreSQL
    schema of its own (``base``: a DSN the schema is made in), removed afterwards."""
    import tempfile
    import uuid

    if spec[0] == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            store = open_store(("sqlite", f"{folder}/orders.db"))
            try:
                yield store
            finally:
                store.close()
        return
    import psycopg
    from psycopg.conninfo import make_conninfo

    schema = f"s_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")  # type: ignore[arg-type]
    store = open_store(("postgres", make_conninfo(base, options=f"-csearch_path={schema}")))
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[arg-type]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(orders=_orders, data=st.data())
def test_search_finds_exactly_what_a_brute_force_filter_finds(
    spec: StoreSpec,
    request: pytest.FixtureRequest,
    orders: list[tuple[str, str, str, str | None]],
    data: st.DataObject,
) -> None:
    """Issue 20 (R11 amounts exact, R1 tracking numbers): for any orders and any text taken
    from them (a piece of an id or of its number in any case, a tracking number, an amount
    with or without its currency), the search's pages, walked to the end, are exactly the
    orders a filter over every order finds, in the order of their ids case-folded: the
    indexes miss nothing and invent nothing."""
    base = request.getfixturevalue("pg_base_dsn") if spec[0] == "postgres" else ""
    some, amount, currency, tracking = data.draw(st.sampled_from(orders))
    texts = data.draw(
        st.lists(
            st.one_of(
                st.integers(1, len(some)).map(lambda n: some[:n].swapcase()),
                st.integers(1, 3).map(lambda n: _number(some)[:n] or some),
                st.just(tracking or some),
                st.just(amount),
                st.just(f" {amount} {currency.lower()}"),
                st.just(f"{amount}0" if "." in amount else f"{amount}.0"),
            ),
            min_size=1,
            max_size=4,
        )
    )
    limit = data.draw(st.integers(1, 3))
    with _fresh(spec, base) as store:
        for order_id, paid, money, shipped in orders:
            store.add(Order.create(order_id, paid, money, PAID))
            if shipped is not None:
                store.apply(order_id, "dispatch", at=PAID, tracking_number=shipped)
        for text in texts:
            expected = sorted(
                (spec_[0] for spec_ in orders if _matches(text, *spec_)),
                key=lambda oid: (oid.casefold(), oid),
            )
            walked: list[str] = []
            after = None
            while page := store.search(text, limit=limit, after=after):
                walked += _ids(page)
                after = page[-1].order_id
            assert walked == expected, text


# ------------------------------------------------------------------------------------------
# Sorted listings


def _listed(store: OrderStore, sort: SortKey, descending: bool, limit: int) -> list[OrderRow]:
    """Every row of a listing, walked a page of ``limit`` at a time."""
    rows: list[OrderRow] = []
    after: tuple[object, str] | None = None
    while page := store.orders(sort=sort, descending=descending, after=after, limit=limit):
        rows += page
        after = (page[-1].sort_value(sort), page[-1].order_id)
    return rows


@pytest.mark.parametrize("sort", SORT_KEYS)
@pytest.mark.parametrize("descending", [False, True])
def test_listings_sort_by_each_key_and_page_without_repeating_or_losing_a_row(
    store: OrderStore, sort: SortKey, descending: bool
) -> None:
    """R12 R4: a listing sorted by state, amount, age or the next clock deadline (ties by id,
    orders without a deadline last) pages by keyset to the same rows, in the same order, as
    sorting every row at once; an order whose clock has nothing to fire (dispatched, or
    escalated under R4) has no next deadline."""
    amounts = ["9.00", "25.00", "100.00", "25.00", "3.50", "25.00"]
    for i, amount in enumerate(amounts):
        _add(store, f"S-{i}", amount, paid_at=PAID + dt.timedelta(days=i % 3, hours=i))
    store.apply("S-1", "dispatch", at=PAID + dt.timedelta(days=2), tracking_number="LP1")
    store.apply("S-4", "request_cancellation", at=PAID + dt.timedelta(days=3))
    every = store.orders(limit=100)
    assert {row.order_id for row in every} == {f"S-{i}" for i in range(6)}
    walked = _listed(store, sort, descending, 2)

    def value(row: OrderRow) -> Any:
        return {
            "id": row.order_id,
            "state": row.state,
            "amount": row.amount,
            "age": -row.paid_at.timestamp(),  # type: ignore[union-attr]
            "deadline": row.due_at,
        }[sort]

    with_value = [row for row in every if value(row) is not None]
    without = [row for row in every if value(row) is None]
    expected = sorted(with_value, key=lambda r: (value(r), r.order_id), reverse=descending)
    expected += sorted(without, key=lambda r: r.order_id, reverse=descending)
    assert _ids(walked) == _ids(expected)
    if sort == "deadline":
        assert _ids(walked)[-1:] == ["S-1"] and walked[-1].due_at is None


def test_a_listing_refuses_a_sort_it_has_no_index_for_and_a_cursor_of_another(
    store: OrderStore,
) -> None:
    """Issue 20: only the sorts with an index exist; a page's cursor must hold the sort's
    value (an amount for ``amount``), each refusal InvalidInput naming its field."""
    _add(store, "S-1")
    for kwargs, field in (
        ({"sort": "body"}, "sort"),
        ({"descending": "yes"}, "descending"),
        ({"sort": "amount", "after": ("soon", "S-1")}, "after"),
        ({"sort": "state", "after": ("flying", "S-1")}, "state"),
        ({"sort": "age", "after": (dt.datetime(2026, 1, 1), "S-1")}, "after"),
        ({"after": ("S-1",)}, "after"),
    ):
        with pytest.raises(InvalidInput) as refused:
            store.orders(**kwargs)  # type: ignore[arg-type]
        assert refused.value.field == field, kwargs


def test_listing_rows_carry_amount_currency_and_age(store: OrderStore) -> None:
    """Issue 20: a listed row says what was paid, in which currency and when (its age), its
    moments in the supplier's time zone."""
    _add(store, "AE-1", "1500", "JPY", PAID)
    [row] = store.orders()
    assert (row.amount, row.currency) == (Decimal("1500"), "JPY")
    assert row.paid_at == PAID and row.paid_at.utcoffset() == dt.timedelta(hours=8)
    assert row.timezone == "Asia/Shanghai"


# ------------------------------------------------------------------------------------------
# The orders that need a person


def _dead_letter(store: OrderStore, order_id: str) -> None:
    """Make the first queued notification of ``order_id`` a dead letter (R6)."""
    [item] = [i for i in store.outbox(limit=1000) if i.order_id == order_id][:1]
    store.record_delivery(  # type: ignore[attr-defined]
        item.id, status="dead", error="HTTP 500", next_attempt_at=None, now=PAID
    )


def test_attention_lists_each_order_that_needs_a_person_with_every_reason(
    store: OrderStore,
) -> None:
    """R4 R1 R7 R6 R12 R16: the attention list holds the orders whose repayment is overdue
    (R4), that had an incident (R1 late dispatch, R7 dispatch after cancellation), that have
    a dead letter (R6), whose clock deadline passed unfired by the sweep (R12, R4), or whose
    last event is dated after the clock (R16), each with every reason that holds; an order
    with none is not listed."""
    for order_id in ("ok", "overdue", "late", "dead", "ahead"):
        _add(store, order_id)
    store.apply("ok", "dispatch", at=PAID + dt.timedelta(days=1), tracking_number="LP0")
    store.apply("overdue", "request_cancellation", at=PAID)
    store.apply("overdue", "supplier_accepts_cancellation", at=PAID)
    store.apply("late", "dispatch", at=PAID + dt.timedelta(days=20), tracking_number="LP1")
    store.apply("dead", "request_cancellation", at=PAID)
    store.apply("dead", "withdraw_cancellation", at=PAID + dt.timedelta(hours=1))
    _dead_letter(store, "dead")
    now = PAID + dt.timedelta(days=30)
    store.apply("ahead", "dispatch", at=now + dt.timedelta(days=2), tracking_number="LP2")
    found = {a.order.order_id: a.reasons for a in store.attention(now)}
    assert found == {
        "overdue": ("repayment_overdue", "sweep_behind"),
        "late": ("incident",),
        "dead": ("dead_letter", "sweep_behind"),
        "ahead": ("incident", "ahead_of_clock"),
    }
    assert {a.order.order_id for a in store.attention(now, reasons=["incident"])} == {
        "late",
        "ahead",
    }
    store.sweep(now)  # R12 R4: the sweep fires what was due; R4 escalates once
    after_sweep = {a.order.order_id: a.reasons for a in store.attention(now)}
    assert after_sweep["overdue"] == ("repayment_overdue",)
    assert "sweep_behind" not in after_sweep.get("dead", ())


def test_attention_leaves_to_the_sweep_what_it_fires_within_its_grace(store: OrderStore) -> None:
    """R12: a clock deadline passed less than ``sweep_grace`` ago is the sweep's next round,
    not a person's; past the grace the order is listed as sweep_behind."""
    _add(store, "AE-1")
    deadline = store.get("AE-1").dispatch_deadline
    just_after = deadline + dt.timedelta(minutes=1)
    grace = dt.timedelta(minutes=5)
    assert store.attention(just_after, sweep_grace=grace) == []
    [late] = store.attention(deadline + dt.timedelta(minutes=6), sweep_grace=grace)
    assert late.reasons == ("sweep_behind",)
    assert store.attention(deadline) == []  # not passed yet: the deadline's last instant


def test_attention_pages_by_id_and_keeps_every_reason_of_each_row(store: OrderStore) -> None:
    """R1 R16: attention pages (``after`` the previous page's last id) list each order once,
    in id order, with all its reasons even when several lookups found it."""
    now = PAID + dt.timedelta(days=30)
    for i in range(7):
        _add(store, f"N-{i}")
        store.apply(f"N-{i}", "dispatch", at=now + dt.timedelta(days=i % 2), tracking_number="L")
    walked = []
    after = None
    while page := store.attention(now, limit=3, after=after):
        walked += [(a.order.order_id, a.reasons) for a in page]
        after = page[-1].order.order_id
    assert walked == [
        (f"N-{i}", ("incident", "ahead_of_clock") if i % 2 else ("incident",)) for i in range(7)
    ]


def test_attention_refuses_an_unknown_reason_and_a_negative_grace(store: OrderStore) -> None:
    """Issue 20: InvalidInput naming the field for a reason that is none, a grace below 0, a
    naive now (R16)."""
    for kwargs, field in (
        ({"reasons": ["bored"]}, "reason"),
        ({"sweep_grace": dt.timedelta(seconds=-1)}, "sweep_grace"),
    ):
        with pytest.raises(InvalidInput) as refused:
            store.attention(PAID, **kwargs)  # type: ignore[arg-type]
        assert refused.value.field == field
    with pytest.raises(InvalidInput):
        store.attention(dt.datetime(2026, 3, 2))
    assert set(REASONS) == {
        "repayment_overdue",
        "incident",
        "dead_letter",
        "sweep_behind",
        "ahead_of_clock",
    }


# ------------------------------------------------------------------------------------------
# Derived, checked, rebuilt

SEARCH_COLUMNS = {
    "order_key": "'ae-2'",
    "order_number": "'2'",
    "tracking_key": "'lp-other'",
    "amount_key": "'0299.0000'",
    "currency": "'EUR'",
    "incidents": "3",
    "last_at": "due_at",
    "paid_at": "due_at",
}


@pytest.mark.parametrize("column", SEARCH_COLUMNS)
def test_a_search_column_changed_by_hand_is_corrupt_until_rebuilt(
    store: OrderStore, spec: StoreSpec, column: str
) -> None:
    """R1 R16: the columns search, sorting and the attention list read are derived from the
    log like the state: one changed by hand is CorruptOrder naming it on every read, and
    ``rebuild`` writes it again from the log."""
    _add(store, "AE-1")
    store.apply("AE-1", "dispatch", at=PAID, tracking_number="LP-1")
    assert store.get("AE-1").state == "dispatched"  # remembered: still checked below
    raw(spec, f"UPDATE orders SET {column} = {SEARCH_COLUMNS[column]} WHERE order_id = 'AE-1'")
    for _ in range(2):
        with pytest.raises(CorruptOrder) as corrupt:
            store.get("AE-1")
        assert corrupt.value.field == column
    assert store.rebuild("AE-1").order.state == "dispatched"  # type: ignore[attr-defined]
    assert store.get("AE-1").tracking_number == "LP-1"
    assert _ids(store.search("lp-1")) == ["AE-1"]


# ------------------------------------------------------------------------------------------
# Index lookups, not scans


@contextlib.contextmanager
def _statements(store: OrderStore) -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Every statement (and its parameters) the store runs in its autocommit reads while the
    block runs."""
    db = store._db  # type: ignore[attr-defined]
    seen: list[tuple[str, tuple[Any, ...]]] = []
    opened = db.statements

    @contextlib.contextmanager
    def recording() -> Iterator[Any]:
        with opened() as cur:

            class Recording:
                def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
                    seen.append((sql, tuple(params)))
                    return cur.execute(sql, params)

                def __getattr__(self, name: str) -> Any:
                    return getattr(cur, name)

            yield Recording()

    db.statements = recording
    try:
        yield seen
    finally:
        del db.statements


def _plan(spec: StoreSpec, sql: str, params: tuple[Any, ...]) -> str:
    """The database's plan of ``sql``: SQLite's EXPLAIN QUERY PLAN; PostgreSQL's EXPLAIN with
    sequential scans off (so an index it could use is the one it takes on a small table)."""
    kind, target = spec
    if kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(target)
        try:
            return "\n".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(target, autocommit=True) as pg:
        pg.execute("SET enable_seqscan = off")
        return "\n".join(r[0] for r in pg.execute(f"EXPLAIN {sql}", params))  # type: ignore[arg-type]


LOOKUPS: dict[str, tuple[Callable[[OrderStore], object], str, str]] = {
    "id prefix": (lambda s: s.search("ae-10"), "order_key >=", "orders_key"),
    "number prefix": (lambda s: s.search("10"), "order_number >=", "orders_number"),
    "tracking number": (lambda s: s.search("LP7"), "tracking_key =", "orders_tracking"),
    "amount": (lambda s: s.search("39.90"), "amount_key =", "orders_amount_found"),
    "sorted by amount": (lambda s: s.orders(sort="amount"), "amount_key IS NOT", "orders_amount"),
    "sorted by age": (lambda s: s.orders(sort="age"), "paid_at IS NOT", "orders_paid_at"),
    "sorted by deadline": (lambda s: s.orders(sort="deadline"), "due_at IS NOT", "orders_deadline"),
    "repayment overdue": (lambda s: s.attention(LATER), "repayment_deadline <", "orders_repayment"),
    "incidents": (lambda s: s.attention(LATER), "incidents > 0", "orders_incidents"),
    "dead letters": (lambda s: s.attention(LATER), "'dead'", "outbox_dead_orders"),
    "ahead of the clock": (lambda s: s.attention(LATER), "last_at >", "orders_last_at"),
}


@pytest.mark.parametrize("lookup", LOOKUPS, ids=list(LOOKUPS))
def test_each_lookup_is_a_search_of_its_index_not_a_scan(
    store: OrderStore, spec: StoreSpec, lookup: str
) -> None:
    """Issue 20: search by id prefix, number, tracking number and amount, each sort and each
    attention reason runs as a search of the index of its column (SQLite's EXPLAIN QUERY PLAN
    names it; PostgreSQL's EXPLAIN, sequential scans off, uses it), never a scan of the
    orders (R1 R4 R6 R16: the attention lookups read their indexes too)."""
    orders = [Order.create(f"AE-{1000 + i}", f"{10 + i % 40}.90", "USD", PAID) for i in range(300)]
    store.add_many(orders)
    store.apply("AE-1001", "dispatch", at=PAID, tracking_number="LP7")
    run, marker, index = LOOKUPS[lookup]
    with _statements(store) as seen:
        run(store)
    [(sql, params)] = [(sql, params) for sql, params in seen if marker in sql]
    plan = _plan(spec, sql, params)
    named = re.compile(rf"\b{index}\b")
    assert named.search(plan), plan
    if spec[0] == "sqlite":  # a scan of orders is one of the lookup's own (partial) index
        scans = [line for line in plan.splitlines() if line.startswith("SCAN orders")]
        assert all(named.search(line) and "USING INDEX" in line for line in scans), plan
    else:
        assert "Seq Scan on orders" not in plan, plan
