"""Reading what the service is sent: JSON bodies, moments, ids, ``If-Match`` and cursors.

The web layer's one parser: every route reads its input through these functions and nothing
else parses a request, so a shared parser (the application layer's, issue 16) can take this
module's place without touching a route. Each refusal is an
:class:`~statemachine.errors.InvalidInput` naming its field (422), or a 400 or 415 for a body
that is not a JSON object.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final

import attrs
from starlette.exceptions import HTTPException

from ..errors import InvalidInput
from ..machine import MAX_ID_LENGTH
from ..order import Order
from ..table import EVENTS, STATES

__all__ = [
    "CREATE_FIELDS",
    "EventRequest",
    "check_id",
    "decode_cursor",
    "due_limit",
    "encode_cursor",
    "event_request",
    "expected_version",
    "explain_request",
    "json_object",
    "new_order",
    "state_filter",
]

CREATE_FIELDS: Final = ("order_id", "amount", "currency", "paid_at")
"""What ``POST /orders`` takes, all of it required."""

_JSON_TYPE: Final = re.compile(r"^application/([a-z0-9.+-]*\+)?json\s*(;.*)?$", re.IGNORECASE)
_ETAG: Final = re.compile(r'^"([0-9]{1,18})"$')
_BOOL: Final = frozenset({"true", "false"})


def check_id(order_id: str) -> str:
    """An order id from a path, refused before any lookup when it cannot be one."""
    if len(order_id) > MAX_ID_LENGTH:
        raise InvalidInput(
            f"order_id is {len(order_id)} characters long; at most {MAX_ID_LENGTH} are accepted",
            field="order_id",
        )
    return order_id


def json_object(content_type: str | None, body: bytes) -> dict[str, Any]:
    """A request's body as a JSON object (numbers read exactly, as ``Decimal``)."""
    if not _JSON_TYPE.match(content_type or ""):
        raise HTTPException(415, "send the body as JSON (Content-Type: application/json)")
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError):
        raise HTTPException(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return data


def _moment(value: object, field: str) -> dt.datetime:
    """An ISO 8601 moment from JSON or a query string (the machine refuses a naive one)."""
    if isinstance(value, str) and len(value) <= 64:
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    shown = repr(value)[:40]
    raise InvalidInput(f"{field} must be an ISO 8601 date and time, got {shown}", field=field)


def expected_version(if_match: str | None) -> int | None:
    """The row version an ``If-Match`` header asks for (``None``: no condition)."""
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match.strip())
    if found is None:
        raise HTTPException(
            400, 'If-Match must be one ETag of this service, such as "3" (quotes included)'
        )
    return int(found.group(1))


# ------------------------------------------------------------------------------------------------
# Orders


def new_order(data: dict[str, Any]) -> Order:
    """The order a ``POST /orders`` body describes (the machine checks its values)."""
    unknown = sorted(set(data) - set(CREATE_FIELDS))
    if unknown:
        raise InvalidInput(
            f"unknown field {unknown[0]!r}; an order takes {', '.join(CREATE_FIELDS)}",
            field=unknown[0],
        )
    missing = [name for name in CREATE_FIELDS if name not in data]
    if missing:
        raise InvalidInput(f"{missing[0]} is required", field=missing[0])
    if isinstance(data["order_id"], str) and "/" in data["order_id"]:
        raise InvalidInput(
            "order_id must not contain '/': the order could not be addressed in a URL path",
            field="order_id",
        )
    return Order.create(
        data["order_id"], data["amount"], data["currency"], _moment(data["paid_at"], "paid_at")
    )


def state_filter(state: str | None) -> str | None:
    """A listing's ``state``: one of the table's states."""
    if state is not None and state not in STATES:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}", field="state")
    return state


def due_limit(value: str | None) -> dt.datetime | None:
    """A listing's ``due_before``: a moment with its UTC offset."""
    if value is None:
        return None
    moment = _moment(value, "due_before")
    if moment.utcoffset() is None:
        raise InvalidInput(
            "due_before needs a UTC offset (R16: naive times are refused)", field="due_before"
        )
    return moment


def encode_cursor(due_at: dt.datetime | None, order_id: str) -> str:
    """The cursor of the page after the row (``due_at``, ``order_id``)."""
    key = [None if due_at is None else due_at.astimezone(dt.UTC).isoformat(), order_id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[dt.datetime | None, str] | None:
    """The row a cursor of :func:`encode_cursor` points after (``None``: the first page)."""
    if cursor is None:
        return None
    bad = InvalidInput("cursor is not one this service gave out", field="cursor")
    if len(cursor) > 4 * MAX_ID_LENGTH + 200:
        raise bad
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        due, order_id = key
        moment = None if due is None else dt.datetime.fromisoformat(due)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise bad from None
    if not isinstance(order_id, str) or (moment is not None and moment.utcoffset() is None):
        raise bad
    return moment, order_id


# ------------------------------------------------------------------------------------------------
# Events


@attrs.frozen
class EventRequest:
    """An event as a caller sent it: when, its id (R15) and its keyword data."""

    at: dt.datetime
    event_id: str | None
    data: dict[str, Any]


def event_request(event: str, data: dict[str, Any], key: str | None) -> EventRequest:
    """The event a body (``at``, an optional ``event_id``, the event's data at the top level)
    and an ``Idempotency-Key`` describe; the key is the event id."""
    if key is not None and len(key) > MAX_ID_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key is {len(key)} characters long; at most {MAX_ID_LENGTH} are accepted",
            field="event_id",
        )
    data = dict(data)
    if "at" not in data:
        raise InvalidInput("at is required: when the event happened (ISO 8601)", field="at")
    at = _moment(data.pop("at"), "at")
    event_id = data.pop("event_id", None)
    if key is not None:
        if event_id is not None and event_id != key:
            raise InvalidInput(
                "the body's event_id and the Idempotency-Key header differ; send one, or the "
                "same in both",
                field="event_id",
            )
        event_id = key
    names = EVENTS[event].param_names
    unknown = sorted(k for k in data if k not in names)
    if unknown:
        takes = ", ".join(sorted(names)) or "no data"
        raise InvalidInput(
            f"{event} does not take {unknown[0]!r}; it takes at, event_id and {takes}",
            field=unknown[0],
        )
    return EventRequest(at, event_id, data)


def explain_request(
    event: str, at: str | None, query: Iterable[tuple[str, str]], now: dt.datetime
) -> EventRequest:
    """The event ``GET /orders/{id}/explain/{event}`` asks about: ``at`` (``now`` if left
    out), ``event_id``, and the event's data from the rest of the query string (``true`` and
    ``false`` for its flags)."""
    spec = EVENTS.get(event)
    flags = {p.name for p in spec.params if p.kind == "flag"} if spec else set()
    moment = now if at is None else _moment(at, "at")
    event_id: str | None = None
    data: dict[str, Any] = {}
    for key, value in query:
        if key == "at":
            continue
        if key == "event_id":
            event_id = value
        elif key in flags and value.lower() in _BOOL:
            data[key] = value.lower() == "true"
        else:
            data[key] = value
    return EventRequest(moment, event_id, data)
