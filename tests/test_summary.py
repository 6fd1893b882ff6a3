"""statemachine.application.summarize: an order's first screen in words, from the order and
its own table (issue 20, point 1), on orders the test kit makes for every state of orders@1."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from statemachine import Order
from statemachine.application import Summary, summarize
from statemachine.application._summary import Moment, span, zone_label
from statemachine.declaration import load_definitions
from statemachine.declaration._table import TABLE
from statemachine.testing.paths import Path, shortest_paths, transition_cover

SH = ZoneInfo("Asia/Shanghai")
PAID = dt.datetime(2026, 3, 2, 10, tzinfo=SH)
"""A Monday; the R1 dispatch deadline is the end of 2026-03-11."""
LATE = dt.datetime(2026, 12, 7, 9, tzinfo=SH)
"""Long after every deadline of an order paid on :data:`PAID`."""
PATHS = {p.final_state: p for p in shortest_paths()}


def _soon_after(order: Order) -> dt.datetime:
    last = order.history[-1].at if order.history else order.paid_at
    return last + dt.timedelta(hours=1)


def test_every_state_of_orders_1_is_reached() -> None:
    """The kit's shortest paths reach every state of the table, so the tests below cover
    them all."""
    assert set(PATHS) == set(TABLE.state_names)


@pytest.mark.parametrize("state", TABLE.state_names)
@pytest.mark.parametrize("when", ["soon", "late"])
def test_every_state_says_where_the_money_is_and_what_comes_next(state: str, when: str) -> None:
    """R11, R9: in every state the summary says what was paid, every refund settled (who
    funded it), every reimbursement, the pending refund and who owes it; what comes next is
    one sentence; the moves are the events allowed now, each with its sender from the table's
    parties; nothing in it is a datetime without its zone."""
    order = PATHS[state].replay()
    now = _soon_after(order) if when == "soon" else LATE
    summary = summarize(order, now)
    assert isinstance(summary, Summary)
    assert summary.state == state and summary.final is (state in TABLE.final_states)
    assert summary.zone == "Asia/Shanghai" and summary.zone_label == "UTC+08:00 China"
    paid = summary.money_of("payment")
    assert len(paid) == 1 and paid[0].amount == order.amount
    assert "2026-03-02 10:00" in str(paid[0].words)
    assert [m.amount for m in summary.money_of("refund")] == [e.amount for e in order.refunds]
    assert [m.party for m in summary.money_of("refund")] == [e.blame for e in order.refunds]
    assert [m.amount for m in summary.money_of("reimbursement")] == [
        e.amount for e in order.customer_refunds
    ]
    pending = order.pending_refund
    owed = summary.money_of("owed") + summary.money_of("claimed")
    assert [m.amount for m in owed] == ([] if pending is None else [pending.amount])
    assert [m.party for m in owed] == ([] if pending is None else [pending.blame])
    assert [m.event for m in summary.moves] == list(order.allowed_events(now))
    for move in summary.moves:
        assert move.sender == TABLE.events[move.event].sender(order)
    assert str(summary.next.words).endswith(".")
    for line in summary.money:
        for part in line.words.parts:
            assert isinstance(part, (str, Moment))
            if isinstance(part, Moment):
                assert part.at.utcoffset() == dt.timedelta(hours=8)


@pytest.mark.parametrize("path", transition_cover(), ids=str)
def test_deadlines_that_no_longer_bind_are_done_never_alarms(path: Path) -> None:
    """R1, R4, R13: long after every deadline, one that no longer binds (the order left the
    states whose rows read it) is met or missed and says which event ended it; only a deadline
    that still binds and that the clock acts on is overdue, and each such is an alert."""
    order = path.replay()
    summary = summarize(order, LATE)
    for d in summary.deadlines:
        if d.state in ("met", "missed"):
            assert not d.binds
            assert d.ended_by is None or d.ended_by in str(d.words)
        if d.state == "overdue":
            assert d.clock_event is not None
            assert any(a.kind == "overdue" and a.rule == d.rule for a in summary.alerts)
    alarms = {d.name for d in summary.deadlines if d.state == "overdue"}
    assert all(d.binds for d in summary.deadlines if d.name in alarms)
    if order.is_final:
        assert alarms == set()
        assert "final state" in summary.others_why or not summary.others


def test_a_dispatch_12_days_late_is_an_alert_and_a_missed_deadline() -> None:
    """R1: an order dispatched 12 days after its deadline says so at the top ("Dispatched 12
    days late (R1)") and its dispatch deadline is missed, never "met"."""
    order = Order.create("AE-9", "30.00", "USD", PAID)
    order.dispatch(tracking_number="LP9", at=dt.datetime(2026, 3, 23, 10, tzinfo=SH))
    summary = summarize(order, LATE)
    assert str(summary.alerts[0].words).startswith("Dispatched 12 days late (R1), on 2026-03-23")
    (deadline,) = summary.deadlines
    assert deadline.state == "missed" and not deadline.binds
    assert str(deadline.words) == "missed: dispatch came 12 days late, on 2026-03-23 10:00"


def test_a_dispatch_in_time_meets_its_deadline() -> None:
    """R1: a dispatch before the deadline meets it; nothing is an alert."""
    order = Order.create("AE-9", "30.00", "USD", PAID)
    order.dispatch(tracking_number="LP9", at=dt.datetime(2026, 3, 3, 10, tzinfo=SH))
    summary = summarize(order, LATE)
    assert summary.alerts == ()
    assert summary.deadlines[0].state == "met"
    assert str(summary.deadlines[0].words) == "ended in time by dispatch on 2026-03-03 10:00"


def test_the_next_deadline_names_who_must_act_and_what_the_clock_does() -> None:
    """R1, R12: in paid, the next deadline is R1's; the supplier must act by it (dispatch:
    the event that takes the order where the deadline no longer binds), else the clock sends
    dispatch_deadline_expired, to refund_pending."""
    order = Order.create("AE-9", "30.00", "USD", PAID)
    summary = summarize(order, PAID + dt.timedelta(days=1))
    assert summary.next.deadline is not None and summary.next.deadline.rule == "R1"
    assert [m.event for m in summary.next.by] == ["dispatch"]
    assert str(summary.next.words) == (
        "The supplier (dispatch) must act by 2026-03-11 23:59 (in 8 days, the R1 dispatch "
        "deadline); else the clock sends dispatch_deadline_expired (to refund_pending)."
    )


def test_an_overdue_repayment_is_an_alert_and_says_how_long() -> None:
    """R4: a cancellation refund past its repayment deadline is still owed by the supplier,
    overdue by so long; after the clock escalated it, still so (the deadline holds no more)."""
    order = Order.create("AE-9", "30.00", "USD", PAID)
    order.request_cancellation(at=PAID + dt.timedelta(hours=1))
    order.supplier_accepts_cancellation(at=PAID + dt.timedelta(hours=2))
    deadline = order.pending_refund.repayment_deadline  # type: ignore[union-attr]
    now = deadline + dt.timedelta(days=10, hours=1)
    summary = summarize(order, now)
    (owed,) = summary.money_of("owed")
    assert owed.party == "supplier" and owed.overdue == "10 days"
    assert "expected from 2026-03-05" in str(owed.words) and "overdue by 10 days" in str(owed.words)
    assert any(a.kind == "overdue" and a.rule == "R4" for a in summary.alerts)
    assert str(summary.next.words).startswith("Overdue by 10 days: the R4 repayment deadline")
    order.tick(now)
    escalated = summarize(order, now)
    assert escalated.money_of("owed")[0].overdue == "10 days"
    assert "escalated" in str(escalated.money_of("owed")[0].words)
    assert [a.rule for a in escalated.alerts] == ["R4"]


def test_a_claim_says_who_it_waits_on_and_that_no_rule_dates_it() -> None:
    """R9, R4: a pending claim names who funds it and who the order waits on (the senders of
    the events that change the state), and says that no rule sets its date."""
    order = Order.create("AE-9", "30.00", "USD", PAID)
    order.dispatch(tracking_number="LP9", at=PAID + dt.timedelta(days=1))
    order.confirm_delivery(at=PAID + dt.timedelta(days=5))
    order.open_claim(reason="damaged_in_transit", amount="12.50", at=PAID + dt.timedelta(days=6))
    summary = summarize(order, PAID + dt.timedelta(days=7))
    (pending,) = summary.money_of("claimed")
    assert pending.amount == Decimal("12.50") and pending.party == "supplier"
    assert "no rule sets a date" in str(pending.words)
    assert summary.money_of("to_pay_back") == ()  # a claim is not agreed until settled (R7)
    assert str(summary.next.words) == (
        "No deadline is ahead. Waits on the merchant (decline_claim); the supplier (settle_refund)."
    )


def test_what_the_customer_is_still_owed_counts_agreed_refunds_only() -> None:
    """R7, R11: a settled refund not yet paid back to the customer is what the merchant still
    owes them; a reimbursement made before the supplier repaid a cancellation leaves nothing
    owed to the customer and the supplier still owing the merchant."""
    order = Order.create("AE-9", "30.00", "USD", PAID)
    order.request_cancellation(at=PAID + dt.timedelta(hours=1))
    order.supplier_accepts_cancellation(at=PAID + dt.timedelta(hours=2))
    summary = summarize(order, PAID + dt.timedelta(hours=3))
    assert [m.amount for m in summary.money_of("to_pay_back")] == [Decimal("30.00")]
    order.reimburse_customer(amount="30.00", at=PAID + dt.timedelta(hours=3))
    summary = summarize(order, PAID + dt.timedelta(hours=4))
    assert summary.money_of("to_pay_back") == ()
    assert [m.party for m in summary.money_of("owed")] == ["supplier"]
    assert "2026-03-02 13:00" in str(summary.money_of("reimbursement")[0].words)


def test_refusals_are_grouped_the_rule_specific_first() -> None:
    """R2, R7, R8, R10, R14: the refusals a rule of its own explains are listed with its
    message; every other event is named once, with the one reason (the state does not take
    them, or R14 in a final state)."""
    order = PATHS["dispatched"].replay()
    summary = summarize(order, LATE)
    assert [r.rule for r in summary.refusals] == ["R2", "R8", "R10", "R7"]
    assert "withdraw_cancellation" in summary.others
    assert summary.others_why == "dispatched does not take them"
    final = summarize(PATHS["refunded"].replay(), LATE)
    assert final.refusals == ()
    assert final.others_why == "R14: the order is refunded, a final state"


def test_the_journey_is_said_in_words() -> None:
    """The path taken reads as the states gone through, and the events that kept the state."""
    order = Order.create("AE-9", "30.00", "USD", PAID)
    order.request_cancellation(at=PAID + dt.timedelta(hours=1))
    order.supplier_accepts_cancellation(at=PAID + dt.timedelta(hours=2))
    order.reimburse_customer(amount="30.00", at=PAID + dt.timedelta(hours=3))
    assert str(summarize(order, LATE).journey) == (
        "paid → cancel_requested → refund_pending: 3 events; reimburse_customer left the state "
        "as it was"
    )


@pytest.mark.parametrize(
    ("zone", "at", "said"),
    [
        ("Asia/Shanghai", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "UTC+08:00 China"),
        ("Europe/Berlin", dt.datetime(2026, 7, 1, tzinfo=dt.UTC), "UTC+02:00 Germany"),
        ("Europe/Berlin", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "UTC+01:00 Germany"),
        ("America/Chicago", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "UTC-06:00 United States"),
        ("Asia/Kolkata", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "UTC+05:30 India"),
        ("UTC", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "UTC"),
    ],
)
def test_a_zone_says_its_offset_then_and_its_country(zone: str, at: dt.datetime, said: str) -> None:
    """R16: a time says its zone without an abbreviation (no "CST"): its UTC offset at that
    moment, and the zone's country from the tz database's tables."""
    assert zone_label(zone, at) == said


def test_spans_read_as_words() -> None:
    """How long until or since, in days (or hours and minutes under two days)."""
    assert span(dt.timedelta(days=205, hours=3)) == "205 days"
    assert span(dt.timedelta(days=1, hours=4)) == "1 day 4 h"
    assert span(dt.timedelta(hours=3, minutes=20)) == "3 h 20 min"
    assert span(dt.timedelta(minutes=-5)) == "5 min"


def test_another_version_is_summarized_from_its_own_table() -> None:
    """Versions: an orders@2 order (the risk hold example) is summarized from its own table:
    in on_hold, whose rows read no deadline, the R1 deadline does not bind and the order waits
    on the supplier's two events of that state."""
    load_definitions("statemachine.examples.risk_hold")
    paths = {p.final_state: p for p in shortest_paths(definition="orders@2")}
    order = paths["on_hold"].replay()
    summary = summarize(order, _soon_after(order))
    assert summary.definition == "orders@2"
    assert [d.binds for d in summary.deadlines] == [False]
    assert [m.event for m in summary.next.by] == ["release_hold", "risk_close"]
    assert {m.sender for m in summary.next.by} == {"supplier"}


def test_a_naive_now_is_refused() -> None:
    """R16: the summary is asked at an aware moment, like every event."""
    with pytest.raises(ValueError, match="now"):
        summarize(Order.create("AE-9", "30.00", "USD", PAID), dt.datetime(2026, 3, 3))
