"""Supplier business days on the real holidays calendar (R1, R4, R13 deadlines)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from statemachine import InvalidInput, Order, Policy
from statemachine.calendar import BusinessCalendar

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
