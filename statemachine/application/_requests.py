"""Requests from JSON: the one parser every front end calls.

A front end (the command line's JSON lines, the HTTP service's bodies, the next one) hands this
module what a client sent, and gets back a request the use cases take, or
:class:`~statemachine.errors.InvalidInput` naming the field at fault, in words any client reads
(nothing here assumes the client writes Python). So the same input gets the same verdict and the
same message everywhere.

* JSON is read exactly: a number is a ``Decimal`` as written, never a binary float, and an
  amount given as a whole number (``12``) is the amount ``"12"``; ``NaN`` and ``Infinity`` are
  refused; a key given twice in one object is refused, naming the key (a client's last-wins
  accident is not guessed at).
* Times are ISO 8601 with their UTC offset (``2026-03-02T10:00:00+08:00`` or ``...Z``); a time
  without one is refused (R16).
* Text is canonical: ids are non-blank text of at most 200 characters without spaces around
  them, a NUL or a ``/`` (an id every front end can address, in a URL path too).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import attrs

from ..declaration._table import TABLE
from ..errors import InvalidInput
from ..runtime._machine import MAX_ID_LENGTH, require_text

__all__ = [
    "NEW_ORDER_FIELDS",
    "EventRequest",
    "NewOrder",
    "loads",
    "parse_event",
    "parse_moment",
    "parse_new_order",
    "parse_order_id",
]

NEW_ORDER_FIELDS: Final = ("order_id", "amount", "currency", "paid_at")
"""The fields of a new order, all required."""
_EVENT_FIELDS: Final = ("at", "event_id")
"""What every event request takes beside its event's own data."""
_MAX_MOMENT: Final = 64
"""The longest time text read (an ISO 8601 time is at most 32 characters)."""


@attrs.frozen
class NewOrder:
    """A request to create an order, its fields read but not yet judged by the machine."""

    order_id: str
    amount: object
    currency: object
    paid_at: dt.datetime


@attrs.frozen
class EventRequest:
    """A request to fire ``event`` on order ``order_id`` at ``at``, with its event id (R15)
    and its keyword data (amounts as the decimal strings they were written as)."""

    order_id: str
    event: str
    at: dt.datetime
    event_id: str | None = None
    data: Mapping[str, object] = attrs.field(factory=dict)


# ------------------------------------------------------------------------------------------------
# JSON


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number any amount can be")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise InvalidInput(
                f"the key {key!r} appears twice in one object; send it once", field=key
            )
        found[key] = value
    return found


def loads(text: str | bytes) -> Any:
    """``text`` (UTF-8) as JSON data: numbers as ``Decimal`` or ``int``, exactly as written;
    a key given twice in one object, ``NaN``, ``Infinity``, text that is not UTF-8 and JSON
    nested too deep are :class:`InvalidInput`."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("the body is not UTF-8 text", field="body") from None
    try:
        return json.loads(
            text, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=_object
        )
    except InvalidInput:
        raise
    except RecursionError:
        raise InvalidInput("the JSON is nested too deep", field="body") from None
    except ValueError as exc:
        raise InvalidInput(f"not JSON: {exc}", field="body") from None


def _object_of(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        kind = "null" if data is None else type(data).__name__
        raise InvalidInput(f"{what} must be a JSON object, got {kind}", field="body")
    return data


def _amount(value: object) -> object:
    """An amount written as a JSON number, as the decimal string it was written as (``12.30``
    is ``"12.30"``, ``12`` is ``"12"``); the machine then judges it like any amount."""
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    return value


# ------------------------------------------------------------------------------------------------
# Fields


def parse_moment(value: object, field: str) -> dt.datetime:
    """An ISO 8601 date and time with its UTC offset."""
    if not isinstance(value, str) or len(value) > _MAX_MOMENT:
        shown = repr(value)[:40]
        raise InvalidInput(
            f"{field} must be an ISO 8601 date and time with its UTC offset, such as "
            f"'2026-03-02T10:00:00+08:00', got {shown}",
            field=field,
        )
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{field} {value!r} is not an ISO 8601 date and time, such as "
            "'2026-03-02T10:00:00+08:00'",
            field=field,
        ) from None
    if moment.utcoffset() is None:
        raise InvalidInput(
            f"{field} {value!r} has no UTC offset; add one, such as +08:00 or Z (R16)",
            field=field,
        )
    return moment


def parse_order_id(value: object) -> str:
    """An order id every front end can keep and address."""
    if isinstance(value, str) and value and value != value.strip():
        raise InvalidInput(f"order_id {value[:40]!r} has spaces around it", field="order_id")
    text = require_text(value, "order_id", limit=MAX_ID_LENGTH)
    if "/" in text:
        raise InvalidInput(
            "order_id must not contain '/': the order could not be addressed in a URL path",
            field="order_id",
        )
    return text


def _event_id(value: object) -> str | None:
    if value is None:
        return None
    return require_text(value, "event_id", limit=MAX_ID_LENGTH)


# ------------------------------------------------------------------------------------------------
# Requests


def parse_new_order(data: object) -> NewOrder:
    """A new order from a JSON object with exactly :data:`NEW_ORDER_FIELDS`."""
    body = _object_of(data, "a new order")
    unknown = sorted(set(body) - set(NEW_ORDER_FIELDS))
    if unknown:
        raise InvalidInput(
            f"unknown field {unknown[0]!r}; a new order takes {', '.join(NEW_ORDER_FIELDS)}",
            field=unknown[0],
        )
    missing = [name for name in NEW_ORDER_FIELDS if name not in body]
    if missing:
        raise InvalidInput(f"{missing[0]} is required", field=missing[0])
    return NewOrder(
        parse_order_id(body["order_id"]),
        _amount(body["amount"]),
        body["currency"],
        parse_moment(body["paid_at"], "paid_at"),
    )


def parse_event(
    order_id: object, event: object, data: object, *, event_id: str | None = None
) -> EventRequest:
    """A request to fire ``event`` on ``order_id`` from a JSON object holding ``at``, maybe
    ``event_id``, and the event's own data. ``event_id`` given apart (an HTTP
    ``Idempotency-Key``) must agree with the object's, if it has one."""
    oid = parse_order_id(order_id)
    callers = TABLE.caller_events
    if isinstance(event, str) and event in TABLE.clock_events:
        raise InvalidInput(
            f"{event} is a clock event: a sweep fires it when it is due, not a request",
            field="event",
        )
    if not isinstance(event, str) or event not in callers:
        shown = repr(event)[:40]
        raise InvalidInput(
            f"unknown event {shown}; callers send {', '.join(callers)}", field="event"
        )
    body = _object_of(data, f"a {event} request")
    params = TABLE.events[event].param_names
    unknown = sorted(k for k in body if k not in params and k not in _EVENT_FIELDS)
    if unknown:
        takes = ", ".join(["at", "event_id", *sorted(params)])
        raise InvalidInput(
            f"{event} does not take {unknown[0]!r}; it takes {takes}", field=unknown[0]
        )
    if "at" not in body:
        raise InvalidInput("at is required: when the event happened", field="at")
    at = parse_moment(body["at"], "at")
    given = _event_id(body.get("event_id"))
    if event_id is not None:
        event_id = _event_id(event_id)
        if given is not None and given != event_id:
            raise InvalidInput(
                "the body's event_id and the Idempotency-Key differ; send one, or the same in both",
                field="event_id",
            )
    rest = {
        key: _amount(value) if key == "amount" else value
        for key, value in body.items()
        if key not in _EVENT_FIELDS
    }
    return EventRequest(oid, event, at, event_id if event_id is not None else given, rest)
