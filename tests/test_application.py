"""The application layer: one parser and one set of use cases for every front end, on a real
SQLite store."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statemachine import EventRejected, InvalidInput
from statemachine.application import (
    RELAY_DEFAULTS,
    Answer,
    EventRequest,
    NewOrder,
    RelayPolicy,
    create,
    explain,
    fire,
    list_orders,
    loads,
    parse_event,
    parse_new_order,
    redeliver,
    relay_batch,
    show,
    sweep_all,
)
from statemachine.store import AsyncSQLiteStore, OrderExists, SQLiteStore

PAID = "2026-03-02T10:00:00+08:00"
LATER = dt.datetime(2026, 5, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _new(**changes: Any) -> dict[str, Any]:
    return {"order_id": "AE-1", "amount": "25.00", "currency": "USD", "paid_at": PAID, **changes}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """A SQLite store in a fresh file."""
    with SQLiteStore(tmp_path / "orders.db") as opened:
        yield opened


# ------------------------------------------------------------------------------------------------
# Reading JSON


def test_a_key_given_twice_is_refused_naming_it() -> None:
    """R15: a JSON object that gives a key twice is refused naming the key, at any depth,
    never read as the last one."""
    for text in ('{"amount": "1.00", "amount": "2.00"}', '{"a": {"b": 1, "b": 2}}'):
        with pytest.raises(InvalidInput) as caught:
            loads(text)
        assert caught.value.field in ("amount", "b")
        assert "twice" in caught.value.message


def test_numbers_are_read_exactly_and_constants_refused() -> None:
    """R11: a JSON number is read as written (12.30 stays 12.30, 12 stays 12); NaN, Infinity,
    text that is not UTF-8 and JSON nested too deep are input errors."""
    assert loads('{"a": 12.30, "b": 12}') == {"a": Decimal("12.30"), "b": 12}
    for bad in ('{"a": NaN}', '{"a": -Infinity}', b'{"a": "\xff"}', "[" * 100_000, "{"):
        with pytest.raises(InvalidInput):
            loads(bad)


# ------------------------------------------------------------------------------------------------
# Requests


def test_a_new_order_takes_its_amount_as_written() -> None:
    """R11: an amount given as a JSON number is the decimal string it was written as."""
    for written, amount in (("12.30", "12.30"), ("12", "12"), ('"12.30"', "12.30")):
        request = parse_new_order(loads(json.dumps(_new(amount="@")).replace('"@"', written)))
        assert request.amount == amount


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_new(colour="red"), "colour"),
        ({k: v for k, v in _new().items() if k != "currency"}, "currency"),
        (_new(order_id="AE/1"), "order_id"),
        (_new(order_id=" AE-1"), "order_id"),
        (_new(order_id=""), "order_id"),
        (_new(order_id=5), "order_id"),
        (_new(paid_at="2026-03-02T10:00:00"), "paid_at"),
        (_new(paid_at="yesterday"), "paid_at"),
        (_new(paid_at=5), "paid_at"),
        ([], "body"),
    ],
)
def test_a_malformed_new_order_names_the_field(body: object, field: str) -> None:
    """R16: a new order that cannot be read is InvalidInput naming the field; a time without
    its offset is told how to add one, in words for any client (no Python)."""
    with pytest.raises(InvalidInput) as caught:
        parse_new_order(body)
    assert caught.value.field == field
    assert "tzinfo" not in caught.value.message and "datetime(" not in caught.value.message


@pytest.mark.parametrize(
    ("event", "body", "field"),
    [
        ("dispatch", {"at": PAID, "tracking_number": "LP1", "colour": "red"}, "colour"),
        ("dispatch", {"tracking_number": "LP1"}, "at"),
        ("dispatch", {"at": "2026-03-02 10:00", "tracking_number": "LP1"}, "at"),
        ("teleport", {"at": PAID}, "event"),
        ("dispatch_deadline_expired", {"at": PAID}, "event"),
        ("dispatch", {"at": PAID, "tracking_number": "LP1", "event_id": 7}, "event_id"),
    ],
)
def test_a_malformed_event_names_the_field(event: str, body: object, field: str) -> None:
    """R16 R15: an event request that cannot be read names the field at fault; the clock's
    events are not a caller's to send."""
    with pytest.raises(InvalidInput) as caught:
        parse_event("AE-1", event, body)
    assert caught.value.field == field


def test_an_event_id_given_twice_must_agree() -> None:
    """R15: an event id given apart (an Idempotency-Key) and in the body must be the same."""
    body = {"at": PAID, "event_id": "wh-1", "amount": 5}
    assert parse_event("AE-1", "reimburse_customer", body, event_id="wh-1").event_id == "wh-1"
    assert parse_event("AE-1", "reimburse_customer", body).data == {"amount": "5"}
    with pytest.raises(InvalidInput) as caught:
        parse_event("AE-1", "reimburse_customer", body, event_id="wh-2")
    assert caught.value.field == "event_id"


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["at", "event_id", "amount", "reason", "tracking_number", "x"]),
        st.one_of(
            st.text(max_size=30),
            st.integers(),
            st.decimals(allow_nan=False),
            st.booleans(),
            st.none(),
            st.just(PAID),
        ),
    ),
    st.sampled_from(["dispatch", "open_claim", "settle_refund", "nope"]),
)
def test_any_event_body_is_read_or_refused_in_our_words(body: dict[str, Any], event: str) -> None:
    """R16: whatever a client sends as an event's body is read into a request or refused with
    InvalidInput naming a field: never another exception."""
    verdict: object
    try:
        verdict = parse_event("AE-1", event, body)
    except InvalidInput as exc:
        verdict = exc.field
    assert isinstance(verdict, EventRequest) or (isinstance(verdict, str) and verdict)


# ------------------------------------------------------------------------------------------------
# Use cases


def _order(**changes: Any) -> NewOrder:
    return parse_new_order(_new(**changes))


def test_create_twice_is_a_replay_and_other_data_is_refused(store: SQLiteStore) -> None:
    """R15: creating the same order twice answers the first one (a replay); the same id with
    another amount is OrderExists."""
    first = create(store, _order(), source="test")
    again = create(store, _order(), source="test")
    assert (first.replay, again.replay, again.version) == (False, True, 1)
    assert again.order == first.order
    with pytest.raises(OrderExists):
        create(store, _order(amount="26.00"), source="test")


def test_a_replayed_event_answers_as_the_first_time(store: SQLiteStore) -> None:
    """R15: an event sent again with its id answers with what it did the first time (its
    notifications included), and writes nothing."""
    create(store, _order(), source="test")
    request = parse_event("AE-1", "request_cancellation", {"at": PAID, "event_id": "wh-1"})
    first = fire(store, request, source="test")
    store.apply("AE-1", "withdraw_cancellation", at=LATER)
    again = fire(store, request, source="test")
    assert again.replay and not first.replay
    assert again.result == first.result
    assert [n.kind for n in again.result.notifications] == ["cancellation_request_received"]
    assert again.applied.version == 3


def test_explain_and_show_read_without_writing(store: SQLiteStore) -> None:
    """R2: explain says what an event would meet (here R2 after dispatch) and show gathers an
    order's log and notifications, both without writing."""
    create(store, _order(), source="test")
    fire(store, parse_event("AE-1", "dispatch", {"at": PAID, "tracking_number": "LP1"}), source="x")
    told = explain(store, "AE-1", "request_cancellation", {}, at=LATER)
    assert isinstance(told.refusal, EventRejected) and told.refusal.rule == "R2"
    shown = show(store, "AE-1")
    assert (shown.version, [e.event for e in shown.history]) == (2, ["dispatch"])
    assert store.load("AE-1").version == 2


def test_pages_follow_their_cursor_to_the_end(store: SQLiteStore) -> None:
    """Keyset pages of a listing cover every order once, in order, and end."""
    for i in range(7):
        create(store, _order(order_id=f"AE-{i}"), source="test")
    seen: list[str] = []
    cursor = None
    while True:
        page = list_orders(store, limit=3, cursor=cursor)
        seen += [row.order_id for row in page.orders]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"AE-{i}" for i in range(7)]
    with pytest.raises(InvalidInput) as caught:
        list_orders(store, cursor="not-ours")
    assert caught.value.field == "cursor"


def test_sweep_all_goes_on_until_a_batch_comes_back_short(store: SQLiteStore) -> None:
    """R12: sweep_all fires every due clock event, in as many batches as it takes."""
    for i in range(5):
        create(store, _order(order_id=f"AE-{i}"), source="test")
    swept = sweep_all(store, LATER, 2)
    assert sorted(a.order.order_id for a in swept) == [f"AE-{i}" for i in range(5)]
    assert sweep_all(store, LATER, 2) == []


def test_sweep_all_stops_between_transactions_when_asked(store: SQLiteStore) -> None:
    """R12: a sweep told to stop keeps what it fired and leaves the rest due for the next."""
    for i in range(5):
        create(store, _order(order_id=f"AE-{i}"), source="test")
    asked: list[int] = []

    def stopping() -> bool:
        asked.append(1)
        return True

    first = sweep_all(store, LATER, 2, stopping=stopping)
    assert len(first) == 2 and len(asked) == 1
    rest = sweep_all(store, LATER, 2)
    fired = sorted(a.order.order_id for a in [*first, *rest])
    assert fired == [f"AE-{i}" for i in range(5)]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _two_notifications(store: SQLiteStore, order_id: str) -> None:
    """An order whose cancellation made two notifications (R6, then R9's completion)."""
    create(store, _order(order_id=order_id), source="test")
    for event in ("request_cancellation", "supplier_accepts_cancellation", "settle_refund"):
        store.apply(order_id, event, at=LATER)


def test_the_relay_records_every_try_and_dead_letters_go_again(tmp_path: Path) -> None:
    """R6: a relay round sends what is due and records each try with its answer; a
    notification that failed every try is a dead letter, kept with its tries; redeliver
    queues it again with its count started over, its tries kept, and it is delivered."""
    answers = [Answer(False, "HTTP 503"), Answer(False, "HTTP 502"), Answer(True, "HTTP 204")]
    policy = RelayPolicy(attempts=2, backoff=0.01, backoff_max=0.01)

    async def send(item: Any) -> Answer:
        return answers.pop(0)

    async def scenario() -> tuple[list[dict[str, int]], int, int, list[Any], Any]:
        async with AsyncSQLiteStore(tmp_path / "orders.db") as store:
            await store.run(create, _order(), source="test")
            await store.apply("AE-1", "request_cancellation", at=LATER)
            rounds = [await relay_batch(store, send, policy, owner="r1", now=_now)]
            await anyio.sleep(0.05)  # the retry's backoff
            rounds.append(await relay_batch(store, send, policy, owner="r1", now=_now))
            dead = await store.dead_letter_count()
            again = await store.run(redeliver, None)
            rounds.append(await relay_batch(store, send, policy, owner="r1", now=_now))
            (item,) = await store.delivery_states()
            return rounds, dead, again, await store.tries(item.notification_id), item

    rounds, dead, again, tries, item = anyio.run(scenario)
    assert [(r["failed"], r["dead"], r["sent"]) for r in rounds] == [
        (1, 0, 0),
        (0, 1, 0),
        (0, 0, 1),
    ]
    assert (dead, again) == (1, 1)
    assert [(t.answer, t.delivered) for t in tries] == [
        ("HTTP 503", False), ("HTTP 502", False), ("HTTP 204", True)
    ]  # fmt: skip
    assert (item.standing, item.attempts, item.leased_until) == ("sent", 1, None)


def test_claims_hold_a_notification_for_one_relay_and_keep_each_orders_queue(
    store: SQLiteStore,
) -> None:
    """R6 R9: a claim takes the first notification of each order that is due and held by no
    other relay; another relay's claim meanwhile gets nothing; an order's second notification
    waits for its first to be delivered; a lease that ran out (a relay that died) is taken
    again."""
    _two_notifications(store, "AE-1")
    _two_notifications(store, "AE-2")
    lease = dt.timedelta(minutes=1)
    first = store.claim("r1", LATER, lease, 10)
    assert [(i.order_id, i.position) for i in first] == [("AE-1", 0), ("AE-2", 0)]
    assert store.claim("r2", LATER, lease, 10) == []
    store.record_delivery(first[0].id, status="acked", error=None, next_attempt_at=None,
                          now=LATER, answer="HTTP 200", owner="r1")  # fmt: skip
    second = store.claim("r2", LATER, lease, 10)
    assert [(i.order_id, i.position) for i in second] == [("AE-1", 1)]
    later = store.claim("r3", LATER + 2 * lease, lease, 10)  # r1 and r2 died holding these
    assert sorted((i.order_id, i.position) for i in later) == [("AE-1", 1), ("AE-2", 0)]
    assert store.release("r3") == 2
    assert len(store.claim("r4", LATER + 2 * lease, lease, 10)) == 2


def test_a_receiver_that_does_not_finish_is_cut_at_the_timeout(tmp_path: Path) -> None:
    """R6: a delivery that takes longer than the policy's timeout, all of it, is a failed try
    saying so, retried later; the other deliveries of the round went on meanwhile."""
    policy = RelayPolicy(attempts=5, backoff=60, backoff_max=60, timeout=0.2)

    async def send(item: Any) -> Answer:
        if item.order_id == "AE-1":
            await anyio.sleep(30)
        return Answer(True, "HTTP 200")

    async def scenario() -> tuple[dict[str, int], list[Any]]:
        async with AsyncSQLiteStore(tmp_path / "orders.db") as store:
            for oid in ("AE-1", "AE-2"):
                await store.run(create, _order(order_id=oid), source="test")
                await store.apply(oid, "request_cancellation", at=LATER)
            done = await relay_batch(store, send, policy, owner="r1", now=_now)
            return done, await store.delivery_states()

    done, states = anyio.run(scenario)
    assert (done["sent"], done["failed"]) == (1, 1)
    hung = next(s for s in states if s.order_id == "AE-1")
    assert hung.standing == "retrying" and hung.last_answer == "no complete answer within 0.2 s"


def test_the_default_schedule_retries_for_about_three_days() -> None:
    """R6: the default relay policy spreads its tries over about three days (what payment
    providers give webhooks), so a receiver down over a weekend misses nothing."""
    span = RELAY_DEFAULTS.expected_span()
    assert 2.5 * 86400 < span < 3.5 * 86400
    assert RELAY_DEFAULTS.lease > dt.timedelta(seconds=RELAY_DEFAULTS.timeout)


# ------------------------------------------------------------------------------------------------
# Events dated too far ahead


def test_an_event_dated_past_the_skew_is_refused_before_the_store(store: SQLiteStore) -> None:
    """R16: given the receiver's clock and a bound, an event dated more than the bound ahead
    is EventTooFarAhead (an InvalidInput of kind time naming `at`, with the facts that decided)
    and nothing is read or written; one within the bound, or any without a clock, is fired."""
    from statemachine.errors import EventTooFarAhead

    create(store, parse_new_order(_new()), source="test")
    now = dt.datetime(2026, 3, 3, 9, tzinfo=dt.UTC)
    skew = dt.timedelta(minutes=5)
    typo = parse_event("AE-1", "dispatch", {"at": "2036-03-03T09:00:00Z", "tracking_number": "L"})
    with pytest.raises(EventTooFarAhead) as caught:
        fire(store, typo, source="test", now=now, max_skew=skew)
    error = caught.value
    assert isinstance(error, InvalidInput) and error.field == "at"
    assert error.to_dict()["kind"] == "time"
    assert error.facts == {"at": "2036-03-03T09:00:00+00:00", "now": now.isoformat(),
                           "max_skew_seconds": "300"}  # fmt: skip
    assert "300 seconds" in error.message
    assert store.load("AE-1").version == 1  # nothing written
    soon = parse_event("AE-1", "dispatch", {"at": "2026-03-03T09:04:59Z", "tracking_number": "L"})
    assert fire(store, soon, source="test", now=now, max_skew=skew).applied.version == 2
    late = parse_event("AE-1", "confirm_delivery", {"at": "2036-03-03T09:00:00Z"})
    assert fire(store, late, source="test").applied.order.state == "delivered"  # no clock


def test_an_order_an_older_release_kept_under_a_hidden_character_still_takes_events(
    store: SQLiteStore,
) -> None:
    """R1: the parser refuses a new id with an invisible character, but an order stored under
    one (by an older release, or a direct library call) is still addressed by it, so it can
    take its events."""
    from statemachine import Order

    oid = "AE\u00a01"
    with pytest.raises(InvalidInput, match="U\\+00A0"):
        parse_new_order(_new(order_id=oid))
    store.add(Order.create(oid, "25.00", "USD", LATER))
    sent = parse_event(oid, "request_cancellation", {"at": "2026-05-01T11:00:00+08:00"})
    assert fire(store, sent, source="test").applied.order.state == "cancel_requested"


# ------------------------------------------------------------------------------------------------
# Who may send what


def _roles_store(store: SQLiteStore, order_id: str, blame: str) -> None:
    """A delivered order whose claim left a refund pending, funded by ``blame`` (R9)."""
    create(store, _order(order_id=order_id), source="test")
    store.apply(order_id, "dispatch", at=LATER, tracking_number="LP1")
    store.apply(order_id, "confirm_delivery", at=LATER + dt.timedelta(days=1))
    store.apply(order_id, "open_claim", at=LATER + dt.timedelta(days=2),
                reason="not_as_described", amount="5.00",
                listing_altered=blame == "merchant")  # fmt: skip


@pytest.mark.parametrize("role", ["read", "support", "write", "supplier"])
def test_each_role_sends_the_events_of_its_parties_only(store: SQLiteStore, role: str) -> None:
    """R9 and "Who sends each event": a supplier's credential fires the supplier's events
    and settle_refund only of a refund the supplier funds (R9's blame), never the merchant's
    reimburse_customer; support and write fire any caller's event; read fires nothing. A
    refused one is NotPermitted (nothing written), and the log names who sent each event
    applied, with the note."""
    from statemachine.application import Actor
    from statemachine.declaration import TABLE
    from statemachine.errors import NotPermitted

    actor = Actor(f"{role}-1", role)  # type: ignore[arg-type]
    _roles_store(store, "AE-S", "supplier")
    _roles_store(store, "AE-M", "merchant")
    _roles_store(store, "AE-D", "supplier")
    at = (LATER + dt.timedelta(days=3)).isoformat()
    tried = {
        ("AE-S", "settle_refund"): {},
        ("AE-M", "settle_refund"): {},
        ("AE-M", "reimburse_customer"): {"amount": "1.00"},
        ("AE-D", "decline_claim"): {},
    }
    allowed = {
        "read": set(),
        "support": set(tried),
        "write": set(tried),
        "supplier": {("AE-S", "settle_refund")},
    }[role]
    for (order_id, event), data in tried.items():
        before = store.load(order_id).version
        request = parse_event(order_id, event, {"at": at, "note": "asked by phone", **data})
        if (order_id, event) in allowed:
            fired = fire(store, request, source="api", actor=actor)
            last = store.history(order_id)[-1]
            assert (last.event, last.actor, last.note) == (event, actor.name, "asked by phone")
            assert fired.applied.version == before + 1
        else:
            with pytest.raises(NotPermitted) as refused:
                fire(store, request, source="api", actor=actor)
            assert refused.value.role == role and store.load(order_id).version == before
    for event in TABLE.caller_events:
        party = TABLE.events[event].party
        assert party in ("customer", "supplier", "carrier", "merchant", "funder"), event


def test_only_the_write_role_creates_orders(store: SQLiteStore) -> None:
    """Roles: create is the write role's; support, read and supplier are NotPermitted and
    nothing is stored."""
    from statemachine.application import Actor
    from statemachine.errors import NotPermitted

    for role in ("read", "support", "supplier"):
        with pytest.raises(NotPermitted):
            create(store, _order(order_id="AE-R"), source="api", actor=Actor("x", role))  # type: ignore[arg-type]
    assert store.orders(limit=10) == []
    made = create(store, _order(order_id="AE-R"), source="api", actor=Actor("w", "write"))
    assert made.version == 1


def test_a_note_is_one_line_of_visible_text() -> None:
    """The note an event may carry goes to the log: a line break (which could forge a log
    line) or an invisible character is InvalidInput naming `note`, so is one too long."""
    base = {"at": "2026-05-01T10:00:00+08:00"}
    assert parse_event("AE-1", "confirm_delivery", {**base, "note": "called the customer"}).note
    for bad in ("two\nlines", "hidden\u202eturn", "x" * 2001, 42):
        with pytest.raises(InvalidInput) as caught:
            parse_event("AE-1", "confirm_delivery", {**base, "note": bad})
        assert caught.value.field == "note"


@pytest.mark.parametrize(
    "order_id",
    ["\u0410\u0031", "\uff21\uff11", "A\u0410-1", "\u0391\u0392-7"],
    ids=["cyrillic-A1", "fullwidth-A1", "latin-and-cyrillic", "greek-AB"],
)
def test_a_new_order_id_that_could_pass_for_another_is_refused(order_id: str) -> None:
    """R1: a new order id must read as itself: a Cyrillic or Greek id drawn as Latin letters,
    a fullwidth one, or one mixing scripts would stand beside the Latin id it looks like in
    every listing; InvalidInput names order_id. Ids of one script that read as themselves
    (Cyrillic, German) are kept."""
    with pytest.raises(InvalidInput) as caught:
        parse_new_order(_new(order_id=order_id))
    assert caught.value.field == "order_id" and "could pass for another id" in caught.value.message
    for fine in ("\u0417\u0430\u043a\u0430\u0437-7", "Bestellung-\u00c41"):
        assert parse_new_order(_new(order_id=fine)).order_id == fine
