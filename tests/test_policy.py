"""The merchant's policy (statemachine.declaration._policy): every field checked when the policy is
made."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statemachine import InvalidInput, Order, Policy
from statemachine.declaration._policy import MAX_BUSINESS_DAYS, MAX_CLAIM_WINDOW_DAYS

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.integers(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)

VALID_DAYS = {
    "dispatch_business_days": st.integers(1, MAX_BUSINESS_DAYS),
    "claim_window_days": st.integers(1, MAX_CLAIM_WINDOW_DAYS),
}


def _valid(field: str, value: Any) -> bool:
    if field in VALID_DAYS:
        limit = MAX_BUSINESS_DAYS if field == "dispatch_business_days" else MAX_CLAIM_WINDOW_DAYS
        return type(value) is int and 1 <= value <= limit
    if field == "repayment_business_days":
        return (
            isinstance(value, list | tuple)
            and len(value) == 2
            and all(type(v) is int for v in value)
            and 1 <= value[0] <= value[1] <= MAX_BUSINESS_DAYS
        )
    if field == "auto_close_unshipped":
        return isinstance(value, bool)
    if field in ("extra_holidays", "extra_working_days"):
        return isinstance(value, list | tuple) and not value
    return False


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(
        [
            "dispatch_business_days",
            "repayment_business_days",
            "claim_window_days",
            "auto_close_unshipped",
            "calendar",
            "timezone",
            "extra_holidays",
            "extra_working_days",
        ]
    ),
    JUNK,
)
def test_every_field_is_checked_when_the_policy_is_made(field: str, value: Any) -> None:
    """R1 R4 R12 R13: any value of any field either makes a policy that counts deadlines, or is
    InvalidInput naming that field at construction, never TypeError, ValueError or later."""
    if _valid(field, value):
        policy = Policy(**{field: value})
        Order.create("AE-1", "10.00", "USD", dt.datetime(2026, 3, 2, tzinfo=dt.UTC), policy=policy)
        return
    try:
        policy = Policy(**{field: value})
    except InvalidInput as exc:
        named = exc.field
        assert named == field, (field, named)
        return
    # Only strings that are real calendars or zones get here; the policy then works.
    assert field in ("calendar", "timezone")
    Order.create("AE-1", "10.00", "USD", dt.datetime(2026, 3, 2, tzinfo=dt.UTC), policy=policy)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"extra_holidays": None}, "extra_holidays"),
        ({"repayment_business_days": 5}, "repayment_business_days"),
        ({"repayment_business_days": (3, 400)}, "repayment_business_days"),
        ({"dispatch_business_days": 3000}, "dispatch_business_days"),
        ({"claim_window_days": 10**9}, "claim_window_days"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "x" * 5000}, "timezone"),
        ({"calendar": "ZZ"}, "calendar"),
    ],
)
def test_absurd_policies_found_in_review_are_invalid_at_once(
    kwargs: dict[str, Any], field: str
) -> None:
    """R1 R4 R13: the review's absurd policies are InvalidInput naming the field, not a late
    TypeError, ValueError or OverflowError at create or at an event."""
    with pytest.raises(InvalidInput) as caught:
        Policy(**kwargs)
    assert caught.value.field == field


def test_largest_windows_still_count_deadlines() -> None:
    """R1 R4 R13: the longest windows a policy allows give deadlines, not errors."""
    policy = Policy(
        dispatch_business_days=MAX_BUSINESS_DAYS,
        repayment_business_days=(MAX_BUSINESS_DAYS, MAX_BUSINESS_DAYS),
        claim_window_days=MAX_CLAIM_WINDOW_DAYS,
    )
    order = Order.create(
        "AE-1", "10.00", "USD", dt.datetime(2026, 3, 2, tzinfo=dt.UTC), policy=policy
    )
    order.request_cancellation(at=dt.datetime(2026, 3, 3, tzinfo=dt.UTC))
    order.supplier_accepts_cancellation(at=dt.datetime(2026, 3, 4, tzinfo=dt.UTC))
    assert order.pending_refund is not None
    assert order.pending_refund.repayment_deadline is not None
    assert order.pending_refund.repayment_deadline > order.dispatch_deadline


def test_a_calendar_with_no_working_days_is_invalid_input() -> None:
    """R1: extra holidays covering every day for years leave no working day to count: the order
    cannot be created (InvalidInput naming paid_at), rather than a ValueError."""
    start = dt.date(2026, 3, 1)
    days = [start + dt.timedelta(days=i) for i in range(3700)]
    policy = Policy(extra_holidays=days)
    with pytest.raises(InvalidInput) as caught:
        Order.create("AE-1", "10.00", "USD", dt.datetime(2026, 3, 2, tzinfo=dt.UTC), policy=policy)
    assert caught.value.field in ("paid_at", "extra_holidays")
