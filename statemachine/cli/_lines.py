"""Reading the JSON lines of ``orderfsm apply`` and ``orderfsm import``: the line format around
the application layer's one parser (:mod:`statemachine.application`), so a line gets the same
verdict as the same request over HTTP.

A line is one JSON object, either an order to create::

    {"kind": "create", "order_id": "AE-1", "amount": "25.00", "currency": "USD",
     "paid_at": "2026-03-02T10:00:00+08:00"}

or an event, its keyword data at the top level as the typed methods take them::

    {"order_id": "AE-1", "event": "dispatch", "at": "2026-03-03T09:00:00+08:00",
     "event_id": "wh-7", "tracking_number": "LP1"}

JSON is read exactly (:func:`statemachine.application.loads`): an amount written as a number is
the decimal string it was written as (``12.30`` is ``"12.30"``, ``12`` is ``"12"``), then judged
like any amount (the currency's minor unit: ``12.345`` USD is refused; one canonical spelling:
``1e2`` is refused); ``NaN`` and ``Infinity`` are refused, and so is a key given twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import IO, Any, Final

from ..application import EventRequest, NewOrder, loads, parse_event, parse_moment, parse_new_order
from ..errors import InvalidInput

__all__ = ["CREATE_KEYS", "named", "parse_line", "parse_moment", "read_json", "read_lines"]

CREATE_KEYS: Final = frozenset({"kind", "order_id", "amount", "currency", "paid_at"})
"""The keys of a create line."""


def read_json(text: str) -> Any:
    """A line's JSON value; :class:`InvalidInput` naming the line (or a key given twice)."""
    try:
        return loads(text)
    except InvalidInput as exc:
        if exc.field == "body":
            raise InvalidInput(exc.message, field="line") from None
        raise


def parse_line(number: int, text: str) -> NewOrder | EventRequest:
    """Line ``number`` of a JSON-lines file as a request; :class:`InvalidInput` naming the key
    at fault if it is not one."""
    return parse_request(read_json(text))


def parse_request(raw: Any, *, kind: str = "event") -> NewOrder | EventRequest:
    """A line's JSON value as a request: ``kind`` is what a line without ``"kind"`` is."""
    if not isinstance(raw, dict):
        shown = "null" if raw is None else type(raw).__name__
        raise InvalidInput(f"a line is a JSON object, got {shown}", field="line")
    body = dict(raw)
    kind = body.pop("kind", kind)
    if kind == "create":
        return parse_new_order(body)
    if kind != "event":
        raise InvalidInput(
            f"'kind' must be 'create' or 'event' (the default), got {kind!r}", field="kind"
        )
    return parse_event(body.pop("order_id", None), body.pop("event", None), body)


def named(text: str) -> tuple[str | None, str | None]:
    """The ``order_id`` and ``event`` a line names, if it is a JSON object that names them
    (for reporting a line that is otherwise wrong)."""
    try:
        raw = json.loads(text)  # leniently: a line refused for a key given twice is still named
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(raw, dict):
        return None, None
    oid, event = raw.get("order_id"), raw.get("event")
    if raw.get("kind") == "create":
        event = "create"
    return _printable(oid), _printable(event)


def _printable(value: object) -> str | None:
    """``value`` if it is text that can be printed (no lone surrogate), shortened."""
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value[:200]


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


def moment(value: str, field: str) -> dt.datetime:
    """A moment given on the command line (``--now``), read as a request's moments are."""
    return parse_moment(value, field)
