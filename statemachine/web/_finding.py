"""The inspector's ways to find orders (issue 20, point 2): the search, the lists sorted by
state, amount, age or next deadline, the orders that need a person, and the home page that
gathers them, each a page of the store's indexed queries through the application's use
cases; the order page, signing in and acting are :mod:`._inspect`'s."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..application import find_orders, needs_attention
from ..application import list_orders as list_page
from ..declaration._definition import known_final_states, known_states
from ..errors import InvalidInput, OrderError
from ..runtime._machine import MAX_ID_LENGTH
from ..store import OrderRow
from ._deps import ServiceDep, ViewerDep
from ._inspect import _PAGE, _base, _left, _login_page, _now, _page
from ._routing import DirectRoute

__all__ = ["WHY", "attention_rows", "router"]

router = APIRouter(prefix="/inspect", include_in_schema=False, route_class=DirectRoute)


WHY: Final[Mapping[str, str]] = {
    "repayment_overdue": "the supplier's repayment is overdue (R4)",
    "incident": "an incident: a late dispatch (R1) or a dispatch after cancellation (R7)",
    "dead_letter": "a notification the relay gave up on",
    "sweep_behind": "a deadline passed and the sweep has not fired it (R12, R4)",
    "ahead_of_clock": "its last event is dated after the service's clock (R16)",
}
"""Why an order needs a person, in words, by the store's reason."""


def row_of(row: OrderRow, now: dt.datetime) -> dict[str, Any]:
    """A listing row as a page shows it: state, amount, age and the next deadline."""
    due = row.due_at
    if due is None and row.repayment_deadline is not None:
        due = row.repayment_deadline  # escalated (R4): nothing is due, but it is overdue
    return {
        "order_id": row.order_id,
        "state": row.state,
        "amount": "" if row.amount is None else f"{row.amount} {row.currency}",
        "age": "" if row.paid_at is None else _age(row.paid_at, now),
        "paid": "" if row.paid_at is None else row.paid_at.isoformat(timespec="minutes"),
        "due_at": due.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if due else "",
        "left": _left(due, now) if due else "",
        "overdue": due is not None and due <= now,
    }


def _age(paid_at: dt.datetime, now: dt.datetime) -> str:
    """How long ago the order was paid, in days (hours on its first day)."""
    seconds = (now - paid_at).total_seconds()
    if seconds < 0:
        return "paid ahead of now"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def _sweep_grace(service: Any) -> dt.timedelta | None:
    """How long a passed deadline waits for the sweep's next round before it counts as missed:
    two sweep intervals (``None`` when the sweeper is off: every passed deadline counts)."""
    return dt.timedelta(seconds=2 * service.settings.sweep_interval) or None


def attention_rows(found: Any, now: dt.datetime) -> list[dict[str, Any]]:
    """The rows of a page of orders that need a person, each with its reasons in words."""
    return [{**row_of(a.order, now), "why": [WHY.get(r, r) for r in a.reasons]} for a in found]


@router.get("/find", name="inspect_find")
async def find(
    request: Request,
    service: ServiceDep,
    viewer: ViewerDep,
    q: str = "",
    order_id: str = "",
    cursor: str = "",
) -> Response:
    """The orders a search finds (:func:`~statemachine.application.find_orders`: a prefix of
    the id or of its number, whatever the case; a tracking number; an amount): the order
    itself when one id is exactly it or only one order is found, else the list of them."""
    if viewer is None:
        return _login_page(request)
    wanted = (q or order_id).strip()
    if not wanted or len(wanted) > MAX_ID_LENGTH:
        return _page(
            request, "not_found.html", 404, title="Not found", wanted=wanted[:MAX_ID_LENGTH]
        )
    if not cursor:
        try:
            await service.store.load(wanted)
        except OrderError:
            pass
        else:
            return RedirectResponse(
                f"{_base(request)}/orders/{quote(wanted, safe='')}", status_code=303
            )
    try:
        page = await service.store.run(find_orders, wanted, cursor=cursor or None, limit=_PAGE)
    except InvalidInput:  # a cursor not ours, or text no search takes: nothing found
        page = None
    rows = [] if page is None else list(page.orders)
    if len(rows) == 1 and not cursor and page is not None and page.next_cursor is None:
        return RedirectResponse(
            f"{_base(request)}/orders/{quote(rows[0].order_id, safe='')}", status_code=303
        )
    if not rows:
        return _page(
            request, "not_found.html", 404, title="Not found", wanted=wanted[:MAX_ID_LENGTH]
        )
    now = _now()
    return _page(
        request,
        "found.html",
        title=f"Orders found by {wanted}",
        wanted=wanted,
        rows=[row_of(r, now) for r in rows],
        next_cursor=None if page is None else page.next_cursor,
    )


_SORTS: Final[Mapping[str, str]] = {
    "id": "order",
    "state": "state",
    "amount": "amount",
    "age": "age",
    "deadline": "next deadline",
}
"""The columns a list sorts by (the store's indexed ones), with their headings."""


@router.get("/orders", name="inspect_orders")
async def orders(
    request: Request,
    service: ServiceDep,
    viewer: ViewerDep,
    state: str = "",
    cursor: str = "",
    sort: str = "id",
    order: str = "asc",
) -> Response:
    """Orders in one state (or all) with their state, amount, age and next deadline, sorted
    by any of those, a page at a time."""
    if viewer is None:
        return _login_page(request)
    chosen = state if state in known_states() else None
    by = sort if sort in _SORTS else "id"
    way = order if order in ("asc", "desc") else "asc"
    listing: Any = list_page
    try:
        page = await service.store.run(
            listing, state=chosen, sort=by, order=way, cursor=cursor or None, limit=_PAGE
        )
    except InvalidInput:  # a cursor not ours: the first page
        page = await service.store.run(listing, state=chosen, sort=by, order=way, limit=_PAGE)
    now = _now()
    return _page(
        request,
        "orders.html",
        title=f"Orders in {chosen}" if chosen else "All orders",
        state=chosen,
        states=known_states(),
        sorts=_SORTS,
        sort=by,
        order=way,
        rows=[row_of(r, now) for r in page.orders],
        next_cursor=page.next_cursor,
    )


@router.get("/attention", name="inspect_attention")
async def attention_page(
    request: Request, service: ServiceDep, viewer: ViewerDep, cursor: str = ""
) -> Response:
    """Every order that needs a person, and why, a page at a time."""
    if viewer is None:
        return _login_page(request)
    now = _now()
    grace = _sweep_grace(service)
    try:
        page = await service.store.run(
            needs_attention, now, sweep_grace=grace, cursor=cursor or None, limit=_PAGE
        )
    except InvalidInput:  # a cursor not ours: the first page
        page = await service.store.run(needs_attention, now, sweep_grace=grace, limit=_PAGE)
    return _page(
        request,
        "attention.html",
        title="Orders that need a person",
        rows=[
            {**row_of(a.order, now), "why": [WHY.get(r, r) for r in a.reasons]} for a in page.orders
        ],
        next_cursor=page.next_cursor,
    )


@router.get("/", name="inspect_home")
async def home(request: Request, service: ServiceDep, viewer: ViewerDep) -> Response:
    """Search (an id or its number, a tracking number, an amount), the orders that need a
    person and why, the orders by state with their counts, the deadlines coming up, and the
    dead letters."""
    if viewer is None:
        return _login_page(request)
    now = _now()
    counts = await service.store.state_counts()
    until = now + dt.timedelta(hours=service.settings.near_hours)
    near = await service.store.orders(due_before=until, limit=_PAGE)
    dead = await service.store.dead_letter_count()
    grace = _sweep_grace(service)
    attention = await service.store.run(needs_attention, now, sweep_grace=grace, limit=_PAGE)
    return _page(
        request,
        "home.html",
        title="Orders",
        attention=attention_rows(attention.orders, now),
        more_attention=attention.next_cursor,
        states=[(s, counts.get(s, 0), s in known_final_states()) for s in known_states()],
        total=sum(counts.values()),
        near=[
            {
                "order_id": row.order_id,
                "state": row.state,
                "due_at": row.due_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
                if row.due_at
                else "",
                "left": _left(row.due_at, now) if row.due_at else "",
                "overdue": row.due_at is not None and row.due_at <= now,
            }
            for row in near
        ],
        near_hours=service.settings.near_hours,
        dead=dead,
    )
