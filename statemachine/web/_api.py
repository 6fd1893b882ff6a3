"""The JSON API: orders, their events, their history and diagrams, and the service's health."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from decimal import Decimal
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Header, Query
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..diagrams import journey_dot, journey_mermaid, lifecycle_dot, render
from ..errors import InvalidInput, OrderError, OrderExists
from ..machine import MAX_ID_LENGTH
from ..order import Order
from ..records import FireResult
from ..serialize import replay
from ..store import Applied, OrderRow
from ..table import EVENTS, STATES, TABLE
from ._problems import problem
from ._security import SIGNATURE_HEADER, verify_signature
from ._service import Service, authorize, service_of

__all__ = ["CALLER_EVENTS", "first_result", "router"]

MAX_PAGE: Final = 500

CALLER_EVENTS: Final = TABLE.caller_events
"""The events a caller sends over HTTP; the clock's are the sweeper's."""
router = APIRouter()

_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]*\+)?json\s*(;.*)?$", re.IGNORECASE)
_ETAG = re.compile(r'^"([0-9]{1,18})"$')


# ------------------------------------------------------------------------------------------------
# Reading requests


def _check_id(order_id: str) -> str:
    """An order id from a path, refused before any lookup when it cannot be one."""
    if len(order_id) > MAX_ID_LENGTH:
        raise InvalidInput(
            f"order_id is {len(order_id)} characters long; at most {MAX_ID_LENGTH} are accepted",
            field="order_id",
        )
    return order_id


def _json_object(request: Request, body: bytes) -> dict[str, Any]:
    """The request's body as a JSON object (numbers read exactly, as ``Decimal``)."""
    content_type = request.headers.get("content-type", "")
    if not _JSON_TYPE.match(content_type):
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


def _expected_version(if_match: str | None) -> int | None:
    """The row version an ``If-Match`` header asks for (``None``: no condition)."""
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match.strip())
    if found is None:
        raise HTTPException(
            400, 'If-Match must be one ETag of this service, such as "3" (quotes included)'
        )
    return int(found.group(1))


def _etag(version: int) -> str:
    return f'"{version}"'


def _body(data: object, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers)


# ------------------------------------------------------------------------------------------------
# What an event did, the first time


def first_result(order: Order, seq: int) -> FireResult | None:
    """What the event at position ``seq`` (from 1) of ``order``'s history returned when it
    was applied: its history is replayed from the order's creation through the machine, which
    decides the same way every time. ``None`` if the replay does not give back the stored
    history (then a replay of the request answers with what the store says)."""
    if not 1 <= seq <= len(order.history):
        return None
    try:
        again, results = replay(order, upto=seq)
    except OrderError:
        return None
    result = results[-1]
    made = len(again.notifications)
    if again.history != order.history[:seq] or again.notifications != order.notifications[:made]:
        return None
    return result


def _event_answer(applied: Applied, event: str, event_id: str | None) -> JSONResponse:
    """The answer to an event: the same for its replays (R15), but for ``replay`` and the
    order as it is now."""
    result = applied.result
    if applied.duplicate:
        result = first_result(applied.order, applied.seq) or result
    body = {
        "order_id": applied.order.order_id,
        "event": event,
        "event_id": event_id,
        "seq": applied.seq,
        "replay": applied.duplicate,
        "result": result.to_dict(),
        "version": applied.version,
        "order": applied.order.to_dict(),
    }
    headers = {"ETag": _etag(applied.version)}
    if applied.duplicate:
        headers["Idempotent-Replayed"] = "true"
    return _body(body, headers=headers)


# ------------------------------------------------------------------------------------------------
# Health


@router.get("/healthz", tags=["service"], summary="The process answers")
async def healthz() -> JSONResponse:
    """Always 200 while the process runs (liveness)."""
    return _body({"status": "ok"})


@router.get(
    "/readyz",
    tags=["service"],
    summary="The store answers",
    responses={503: {"description": "The store does not answer"}},
)
async def readyz(request: Request) -> Response:
    """200 when the order store answers a query (readiness)."""
    service = service_of(request)
    try:
        await service.store.ping()
    except Exception as exc:  # any failure means not ready; the reason goes to the log only
        from ._problems import LOGGER

        LOGGER.warning("readyz: the store does not answer: %s", type(exc).__name__)
        return problem(503, "the order store does not answer", name="NotReady")
    return _body({"status": "ready"})


@router.get(
    "/lifecycle.svg",
    tags=["diagrams"],
    summary="The lifecycle diagram",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def lifecycle_svg() -> Response:
    """Every state and transition of the machine's table, drawn by Graphviz."""
    svg = await _render(lifecycle_dot())
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})


async def _render(dot: str) -> bytes:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(render, dot)


# ------------------------------------------------------------------------------------------------
# Orders


_CREATE_FIELDS: Final = ("order_id", "amount", "currency", "paid_at")


@router.post(
    "/orders",
    tags=["orders"],
    summary="Create an order",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewOrder"}}},
        }
    },
    responses={
        201: {"description": "Created", "content": {"application/json": {}}},
        409: {"description": "An order with this id is stored already, with other data"},
    },
)
async def create_order(request: Request) -> Response:
    """A new order in the initial state, its R1 dispatch deadline counted from ``paid_at``.
    Sending the same order again answers as the first time (``Idempotent-Replayed: true``);
    the same id with other data is 409."""
    authorize(request, "write")
    service = service_of(request)
    data = _json_object(request, await request.body())
    unknown = sorted(set(data) - set(_CREATE_FIELDS))
    if unknown:
        raise InvalidInput(
            f"unknown field {unknown[0]!r}; an order takes {', '.join(_CREATE_FIELDS)}",
            field=unknown[0],
        )
    missing = [name for name in _CREATE_FIELDS if name not in data]
    if missing:
        raise InvalidInput(f"{missing[0]} is required", field=missing[0])
    if isinstance(data["order_id"], str) and "/" in data["order_id"]:
        raise InvalidInput(
            "order_id must not contain '/': the order could not be addressed in a URL path",
            field="order_id",
        )
    order = Order.create(
        data["order_id"],
        data["amount"],
        data["currency"],
        _moment(data["paid_at"], "paid_at"),
    )
    replay = False
    try:
        version = await service.store.add(order, source="api")
    except OrderExists:
        stored = await service.store.load(order.order_id)
        first = stored.order
        same = (first.amount, first.currency, first.paid_at) == (
            order.amount,
            order.currency,
            order.paid_at,
        )
        if not same:
            raise
        order, version, replay = first, stored.version, True
    root = str(request.scope.get("root_path", "")).rstrip("/")  # where the app is mounted
    path = f"{root}/orders/{quote(order.order_id, safe='')}"
    location = str(request.url.replace(path=path, query="", fragment=""))
    headers = {"ETag": _etag(version), "Location": location}
    if replay:
        headers["Idempotent-Replayed"] = "true"
    return _body({"version": version, "replay": replay, "order": order.to_dict()}, 201, headers)


@router.get(
    "/orders",
    tags=["orders"],
    summary="List orders",
    responses={200: {"content": {"application/json": {}}}},
)
async def list_orders(
    request: Request,
    state: Annotated[str | None, Query(description="Only orders in this state")] = None,
    due_before: Annotated[
        str | None,
        Query(
            description="Only orders with a clock deadline at or before this ISO 8601 moment, "
            "soonest first"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Orders per page")] = 50,
    cursor: Annotated[str | None, Query(description="The next_cursor of the previous page")] = None,
) -> Response:
    """A page of orders from their indexed columns (state, version, deadlines); follow
    ``next_cursor`` for the next page. Pages are keyset-paged: stable while orders change."""
    authorize(request, "read")
    service = service_of(request)
    if state is not None and state not in STATES:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}", field="state")
    until = None if due_before is None else _aware(_moment(due_before, "due_before"), "due_before")
    after = None if cursor is None else _decode_cursor(cursor)
    rows = await service.store.orders(state=state, due_before=until, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = _encode_cursor(last.due_at if until is not None else None, last.order_id)
    return _body({"orders": [row_json(r) for r in rows], "next_cursor": next_cursor})


def _aware(moment: dt.datetime, field: str) -> dt.datetime:
    if moment.utcoffset() is None:
        raise InvalidInput(
            f"{field} needs a UTC offset (R16: naive times are refused)", field=field
        )
    return moment


def row_json(row: OrderRow) -> dict[str, Any]:
    """A listing row as JSON (moments in UTC)."""

    def iso(moment: dt.datetime | None) -> str | None:
        return None if moment is None else moment.astimezone(dt.UTC).isoformat()

    return {
        "order_id": row.order_id,
        "state": row.state,
        "version": row.version,
        "dispatch_deadline": iso(row.dispatch_deadline),
        "repayment_deadline": iso(row.repayment_deadline),
        "due_at": iso(row.due_at),
    }


def _encode_cursor(due_at: dt.datetime | None, order_id: str) -> str:
    key = [None if due_at is None else due_at.astimezone(dt.UTC).isoformat(), order_id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime | None, str]:
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


@router.get(
    "/orders/{order_id}",
    tags=["orders"],
    summary="Read an order",
    responses={
        200: {
            "description": "The order and its row version (also its ETag)",
            "content": {"application/json": {}},
        },
        304: {"description": "If-None-Match named the current version"},
    },
)
async def get_order(
    request: Request,
    order_id: str,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    """The stored order (validated on the way out) and its row version, which is its ETag:
    give it back as ``If-Match`` on an event to apply it only if nothing changed since."""
    authorize(request, "read")
    loaded = await service_of(request).store.load(_check_id(order_id))
    etag = _etag(loaded.version)
    if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers={"ETag": etag})
    return _body(
        {"version": loaded.version, "order": loaded.order.to_dict()}, headers={"ETag": etag}
    )


@router.get("/orders/{order_id}/history", tags=["orders"], summary="An order's event log")
async def history(request: Request, order_id: str) -> Response:
    """The order's append-only log, oldest first: every applied event with its ``seq``, who
    sent it (``source``) and its data."""
    authorize(request, "read")
    entries = await service_of(request).store.history(_check_id(order_id))
    if not entries:
        await service_of(request).store.load(order_id)  # 404 for an unknown order
    return _body({"order_id": order_id, "entries": [e.to_dict() for e in entries]})


@router.get(
    "/orders/{order_id}/explain/{event}",
    tags=["events"],
    summary="Would this event be accepted now?",
)
async def explain(
    request: Request,
    order_id: str,
    event: str,
    at: Annotated[
        str | None, Query(description="When (ISO 8601 with an offset); now if left out")
    ] = None,
    event_id: Annotated[str | None, Query(description="The event id (R15)")] = None,
) -> Response:
    """What firing ``event`` would do, without doing it: ``allowed``, or the refusal with its
    rule, kind and facts. The event's data goes in the query string (``?amount=5.00``)."""
    authorize(request, "read")
    order = await service_of(request).store.get(_check_id(order_id))
    moment = dt.datetime.now(dt.UTC) if at is None else _moment(at, "at")
    spec = EVENTS.get(event)
    flags = {p.name for p in spec.params if p.kind == "flag"} if spec else set()
    data: dict[str, object] = {}
    for key, value in request.query_params.items():
        if key in ("at", "event_id"):
            continue
        data[key] = value.lower() == "true" if key in flags and value.lower() in _BOOL else value
    refusal = order.explain(event, at=moment, event_id=event_id, **data)
    return _body(
        {
            "order_id": order.order_id,
            "event": event,
            "at": moment.isoformat(),
            "allowed": refusal is None,
            "refusal": None if refusal is None else refusal.to_dict(),
        }
    )


_BOOL: Final = frozenset({"true", "false"})


@router.get(
    "/orders/{order_id}/journey.svg",
    tags=["diagrams"],
    summary="An order's journey, drawn",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def journey_svg(request: Request, order_id: str) -> Response:
    """The lifecycle with this order's steps numbered and its current state filled."""
    authorize(request, "read")
    order = await service_of(request).store.get(_check_id(order_id))
    return Response(await _render(journey_dot(order)), media_type="image/svg+xml")


@router.get(
    "/orders/{order_id}/journey.mmd",
    tags=["diagrams"],
    summary="An order's journey, as Mermaid text",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def journey_mmd(request: Request, order_id: str) -> Response:
    """The journey as a Mermaid state diagram."""
    authorize(request, "read")
    order = await service_of(request).store.get(_check_id(order_id))
    return Response(journey_mermaid(order), media_type="text/plain; charset=utf-8")


# ------------------------------------------------------------------------------------------------
# Events


async def fire_event(request: Request, service: Service, order_id: str, event: str) -> Response:
    """Apply one event sent over HTTP: by a token holder, or signed (a supplier webhook)."""
    body = await request.body()
    key = request.headers.get("idempotency-key")
    if key is not None and len(key) > MAX_ID_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key is {len(key)} characters long; at most {MAX_ID_LENGTH} are accepted",
            field="event_id",
        )
    source = "api"
    if request.headers.get("authorization") is not None or SIGNATURE_HEADER not in request.headers:
        authorize(request, "write")
    else:
        if key is None:
            raise HTTPException(
                400, "a signed webhook must carry an Idempotency-Key (its event id, R15)"
            )
        why = verify_signature(
            service.settings.webhook_secret,
            request.headers.get(SIGNATURE_HEADER),
            method=request.method,
            path=request.url.path,
            key=key,
            body=body,
            tolerance=service.settings.webhook_tolerance,
        )
        if why is not None:
            raise HTTPException(401, why)
        source = "webhook"
    data = _json_object(request, body)
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
    expected = _expected_version(request.headers.get("if-match"))
    applied = await service.store.apply(
        _check_id(order_id),
        event,
        at=at,
        event_id=event_id,
        source=source,
        expected_version=expected,
        **data,
    )
    return _event_answer(applied, event, event_id)


def _event_route(event: str) -> None:
    spec = EVENTS[event]

    async def endpoint(
        request: Request,
        order_id: str,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                description="The event id (R15): a replay answers as the first time; the same "
                "key with other data is 422. Required on signed webhooks.",
            ),
        ] = None,
        if_match: Annotated[
            str | None,
            Header(
                alias="If-Match",
                description="Apply only if the order is still at this ETag (else 412)",
            ),
        ] = None,
        signature: Annotated[
            str | None,
            Header(
                alias=SIGNATURE_HEADER,
                description="t=<unix seconds>,v1=<hex HMAC-SHA256>, instead of a bearer token",
            ),
        ] = None,
    ) -> Response:
        return await fire_event(request, service_of(request), order_id, event)

    endpoint.__name__ = f"event_{event}"
    router.add_api_route(
        f"/orders/{{order_id}}/events/{event}",
        endpoint,
        methods=["POST"],
        tags=["events"],
        summary=event.replace("_", " ").capitalize(),
        description=f"{spec.doc}\n\nRefusals of the state or the time are 409, of the data "
        "422 (each naming its rule, kind and facts); an unknown order is 404.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{event}_payload"}
                    }
                },
            },
            "security": [{"bearer": []}, {"signature": []}],
        },
        responses={
            200: {"description": "Applied (or a replay of an applied event)"},
            409: {"description": "The state or the time refuses it"},
            412: {"description": "If-Match named a version the order has moved on from"},
            422: {"description": "The data refuses it, or the request is malformed (R15...)"},
        },
    )


for _event in CALLER_EVENTS:
    _event_route(_event)


@router.post("/orders/{order_id}/events/{event}", include_in_schema=False)
async def unknown_event(request: Request, order_id: str, event: str) -> Response:
    """An event name that no caller sends."""
    authorize(request, "write")
    if event in EVENTS:
        raise HTTPException(404, f"{event} is a clock event: the sweeper fires it, not a request")
    raise HTTPException(404, f"no event {event[:40]!r}; events: {', '.join(CALLER_EVENTS)}")
