"""The orders: create one, list, search and sort them, list those that need a person, read
one, read its log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header, Query
from starlette.requests import Request
from starlette.responses import Response

from ..application import MAX_PAGE, Direction, create, find_orders, needs_attention
from ..application import list_orders as list_page
from ..store import Reason, SortKey
from ._answers import attention_page, etag, history, order_created, order_page, order_read
from ._deps import Reader, Writer
from ._openapi import answer, problems, ref
from ._parsing import (
    alone,
    check_id,
    due_limit,
    json_object,
    new_order,
    state_filter,
)
from ._routing import DirectRoute

__all__ = ["MAX_PAGE", "router"]

router = APIRouter(tags=["orders"], route_class=DirectRoute)


@router.post(
    "/orders",
    operation_id="createOrder",
    summary="Create an order",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ref("NewOrder")}},
        }
    },
    responses=answer(
        201,
        "Created, or the same order was created before (replay)",
        "OrderCreated",
        headers=("ETag", "Location", "Idempotent-Replayed"),
    )
    | problems(
        (400, 401, 403, 409, 413, 415, 422, 500, 503),
        said={
            403: "The credential's role may not create orders (only write may)",
            409: "An order with this id is stored already, with other data",
        },
    ),
)
async def create_order(request: Request, caller: Writer) -> Response:
    """A new order in the initial state, its R1 dispatch deadline counted from ``paid_at``.
    Sending the same order again answers as the first time (``Idempotent-Replayed: true``);
    the same id with other data is 409. Only a ``write`` credential creates orders."""
    service = caller.service
    data = json_object(request.headers.get("content-type"), await request.body())
    created = await service.store.run_write(
        create,
        new_order(data),
        source="api",
        now=dt.datetime.now(dt.UTC),
        max_skew=service.settings.skew,
        actor=caller.actor,
        definition=service.settings.new_orders,
    )
    order = created.order
    root = str(request.scope.get("root_path", "")).rstrip("/")  # where the app is mounted
    path = f"{root}/orders/{quote(order.order_id, safe='')}"
    location = str(request.url.replace(path=path, query="", fragment=""))
    return order_created(order, created.version, replay=created.replay, location=location)


@router.get(
    "/orders",
    operation_id="listOrders",
    summary="List, sort or search orders",
    responses=answer(200, "A page of orders", "OrderPage") | problems((401, 422, 500, 503)),
)
async def list_orders(
    service: Reader,
    q: Annotated[
        str | None,
        Query(
            description="Search: a prefix of the id or of its number (1004 finds AE-1004), a "
            "tracking number, or an amount (39.90, 39.90 USD); case and surrounding spaces "
            "aside. Alone: not with state, due_before, sort or order"
        ),
    ] = None,
    state: Annotated[str | None, Query(description="Only orders in this state")] = None,
    due_before: Annotated[
        str | None,
        Query(
            description="Only orders with a clock deadline at or before this ISO 8601 moment "
            "(with its offset), soonest first"
        ),
    ] = None,
    sort: Annotated[
        SortKey | None,
        Query(
            description="Sort by id (the default), state (its name), amount (as a number), "
            "age (asc: the youngest first) or deadline (the next clock deadline, the default "
            "with due_before); ties by id, orders without a deadline last"
        ),
    ] = None,
    order: Annotated[Direction | None, Query(description="asc (the default) or desc")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Orders per page")] = 50,
    cursor: Annotated[str | None, Query(description="The next_cursor of the previous page")] = None,
) -> Response:
    """A page of orders from their indexed columns (state, amount, currency, when paid, next
    deadline); follow ``next_cursor`` for the next page. Pages are keyset-paged: stable while
    orders change; a cursor holds its listing, sort and direction. With ``q``, the orders it
    finds instead, in the order of their ids case-folded. Each row's moments are in its
    supplier's time zone (``timezone``), as in the order's own JSON form."""
    if q is not None:
        alone("q", state=state, due_before=due_before, sort=sort, order=order)
        page = await service.store.run(find_orders, q, cursor=cursor, limit=limit)
    else:
        page = await service.store.run(
            list_page,
            state=state_filter(state),
            due_before=due_limit(due_before),
            sort=sort,
            order=order or "asc",
            cursor=cursor,
            limit=limit,
        )
    return order_page(list(page.orders), page.next_cursor)


@router.get(
    "/attention",
    operation_id="listAttention",
    summary="The orders that need a person",
    responses=answer(200, "A page of orders, each with why", "AttentionPage")
    | problems((401, 422, 500, 503)),
)
async def list_attention(
    service: Reader,
    reason: Annotated[
        list[Reason] | None,
        Query(description="Only orders with this reason (give it several times for several)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Orders per page")] = 50,
    cursor: Annotated[str | None, Query(description="The next_cursor of the previous page")] = None,
) -> Response:
    """The orders a person must look at now, by id, each with every reason that holds:
    ``repayment_overdue`` (R4: the supplier's repayment deadline passed, the refund still
    pending), ``incident`` (R1 late dispatch, R7 dispatch after cancellation),
    ``dead_letter`` (a notification the relay gave up on), ``sweep_behind`` (R12, R4: a
    clock deadline passed more than one sweep interval ago and not fired) and
    ``ahead_of_clock`` (R16: its last event is dated after the service's clock, so every
    event now is refused). Each row as ``GET /orders`` gives it."""
    interval = service.settings.sweep_interval
    page = await service.store.run(
        needs_attention,
        dt.datetime.now(dt.UTC),
        reasons=reason,
        sweep_grace=dt.timedelta(seconds=interval),
        cursor=cursor,
        limit=limit,
    )
    return attention_page(list(page.orders), page.next_cursor)


@router.get(
    "/orders/{order_id}",
    operation_id="getOrder",
    summary="Read an order",
    responses=answer(
        200, "The order and its row version (also its ETag)", "VersionedOrder", headers=("ETag",)
    )
    | answer(304, "If-None-Match named the current version", headers=("ETag",))
    | problems((401, 404, 422, 500, 503)),
)
async def get_order(
    service: Reader,
    order_id: str,
    if_none_match: Annotated[
        str | None,
        Header(alias="If-None-Match", description="An ETag you hold: 304 if it is current"),
    ] = None,
) -> Response:
    """The stored order (validated on the way out) and its row version, which is its ETag:
    give it back as ``If-Match`` on an event to apply it only if nothing changed since."""
    loaded = await service.store.load(check_id(order_id))
    current = etag(loaded.version)
    if if_none_match is not None and current in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers={"ETag": current})
    return order_read(loaded)


@router.get(
    "/orders/{order_id}/history",
    operation_id="getOrderHistory",
    summary="An order's event log",
    responses=answer(200, "The log, oldest first", "History") | problems((401, 404, 422, 500, 503)),
)
async def get_history(service: Reader, order_id: str) -> Response:
    """The order's append-only log, oldest first: every applied event with its ``seq``, who
    sent it (``source``) and its data."""
    entries = await service.store.history(check_id(order_id))
    if not entries:
        await service.store.load(order_id)  # 404 for an unknown order
    return history(order_id, entries)
