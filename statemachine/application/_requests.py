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
import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import attrs

from .._text import UNSEEN, look_alike, seen
from ..declaration._definition import caller_events, clock_events, event_spec
from ..errors import InvalidInput
from ..runtime._machine import MAX_ID_LENGTH, require_keepable, require_text

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
_EVENT_FIELDS: Final = ("at", "event_id", "note")
"""What every event request takes beside its event's own data."""
MAX_NOTE: Final = 2000
"""The longest note an event request may carry (what a person writes with it, for the log)."""
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
    note: str | None = None
    """What the sender wrote with the event (a support agent's reason), for the log."""


# ------------------------------------------------------------------------------------------------
# JSON


class Written(Decimal):
    """A JSON number, with the text it was written as (``text``): an amount is taken as
    written, so ``1e2`` or ``-0`` are judged as the text they are, never normalised first."""

    text: str

    def __new__(cls, text: str) -> Written:
        number = super().__new__(cls, text)
        number.text = text
        return number


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number any amount can be")


def _shown(value: object) -> str:
    """``value`` as JSON would write it, for a message any client reads (``true``, ``null``,
    ``5.5``, ``{...}``), shortened."""
    if isinstance(value, Written):
        text = value.text
    elif isinstance(value, dict):
        text = "an object"
    elif isinstance(value, list):
        text = "a list"
    else:
        try:
            text = json.dumps(value, ensure_ascii=True)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
    if text.startswith("\ufeff"):
        raise InvalidInput(
            "the text starts with a byte order mark; send UTF-8 without one", field="body"
        )
    try:
        return json.loads(
            text,
            parse_float=Written,
            parse_int=Written,
            parse_constant=_no_constant,
            object_pairs_hook=_object,
        )
    except InvalidInput:
        raise
    except RecursionError:
        raise InvalidInput("the JSON is nested too deep", field="body") from None
    except ValueError as exc:
        why = str(exc)
        if "digits" in why and "limit" in why:
            why = "a number of more than 4300 digits"
        raise InvalidInput(f"not JSON: {why}", field="body") from None


def _object_of(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        kind = "null" if data is None else type(data).__name__
        raise InvalidInput(f"{what} must be a JSON object, got {kind}", field="body")
    return data


def _amount(value: object, field: str = "amount") -> object:
    """An amount: text, or a JSON number taken as the text it was written as (``12.30`` is
    ``"12.30"``, ``12`` is ``"12"``, ``1e2`` is ``"1e2"``, which the machine refuses as any
    amount not in plain digits); anything else is refused here, in JSON's words."""
    if isinstance(value, Written):
        return value.text
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)  # a Python caller's number
    if not isinstance(value, str):
        raise InvalidInput(
            f'{field} must be an amount in plain digits, such as "12.50" or 12.50, got '
            f"{_shown(value)}",
            field=field,
        )
    return value


def _text(value: object, field: str) -> object:
    """Text data (a tracking number, a reason); anything else is refused in JSON's words."""
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{field} must be text, got {_shown(value)}", field=field)
    if isinstance(value, str):
        visible(value, field)
    return value


def visible(text: str, field: str) -> str:
    """``text`` if a person reads it as it is: no control character (a line break, ESC), no
    direction override or isolate, no zero-width or other invisible character, no space but
    the plain one. Such characters make an id or a tracking number look like another on a
    terminal, in a diagram or on a page, or break where it is written; :class:`InvalidInput`
    names the first and where it is."""
    if text.isprintable() and not UNSEEN.search(text):
        return text
    at, char = next((i, c) for i, c in enumerate(text) if not seen(c))
    name = unicodedata.name(char, "a control character")
    raise InvalidInput(
        f"{field} holds U+{ord(char):04X} ({name}) at position {at + 1}: control, invisible "
        "and direction-changing characters could make it look like other text; refused",
        field=field,
    )


def _flag(value: object, field: str) -> object:
    """A flag; anything but ``true`` and ``false`` is refused in JSON's words."""
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(f"{field} must be true or false, got {_shown(value)}", field=field)
    return value


_KINDS: Final = {"amount": _amount, "text": _text, "flag": _flag}
"""How each kind of event data is read."""
_MOMENT: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
"""RFC 3339: a date, ``T``, a time to the microsecond at most, and ``Z`` or an offset in
hours and minutes."""


# ------------------------------------------------------------------------------------------------
# Fields


def parse_moment(value: object, field: str) -> dt.datetime:
    """An RFC 3339 date and time with its UTC offset (``2026-03-02T10:00:00+08:00``, ``Z``)."""
    if not isinstance(value, str) or len(value) > _MAX_MOMENT:
        raise InvalidInput(
            f"{field} must be a date and time with its UTC offset, such as "
            f'"2026-03-02T10:00:00+08:00", got {_shown(value)}',
            field=field,
        )
    if _MOMENT.fullmatch(value) is None:
        try:
            naive = dt.datetime.fromisoformat(value).utcoffset() is None
        except ValueError:
            naive = False
        raise InvalidInput(
            f"{field} {value!r} has no UTC offset; add one, such as +08:00 or Z (R16)"
            if naive
            else f'{field} {value!r} is not a date and time such as "2026-03-02T10:00:00+08:00" '
            "(ISO 8601 as RFC 3339 writes it: seconds, and the offset in hours and minutes)",
            field=field,
        )
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{field} {value!r} is not a date and time that exists", field=field
        ) from None
    return require_keepable(moment, field)


def parse_order_id(value: object, *, new: bool = True) -> str:
    """An order id every front end can keep and address. A ``new`` one (an order to create)
    must also read as itself (:func:`visible`, and no look-alike of another:
    :func:`~statemachine._text.look_alike`); one that names a stored order need not: an
    order an older release kept under such an id still takes its events."""
    if isinstance(value, str) and value and value != value.strip():
        raise InvalidInput(f"order_id {value[:40]!r} has spaces around it", field="order_id")
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"order_id must be text, got {_shown(value)}", field="order_id")
    if new and isinstance(value, str):
        visible(value, "order_id")
        why = look_alike(value)
        if why is not None:
            raise InvalidInput(
                f"order_id {value[:40]!r} could pass for another id: {why}", field="order_id"
            )
    text = require_text(value, "order_id", limit=MAX_ID_LENGTH)
    if "/" in text or not text.strip("."):
        raise InvalidInput(
            f"order_id {text!r} cannot be an id: with '/' in it, or only dots, the order could "
            "not be addressed in a URL path",
            field="order_id",
        )
    return text


def _event_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"event_id must be text, got {_shown(value)}", field="event_id")
    return require_text(visible(value, "event_id"), "event_id", limit=MAX_ID_LENGTH)


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
        _text(body["currency"], "currency"),
        parse_moment(body["paid_at"], "paid_at"),
    )


def parse_event(
    order_id: object, event: object, data: object, *, event_id: str | None = None
) -> EventRequest:
    """A request to fire ``event`` on ``order_id`` from a JSON object holding ``at``, maybe
    ``event_id``, and the event's own data. ``event_id`` given apart (an HTTP
    ``Idempotency-Key``) must agree with the object's, if it has one."""
    oid = parse_order_id(order_id, new=False)
    callers = caller_events()
    if isinstance(event, str) and event in clock_events():
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
    spec = event_spec(event)
    if spec is None:  # pragma: no cover - a caller event of a registered definition
        raise InvalidInput(f"unknown event {event!r}", field="event")
    params = spec.param_names
    unknown = sorted(k for k in body if k not in params and k not in _EVENT_FIELDS)
    if unknown:
        takes = ", ".join(["at", "event_id", "note", *sorted(params)])
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
    kinds = {p.name: p.kind for p in spec.params}
    rest = {
        key: _KINDS[kinds[key]](value, key)
        for key, value in body.items()
        if key not in _EVENT_FIELDS
    }
    note = _note(body.get("note"))
    return EventRequest(oid, event, at, event_id if event_id is not None else given, rest, note)


def _note(value: object) -> str | None:
    """A note to log with an event: one line of visible text (a line break would let a note
    forge lines of a log or a terminal) of at most :data:`MAX_NOTE` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"note must be text, got {_shown(value)}", field="note")
    if len(value) > MAX_NOTE:
        raise InvalidInput(f"note is {len(value)} characters; at most {MAX_NOTE}", field="note")
    return require_text(visible(value, "note"), "note", limit=MAX_NOTE)
