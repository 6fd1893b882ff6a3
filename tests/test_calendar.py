"""Supplier business days on the real holidays calendar (R1, R4, R13 deadlines), moments as
instants (R16) and the ends of time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statemachine import EventRejected, InvalidInput, Order, Policy
from statemachine.declaration._calendar import BusinessCalendar, as_instant

SH = ZoneInfo("Asia/Shanghai")
CN = BusinessCalendar("CN", "Asia/Shanghai")


def end(y: int, m: int, d: int) -> dt.datetime:
    """The last instant of a Shanghai day."""
    return dt.datetime(y, m, d, 23, 59, 59, 999999, tzinfo=SH)


def test_r1_spring_festival_2026_from_rules_md() -> None:
    """R1: paid 2026-02-13 10:00 Shanghai, the dispatch deadline is the end of 2026-03-02."""
    order = Order.create("AE-1", "10.00", "USD", dt.datetime(2026, 2, 13, 10, tzinfo=SH))
    assert order.dispatch_deadline == end(2026, 3, 2)
    assert order.warnings == ()


def test_r1_national_day_2026() -> None:
    """R1: paid Wed 2026-09-30, Oct 1-7 are off and Sat Oct 10 is worked: end of 2026-10-15."""
    order = Order.create("AE-1", "10.00", "USD", dt.datetime(2026, 9, 30, 12, tzinfo=SH))
    assert order.dispatch_deadline == end(2026, 10, 15)


def test_r1_payment_late_evening_utc_is_next_day_in_shanghai() -> None:
    """R1: 2026-03-01 20:00 UTC is Monday 2026-03-02 04:00 in Shanghai: day 0 is Monday."""
    order = Order.create("AE-1", "10.00", "USD", dt.datetime(2026, 3, 1, 20, tzinfo=dt.UTC))
    assert order.dispatch_deadline == end(2026, 3, 11)
    same_day_utc = Order.create("AE-2", "10.00", "USD", dt.datetime(2026, 3, 1, 15, tzinfo=dt.UTC))
    assert same_day_utc.dispatch_deadline == end(2026, 3, 10)


@pytest.mark.parametrize(
    "day", [dt.date(2026, 1, 4), dt.date(2026, 2, 14), dt.date(2026, 2, 28), dt.date(2026, 10, 10)]
)
def test_make_up_weekend_days_are_working_days(day: dt.date) -> None:
    """R1: China's official make-up weekend days of 2026 count as business days."""
    assert day.weekday() >= 5
    assert CN.is_working_day(day)


def test_make_up_saturday_counts_towards_deadline() -> None:
    """R1: paid Friday 2026-02-27, Saturday 02-28 is business day 1, so 7 days end on 03-09."""
    assert CN.nth_working_day_after(dt.date(2026, 2, 27), 1) == dt.date(2026, 2, 28)
    assert CN.nth_working_day_after(dt.date(2026, 2, 27), 7) == dt.date(2026, 3, 9)


@pytest.mark.parametrize("day", [dt.date(2026, 2, 17), dt.date(2026, 10, 1), dt.date(2026, 10, 7)])
def test_public_holidays_are_not_working_days(day: dt.date) -> None:
    """R1: Spring Festival and National Day holidays do not count."""
    assert not CN.is_working_day(day)


def test_policy_overrides_move_the_deadline() -> None:
    """R1: an extra supplier holiday pushes the deadline; an extra working day pulls it."""
    paid = dt.datetime(2026, 3, 2, 9, tzinfo=SH)
    closed = Policy(extra_holidays=[dt.date(2026, 3, 4)])
    assert Order.create("A", "1.00", "USD", paid, policy=closed).dispatch_deadline == end(
        2026, 3, 12
    )
    open_saturday = Policy(extra_working_days=["2026-03-07"])
    assert Order.create("B", "1.00", "USD", paid, policy=open_saturday).dispatch_deadline == end(
        2026, 3, 10
    )


def test_overrides_conflict_is_invalid() -> None:
    """A day cannot be both an extra holiday and an extra working day."""
    with pytest.raises(InvalidInput, match="2026-03-04"):
        Policy(extra_holidays=["2026-03-04"], extra_working_days=["2026-03-04"])


def test_deadline_in_year_without_official_schedule_is_flagged() -> None:
    """R1: a deadline in a year the installed holidays has no official schedule for carries a
    warning on the order, never a silent guess."""
    last = CN.last_official_year()
    assert last is not None and last >= 2026
    paid = dt.datetime(last, 12, 28, 10, tzinfo=SH)
    order = Order.create("AE-1", "10.00", "USD", paid)
    assert order.dispatch_deadline.year == last + 1
    assert [(w.kind, w.field, w.year) for w in order.warnings] == [
        ("calendar_unofficial", "dispatch_deadline", last + 1)
    ]
    assert str(last) in order.warnings[0].message
    restored = Order.from_dict(order.to_dict())
    assert restored.warnings == order.warnings


def test_rule_based_calendar_needs_no_official_schedule() -> None:
    """A calendar without year-by-year schedules (US) never flags a deadline."""
    us = BusinessCalendar("US", "America/New_York")
    assert us.last_official_year() is None
    assert us.schedule_is_official(2099)


def test_unknown_calendar_or_zone_is_invalid() -> None:
    """An unknown country calendar or time zone is refused when the policy is made."""
    with pytest.raises(InvalidInput) as info:
        Policy(calendar="ZZ")
    assert info.value.field == "calendar"
    with pytest.raises(InvalidInput) as info:
        Policy(timezone="Mars/Olympus")
    assert info.value.field == "timezone"


def test_r4_repayment_counted_on_business_days_over_a_holiday() -> None:
    """R4: accepted 2026-09-29, 15 business days skip National Day, count Sat Oct 10: 10-26."""
    paid = dt.datetime(2026, 9, 28, 9, tzinfo=SH)
    order = Order.create("AE-1", "10.00", "USD", paid)
    order.request_cancellation(at=paid)
    order.supplier_accepts_cancellation(at=dt.datetime(2026, 9, 29, 9, tzinfo=SH))
    assert order.pending_refund is not None
    assert order.pending_refund.repayment_earliest == dt.date(2026, 10, 9)
    assert order.pending_refund.repayment_deadline == end(2026, 10, 26)


# --------------------------------------------------------------------------------------------
# Moments are instants (R16), in every zone, across daylight-saving changes

DST_ZONES = [ZoneInfo("America/New_York"), ZoneInfo("Europe/Paris"), ZoneInfo("Australia/Sydney")]


@st.composite
def dst_moments(draw: st.DrawFn) -> dt.datetime:
    """Wall-clock moments near a 2026 daylight-saving change (gaps and repeated hours included),
    with either fold."""
    tz = draw(st.sampled_from(DST_ZONES))
    change = draw(
        st.sampled_from(
            [dt.datetime(2026, 3, 8), dt.datetime(2026, 11, 1), dt.datetime(2026, 3, 29),
             dt.datetime(2026, 10, 25), dt.datetime(2026, 4, 5), dt.datetime(2026, 10, 4)]
        )
    )  # fmt: skip
    minutes = draw(st.integers(0, 5 * 60))
    return (change + dt.timedelta(minutes=minutes)).replace(tzinfo=tz, fold=draw(st.integers(0, 1)))


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)


@settings(max_examples=300, deadline=None)
@given(dst_moments(), dst_moments())
def test_r16_compares_instants_across_dst_changes(first: dt.datetime, second: dt.datetime) -> None:
    """R16: an event is refused exactly when its instant is before the last record's instant,
    whatever the wall clocks and folds say (Python compares same-zone datetimes by wall clock)."""
    paid = min(first, second, key=_utc) - dt.timedelta(days=1)
    order = Order.create("AE-1", "10.00", "USD", paid)
    order.request_cancellation(at=first)
    if _utc(second) < _utc(first):
        with pytest.raises(EventRejected) as caught:
            order.withdraw_cancellation(at=second)
        assert caught.value.rule == "R16"
    else:
        assert order.withdraw_cancellation(at=second).dest == "paid"


@settings(max_examples=200, deadline=None)
@given(dst_moments(), st.integers(0, 20 * 24))
def test_round_trip_is_exact_in_gaps_and_repeated_hours(paid: dt.datetime, hours: int) -> None:
    """R16: an order whose times fall in a DST gap or repeated hour reads back equal, with the
    same instants and offsets, and its history continues to refuse earlier events."""
    order = Order.create("AE-1", "10.00", "USD", paid)
    order.dispatch(tracking_number="LP1", at=paid + dt.timedelta(hours=hours))
    copy = Order.from_dict(order.to_dict())
    assert copy == order
    assert copy.to_dict() == order.to_dict()
    assert [r.at.utcoffset() for r in copy.history] == [r.at.utcoffset() for r in order.history]


def test_as_instant_keeps_the_instant_and_offset_of_each_fold() -> None:
    """R16: both 01:30s of New York's repeated hour keep their own offsets and order."""
    ny = ZoneInfo("America/New_York")
    first = as_instant(dt.datetime(2026, 11, 1, 1, 30, tzinfo=ny))
    second = as_instant(dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ny))
    assert (first.utcoffset(), second.utcoffset()) == (
        dt.timedelta(hours=-4),
        -dt.timedelta(5 / 24),
    )
    assert first < second and second - first == dt.timedelta(hours=1)


# --------------------------------------------------------------------------------------------
# The ends of time: a deadline that cannot be counted is InvalidInput, never a crash

EDGE_MOMENTS = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(1, 1, 20)),
    st.datetimes(min_value=dt.datetime(9999, 12, 1), max_value=dt.datetime(9999, 12, 31, 23)),
).flatmap(
    lambda d: st.sampled_from(
        [dt.UTC, SH, ZoneInfo("America/New_York"), ZoneInfo("Pacific/Kiritimati")]
    ).map(lambda tz: d.replace(tzinfo=tz))
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EDGE_MOMENTS, st.lists(st.integers(0, 24 * 40), min_size=1, max_size=6), st.data())
def test_ends_of_time_are_input_errors_and_change_nothing(
    paid: dt.datetime, gaps: list[int], data: st.DataObject
) -> None:
    """R1 R4 R12 R13 R16: near years 1 and 9999 creating, firing and ticking either work or
    raise InvalidInput/EventRejected, leaving the order as it was; never OverflowError."""
    try:
        order = Order.create("AE-1", "10.00", "USD", paid)
    except InvalidInput as exc:
        field = exc.field
        assert field == "paid_at"
        return
    at = paid
    for gap in gaps:
        try:
            at = at + dt.timedelta(hours=gap)
        except OverflowError:
            return
        event = data.draw(
            st.sampled_from(
                ["request_cancellation", "supplier_accepts_cancellation", "dispatch",
                 "confirm_delivery", "open_claim", "tick", "settle_refund"]
            )
        )  # fmt: skip
        before = order.to_dict()
        try:
            if event == "tick":
                order.tick(at)
            elif event == "dispatch":
                order.dispatch(tracking_number="LP1", at=at)
            elif event == "open_claim":
                order.open_claim(reason="damaged_in_transit", amount="1.00", at=at)
            else:
                order.fire(event, at=at)
        except (InvalidInput, EventRejected):
            assert order.to_dict() == before


@pytest.mark.parametrize(
    ("paid", "days"),
    [(dt.datetime(9999, 12, 28, tzinfo=dt.UTC), 7), (dt.datetime(9999, 12, 31, 12, tzinfo=SH), 1)],
)
def test_r1_deadline_past_year_9999_is_invalid_paid_at(paid: dt.datetime, days: int) -> None:
    """R1: a payment whose dispatch window would end after 9999-12-31 is InvalidInput naming
    paid_at and saying why."""
    with pytest.raises(InvalidInput, match="outside the years 1 to 9999") as caught:
        Order.create("AE-1", "10.00", "USD", paid, policy=Policy(dispatch_business_days=days))
    assert caught.value.field == "paid_at"
