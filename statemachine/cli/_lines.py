"""Reading JSON lines for ``orderfsm apply`` and ``orderfsm import``, and moments from the
command line. No click, no Rich: plain functions that turn text into requests or an
:class:`~statemachine.errors.InvalidInput` naming what is wrong.

A line is one JSON object, either an order to create::

    {"kind": "create", "order_id": "AE-1", "amount": "25.00", "currency": "USD",
     "paid_at": "2026-03-02T10:00:00+08:00"}

or an event, its keyword data at the top level as the typed methods take them::

    {"order_id": "AE-1", "event": "dispatch", "at": "2026-03-03T09:00:00+08:00",
     "event_id": "wh-7", "tracking_number": "LP1"}

Amounts are decimal strings (``"25.00"``). An ``amount`` given as a JSON number is read exactly
as it is written, never as a binary float (``json.loads(line, parse_float=Decimal)``), and
taken as that decimal string: ``12.30`` is ``"12.30"``, ``12`` is ``"12"``. So the same rules
apply as to a string: the currency's minor unit (``12.345`` USD is refused), and one canonical
spelling (``1e2`` is refused). ``NaN`` and ``Infinity`` are refused; a number anywhere else (a
tracking number) is refused by the event's own checks.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any, Final

import attrs

from ..errors import InvalidInput
from ..order import Order

__all__ = [
    "CREATE_KEYS",
    "CreateLine",
    "EventLine",
    "parse_line",
    "parse_moment",
    "parse_request",
    "read_json",
    "read_lines",
]

CREATE_KEYS: Final = frozenset({"kind", "order_id", "amount", "currency", "paid_at"})
"""The keys of a create line."""
_EVENT_KEYS: Final = frozenset({"kind", "order_id", "event", "at", "event_id"})
_RESERVED: Final = frozenset({"source", "expected_version"})
"""Keyword arguments of ``store.apply`` that are not event data: a line may not set them."""


@attrs.frozen
class CreateLine:
    """A line that creates an order (``"kind": "create"``)."""

    line: int
    order_id: str
    amount: object
    currency: object
    paid_at: dt.datetime

    def order(self) -> Order:
        """The new order; :class:`InvalidInput` naming the field if it cannot be made."""
        return Order.create(self.order_id, self.amount, self.currency, self.paid_at)  # type: ignore[arg-type]


@attrs.frozen
class EventLine:
    """A line that sends an event to a stored order."""

    line: int
    order_id: str
    event: str
    at: dt.datetime
    event_id: str | None
    data: dict[str, Any]


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number an amount can be")


def loads(text: str) -> Any:
    """``text`` as JSON, numbers as exact decimals (never floats), NaN and Infinity refused."""
    return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)


def parse_moment(value: object, field: str) -> dt.datetime:
    """An ISO 8601 timestamp with its offset (``2026-03-02T10:00:00+08:00``, ``...Z``)."""
    if not isinstance(value, str):
        raise InvalidInput(
            f"{field} must be an ISO 8601 timestamp string, got {value!r}", field=field
        )
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{field} {value[:60]!r} is not an ISO 8601 timestamp such as "
            "'2026-03-02T10:00:00+08:00'",
            field=field,
        ) from None
    if moment.utcoffset() is None:
        raise InvalidInput(
            f"{field} {value[:60]!r} has no UTC offset; add one, such as +08:00 or Z (R16)",
            field=field,
        )
    return moment


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"the line needs {key!r}, a non-blank string", field=key)
    return value


def _amount(value: object) -> object:
    """An amount written as a JSON number, as the decimal string it was written as."""
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    return value


def named(text: str) -> tuple[str | None, str | None]:
    """The ``order_id`` and ``event`` a line names, if it is a JSON object that names them
    (for reporting a line that is otherwise wrong)."""
    try:
        raw = loads(text)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(raw, dict):
        return None, None
    oid, event = raw.get("order_id"), raw.get("event")
    if raw.get("kind") == "create":
        event = "create"
    return (
        oid[:200] if isinstance(oid, str) else None,
        event[:200] if isinstance(event, str) else None,
    )


def parse_line(number: int, text: str) -> CreateLine | EventLine:
    """Line ``number`` of a JSON-lines file as a request; :class:`InvalidInput` if it is not
    one (``field`` names the key at fault)."""
    return parse_request(number, read_json(text))


def read_json(text: str) -> Any:
    """A line's JSON value; :class:`InvalidInput` if it is not JSON."""
    try:
        return loads(text)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deep" if isinstance(exc, RecursionError) else str(exc)
        raise InvalidInput(f"not JSON: {reason}", field="line") from None


def parse_request(number: int, raw: Any) -> CreateLine | EventLine:
    """Line ``number``'s JSON value as a request (see :func:`parse_line`)."""
    if not isinstance(raw, dict):
        raise InvalidInput(
            f"a line is a JSON object, got {type(raw).__name__ if raw is not None else 'null'}",
            field="line",
        )
    kind = raw.get("kind", "event")
    if kind == "create":
        missing = [k for k in ("order_id", "amount", "currency", "paid_at") if k not in raw]
        if missing:
            raise InvalidInput(f"a create line needs {missing[0]!r}", field=missing[0])
        unknown = sorted(set(raw) - CREATE_KEYS)
        if unknown:
            raise InvalidInput(
                f"unknown field {unknown[0]!r} in a create line; it takes "
                f"{', '.join(sorted(CREATE_KEYS - {'kind'}))}",
                field=unknown[0],
            )
        return CreateLine(
            number,
            _text(raw, "order_id"),
            _amount(raw.get("amount")),
            raw.get("currency"),
            parse_moment(raw.get("paid_at"), "paid_at"),
        )
    if kind != "event":
        raise InvalidInput(
            f"'kind' must be 'create' or 'event' (the default), got {kind!r}", field="kind"
        )
    reserved = sorted(set(raw) & _RESERVED)
    if reserved:
        raise InvalidInput(
            f"unknown field {reserved[0]!r}: it is not event data", field=reserved[0]
        )
    event_id = raw.get("event_id")
    if event_id is not None and not isinstance(event_id, str):
        raise InvalidInput(f"'event_id' must be a string, got {event_id!r}", field="event_id")
    data = {k: _amount(v) if k == "amount" else v for k, v in raw.items() if k not in _EVENT_KEYS}
    return EventLine(
        number,
        _text(raw, "order_id"),
        _text(raw, "event"),
        parse_moment(raw.get("at"), "at"),
        event_id,
        data,
    )


def read_lines(stream: IO[bytes]) -> Iterator[tuple[int, str | None, int]]:
    """The lines of ``stream``: (line number from 1, its text without the line end or ``None``
    if it is not UTF-8, bytes read). Blank lines are left out (their numbers still count)."""
    for number, raw in enumerate(stream, start=1):
        try:
            text: str | None = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            text = None
        if text is not None and not text.strip():
            continue
        yield number, text, len(raw)
