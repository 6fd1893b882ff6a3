"""JSON Schemas (draft 2020-12) of an event's payload and of a stored order, generated from the
table's event specs and the order's own classes, so a service can validate a request before
it reaches the machine and publish its API (OpenAPI 3.1 takes these schemas as they are).

An event payload is one JSON object: ``at`` (ISO 8601 with an offset), an optional
``event_id``, and the event's keyword data at the top level, as :meth:`Order.fire
<statemachine.runtime.Order.fire>` takes it:

>>> schema = event_schema("open_claim")
>>> sorted(schema["properties"])
['amount', 'at', 'event_id', 'listing_altered', 'reason']
>>> schema["required"]
['at', 'reason', 'amount']
>>> schema["properties"]["amount"]["type"]
'string'

Amounts are strings of ASCII digits (``"25.00"``), never JSON numbers: a JSON number is read
as a binary float by most parsers, and ``0.1 + 0.2`` is not money. A service that receives
numbers anyway can read them exactly with ``json.loads(body, parse_float=Decimal)`` and pass the
``Decimal``.

The schemas check the shape; the machine still judges the rules (a claim reason outside R8's
two is valid JSON and an ``EventRejected`` of kind ``data``).
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from decimal import Decimal
from typing import Any, Final

import attrs

from .declaration._definition import DEFINITIONS, event_spec, known_events, known_states
from .declaration._jsonform import json_fields
from .declaration._spec import Param
from .errors import InvalidInput
from .runtime._machine import MAX_ID_LENGTH, MAX_TEXT_LENGTH

__all__ = ["AMOUNT_PATTERN", "SCHEMA_DIALECT", "event_schema", "order_schema", "record_schema"]

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema dialect every schema here is written in (2020-12)."""
AMOUNT_PATTERN: Final = r"^-?[0-9]+(\.[0-9]+)?$"
"""A canonical amount: ASCII digits, an optional ``-`` and decimal point."""

_TEXT: Final[dict[str, Any]] = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_TEXT_LENGTH,
    "pattern": r"^(?=[\s\S]*\S)[^\u0000]*$",
}
_ID: Final[dict[str, Any]] = {**_TEXT, "maxLength": MAX_ID_LENGTH}
_MOMENT: Final[dict[str, Any]] = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601 with a UTC offset (R16: naive times are refused)",
}


def _param(p: Param) -> dict[str, Any]:
    if p.kind == "amount":
        return {
            "type": "string",
            "pattern": AMOUNT_PATTERN,
            "description": "an amount in the order's currency, as a decimal string (R11)",
        }
    if p.kind == "flag":
        return {"type": "boolean", "default": p.default}
    return dict(_TEXT)


def event_schema(event: str) -> dict[str, Any]:
    """The JSON Schema of ``event``'s payload: ``at``, an optional ``event_id`` (R15) and the
    event's keyword data; no other key. :class:`InvalidInput` names an unknown event."""
    spec = event_spec(event) if isinstance(event, str) else None
    if spec is None:
        events = ", ".join(known_events())
        raise InvalidInput(f"unknown event {event!r}; events: {events}", field="event")
    properties: dict[str, Any] = {"at": _MOMENT, "event_id": _ID}
    properties.update({p.name: _param(p) for p in spec.params})
    return {
        "$schema": SCHEMA_DIALECT,
        "title": event,
        "description": spec.doc,
        "type": "object",
        "properties": properties,
        "required": ["at", *(p.name for p in spec.params if p.required)],
        "additionalProperties": False,
    }


# --------------------------------------------------------------------------------------------
# The stored order, from its classes


def _of_type(hint: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_of_type(a, defs) for a in args]}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _of_type(args[0], defs)}
        return {
            "type": "array",
            "prefixItems": [_of_type(a, defs) for a in args],
            "minItems": len(args),
            "maxItems": len(args),
        }
    if origin is dict:
        return {"type": "object", "additionalProperties": _of_type(args[1], defs)}
    if hint is type(None):
        return {"type": "null"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is str:
        return {"type": "string"}
    if hint is Decimal:
        return {"type": "string", "pattern": AMOUNT_PATTERN}
    if hint is dt.datetime:
        return dict(_MOMENT)
    if hint is dt.date:
        return {"type": "string", "format": "date"}
    if isinstance(hint, type) and attrs.has(hint):
        name = hint.__name__
        if name not in defs:
            defs[name] = {}  # placeholder: a class may refer to itself
            defs[name] = _record(hint, defs)
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no JSON Schema for {hint!r}")  # pragma: no cover - the classes are fixed


def _summary(cls: type) -> str:
    """The first paragraph of a class's docstring, on one line."""
    paragraph = (cls.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def _record(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    fields = json_fields(cls)
    return {
        "type": "object",
        "description": _summary(cls),
        "properties": {a.name: _of_type(hints[a.name], defs) for a in fields},
        "required": [a.name for a in fields],
        "additionalProperties": False,
    }


def order_schema() -> dict[str, Any]:
    """The JSON Schema of :meth:`Order.to_dict <statemachine.runtime.Order.to_dict>`: every key
    required, no other key; states from the table, records from their classes."""
    from .runtime._migration import MIGRATED
    from .runtime._order import Order
    from .runtime._serialize import FORMAT_VERSION

    defs: dict[str, Any] = {}
    body = _record(Order, defs)
    states = list(known_states())
    body["properties"]["state"] = {"enum": states}
    for name in ("source", "dest"):
        defs["HistoryRecord"]["properties"][name] = {"enum": states}
    defs["HistoryRecord"]["properties"]["event"] = {"enum": [*known_events(), MIGRATED]}
    body["properties"]["definition"] = {
        "enum": list(DEFINITIONS),
        "description": "the version of the machine the order runs under (read as orders@1 "
        "when absent)",
    }
    body["properties"]["format_version"] = {"const": FORMAT_VERSION}
    body["required"].append("format_version")
    return {"$schema": SCHEMA_DIALECT, "title": "Order", **body, "$defs": defs}


def record_schema(cls: type) -> dict[str, Any]:
    """The JSON Schema of a record's JSON form (its ``to_dict()``, the shared converter's):
    :class:`~statemachine.declaration.FireResult`, a store's ``LogEntry`` or ``OutboxItem``...;
    every field required, no other key, the records it holds under ``$defs``.

    >>> from statemachine.declaration._records import FireResult
    >>> schema = record_schema(FireResult)
    >>> schema["required"][:3], sorted(schema["$defs"])
    (['event', 'source', 'dest'], ['Incident', 'Notification'])
    """
    if not (isinstance(cls, type) and attrs.has(cls)):
        raise TypeError(f"{cls!r} is not a record class (attrs)")
    defs: dict[str, Any] = {}
    body = _record(cls, defs)
    return {"$schema": SCHEMA_DIALECT, "title": cls.__name__, **body, "$defs": defs}
