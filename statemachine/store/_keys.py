"""What search and sorting compare: the keys derived from an order for its indexed columns.

A person looking for an order types what they have in front of them: ``ae-1004 `` from an
email, ``1004`` from a phone call, a tracking number from a parcel, ``39.90`` from a bank
statement. Each is matched through a column of ``orders`` derived from the order (and checked,
like ``state``, whenever the order is read), so a search is an index lookup, never a read of
every order:

========================  ============================================================
``order_key``             the id case-folded: ``ae-1004`` (a prefix of it matches)
``order_number``          the id after its leading letters and the separators after
                          them, case-folded: ``1004`` for ``AE-1004``, ``1001`` for
                          ``#1001``, ``2026_0042`` for ``ORD_2026_0042`` (a prefix of
                          it matches)
``tracking_key``          the tracking number of the order's last dispatch, case-folded
                          (it matches whole)
``amount_key``            the amount as text that sorts as the number does, to the
                          fourth decimal (the finest minor unit ISO 4217 has):
                          ``0239.9000`` for 39.90 (it matches whole, and sorts)
========================  ============================================================

Text is compared by code point, as Python compares it (SQLite's ``BINARY``, PostgreSQL's
``COLLATE "C"``), so a prefix is a range of the index and pages merged here stay in the
database's order.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation, localcontext
from typing import Final

import attrs

from ..declaration._money import CURRENCIES, minor_unit
from ..errors import InvalidInput
from ..runtime._machine import MAX_ID_LENGTH

__all__ = [
    "Query",
    "amount_from_key",
    "amount_key",
    "order_key",
    "order_number",
    "prefix_end",
    "query",
    "tracking_key",
]

_FOURTH: Final = Decimal("0.0001")
_AMOUNT_TEXT: Final = re.compile(
    r"(?:(?P<before>[A-Za-z]{3})\s*)?(?P<amount>[0-9]{1,40}(?:\.[0-9]{1,40})?)"
    r"(?:\s*(?P<after>[A-Za-z]{3}))?",
    re.ASCII,
)
_LAST_CHAR: Final = 0x10FFFF
_SURROGATES: Final = range(0xD800, 0xE000)


def order_key(order_id: str) -> str:
    """The id as search compares it: case-folded (``AE-1004`` -> ``ae-1004``)."""
    return order_id.casefold()


def order_number(order_id: str) -> str:
    """The id's number as a person says it: the case-folded id after its leading letters
    and the separators that follow them (``AE-1004`` -> ``1004``, ``#1001`` -> ``1001``,
    ``12345`` -> ``12345``)."""
    key = order_key(order_id)
    start = 0
    while start < len(key) and key[start].isalpha():
        start += 1
    while start < len(key) and not key[start].isalnum():
        start += 1
    return key[start:]


def tracking_key(tracking_number: str | None) -> str | None:
    """The tracking number as search compares it: case-folded (``None``: none yet)."""
    return None if tracking_number is None else tracking_number.casefold()


def amount_key(amount: Decimal) -> str | None:
    """``amount`` as text whose order is the numbers' order: the digits before the point,
    preceded by how many there are (two digits), then the point and four decimals
    (``39.90`` -> ``0239.9000``, ``0.5`` -> ``010.5000``). ``None`` for what no order's
    amount can be: not positive, or finer than four decimals."""
    if not amount.is_finite() or amount <= 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 100
        fixed = amount.quantize(_FOURTH)
        if fixed != amount:
            return None
    whole, _, fraction = f"{fixed:f}".partition(".")
    if len(whole) > 99:
        return None
    return f"{len(whole):02d}{whole}.{fraction}"


def amount_from_key(key: object, currency: object) -> Decimal | None:
    """The amount an ``amount_key`` column holds, with ``currency``'s minor unit
    (``0239.9000``, ``USD`` -> ``Decimal('39.90')``); ``None`` when the columns hold none."""
    if not isinstance(key, str) or not isinstance(currency, str) or currency not in CURRENCIES:
        return None
    try:
        with localcontext() as ctx:
            ctx.prec = 100
            return Decimal(key[2:]).quantize(Decimal(1).scaleb(-minor_unit(currency)))
    except (InvalidOperation, ValueError):
        return None


def prefix_end(prefix: str) -> str | None:
    """The first text after every text that starts with ``prefix`` (in code point order): a
    prefix match is ``prefix <= key < prefix_end(prefix)``, a range of an index. ``None``
    when there is none (every character the last one): then ``key >= prefix`` alone."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < _LAST_CHAR:
            nxt = last + 1
            if nxt in _SURROGATES:
                nxt = _SURROGATES.stop
            return "".join(chars) + chr(nxt)
    return None


@attrs.frozen
class Query:
    """What a search looks for, read from the text a person typed: a prefix of the id or of
    its number (``key``), a tracking number (``key`` too, whole), and, when the text reads
    as one, an amount (``amount``, an ``amount_key``) in a currency if one was named."""

    key: str
    amount: str | None = None
    currency: str | None = None


def query(text: object) -> Query:
    """The :class:`Query` of ``text``: read in its compatibility form (NFKC: full-width
    letters and digits as ASCII), spaces around it dropped, case aside.
    :class:`InvalidInput` naming ``q`` for text that is empty or longer than an id."""
    if not isinstance(text, str):
        raise InvalidInput(f"q must be text, got {text!r}", field="q")
    if len(text) > 4 * MAX_ID_LENGTH:
        raise InvalidInput(
            f"q must be at most {MAX_ID_LENGTH} characters of text, without NUL", field="q"
        )
    # as typed on a phone or pasted from a chat: the full-width forms of A, E and the digits
    # (U+FF21...) are AE-1004 (new ids never hold such forms: the parser refuses look-alikes)
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        raise InvalidInput("q is empty: give a part of an id, a tracking number or an amount",
                           field="q")  # fmt: skip
    if len(text) > MAX_ID_LENGTH or "\x00" in text:
        raise InvalidInput(
            f"q must be at most {MAX_ID_LENGTH} characters of text, without NUL", field="q"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("q is not UTF-8 text", field="q") from None
    found = _AMOUNT_TEXT.fullmatch(text)
    amount = currency = None
    if found is not None and not (found["before"] and found["after"]):
        named = (found["before"] or found["after"] or "").upper() or None
        if named is None or named in CURRENCIES:
            amount = amount_key(Decimal(found["amount"]))
            currency = named if amount is not None else None
    return Query(order_key(text), amount, currency)
