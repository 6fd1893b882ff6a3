"""The checks a store runs on its arguments before it touches the database: a bad argument is
:class:`~statemachine.errors.InvalidInput` naming it, and nothing is read or written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Final

from ..declaration._definition import known_events, known_states
from ..errors import InvalidInput
from ..runtime._machine import MAX_ID_LENGTH, require_keepable, require_text

__all__ = [
    "MAX_LIMIT",
    "MAX_NOTE_LENGTH",
    "MAX_ROW_ID",
    "valid_event",
    "valid_ids",
    "valid_limit",
    "valid_moment",
    "valid_note",
    "valid_order_id",
    "valid_state",
    "valid_text_or_none",
    "valid_version",
]

MAX_LIMIT: Final = 10_000
"""The largest ``limit`` of ``sweep``, ``outbox`` and the listings: a bigger batch is asked
for in turns."""
MAX_ROW_ID: Final = 2**63 - 1
"""The largest row id or version a database keeps (a signed 64-bit integer)."""


def valid_order_id(value: object) -> str:
    """An order id as an order takes it: text a store can keep, at most ``MAX_ID_LENGTH``
    long, no spaces around it."""
    if isinstance(value, str) and value != value.strip():
        raise InvalidInput(
            f"order_id {value!r} has spaces around it; stored ids never do", field="order_id"
        )
    return require_text(value, "order_id", limit=MAX_ID_LENGTH)


def valid_text_or_none(value: object, field: str) -> str | None:
    """An id or a source: ``None``, or text a store can keep of at most ``MAX_ID_LENGTH``."""
    return None if value is None else require_text(value, field, limit=MAX_ID_LENGTH)


MAX_NOTE_LENGTH: Final = 2000
"""The longest note a logged event keeps (what a person wrote with it)."""


def valid_note(value: object) -> str | None:
    """A note to log with an event: ``None``, or text of at most :data:`MAX_NOTE_LENGTH`."""
    return None if value is None else require_text(value, "note", limit=MAX_NOTE_LENGTH)


def valid_event(value: object) -> str:
    """The name of an event of a registered definition (the order's own table judges it)."""
    events = known_events()
    if not isinstance(value, str) or value not in events:
        raise InvalidInput(f"unknown event {value!r}; events: {', '.join(events)}", field="event")
    return value


def valid_state(value: object) -> str:
    """The name of a state of a registered definition."""
    states = known_states()
    if not isinstance(value, str) or value not in states:
        raise InvalidInput(f"unknown state {value!r}; states: {', '.join(states)}", field="state")
    return value


def valid_moment(value: object, field: str) -> dt.datetime:
    """An aware datetime, as an instant (R16), of the years 2 to 9998: one a store can keep
    and show in any time zone (:func:`~statemachine.runtime._machine.require_keepable`)."""
    return require_keepable(value, field)


def valid_limit(value: object) -> int:
    """A batch size from 1 to :data:`MAX_LIMIT`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise InvalidInput(
            f"limit must be a whole number from 1 to {MAX_LIMIT}, got {value!r}", field="limit"
        )
    return value


def valid_version(value: object) -> int:
    """A row version (``expected_version``): a whole number from 1."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROW_ID:
        raise InvalidInput(
            f"expected_version must be a row version (a whole number from 1), got {value!r}",
            field="expected_version",
        )
    return value


def valid_ids(values: object) -> list[int]:
    """A list of outbox ids."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidInput(f"expected a list of outbox ids, got {values!r}", field="ids")
    ids = list(values)
    for nid in ids:
        if isinstance(nid, bool) or not isinstance(nid, int) or not 1 <= nid <= MAX_ROW_ID:
            raise InvalidInput(
                f"outbox ids are whole numbers from 1 to 2**63-1, got {nid!r}", field="ids"
            )
    return ids
