"""The inspector: server-rendered pages (Jinja2, no scripts) for the people who answer
customers. It needs a credential of the service (read, support or write; a supplier's key
opens nothing), as a bearer header or through its login form, which opens a session the
store keeps (a random id in a strict, HTTP-only cookie; it ends at logout, at its expiry, or
when the credential's secret changes). Its forms are checked for their origin and carry the
session's form token; the support and write roles see the forms that act."""

from __future__ import annotations

import copy
import datetime as dt
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio.to_thread
import jinja2
from fastapi import APIRouter
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .._text import printable_lines
from ..application import (
    EventRequest,
    check_may_fire,
    explain,
    fire,
    parse_event,
    redeliver,
    show,
)
from ..application._summary import Moment, Words, customer_owed, summarize, zone_label
from ..declaration._money import parse_amount
from ..declaration._records import CLAIM_REASONS
from ..diagrams import journey_dot, journey_mermaid, render
from ..errors import (
    EventRejected,
    GraphvizMissing,
    InvalidInput,
    NotPermitted,
    RequestError,
    UnknownOrder,
)
from ..runtime._machine import MAX_ID_LENGTH
from ..runtime._order import Order
from ..schema import AMOUNT_PATTERN, event_schema
from ._deps import ServiceDep, ViewerDep
from ._metrics import event_fired, event_refused
from ._problems import LOGGER
from ._routing import DirectRoute
from ._security import page_headers
from ._service import SESSION_COOKIE, Viewer

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


_STYLE: Final = (Path(__file__).with_name("static") / "inspect.css").read_bytes()
"""The inspector's style sheet, one file the pages link (the page policy runs no inline
style or script)."""


@router.get("/inspect.css", name="inspect_style")
async def style() -> Response:
    """The inspector's style sheet (no credential needed: it holds no data)."""
    return Response(
        _STYLE,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


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
    if not same_origin(request) or not given or not same_token(form.get("csrf", ""), given):
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
        if not same_token(form.get("csrf", ""), viewer.csrf):
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
    request: Request, service: ServiceDep, viewer: ViewerDep, order_id: str, sent: str = ""
) -> Response:
    """One order. First what the customer asks about, in the words of
    :func:`~statemachine.application.summarize`: incidents and overdue deadlines, where the
    money is, what happens next and by when; then, for a support or write session, a form per
    event it may send now; then the deadlines, the timeline, the refusals (the rule-specific
    ones first), the journey (its path in words, the drawing folded), the ledgers and the
    notifications' delivery. ``sent`` is the idempotency key of an event just sent from here."""
    if viewer is None:
        return _login_page(request)
    if len(order_id) > MAX_ID_LENGTH:
        return _page(request, "not_found.html", 404, title="Not found", wanted=order_id[:40])
    try:
        shown = await service.store.run(show, order_id)
    except UnknownOrder:
        return _page(request, "not_found.html", 404, title="Not found", wanted=order_id)
    order = shown.order
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
    summary = summarize(order, now)
    by_position = {n.position: n for n in shown.notifications}
    notifications = []
    for position, note in enumerate(order.notifications):
        row = by_position.get(position)
        delivery = shown.deliveries.get(row.notification_id) if row is not None else None
        notifications.append(
            {
                "kind": note.kind,
                "channel": note.channel,
                "rule": note.rule,
                "at": note.at,
                "message": note.message,
                "id": row.notification_id if row is not None else None,
                "acked": row.acked if row is not None else False,
                "status": delivery.status if delivery is not None else None,
                "attempts": delivery.attempts if delivery is not None else 0,
                "error": delivery.last_error if delivery is not None else None,
                "next": delivery.next_attempt_at if delivery is not None else None,
            }
        )
    recorded = next((e for e in shown.history if sent and e.event_id == sent), None)
    zone = _viewer_zone(request)
    page = _page(
        request,
        "order.html",
        title=f"Order {order.order_id}",
        order=order,
        s=summary,
        version=shown.version,
        svg=picture,
        when=_when(order.policy.timezone, zone),
        there=lambda moment: Moment(moment, zone).elsewhere(zone).text,
        zone=zone,
        zone_label=zone_label(zone, now),
        recorded=recorded,
        replayed=request.query_params.get("replay") == "1",
        forms=_forms(order, viewer, now),
        timeline=shown.history,
        notifications=notifications,
        relay=service.settings.relay_url is not None,
    )
    if request.query_params.get("tz") == zone:
        page.set_cookie(ZONE_COOKIE, zone, max_age=365 * 86_400, httponly=True,
                        samesite="strict", path=_base(request))  # fmt: skip
    return page


ZONE_COOKIE: Final = "orderfsm_zone"
"""The viewer's own time zone, as they chose it on an order page (``?tz=``); UTC until then."""
_ZONE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}")


def _viewer_zone(request: Request) -> str:
    """The zone the viewer asked to see times in too (``?tz=``, else their cookie), if it is
    one of the tz database's; else UTC."""
    for asked in (request.query_params.get("tz"), request.cookies.get(ZONE_COOKIE)):
        if asked and len(asked) <= 64 and _ZONE_NAME.fullmatch(asked):
            try:
                ZoneInfo(asked)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return asked
    return "UTC"


def _when(zone: str, viewer: str) -> Callable[[dt.datetime | Moment | None], Markup]:
    """How the page writes a time: in the supplier's zone (``zone``) to the minute, as a
    ``<time>`` whose title gives it in UTC and in the viewer's zone (``viewer``)."""

    def when(moment: dt.datetime | Moment | None) -> Markup:
        if moment is None:
            return Markup("")
        local = moment if isinstance(moment, Moment) else Moment(moment, zone).elsewhere(zone)
        also = [f"{local.text} {local.label} ({zone})"]
        for other in dict.fromkeys(("UTC", viewer)):
            there = local.elsewhere(other)
            mine = " (your zone)" if other == viewer and viewer != "UTC" else ""
            also.append(f"{there.text} {there.label}{mine}")
        return Markup('<time datetime="{}" title="{}">{}</time>').format(
            local.iso, " = ".join(also), local.text
        )

    return when


def _say(words: Words, when: Callable[[Moment], Markup]) -> Markup:
    """A sentence of the summary: its text escaped (control and invisible characters
    written as escapes), its moments as ``<time>`` elements."""
    return Markup("").join(
        when(part) if isinstance(part, Moment) else Markup.escape(printable_lines(part))
        for part in words.parts
    )


templates.filters["say"] = lambda words, when: _say(words, when)


# ------------------------------------------------------------------------------------------------
# Acting on an order: a form per event, a preview, a confirmation


_CHOICES: Final[Mapping[tuple[str, str], tuple[str, ...]]] = {
    ("open_claim", "reason"): CLAIM_REASONS,
}
"""Text fields whose values a rule lists (R8: a claim's two reasons): a select, not a box."""
KEY_PREFIX: Final = "inspector-"
"""How the idempotency key of an inspector form starts (it is the event's id, R15)."""


def same_token(given: str, expected: str) -> bool:
    """Whether a form's token is the one expected, in constant time; any text may come in (a
    token with other characters than ASCII is simply not it)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _hint(order: Order, event: str, field: str) -> str:
    """The amount a form's field suggests: what the customer is still owed for a
    reimbursement, the pending amount for a settlement; nothing for the others."""
    if field != "amount":
        return ""
    if event == "reimburse_customer":
        return str(customer_owed(order))
    pending = order.pending_refund
    if event == "settle_refund" and pending is not None:
        return str(pending.amount)
    return ""


def _fields(event: str) -> list[dict[str, Any]]:
    """The fields of ``event``'s form, from its payload's JSON Schema (none for an event no
    registered version has): an amount is text (in the order's currency), a flag a checkbox,
    a text a select where a rule lists its values."""
    try:
        schema = event_schema(event)
    except InvalidInput:
        return []
    out = []
    for name, prop in schema["properties"].items():
        if name in ("at", "event_id"):
            continue
        choices = _CHOICES.get((event, name), ())
        kind = (
            "flag"
            if prop.get("type") == "boolean"
            else "choice"
            if choices
            else "amount"
            if prop.get("pattern") == AMOUNT_PATTERN
            else "text"
        )
        out.append({"name": name, "kind": kind, "label": name.replace("_", " "),
                    "required": name in schema["required"], "choices": choices})  # fmt: skip
    return out


def _forms(order: Order, viewer: Viewer, now: dt.datetime) -> list[dict[str, Any]]:
    """A form per event the viewer may send to ``order`` now (a support or write session
    only; a read credential, or a bearer token, which posts no form, sees none), each with
    its own idempotency key."""
    if not viewer.acts or viewer.csrf is None:
        return []
    forms = []
    for event in order.allowed_events(now):
        try:
            check_may_fire(viewer.credential.actor, event, order)
        except NotPermitted:
            continue
        spec = order.table.events[event]
        fields = [{**f, "hint": _hint(order, event, f["name"])} for f in _fields(event)]
        forms.append({"event": event, "sender": spec.sender(order), "doc": spec.doc,
                      "key": KEY_PREFIX + secrets.token_urlsafe(12),
                      "fields": fields})  # fmt: skip
    return forms


def _beyond(order: Order, event: str, form: Mapping[str, str]) -> str | None:
    """A warning when a reimbursement pays the customer more than they were agreed back:
    R11 allows it up to the amount paid, so the rule does not refuse it, but the agent should
    know before confirming."""
    if event != "reimburse_customer":
        return None
    try:
        amount = parse_amount(form.get("amount", "").strip(), order.currency)
    except InvalidInput:  # the preview says what is wrong with it
        return None
    owed = customer_owed(order)
    if amount <= owed:
        return None
    return (
        f"This pays the customer {amount - owed} {order.currency} more than the refunds "
        f"agreed ({owed} {order.currency} is still owed to them). R11 allows up to the amount "
        "paid; confirm only if the merchant means to give more."
    )


async def _acting(
    request: Request, viewer: Viewer | None
) -> tuple[Viewer, dict[str, str]] | Response:
    """Who posted a form, and its fields: a support or write session, from the service's own
    pages, with the session's form token; else the page that refuses it."""
    if viewer is None:
        return _login_page(request)
    form = await _form(request)
    if (
        not same_origin(request)
        or viewer.csrf is None
        or not same_token(form.get("csrf", ""), viewer.csrf)
    ):
        return _cross_site(request)
    if not viewer.acts:
        why = (
            f"The {viewer.credential.role} role of {viewer.credential.name} reads orders but may "
            "not act on them: sign in with a support or write credential to send events."
        )
        return _page(request, "not_allowed.html", 403, title="Not allowed", why=why)
    return viewer, form


def _event_request(
    order_id: str, event: str, form: Mapping[str, str], now: dt.datetime
) -> EventRequest:
    """The event a form asks for, read by the application's one parser: its time is now, its
    event id the form's key (R15: the same form sent twice is one event)."""
    if not form.get("key"):
        raise InvalidInput("the form carries no key; send it from the order's page", field="key")
    body: dict[str, object] = {"at": now.isoformat()}
    for field in _fields(event):
        value = form.get(field["name"], "").strip()
        if field["kind"] == "flag":
            body[field["name"]] = value == "true"
        elif value or field["required"]:
            body[field["name"]] = value
    if form.get("note", "").strip():
        body["note"] = form["note"].strip()
    return parse_event(order_id, event, body, event_id=form["key"])


def _action_page(
    request: Request, status: int, event: str, order_id: str, form: Mapping[str, str], **more: Any
) -> HTMLResponse:
    """The preview of an event, or its refusal (``refusal``: the error's ``to_dict()``)."""
    outcome = more.get("outcome")
    zone = outcome["after"].zone if outcome else "UTC"
    context = {"outcome": None, "refusal": None, **more}
    return _page(request, "action.html", status, title=f"{event} on {order_id}", event=event,
                 order_id=order_id, form=form, fields=_fields(event),
                 when=_when(zone, _viewer_zone(request)), **context)  # fmt: skip


@router.post("/orders/{order_id}/events/{event}/preview", name="inspect_preview")
async def preview(
    request: Request, service: ServiceDep, viewer: ViewerDep, order_id: str, event: str
) -> Response:
    """What sending ``event`` would do, before anything is written: the application's
    ``explain`` (the rule's refusal, if any), and if accepted the outcome (the state after,
    the notifications and incidents, the money and what comes next after it), with the
    confirmation form."""
    acting = await _acting(request, viewer)
    if isinstance(acting, Response):
        return acting
    who, form = acting
    now = _now()
    try:
        asked = _event_request(order_id, event, form, now)
        loaded = await service.store.load(asked.order_id)
        check_may_fire(who.credential.actor, event, loaded.order)
        told = await service.store.run(
            explain, asked.order_id, event, asked.data, at=asked.at, event_id=asked.event_id
        )
        if told.refusal is not None:
            raise told.refusal
        trial = copy.deepcopy(loaded.order)  # the outcome, worked out on a copy
        result = trial.fire(event, at=asked.at, event_id=asked.event_id, **asked.data)
    except RequestError as refused:
        return _action_page(request, 200, event, order_id, form, refusal=refused.to_dict())
    outcome = {
        "result": result,
        "after": summarize(trial, now),
        "beyond": _beyond(loaded.order, event, form),
    }
    return _action_page(request, 200, event, order_id, form, outcome=outcome)


@router.post("/orders/{order_id}/events/{event}", name="inspect_act")
async def act(
    request: Request, service: ServiceDep, viewer: ViewerDep, order_id: str, event: str
) -> Response:
    """Send ``event`` as confirmed on its preview: through the application's ``fire`` with
    the agent as the actor (their credential's name and role), ``source`` ``inspector``,
    their note, and the form's key as the event id, so a form sent twice applies once (R15).
    Back to the order, which says what was recorded; a refusal shows the rule's message."""
    acting = await _acting(request, viewer)
    if isinstance(acting, Response):
        return acting
    who, form = acting
    now = _now()
    try:
        asked = _event_request(order_id, event, form, now)
        fired = await service.store.run_write(
            fire, asked, source="inspector", now=now, max_skew=service.settings.skew,
            actor=who.credential.actor,
        )  # fmt: skip
    except RequestError as refused:
        event_refused(event, refused)
        return _action_page(
            request, _status(refused), event, order_id, form, refusal=refused.to_dict()
        )
    event_fired(event, duplicate=fired.replay)
    LOGGER.info(
        "%s %s on order %s from the inspector by %s",
        event,
        "found applied already (R15)" if fired.replay else "sent",
        asked.order_id,
        who.credential.name,
        extra={"order_id": asked.order_id, "actor": who.credential.name},
    )
    back = f"{_base(request)}/orders/{quote(asked.order_id, safe='')}"
    replay = "&replay=1" if fired.replay else ""
    return RedirectResponse(
        f"{back}?sent={quote(asked.event_id or '', safe='')}{replay}#recorded", status_code=303
    )


def _status(refused: RequestError) -> int:
    """The status of a refused form, as the API would answer it."""
    if isinstance(refused, NotPermitted):
        return 403
    if isinstance(refused, UnknownOrder):
        return 404
    if isinstance(refused, EventRejected) and refused.kind != "data":
        return 409
    return 422


@router.post("/notifications/{notification_id}/redeliver", name="inspect_redeliver")
async def redeliver_page(
    request: Request, service: ServiceDep, viewer: ViewerDep, notification_id: int
) -> Response:
    """The order page's "Send again" beside a dead letter: for a support or write session,
    from the service's own page with the session's form token; back to the order."""
    acting = await _acting(request, viewer)
    if isinstance(acting, Response):
        return acting
    who = acting[0]
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
            who.credential.name,
            extra={"order_id": state.order_id, "actor": who.credential.name},
        )
    return RedirectResponse(
        f"{_base(request)}/orders/{quote(state.order_id, safe='')}#notifications",
        status_code=303,
    )
