"""Amounts: exact decimals in the currency's minor unit (R11)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statemachine import InvalidInput, Order
from statemachine.declaration._money import CURRENCIES, minor_unit, parse_amount, parse_currency

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


@pytest.mark.parametrize("code", ["ZZZ", "XXX", "XTS", "XAU", "XDR", "QQQ", "usd", "US D"])
def test_currencies_without_money_are_invalid(code: str) -> None:
    """R11: codes that are not ISO 4217 currencies, or hold no money (no minor unit: no
    currency, testing, gold, SDR), are invalid input naming the currency."""
    with pytest.raises(InvalidInput) as caught:
        Order.create("AE-1", "10", code, PAID)
    assert caught.value.field == "currency"


def test_every_iso_currency_with_money_is_accepted_at_its_minor_unit() -> None:
    """R11: the list comes from the iso4217 package, with each code's minor unit; an amount
    one digit finer than the unit is refused."""
    assert len(CURRENCIES) > 150 and "XXX" not in CURRENCIES
    for code, places in CURRENCIES.items():
        unit = Decimal(1).scaleb(-places)
        assert Order.create("AE-1", str(unit), code, PAID).amount == unit
        with pytest.raises(InvalidInput):
            parse_amount(str(unit / 10), code)


NOT_CANONICAL = st.one_of(
    st.sampled_from(
        ["1_000.00", "\u0661\u0660\u0660", "\uff11\uff10\uff10", "1e3", "1E+30", " 10",
         "10 ", "+5", "5.", ".5", "0x10", "10,00", "NaN", "-Infinity",
         "\u0663.\u0665\u0660", "1\u00a0000"]
    ),
    st.text(min_size=1, max_size=8).filter(lambda t: not t.isascii() or not t.strip()),
    st.from_regex(r"[0-9]{1,3}[_ ,][0-9]{3}", fullmatch=True),
)  # fmt: skip


@given(NOT_CANONICAL, st.sampled_from(["create", "claim", "settle"]))
def test_amounts_are_accepted_in_canonical_ascii_form_only(text: str, where: str) -> None:
    """R11: underscores, exponents, spaces, signs other than '-', other scripts' digits are
    InvalidInput naming the amount, at creation and in event data alike."""
    hour = dt.timedelta(hours=1)
    if where == "create":
        with pytest.raises(InvalidInput) as caught:
            Order.create("AE-1", text, "USD", PAID)
        assert caught.value.field == "amount"
        return
    order = Order.create("AE-1", "100.00", "USD", PAID)
    order.dispatch(tracking_number="LP1", at=PAID + hour)
    order.confirm_delivery(at=PAID + 2 * hour)
    if where == "settle":
        order.open_claim(reason="damaged_in_transit", amount="5", at=PAID + 3 * hour)
    before = order.to_dict()
    with pytest.raises(InvalidInput) as caught:
        order.fire(
            "open_claim" if where == "claim" else "settle_refund",
            at=PAID + 4 * hour,
            amount=text,
            **({"reason": "damaged_in_transit"} if where == "claim" else {}),
        )
    assert caught.value.field == "amount"
    assert order.to_dict() == before


@given(st.integers(-(10**12), 10**12), st.integers(0, 2))
def test_canonical_amounts_parse_exactly(units: int, places: int) -> None:
    """R11: every canonical ASCII amount parses to exactly its value."""
    value = Decimal(units).scaleb(-places)
    assert parse_amount(str(value), "USD") == value


@given(cents=st.integers(min_value=1, max_value=10**9))
def test_order_amount_round_trips_exactly(cents: int) -> None:
    """R11: any positive amount in cents is kept exactly through create and to_dict."""
    amount = Decimal(cents).scaleb(-2)
    order = Order.create("AE-1", amount, "USD", PAID)
    assert order.amount == amount
    assert Order.from_dict(order.to_dict()).amount == amount
