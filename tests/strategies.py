"""Hypothesis strategies for the package's own tests: events, data and timestamps, also wrong."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from statemachine import EVENTS, Policy

ZONES = [dt.UTC, ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")]
REASONS = ["not_as_described", "damaged_in_transit", "goodwill", "cancellation", "changed_mind"]

policies = st.sampled_from([Policy(), Policy(auto_close_unshipped=False)])
paid_ats = st.builds(
    lambda day, minute, tz: (
        dt.datetime(2026, 1, 1, tzinfo=tz) + dt.timedelta(days=day, minutes=minute)
    ),
    st.integers(0, 300),
    st.integers(0, 24 * 60 - 1),
    st.sampled_from(ZONES),
)
amounts_in_cents = st.integers(min_value=1, max_value=10_000_00)


def amount_text(cents: int) -> str:
    """``cents`` as a decimal string with two places."""
    return str(Decimal(cents).scaleb(-2))


def good_amount(paid_cents: int) -> st.SearchStrategy[str]:
    """Positive amounts, mostly within the amount paid."""
    return st.integers(1, paid_cents).map(amount_text)


def any_amount(paid_cents: int) -> st.SearchStrategy[object]:
    """Amounts right and wrong: within caps, above, zero, negative, floats, junk."""
    return st.one_of(
        good_amount(paid_cents),
        good_amount(paid_cents),
        st.integers(-paid_cents, 2 * paid_cents).map(amount_text),
        st.just("0"),
        st.floats(allow_nan=True),
        st.sampled_from(["abc", "1.001", "", "Infinity"]),
        st.none(),
    )


def event_data(event: str, paid_cents: int) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword data for ``event``: usually valid, sometimes wrong, sometimes an unknown key."""
    valid: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    wrong: dict[str, st.SearchStrategy[Any]] = {}
    for param in EVENTS[event].params if event in EVENTS else ():
        if not param.required:
            optional[param.name] = good_amount(paid_cents)
            wrong[param.name] = any_amount(paid_cents)
            continue
        if param.kind == "amount":
            valid[param.name] = good_amount(paid_cents)
            wrong[param.name] = any_amount(paid_cents)
        elif param.name == "reason":
            valid[param.name] = st.sampled_from(REASONS[:2])
            wrong[param.name] = st.one_of(st.sampled_from(REASONS), st.just("  "), st.integers())
        elif param.kind == "text":
            valid[param.name] = st.sampled_from(["LP1", "LP2", "YT99"])
            wrong[param.name] = st.one_of(st.just(" "), st.integers(), st.none())
        else:
            valid[param.name] = st.booleans()
            wrong[param.name] = st.one_of(st.booleans(), st.just("yes"))
    return st.one_of(
        st.fixed_dictionaries(valid, optional=optional),
        st.fixed_dictionaries(valid),
        st.fixed_dictionaries({}, optional=wrong),
        st.fixed_dictionaries(valid, optional={"bogus": st.just(1)}),
    )


event_names = st.one_of(st.sampled_from(sorted(EVENTS)), st.just("teleport"))
event_ids = st.one_of(st.none(), st.sampled_from([f"wh-{i}" for i in range(6)]))
steps = st.integers(min_value=-48, max_value=24 * 12).map(lambda h: dt.timedelta(hours=h))
