"""Amounts and currencies: exact :class:`~decimal.Decimal` amounts in a currency's minor unit.

Floats are refused (``0.1 + 0.2`` is not money); so are amounts finer than the currency's minor
unit (``10.005`` USD), since rounding money silently is how ledgers drift. An amount given as
text is accepted in one canonical form only: ASCII digits with an optional ``-`` and decimal
point (``"1000.00"``; not ``"1_000.00"``, ``"1e3"``, ``" 10"`` or digits of other scripts).

Currencies are the ISO 4217 codes that hold money, with their minor units, as the ``iso4217``
package publishes them (it follows the official list): codes without a minor unit (gold
``XAU``, the test code ``XTS``, "no currency" ``XXX``, the SDR ``XDR``...) are refused.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Final

from iso4217 import Currency

from ..errors import InvalidInput

__all__ = ["CURRENCIES", "minor_unit", "parse_amount", "parse_currency"]

CURRENCIES: Final[dict[str, int]] = {c.code: c.exponent for c in Currency if c.exponent is not None}
"""Every ISO 4217 code that holds money, with its minor unit (digits after the point)."""

_CURRENCY = re.compile(r"[A-Z]{3}")
_AMOUNT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def parse_currency(value: object, *, field: str = "currency") -> str:
    """A three-letter upper-case ISO 4217 code, or :class:`InvalidInput` naming ``field``."""
    if type(value) is str and value in CURRENCIES:
        return value
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must be a non-blank currency code, got {value!r}", field=field)
    if not _CURRENCY.fullmatch(value):
        raise InvalidInput(
            f"{field} must be a three-letter upper-case ISO 4217 code such as 'USD', got {value!r}",
            field=field,
        )
    if value not in CURRENCIES:
        raise InvalidInput(
            f"{field} {value!r} is not an ISO 4217 currency that holds money (codes such as "
            "XXX, XTS or XAU have no minor unit)",
            field=field,
        )
    return value


def minor_unit(currency: str) -> int:
    """Digits after the decimal point in ``currency`` (2 for USD, 0 for JPY, 3 for KWD)."""
    return CURRENCIES[currency]


@lru_cache(maxsize=64)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def parse_amount(value: object, currency: str, *, field: str = "amount") -> Decimal:
    """``value`` as a :class:`Decimal` quantized to ``currency``'s minor unit.

    Accepts a :class:`Decimal` or a canonical decimal string (``"12.50"``, ``"-3"``); refuses
    floats, other types, other spellings, NaN, infinities and amounts finer than the minor unit
    with :class:`InvalidInput` naming ``field``. The sign is not judged here: whether a
    non-positive amount is refused is the caller's rule (R11).
    """
    if type(value) is str:
        cached = _parsed(value, currency)
        if cached is not None:
            return cached
    return _parse_amount(value, currency, field)


@lru_cache(maxsize=4096)
def _parsed(text: str, currency: str) -> Decimal | None:
    """A canonical amount string already parsed (``None``: let the full path say why not).
    Decimals are immutable, so one parse serves every order with the same price."""
    try:
        return _parse_amount(text, currency, "amount")
    except InvalidInput:
        return None


def _parse_amount(value: object, currency: str, field: str) -> Decimal:
    """The full parse of :func:`parse_amount`, naming ``field`` when it refuses."""
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        if len(value) > 40 or not _AMOUNT.fullmatch(value):
            raise InvalidInput(
                f"{field} must be a decimal string of ASCII digits such as '12.50', got "
                f"{value[:40]!r}",
                field=field,
            )
        amount = Decimal(value)
    else:
        kind = "a float" if isinstance(value, float) else f"of type {type(value).__name__}"
        raise InvalidInput(
            f"{field} must be a Decimal or a decimal string, got {value!r} ({kind}); "
            "floats are refused because they cannot hold money exactly",
            field=field,
        )
    if not amount.is_finite():
        raise InvalidInput(f"{field} must be a finite amount, got {value!r}", field=field)
    try:
        quantized = amount.quantize(_quantum(currency))
    except InvalidOperation:
        raise InvalidInput(f"{field} {value!r} is too large to be an amount", field=field) from None
    if quantized != amount:
        raise InvalidInput(
            f"{field} {value!r} has more decimal places than {currency} allows "
            f"({minor_unit(currency)})",
            field=field,
        )
    return quantized
