"""Amounts: exact decimals in the currency's minor unit (R11)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statemachine import InvalidInput, Order
from statemachine.money import minor_unit, parse_amount, parse_currency

PAID = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [("10", "USD", "10.00"), (Decimal("7.5"), "EUR", "7.50"), ("1200", "JPY", "1200"),
     ("1.234", "KWD", "1.234")],
)  # fmt: skip
def test_amounts_are_quantized_to_the_minor_unit(value: str, currency: str, expected: str) -> None:
    """R11: amounts carry exactly the currency's minor unit."""
    assert str(parse_amount(value, currency)) == expected


@pytest.mark.parametrize(
    ("value", "currency"), [(0.1, "USD"), ("1.005", "USD"), ("1.5", "JPY"), ("abc", "USD"),
                            ("Infinity", "USD"), (True, "USD"), ("1e999999", "USD")],
)  # fmt: skip
def test_inexact_or_non_decimal_amounts_are_invalid(value: object, currency: str) -> None:
    """R11: floats, inexact and non-decimal amounts are invalid input, never rounded."""
    with pytest.raises(InvalidInput) as info:
        parse_amount(value, currency)
    assert info.value.field == "amount"


def test_currency_codes() -> None:
    """Currencies are three upper-case letters; minor units follow ISO 4217."""
    assert parse_currency("USD") == "USD"
    assert (minor_unit("USD"), minor_unit("JPY"), minor_unit("BHD")) == (2, 0, 3)
    with pytest.raises(InvalidInput):
        parse_currency("US")


@given(cents=st.integers(min_value=1, max_value=10**9))
def test_order_amount_round_trips_exactly(cents: int) -> None:
    """R11: any positive amount in cents is kept exactly through create and to_dict."""
    amount = Decimal(cents).scaleb(-2)
    order = Order.create("AE-1", amount, "USD", PAID)
    assert order.amount == amount
    assert Order.from_dict(order.to_dict()).amount == amount
