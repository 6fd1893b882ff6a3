"""Reading what the service is sent: JSON bodies, moments, ids, ``If-Match`` and cursors.

Every route reads its input through these functions and nothing else parses a request. What a
request means is read by the application layer's one parser (:mod:`statemachine.application`),
which every front end shares, so the same body gets the same verdict here and on a line of
``orderfsm apply``; this module adds only what is HTTP's own (the media type, ``If-Match``, a
path's id, a query string). Each refusal is an :class:`~statemachine.errors.InvalidInput`
naming its field (422), or a 400 or 415 for a body that is not a JSON object.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any, Final

from starlette.exceptions import HTTPException

from ..application import (
    EventRequest,
    NewOrder,
    loads,
    parse_event,
    parse_moment,
    parse_new_order,
)
from ..declaration._definition import event_spec, known_states
from ..errors import InvalidInput
from ..runtime._machine import MAX_ID_LENGTH

__all__ = [
    "CREATE_FIELDS",
    "EventRequest",
    "alone",
    "check_id",
    "due_limit",
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
    """A request's body as a JSON object, read by the application layer's parser
    (:func:`statemachine.application.loads`: numbers exactly as written, a key given twice
    refused naming it, 422); a body that is not JSON, or not an object, is 400; one that is
    not sent as JSON is 415."""
    if not _JSON_TYPE.match(content_type or ""):
        raise HTTPException(415, "send the body as JSON (Content-Type: application/json)")
    try:
        data = loads(body)
    except InvalidInput as exc:
        if exc.field != "body":  # a key given twice: the request's fault, named
            raise
        raise HTTPException(400, f"the body is not valid JSON ({exc.message})") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return data


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


def new_order(data: dict[str, Any]) -> NewOrder:
    """The new order a ``POST /orders`` body describes (:func:`parse_new_order`)."""
    return parse_new_order(data)


def state_filter(state: str | None) -> str | None:
    """A listing's ``state``: one of the table's states."""
    states = known_states()
    if state is not None and state not in states:
        raise InvalidInput(f"state must be one of {', '.join(states)}", field="state")
    return state


def due_limit(value: str | None) -> dt.datetime | None:
    """A listing's ``due_before``: a moment with its UTC offset."""
    return None if value is None else parse_moment(value, "due_before")


def alone(name: str, **others: object) -> None:
    """Refuse ``others`` given with the query parameter ``name``, naming the first one given
    (a search has its own order and takes no filter)."""
    for other, value in others.items():
        if value is not None:
            raise InvalidInput(
                f"{other} cannot be given with {name}: a search lists every order it finds, in "
                "the order of their ids",
                field=other,
            )


# ------------------------------------------------------------------------------------------------
# Events


def event_request(order_id: str, event: str, data: dict[str, Any], key: str | None) -> EventRequest:
    """The event a body (``at``, an optional ``event_id``, the event's data at the top level)
    and an ``Idempotency-Key`` describe (:func:`parse_event`); the key is the event id, read
    as the UTF-8 text its bytes are (as the body's ``event_id`` is), not as Latin-1."""
    return parse_event(order_id, event, data, event_id=None if key is None else utf8_header(key))


def utf8_header(value: str) -> str:
    """A header's value as the UTF-8 text it was sent as (HTTP hands it over as Latin-1);
    :class:`InvalidInput` naming ``event_id`` for bytes that are not UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise InvalidInput(
            "the Idempotency-Key is not UTF-8 text; send the event id as UTF-8", field="event_id"
        ) from None


def explain_request(
    order_id: str, event: str, query: Iterable[tuple[str, str]], now: dt.datetime
) -> EventRequest:
    """The event ``GET /orders/{id}/explain/{event}`` asks about, read as its ``POST`` body
    would be (:func:`parse_event`): ``at`` (``now`` if left out), ``event_id`` and the event's
    data from the query string (``true`` and ``false`` for its flags); a key given twice is
    refused, as in a JSON body."""
    spec = event_spec(event)
    flags = {p.name for p in spec.params if p.kind == "flag"} if spec else set()
    body: dict[str, Any] = {}
    for key, value in query:
        if key in body:
            raise InvalidInput(
                f"the key {key!r} appears twice in the query; send it once", field=key
            )
        body[key] = value == "true" if key in flags and value in _BOOL else value
    body.setdefault("at", now.isoformat())
    return parse_event(order_id, event, body)
