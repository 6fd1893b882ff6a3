"""The inspector: server-rendered pages (Jinja2, no scripts) for the people who answer
customers. It needs a credential of the service (read, support or write; a supplier's key
opens nothing), as a bearer header or through its login form, which opens a session the
store keeps (a random id in a strict, HTTP-only cookie; it ends at logout, at its expiry, or
when the credential's secret changes). Its forms are checked for their origin and carry the
session's form token; the support and write roles see the forms that act."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

import anyio.to_thread
import jinja2
from fastapi import APIRouter
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .._text import printable_lines
from ..application import list_orders as list_page
from ..application import redeliver
from ..declaration._definition import known_final_states, known_states
from ..diagrams import journey_dot, journey_mermaid, render
from ..errors import GraphvizMissing, InvalidInput, OrderError, UnknownOrder
from ..runtime._machine import MAX_ID_LENGTH
from ..runtime._order import Order
from ._deps import ServiceDep, ViewerDep
from ._problems import LOGGER
from ._routing import DirectRoute
from ._security import page_headers
from ._service import SESSION_COOKIE

__all__ = ["router", "templates"]

router = APIRouter(prefix="/inspect", include_in_schema=False, route_class=DirectRoute)


def _shown(value: Any) -> Any:
    """What a page shows of a value: text with every control, invisible or direction-changing
    character written as its escape (an id holding ESC or a right-to-left override cannot
    pass for another on the page); markup the service made itself (an SVG), as it is."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return printable_lines(value)


templates: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("statemachine.web", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_shown,
)

_PAGE: Final = 50
_SVG_HEAD: Final = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _base(request: Request) -> str:
    """The inspector's path, wherever the app is mounted."""
    root: str = request.scope.get("root_path", "")
    return f"{root.rstrip('/')}/inspect"


def _left(moment: dt.datetime, now: dt.datetime) -> str:
    """How long until ``moment`` (or since), in days, hours and minutes."""
    seconds = int((moment - now).total_seconds())
    span = abs(seconds)
    days, rest = divmod(span, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours or days:
        parts.append(f"{hours} h")
    if not days:
        parts.append(f"{minutes} min")
    text = " ".join(parts)
    return f"{text} left" if seconds >= 0 else f"passed {text} ago"


def _local(moment: dt.datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    base = _base(request)
    html = templates.get_template(template).render(
        base=base,
        viewer=getattr(request.state, "viewer", None),
        order_href=lambda oid: f"{base}/orders/{quote(oid, safe='')}",
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=page_headers())  # no script at all


LOGIN_COOKIE: Final = "orderfsm_login"
"""The sign-in form's token, also in a cookie of its own: a sign-in is taken only from a form
the service gave out (and from its own origin)."""


def _login_page(request: Request, message: str | None = None, status: int = 401) -> HTMLResponse:
    """The sign-in page, with a fresh form token in its form and in a strict cookie."""
    token = secrets.token_urlsafe(24)
    page = _page(request, "login.html", status, message=message, title="Sign in", csrf=token)
    page.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=_base(request),
    )
    return page


# ------------------------------------------------------------------------------------------------
# Signing in


@router.get("/login", name="inspect_login")
async def login_form(request: Request) -> Response:
    """The form that asks for a credential's secret."""
    return _login_page(request, None, 200)


_FORM_FIELDS: Final = 20
"""The most fields a form of the inspector's is read with (more is nobody's form of ours)."""


async def _form(request: Request) -> dict[str, str]:
    """A form's fields, each its first value; ``{}`` for a form that is no form of ours."""
    try:
        fields = parse_qs(
            (await request.body()).decode("utf-8", "replace"), max_num_fields=_FORM_FIELDS
        )
    except ValueError:  # more fields than any form of ours sends
        return {}
    return {name: values[0] for name, values in fields.items()}


def same_origin(request: Request) -> bool:
    """Whether a form was posted from the service's own pages: its ``Origin`` (or, without
    one, its ``Referer``) is the service's own scheme, host and port. A page of another site
    cannot post one (the browser names it); a request naming neither is refused too."""
    own = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("referer")
    if referer is None:
        return False
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}" == own


def _cross_site(request: Request) -> HTMLResponse:
    return _login_page(
        request, "That form did not come from this service's own pages; nothing was done.", 403
    )


@router.post("/login")
async def login(request: Request, service: ServiceDep) -> Response:
    """Check the secret; open a session in the store (a random id in the cookie, its hash in
    the store, with an expiry); back to the inspector's home. A supplier's credential does not
    open the inspector."""
    form = await _form(request)
    given = request.cookies.get(LOGIN_COOKIE, "")
    if (
        not same_origin(request)
        or not given
        or not secrets.compare_digest(form.get("csrf", ""), given)
    ):
        return _cross_site(request)
    token = form.get("token", "")
    credential = service.caller(token) if token else None
    if credential is None or credential.role == "supplier":
        return _login_page(request, "That is not a token of this service.")
    session_id = secrets.token_urlsafe(32)
    now = _now()
    lasts = dt.timedelta(hours=service.settings.session_hours)
    await service.store.open_session(
        session_id,
        credential=credential.name,
        secret_print=credential.secret_print,
        csrf=secrets.token_urlsafe(32),
        now=now,
        expires_at=now + lasts,
    )
    LOGGER.info("%s signed in to the inspector", credential.name)
    base = _base(request)
    response = RedirectResponse(f"{base}/", status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path=base)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(lasts.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=base,
    )
    return response


@router.post("/logout")
async def logout(request: Request, service: ServiceDep, viewer: ViewerDep) -> Response:
    """End the session (in the store: the cookie opens nothing any more, wherever it is
    kept) and forget the cookie. The form must come from the service's pages and carry the
    session's form token."""
    if not same_origin(request):
        return _cross_site(request)
    form = await _form(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if viewer is not None and viewer.csrf is not None:
        if not secrets.compare_digest(form.get("csrf", ""), viewer.csrf):
            return _cross_site(request)
        if cookie:
            await service.store.end_session(cookie)
    base = _base(request)
    response = RedirectResponse(f"{base}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=base)
    return response


# ------------------------------------------------------------------------------------------------
# Pages


@router.get("", name="inspect_root")
async def root(request: Request) -> Response:
    """``/inspect`` is ``/inspect/``."""
    return RedirectResponse(f"{_base(request)}/", status_code=308)


@router.get("/", name="inspect_home")
async def home(request: Request, service: ServiceDep, viewer: ViewerDep) -> Response:
    """Search by id, the orders by state with their counts, the deadlines coming up, and the
    dead letters."""
    if viewer is None:
        return _login_page(request)
    now = _now()
    counts = await service.store.state_counts()
    until = now + dt.timedelta(hours=service.settings.near_hours)
    near = await service.store.orders(due_before=until, limit=_PAGE)
    dead = await service.store.dead_letter_count()
    return _page(
        request,
        "home.html",
        title="Orders",
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


@router.get("/find", name="inspect_find")
async def find(
    request: Request, service: ServiceDep, viewer: ViewerDep, order_id: str = ""
) -> Response:
    """Go to the order with this id, or say there is none."""
    if viewer is None:
        return _login_page(request)
    wanted = order_id.strip()
    if wanted and len(wanted) <= MAX_ID_LENGTH:
        try:
            await service.store.load(wanted)
        except OrderError:
            pass
        else:
            return RedirectResponse(
                f"{_base(request)}/orders/{quote(wanted, safe='')}", status_code=303
            )
    return _page(request, "not_found.html", 404, title="Not found", wanted=wanted[:MAX_ID_LENGTH])


@router.get("/orders", name="inspect_orders")
async def orders(
    request: Request, service: ServiceDep, viewer: ViewerDep, state: str = "", cursor: str = ""
) -> Response:
    """Orders in one state (or all), a page at a time."""
    if viewer is None:
        return _login_page(request)
    chosen = state if state in known_states() else None
    try:
        page = await service.store.run(list_page, state=chosen, cursor=cursor or None, limit=_PAGE)
    except InvalidInput:  # a cursor not ours: the first page
        page = await service.store.run(list_page, state=chosen, limit=_PAGE)
    rows = list(page.orders)
    now = _now()
    return _page(
        request,
        "orders.html",
        title=f"Orders in {chosen}" if chosen else "All orders",
        state=chosen,
        states=known_states(),
        rows=[
            {
                "order_id": r.order_id,
                "state": r.state,
                "version": r.version,
                "due_at": r.due_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
                if r.due_at
                else "",
                "left": _left(r.due_at, now) if r.due_at else "",
            }
            for r in rows
        ],
        next_cursor=page.next_cursor,
    )


@router.get("/dead-letters", name="inspect_dead_letters")
async def dead_letters(request: Request, service: ServiceDep, viewer: ViewerDep) -> Response:
    """The notifications the relay gave up on."""
    if viewer is None:
        return _login_page(request)
    letters = await service.store.dead_letters(200)
    return _page(
        request,
        "dead_letters.html",
        title="Dead letters",
        letters=[
            {
                "id": d.notification_id,
                "order_id": d.order_id,
                "position": d.position,
                "attempts": d.attempts,
                "error": d.last_error or "",
                "when": d.updated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            }
            for d in letters
        ],
    )


@router.get("/orders/{order_id}", name="inspect_order")
async def order_page(
    request: Request, service: ServiceDep, viewer: ViewerDep, order_id: str
) -> Response:
    """One order: its journey drawn, its timeline, deadlines with the time left, the events
    allowed now and why not the others, its ledgers, and its notifications' delivery."""
    if viewer is None:
        return _login_page(request)
    if len(order_id) > MAX_ID_LENGTH:
        return _page(request, "not_found.html", 404, title="Not found", wanted=order_id[:40])
    try:
        loaded = await service.store.load(order_id)
    except UnknownOrder:
        return _page(request, "not_found.html", 404, title="Not found", wanted=order_id)
    order = loaded.order
    entries = await service.store.history(order_id)
    queued = await service.store.notifications(order_id)
    tried = await service.store.deliveries([n.notification_id for n in queued])
    try:
        svg = await anyio.to_thread.run_sync(render, journey_dot(order))
        picture = Markup(_SVG_HEAD.sub("", svg.decode("utf-8"), count=1))
    except GraphvizMissing:  # the page still answers: the journey as its Mermaid source
        picture = Markup(
            '<p class="note">Graphviz\'s <code>dot</code> is not installed on the server, so '
            "the journey is shown as its Mermaid source (apt install graphviz to draw it).</p>"
            "<pre>{}</pre>"
        ).format(journey_mermaid(order))
    now = _now()
    zone = ZoneInfo(order.policy.timezone)
    by_position = {n.position: n for n in queued}
    notifications = []
    for position, note in enumerate(order.notifications):
        row = by_position.get(position)
        delivery = tried.get(row.notification_id) if row is not None else None
        notifications.append(
            {
                "kind": note.kind,
                "channel": note.channel,
                "rule": note.rule,
                "at": _local(note.at, zone),
                "message": note.message,
                "id": row.notification_id if row is not None else None,
                "acked": row.acked if row is not None else False,
                "status": delivery.status if delivery is not None else None,
                "attempts": delivery.attempts if delivery is not None else 0,
                "error": delivery.last_error if delivery is not None else None,
                "next": _local(delivery.next_attempt_at, zone) if delivery is not None else "",
            }
        )
    return _page(
        request,
        "order.html",
        title=f"Order {order.order_id}",
        order=order,
        version=loaded.version,
        zone=order.policy.timezone,
        now=_local(now, zone),
        svg=picture,
        facts=_facts(order, zone),
        deadlines=_deadlines(order, zone, now),
        timeline=[
            {
                "seq": e.seq,
                "event": e.event,
                "from": e.from_state,
                "to": e.to_state,
                "at": _local(e.at, zone),
                "utc": e.at.astimezone(dt.UTC).isoformat(timespec="seconds"),
                "event_id": e.event_id or "",
                "source": e.source or "",
                "actor": e.actor or "",
                "note": e.note or "",
                "data": ", ".join(f"{k}={v}" for k, v in e.data.items()),
            }
            for e in entries
        ],
        allowed=order.allowed_events(now),
        refusals=[
            {"event": event, "rule": r.rule or "", "kind": r.kind, "message": r.message}
            for event, r in order.refusals(now).items()
        ],
        refunds=[_ledger(e, zone) for e in order.refunds],
        customer_refunds=[_ledger(e, zone) for e in order.customer_refunds],
        refunded_total=order.refunded_total,
        customer_refunded_total=order.customer_refunded_total,
        pending=order.pending_refund,
        incidents=[
            {"kind": i.kind, "rule": i.rule, "at": _local(i.at, zone), "detail": i.detail}
            for i in order.incidents
        ],
        warnings=[w.message for w in order.warnings],
        notifications=notifications,
        relay=service.settings.relay_url is not None,
    )


@router.post("/notifications/{notification_id}/redeliver", name="inspect_redeliver")
async def redeliver_page(
    request: Request, service: ServiceDep, viewer: ViewerDep, notification_id: int
) -> Response:
    """The order page's "Send again" beside a dead letter: for a support or write session,
    from the service's own page with the session's form token; back to the order."""
    if viewer is None:
        return _login_page(request)
    form = await _form(request)
    if (
        not same_origin(request)
        or viewer.csrf is None
        or not secrets.compare_digest(form.get("csrf", ""), viewer.csrf)
    ):
        return _cross_site(request)
    if not viewer.acts:
        return _page(request, "not_found.html", 403, title="Not allowed",
                     wanted=f"notification {notification_id}")  # fmt: skip
    state = (
        await service.store.delivery_state(notification_id) if 0 < notification_id < 2**63 else None
    )
    if state is None:
        return _page(request, "not_found.html", 404, title="Not found",
                     wanted=f"notification {notification_id}")  # fmt: skip
    sent = await service.store.run(redeliver, [notification_id])
    if sent:
        LOGGER.info(
            "notification %d of order %s sent again by %s from the inspector",
            notification_id,
            state.order_id,
            viewer.credential.name,
            extra={"order_id": state.order_id, "actor": viewer.credential.name},
        )
    return RedirectResponse(
        f"{_base(request)}/orders/{quote(state.order_id, safe='')}#notifications",
        status_code=303,
    )


def _facts(order: Order, zone: ZoneInfo) -> list[tuple[str, str]]:
    facts = [
        ("state", order.state),
        ("amount paid", f"{order.amount} {order.currency}"),
        ("paid at", _local(order.paid_at, zone)),
        ("rules", order.definition or "an unregistered table"),
    ]
    if order.tracking_number:
        facts.append(("tracking number", order.tracking_number))
    if order.dispatched_at:
        facts.append(("dispatched at", _local(order.dispatched_at, zone)))
    if order.delivered_at:
        facts.append(("delivery confirmed at", _local(order.delivered_at, zone)))
    pending = order.pending_refund
    if pending is not None:
        facts.append(
            (
                "refund pending",
                f"{pending.amount} {order.currency}, {pending.reason}, funded by {pending.blame}",
            )
        )
    return facts


def _deadlines(order: Order, zone: ZoneInfo, now: dt.datetime) -> list[Mapping[str, str]]:
    """The order's deadlines in the supplier's local time, with the time left (or passed)."""
    found: list[tuple[str, str, dt.datetime, str]] = [
        (
            "dispatch deadline",
            "R1",
            order.dispatch_deadline,
            f"met: dispatched {_local(order.dispatched_at, zone)}" if order.dispatched_at else "",
        )
    ]
    if order.claim_deadline is not None:
        found.append(("claim window ends", "R13", order.claim_deadline, ""))
    pending = order.pending_refund
    if pending is not None and pending.repayment_deadline is not None:
        found.append(("supplier repayment deadline", "R4", pending.repayment_deadline, ""))
    out: list[Mapping[str, str]] = []
    for name, rule, moment, note in found:
        out.append(
            {
                "name": name,
                "rule": rule,
                "local": _local(moment, zone),
                "left": note or _left(moment, now),
                "passed": "yes" if moment <= now and not note else "",
            }
        )
    if pending is not None and pending.repayment_earliest is not None:
        out.append(
            {
                "name": "supplier repayment, earliest day",
                "rule": "R4",
                "local": pending.repayment_earliest.isoformat(),
                "left": "",
                "passed": "",
            }
        )
    return out


def _ledger(entry: Any, zone: ZoneInfo) -> dict[str, str]:
    return {
        "at": _local(entry.at, zone),
        "amount": str(entry.amount),
        "reason": entry.reason,
        "blame": entry.blame,
        "event_id": entry.event_id or "",
    }
