"""The OpenAPI document (3.1) of the service: FastAPI's own, from the routes, completed with
the schemas of :mod:`statemachine.schema`.

- Each route declares its answers with :func:`answer` and :func:`problems`: every 2xx with
  its schema (a ``$ref`` to a component below), every problem status it can give as a
  ``Problem`` in ``application/problem+json``, and the headers that come with them.
- :func:`amend` adds the components: the event payloads and the order from
  :mod:`statemachine.schema`, the records the answers hold (``record_schema``), the answers'
  envelopes, ``Problem``, and the enums ``StateName`` and ``EventName`` from the machine's
  table and ``ClaimReason`` from R8's reasons, so a later table adds its own. The document
  lists what is valid; the server still reads text and answers anything else with the
  machine's own problem (an unknown claim reason is R8's 422, as on the command line).
- :data:`webhooks` describes the outbox relay's signed POST (``webhooks`` in the document).

The service answers with hand-built JSON (the package's own ``to_dict()`` forms), not through
response models: the web tests validate real answers against the served document.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, FastAPI, Header
from starlette.responses import Response

from ..declaration._definition import known_events, known_states
from ..declaration._records import CLAIM_REASONS, FireResult
from ..schema import AMOUNT_PATTERN, event_schema, order_schema, record_schema
from ..store import Attention, DeliveryState, DeliveryTry, LogEntry, OrderRow, OutboxItem
from ._problems import PROBLEM_JSON
from ._security import SIGNATURE_HEADER

__all__ = ["JSON", "amend", "answer", "problems", "ref", "webhooks"]

JSON: Final = "application/json"

Responses = dict[int | str, dict[str, Any]]


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


_HEADERS: Final[dict[str, dict[str, Any]]] = {
    "ETag": {
        "description": 'The order\'s row version, quoted ("3"): give it back as If-Match',
        "schema": {"type": "string"},
    },
    "Location": {"description": "The order's address", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "Present (true) when this answers a replay of an earlier request (R15)",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before sending the same request again",
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {
        "description": "The bearer challenge (not on a refused webhook signature)",
        "schema": {"type": "string"},
    },
}

_PROBLEMS: Final[dict[int, tuple[str, tuple[str, ...]]]] = {
    400: ("The body is not a JSON object, or a header does not read", ()),
    401: ("No credentials, or credentials that are not valid here", ("WWW-Authenticate",)),
    403: ("The read token cannot write", ()),
    404: ("No order with this id", ()),
    409: ("Refused by the order's state or by the time: its rule, kind and facts", ()),
    412: ("If-Match named a version the order has moved on from", ("ETag",)),
    413: ("The body is over ORDERFSM_MAX_BODY bytes", ()),
    415: ("The body is not sent as JSON (Content-Type: application/json)", ()),
    422: ("The data is refused: InvalidInput naming its field, or a rule's refusal", ()),
    500: ("The service failed, or the stored order is damaged: the operator's log says why", ()),
    503: ("The order store does not answer, or other writers held it", ("Retry-After",)),
}
"""What each problem status means wherever it appears, and the headers it comes with."""


def problems(statuses: Iterable[int], *, said: Mapping[int, str] | None = None) -> Responses:
    """The problem statuses a route can give, each a ``Problem`` (``said``: a route's own
    description of a status)."""
    out: Responses = {}
    for status in statuses:
        text, headers = _PROBLEMS[status]
        out[status] = {
            "description": (said or {}).get(status, text),
            "content": {PROBLEM_JSON: {"schema": ref("Problem")}},
        }
        if headers:
            out[status]["headers"] = {h: _HEADERS[h] for h in headers}
    return out


def answer(
    status: int,
    description: str,
    schema: str | None = None,
    *,
    media: str = JSON,
    headers: tuple[str, ...] = (),
) -> Responses:
    """A 2xx (or 304) of a route: its description, the component ``schema`` of its body (a
    string for another ``media`` type; none without a body) and its headers."""
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {media: {"schema": ref(schema)}}
    elif media != JSON:
        out["content"] = {media: {"schema": {"type": "string"}}}
    if headers:
        out["headers"] = {h: _HEADERS[h] for h in headers}
    return {status: out}


# ------------------------------------------------------------------------------------------------
# The outbox relay's request, as an OpenAPI 3.1 webhook

webhooks: Final = APIRouter()


@webhooks.post(
    "notification",
    operation_id="relayNotification",
    summary="A notification, relayed",
    description="The outbox relay POSTs each notification an order made to "
    "`ORDERFSM_RELAY_URL`, as the JSON object `OutboxItem`, signed under "
    f"`ORDERFSM_RELAY_SECRET` like a supplier webhook: `{SIGNATURE_HEADER}: t=<unix seconds>,"
    "v1=<hex>`, the HMAC-SHA256 of `t LF POST LF <the URL's path> LF <Idempotency-Key> LF "
    "<body>`. Each notification is claimed before it is sent, so two relays never send it at "
    "the same time; delivery is still at least once (a crash between your 2xx and its record "
    "sends it again once the claim's lease ends): deduplicate by `Idempotency-Key`, the "
    "notification's `id`.",
    response_class=Response,
    response_description="Taken (any 2xx): the notification is acknowledged and never sent again",
    responses={
        "default": {
            "description": "Anything else, or no complete answer within "
            "ORDERFSM_RELAY_TIMEOUT, is a failed try: retried after an exponential backoff with "
            "jitter (about three days of tries by default), and a dead letter after "
            "ORDERFSM_RELAY_ATTEMPTS tries, which can be sent again"
        }
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {JSON: {"schema": ref("OutboxItem")}}}
    },
)
async def notification(
    idempotency_key: Annotated[
        str, Header(alias="Idempotency-Key", description="The notification's id: one delivery")
    ],
    signature: Annotated[
        str,
        Header(
            alias=SIGNATURE_HEADER,
            description="t=<unix seconds>,v1=<hex HMAC-SHA256> under ORDERFSM_RELAY_SECRET",
        ),
    ],
) -> None:
    """Documentation only: the receiver is yours."""


# ------------------------------------------------------------------------------------------------
# Components

_PROBLEM: Final[dict[str, Any]] = {
    "type": "object",
    "description": "RFC 9457 problem details, with the error's own members; explain's "
    "refusal is the very document sending the event would answer",
    "properties": {
        "type": {"type": "string", "description": "urn:orderfsm:problem:<error>, or about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What to fix, in the error's own words"},
        "instance": {"type": "string", "description": "The request's path"},
        "error": {"type": "string", "description": "The error's class (EventRejected...)"},
        "rule": {"type": ["string", "null"], "description": "The rule that refused (R2...)"},
        "kind": {
            "type": ["string", "null"],
            "enum": ["state", "data", "time", None],
            "description": "What refused: the order's state, the data, or the time",
        },
        "event": {"anyOf": [ref("EventName"), {"type": "null"}]},
        "state": {"anyOf": [ref("StateName"), {"type": "null"}]},
        "order_id": {"type": ["string", "null"]},
        "field": {"type": ["string", "null"], "description": "The field to fix"},
        "facts": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "The dates and amounts that decided",
        },
        "expected_version": {"type": "integer", "description": "412: the If-Match version"},
        "current_version": {"type": "integer", "description": "412: the order's version"},
    },
    "required": ["type", "title", "status", "detail"],
}

_NEW_ORDER: Final[dict[str, Any]] = {
    "type": "object",
    "description": "A new order, paid: the R1 dispatch window opens at paid_at",
    "properties": {
        "order_id": {"type": "string", "minLength": 1, "maxLength": 200},
        "amount": {"type": "string", "pattern": AMOUNT_PATTERN},
        "currency": {"type": "string", "description": "ISO 4217 code"},
        "paid_at": {"type": "string", "format": "date-time"},
    },
    "required": ["order_id", "amount", "currency", "paid_at"],
    "additionalProperties": False,
}


def _object(description: str, required: bool = True, **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": list(properties) if required else [],
        "additionalProperties": False,
    }


_INTEGER: Final = {"type": "integer"}
_ANSWERS: Final[dict[str, dict[str, Any]]] = {
    "OrderCreated": _object(
        "A created order (or the same one created before: replay)",
        version=_INTEGER,
        replay={"type": "boolean"},
        order=ref("Order"),
    ),
    "VersionedOrder": _object(
        "The stored order and its row version (also its ETag)", version=_INTEGER, order=ref("Order")
    ),
    "OrderPage": _object(
        "A page of orders; follow next_cursor (null on the last page)",
        orders={"type": "array", "items": ref("OrderRow")},
        next_cursor={"type": ["string", "null"]},
    ),
    "AttentionPage": _object(
        "A page of the orders that need a person, each with why; follow next_cursor (null on "
        "the last page)",
        orders={"type": "array", "items": ref("Attention")},
        next_cursor={"type": ["string", "null"]},
    ),
    "NotificationPage": _object(
        "A page of notifications by id (the order they were queued), with where each one's "
        "delivery stands; give next_after as after for the next page (null on the last)",
        notifications={"type": "array", "items": ref("DeliveryState")},
        next_after={"type": ["integer", "null"]},
    ),
    "NotificationTries": _object(
        "A notification's delivery and every try kept of it, oldest first",
        notification=ref("DeliveryState"),
        tries={"type": "array", "items": ref("DeliveryTry")},
    ),
    "History": _object(
        "The order's append-only log, oldest first",
        order_id={"type": "string"},
        entries={"type": "array", "items": ref("LogEntry")},
    ),
    "EventApplied": _object(
        "An applied event (or a replay of one: the same seq and result)",
        order_id={"type": "string"},
        event=ref("EventName"),
        event_id={"type": ["string", "null"]},
        seq=_INTEGER,
        replay={"type": "boolean"},
        result=ref("FireResult"),
        version=_INTEGER,
        order=ref("Order"),
    ),
    "Explanation": _object(
        "Whether an event would be accepted now, and if not, the problem it would answer",
        order_id={"type": "string"},
        event={"type": "string", "description": "The event asked about (an EventName)"},
        at={"type": "string", "format": "date-time"},
        allowed={"type": "boolean"},
        refusal={"anyOf": [ref("Problem"), {"type": "null"}]},
    ),
    "Health": _object(
        "The process's or the store's word", status={"type": "string", "enum": ["ok", "ready"]}
    ),
}

_NAMED: Final[dict[tuple[str, str], str]] = {
    ("FireResult", "event"): "EventName",
    ("FireResult", "source"): "StateName",
    ("FireResult", "dest"): "StateName",
    ("LogEntry", "event"): "EventName",
    ("LogEntry", "from_state"): "StateName",
    ("LogEntry", "to_state"): "StateName",
    ("OrderRow", "state"): "StateName",
    ("open_claim_payload", "reason"): "ClaimReason",
}
"""Members whose values are one of the table's names (or R8's reasons), not any text."""

_PARAMETERS: Final[dict[str, str]] = {"event": "EventName", "state": "StateName"}
"""Path and query parameters that name one of the table's events or states."""


def _refs(node: Any) -> Any:
    """``node`` with its ``#/$defs/`` references pointed at ``#/components/schemas/``."""
    if isinstance(node, dict):
        return {
            k: (
                v.replace("#/$defs/", "#/components/schemas/")
                if k == "$ref" and isinstance(v, str)
                else _refs(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_refs(v) for v in node]
    return node


def _put(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    """Add a JSON Schema of :mod:`statemachine.schema` (its ``$defs`` beside it)."""
    schema = dict(schema)
    schema.pop("$schema", None)
    for inner, definition in schema.pop("$defs", {}).items():
        _put(schemas, inner, definition)
    converted = _refs(schema)
    known = schemas.get(name)
    if known is not None:  # a record held by another (an OrderRow in an Attention): untitled
        if _untitled(known) != _untitled(converted):  # pragma: no cover - one class, one name
            raise AssertionError(f"two schemas named {name}")
        converted = known if "title" in known else converted
    schemas[name] = converted


def _untitled(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "title"}


def components() -> dict[str, Any]:
    """Every schema the document refers to, by name."""
    schemas: dict[str, Any] = {
        "StateName": {
            "type": "string",
            "enum": list(known_states()),
            "description": "A state of a registered definition's table",
        },
        "EventName": {
            "type": "string",
            "enum": list(known_events()),
            "description": "An event of a registered definition's table",
        },
        "ClaimReason": {
            "type": "string",
            "enum": list(CLAIM_REASONS),
            "description": "R8: the reasons a claim after delivery is accepted for; the "
            "service reads any text and refuses another reason with R8's 422",
        },
    }
    for event in known_events():
        _put(schemas, f"{event}_payload", event_schema(event))
    _put(schemas, "Order", order_schema())
    for record in (
        FireResult,
        LogEntry,
        OrderRow,
        Attention,
        OutboxItem,
        DeliveryState,
        DeliveryTry,
    ):
        _put(schemas, record.__name__, record_schema(record))
    schemas["NewOrder"] = copy.deepcopy(_NEW_ORDER)
    from ._migrations import MIGRATION_SCHEMAS  # the route's module reads this one's

    schemas.update(copy.deepcopy(MIGRATION_SCHEMAS))
    schemas["Problem"] = copy.deepcopy(_PROBLEM)
    schemas.update(copy.deepcopy(_ANSWERS))
    for (schema_name, member), named in _NAMED.items():
        schemas[schema_name]["properties"][member] = ref(named)
    return schemas


def amend(doc: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's document of the routes, completed: the components, the table's names for
    ``event`` and ``state`` parameters, and an absent parameter left out rather than null."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(components())
    for operations in [*doc.get("paths", {}).values(), *doc.get("webhooks", {}).values()]:
        for operation in operations.values():
            for parameter in operation.get("parameters", ()):
                schema = parameter["schema"]
                if parameter["name"] in _PARAMETERS and parameter["in"] in ("path", "query"):
                    schema = parameter["schema"] = ref(_PARAMETERS[parameter["name"]])
                elif not parameter.get("required") and len(schema.get("anyOf", ())) == 2:
                    kept = [s for s in schema.pop("anyOf") if s != {"type": "null"}]
                    if len(kept) == 1:
                        schema.update(kept[0])
                schema.pop("title", None)
                if "description" in schema and schema["description"] == parameter.get(
                    "description"
                ):
                    del schema["description"]  # said once, on the parameter
    return doc


def install(app: FastAPI) -> None:
    """Serve :func:`amend`\\ ed documents as ``app``'s ``/openapi.json`` (made once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = amend(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
