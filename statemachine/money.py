"""Amounts and currencies: exact :class:`~decimal.Decimal` amounts in a currency's minor unit.

Floats are refused (``0.1 + 0.2`` is not money); so are amounts finer than the currency's minor
unit (``10.005`` USD), since rounding money silently is how ledgers drift.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Final

from .errors import InvalidInput

__all__ = ["minor_unit", "parse_amount", "parse_currency"]

# ISO 4217 currencies whose minor unit is not 2 digits. Every other code has 2.
_MINOR_UNITS: Final[dict[str, int]] = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
            "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip

_CURRENCY = re.compile(r"[A-Z]{3}")


def parse_currency(value: object, *, field: str = "currency") -> str:
    """A three-letter upper-case ISO 4217 code, or :class:`InvalidInput` naming ``field``."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must be a non-blank currency code, got {value!r}", field=field)
    if not _CURRENCY.fullmatch(value):
        raise InvalidInput(
            f"{field} must be a three-letter upper-case ISO 4217 code such as 'USD', got {value!r}",
            field=field,
        )
    return value


def minor_unit(currency: str) -> int:
    """Digits after the decimal point in ``currency`` (2 for USD, 0 for JPY, 3 for KWD)."""
    return _MINOR_UNITS.get(currency, 2)


@lru_cache(maxsize=64)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def parse_amount(value: object, currency: str, *, field: str = "amount") -> Decimal:
    """``value`` as a :class:`Decimal` quantized to ``currency``'s minor unit.

    Accepts a :class:`Decimal` or a decimal string; refuses floats, other types, NaN, infinities
    and amounts finer than the minor unit with :class:`InvalidInput` naming ``field``. The sign is
    not judged here: whether a non-positive amount is refused is the caller's rule (R11).
    """
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidInput(
                f"{field} must be a decimal string such as '12.50', got {value!r}", field=field
            ) from None
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
