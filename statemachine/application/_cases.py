"""The use cases: what a front end asks of the package, written once.

Each takes a store (:class:`~statemachine.store.OrderStore`, synchronous) and a request parsed
by :mod:`~statemachine.application._requests`, and answers with a plain record; errors are the
package's own (:class:`~statemachine.errors.RequestError` for the caller,
:class:`~statemachine.errors.StoreFault` for the operator). The command line calls them directly;
the HTTP service runs them in the async store's worker thread
(:meth:`AsyncStore.run <statemachine.store.AsyncStore.run>`), so a use case of several store
calls (create-or-confirm) is one piece of work either way. The relay, which waits on receivers,
is the one use case written for async callers (:func:`relay_batch`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import random
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal

import anyio
import attrs

from .._observe import LOGGER
from ..declaration._definition import resolve
from ..declaration._records import FireResult
from ..errors import (
    ConcurrentUpdate,
    EventRejected,
    EventTooFarAhead,
    InvalidInput,
    OrderError,
    OrderExists,
    VersionConflict,
)
from ..runtime._machine import MAX_ID_LENGTH
from ..runtime._order import Order
from ..runtime._serialize import replay
from ..store import (
    SORT_KEYS,
    Applied,
    Attention,
    Delivery,
    LogEntry,
    NotificationRow,
    OrderRow,
    OrderStore,
    Reason,
    SortKey,
    Swept,
)
from ._access import Actor, check_may, check_may_fire, needs_order
from ._requests import EventRequest, NewOrder

if TYPE_CHECKING:
    from ..store import AsyncStore, OutboxItem

__all__ = [
    "MAX_PAGE",
    "RELAY_DEFAULTS",
    "Answer",
    "AttentionPage",
    "Created",
    "Direction",
    "Explained",
    "Fired",
    "Page",
    "RelayPolicy",
    "Shown",
    "backoff",
    "check_not_too_far_ahead",
    "create",
    "explain",
    "find_orders",
    "fire",
    "first_result",
    "list_orders",
    "needs_attention",
    "redeliver",
    "relay_batch",
    "relay_one",
    "show",
    "sweep_all",
]

MAX_PAGE: Final = 500
"""The most orders one page of :func:`list_orders`, :func:`find_orders` or
:func:`needs_attention` holds."""


# ------------------------------------------------------------------------------------------------
# Creating an order


@attrs.frozen
class Created:
    """An order created, or (``replay``) the same order found stored already."""

    order: Order
    version: int
    replay: bool


def create(
    store: OrderStore,
    request: NewOrder,
    *,
    source: str | None,
    now: dt.datetime | None = None,
    max_skew: dt.timedelta | None = None,
    actor: Actor | None = None,
    definition: str | None = None,
) -> Created:
    """Create the order ``request`` describes; if an order with its id is stored already with
    the same amount, currency and payment time, answer with it (``replay``: sending a create
    twice is safe), else :class:`~statemachine.errors.OrderExists`. With ``now`` and
    ``max_skew``, a payment dated more than ``max_skew`` ahead is refused first
    (:class:`EventTooFarAhead`). With ``actor``, only the ``write`` role may create
    (:class:`~statemachine.errors.NotPermitted`). The order runs under ``definition`` (a
    registered version; ``None``: ``orders@1``)."""
    if actor is not None:
        check_may(actor, "create")
    check_not_too_far_ahead(request, now, max_skew)
    order = Order.begin(
        request.order_id,
        request.amount,
        request.currency,
        request.paid_at,
        table=None if definition is None else resolve(definition).table,
    )
    try:
        version = store.add(order, source=source)
    except OrderExists:
        stored = store.load(order.order_id)
        first = stored.order
        if (first.amount, first.currency, first.paid_at) != (
            order.amount,
            order.currency,
            order.paid_at,
        ):
            raise
        return Created(first, stored.version, True)
    return Created(order, version, False)


# ------------------------------------------------------------------------------------------------
# Firing an event


@attrs.frozen
class Fired:
    """An event applied, or a replay of one applied before (R15): ``result`` is what the
    event did the first time, so a replay answers as the first delivery did."""

    applied: Applied
    result: FireResult

    @property
    def replay(self) -> bool:
        """Whether the event id had been applied already: nothing was written now."""
        return self.applied.duplicate

    @property
    def order(self) -> Order:
        """The order as it is now."""
        return self.applied.order


def fire(
    store: OrderStore,
    request: EventRequest,
    *,
    source: str | None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
    max_skew: dt.timedelta | None = None,
    actor: Actor | None = None,
) -> Fired:
    """Fire ``request``'s event on its stored order, in one transaction (``store.apply``).

    With ``now`` (the receiver's clock) and ``max_skew``, an event dated more than
    ``max_skew`` after ``now`` is refused first (:class:`EventTooFarAhead`), nothing read or
    written. With ``actor``, their role must let them send the event
    (:func:`~statemachine.application.check_may_fire`: a ``supplier`` sends only the
    supplier's events), else :class:`~statemachine.errors.NotPermitted`; the log keeps the
    actor's name and the request's note with the event."""
    check_not_too_far_ahead(request, now, max_skew)
    if actor is not None and not needs_order(actor, request.event):
        check_may_fire(actor, request.event)
    for _ in range(_JUDGED_TRIES):
        version = expected_version
        if actor is not None and needs_order(actor, request.event):
            loaded = store.load(request.order_id)  # who sends it depends on the order (R9)
            if not _already_applied(loaded.order, request.event_id):  # a replay: as it was
                check_may_fire(actor, request.event, loaded.order)
            version = loaded.version if expected_version is None else expected_version
        try:
            applied = store.apply(
                request.order_id,
                request.event,
                at=request.at,
                event_id=request.event_id,
                source=source,
                expected_version=version,
                actor=None if actor is None else actor.name,
                note=request.note,
                **request.data,
            )
        except VersionConflict:
            if version is expected_version:
                raise
            continue  # the order moved on since it was judged: judge it again
        break
    else:
        raise ConcurrentUpdate(
            f"{request.event} on order {request.order_id} was judged {_JUDGED_TRIES} times and "
            "each time the order had moved on; nothing was written, it is safe to send it again",
            order_id=request.order_id,
            event=request.event,
            attempts=_JUDGED_TRIES,
        )
    result = applied.result
    if applied.duplicate:
        result = first_result(applied.order, applied.seq) or result
    return Fired(applied, result)


_JUDGED_TRIES: Final = 3
"""How often :func:`fire` judges an order again when it moved on between the judgement of
who may send the event and the write."""


def _already_applied(order: Order, event_id: str | None) -> bool:
    return event_id is not None and any(r.event_id == event_id for r in order.history)


def check_not_too_far_ahead(
    request: EventRequest | NewOrder, now: dt.datetime | None, max_skew: dt.timedelta | None
) -> None:
    """Raise :class:`EventTooFarAhead` if ``request`` (an event, or a new order's payment) is
    dated more than ``max_skew`` after ``now`` (no check without both)."""
    if now is None or max_skew is None:
        return
    if isinstance(request, NewOrder):
        moment, field, what = request.paid_at, "paid_at", f"order {request.order_id}'s payment"
    else:
        moment, field, what = request.at, "at", request.event
    if not isinstance(moment, dt.datetime) or moment - now <= max_skew:
        return
    seconds = f"{max_skew.total_seconds():g}"
    raise EventTooFarAhead(
        f"{what} is dated {moment.isoformat()}, more than {seconds} seconds after the "
        f"receiver's clock ({now.isoformat(timespec='seconds')}): refused as most likely a "
        "mistyped date (the order would refuse every event dated before it, R16)",
        field=field,
        facts={field: moment.isoformat(), "now": now.isoformat(), "max_skew_seconds": seconds},
    )


def first_result(order: Order, seq: int) -> FireResult | None:
    """What the event at position ``seq`` (from 1) of ``order``'s history returned when it was
    applied: its history is replayed from the order's creation through the machine, which
    decides the same way every time. ``None`` if the replay does not give back the stored
    history."""
    if not 1 <= seq <= len(order.history):
        return None
    try:
        again, results = replay(order, upto=seq)
    except OrderError:
        return None
    made = len(again.notifications)
    if again.history != order.history[:seq] or again.notifications != order.notifications[:made]:
        return None
    return results[-1]


@attrs.frozen
class Explained:
    """Whether ``event`` would be accepted at ``at``: ``refusal`` is what firing it would raise
    (``None``: it would be accepted)."""

    order_id: str
    event: str
    at: dt.datetime
    refusal: EventRejected | InvalidInput | None


def explain(
    store: OrderStore,
    order_id: str,
    event: str,
    data: Mapping[str, object],
    *,
    at: dt.datetime,
    event_id: str | None = None,
) -> Explained:
    """What firing ``event`` on the stored order would do, without doing it."""
    order = store.get(order_id)
    refusal = order.explain(event, at=at, event_id=event_id, **data)
    return Explained(order.order_id, event, at, refusal)


# ------------------------------------------------------------------------------------------------
# Reading


@attrs.frozen
class Shown:
    """One order as a person reads it: the order, its row version, its log, its notifications
    and what the relay did with each."""

    order: Order
    version: int
    history: tuple[LogEntry, ...]
    notifications: tuple[NotificationRow, ...]
    deliveries: Mapping[int, Delivery]


def show(store: OrderStore, order_id: str) -> Shown:
    """Everything stored about one order."""
    loaded = store.load(order_id)
    history = store.history(order_id)
    queued = tuple(store.notifications(order_id))
    tried = store.deliveries([n.notification_id for n in queued])
    return Shown(loaded.order, loaded.version, history, queued, tried)


@attrs.frozen
class Page:
    """One page of a listing, and the cursor of the next (``None``: the last page)."""

    orders: tuple[OrderRow, ...]
    next_cursor: str | None


Direction = Literal["asc", "desc"]
"""Which way a listing runs: ``asc`` (the default) or ``desc``."""


def list_orders(
    store: OrderStore,
    *,
    state: str | None = None,
    due_before: dt.datetime | None = None,
    sort: SortKey | None = None,
    order: Direction = "asc",
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """A page of orders from the store's indexes: in ``state``, due at or before
    ``due_before``, sorted by ``sort`` (:data:`~statemachine.store.SortKey`: ``id`` by
    default, ``deadline``, soonest first, with ``due_before``) in ``order``, after the page
    ``cursor`` ends (keyset paging: stable while orders change). A cursor holds its sort and
    direction: one given out for another is refused (:class:`InvalidInput` naming
    ``cursor``)."""
    limit = _page_size(limit)
    if order not in _DIRECTIONS:
        raise InvalidInput(f"order must be asc or desc, got {order!r}", field="order")
    if sort is None:
        sort = "deadline" if due_before is not None else "id"
    if sort not in SORT_KEYS:
        raise InvalidInput(
            f"sort must be one of {', '.join(SORT_KEYS)}, got {sort!r}", field="sort"
        )
    after = None if cursor is None else _listing_after(cursor, sort, order, due_before)
    rows = store.orders(
        state=state,
        due_before=due_before,
        sort=sort,
        descending=order == "desc",
        after=after,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        value = _cursor_value(last.sort_value(sort))
        next_cursor = _encode_cursor(["orders", sort, order, value, last.order_id])
    return Page(tuple(rows), next_cursor)


def find_orders(
    store: OrderStore, text: str, *, cursor: str | None = None, limit: int = 50
) -> Page:
    """A page of the orders ``text`` finds (:meth:`SQLStore.search
    <statemachine.store.SQLStore.search>`: a prefix of the id or of its number, case and the
    spaces around it aside; a tracking number; an amount, in a currency if named), in the
    order of their ids case-folded, after the page ``cursor`` ends."""
    limit = _page_size(limit)
    after = None if cursor is None else _id_after(cursor, "search")
    rows = store.search(text, limit=limit + 1, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(["search", rows[-1].order_id]) if more else None
    return Page(tuple(rows), next_cursor)


@attrs.frozen
class AttentionPage:
    """One page of the orders that need a person, and the cursor of the next (``None``: the
    last page)."""

    orders: tuple[Attention, ...]
    next_cursor: str | None


def needs_attention(
    store: OrderStore,
    now: dt.datetime,
    *,
    reasons: Iterable[Reason] | None = None,
    sweep_grace: dt.timedelta | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> AttentionPage:
    """A page of the orders that need a person at ``now``, each with why (a repayment
    overdue under R4, an incident under R1 or R7, a dead letter, a clock deadline the sweep
    has not fired under R12 or R4, an event dated after ``now`` under R16), by order id,
    after the page ``cursor`` ends (:meth:`SQLStore.attention
    <statemachine.store.SQLStore.attention>`). ``reasons`` keeps only those
    (:data:`~statemachine.store.Reason`); ``sweep_grace`` leaves out a deadline passed less
    than that long ago (the sweep's next round)."""
    limit = _page_size(limit)
    after = None if cursor is None else _id_after(cursor, "attention")
    found = store.attention(
        now, reasons=reasons, sweep_grace=sweep_grace, limit=limit + 1, after=after
    )
    more = len(found) > limit
    found = found[:limit]
    next_cursor = _encode_cursor(["attention", found[-1].order.order_id]) if more else None
    return AttentionPage(tuple(found), next_cursor)


_DIRECTIONS: Final = ("asc", "desc")
_AMOUNT_VALUE: Final = re.compile(r"[0-9]{1,40}(?:\.[0-9]{1,4})?")


def _page_size(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_PAGE}", field="limit")
    return limit


def _cursor_value(value: object) -> str | None:
    """A row's sort value as a cursor holds it: text (a moment in UTC, an amount, a state)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return str(value)  # an amount


def _encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: object) -> Any:
    """The key a cursor of this service holds; :class:`InvalidInput` for anything else."""
    if not isinstance(cursor, str) or len(cursor) > 4 * MAX_ID_LENGTH + 200:
        raise _NOT_OURS
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _NOT_OURS from None


_NOT_OURS: Final = InvalidInput("cursor is not one this service gave out", field="cursor")


def _id_after(cursor: str, listing: str) -> str:
    """The order id a search's or the attention list's cursor ends after."""
    key = _decode_cursor(cursor)
    if not (isinstance(key, list) and len(key) == 2 and isinstance(key[1], str)):
        raise _NOT_OURS
    if key[0] != listing:
        raise InvalidInput(
            f"cursor is the next page of another listing, not of this {listing}", field="cursor"
        )
    return key[1]


def _listing_after(
    cursor: str, sort: str, order: str, due_before: dt.datetime | None
) -> tuple[object, str]:
    """Where a listing's cursor says the previous page ended: (its last row's sort value, its
    order id). A cursor of the release before sorts (``[due_at, order_id]``) still reads, for
    the listing it was given for."""
    key = _decode_cursor(cursor)
    if isinstance(key, list) and len(key) == 2:  # before sorts: by deadline or by id
        key = ["orders", "deadline" if due_before is not None else "id", "asc", *key]
    if not (isinstance(key, list) and len(key) == 5 and key[0] == "orders"):
        raise _NOT_OURS
    _, given_sort, given_order, value, order_id = key
    if (given_sort, given_order) != (sort, order):
        raise InvalidInput(
            f"cursor is the next page of the listing sorted by {given_sort} {given_order}, not "
            f"by {sort} {order}",
            field="cursor",
        )
    if not isinstance(order_id, str) or not (value is None or isinstance(value, str)):
        raise _NOT_OURS
    if value is None or sort in ("id", "state"):
        return value, order_id
    if sort == "amount":
        if not _AMOUNT_VALUE.fullmatch(value):
            raise _NOT_OURS
        return Decimal(value), order_id
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _NOT_OURS from None
    if moment.utcoffset() is None:
        raise _NOT_OURS
    return moment, order_id


# ------------------------------------------------------------------------------------------------
# The clock


def sweep_all(
    store: OrderStore,
    now: dt.datetime,
    limit: int,
    *,
    stopping: Callable[[], bool] = lambda: False,
) -> Swept:
    """Sweep at ``now`` in transactions of ``limit`` orders until a batch comes back short:
    every clock event due at ``now`` fired (R12, R4), every order passed over reported once.
    ``stopping`` is asked between transactions: once it says so, what was fired is kept and
    the rest waits for the next sweep."""
    applied: list[Applied] = []
    skipped: dict[str, Any] = {}
    while True:
        swept = store.sweep(now, limit)
        applied += swept
        for passed in swept.skipped:
            skipped.setdefault(passed.order_id, passed)
        if len(swept) < limit or stopping():
            return Swept(applied, skipped.values())


# ------------------------------------------------------------------------------------------------
# Notifications


@attrs.frozen
class RelayPolicy:
    """How a relay delivers and retries.

    ``attempts`` tries before a dead letter, waiting an exponential ``backoff`` (seconds,
    doubled each try, with jitter) of at most ``backoff_max`` between two. The defaults
    (:data:`RELAY_DEFAULTS`) spread 24 tries over about three days, as payment providers do
    for their webhooks, so a receiver that is down over a weekend still gets everything.
    ``timeout`` is the most one delivery may take, all of it (connecting, sending, a receiver
    that answers one byte at a time); ``concurrency`` how many deliveries run at once (across
    orders: one order's notifications go out one after the other, in the order they were
    queued). A claimed notification is held for :attr:`lease`, longer than a delivery and its
    record take, so no other relay sends it meanwhile."""

    attempts: int = 24
    backoff: float = 60.0
    backoff_max: float = 21600.0
    timeout: float = 10.0
    concurrency: int = 8

    @property
    def lease(self) -> dt.timedelta:
        """How long a relay holds a notification it claimed: twice the delivery's timeout
        and half a minute for recording what came of it."""
        return dt.timedelta(seconds=2 * self.timeout + 30)

    def expected_span(self) -> float:
        """Seconds from the first try to the last, on average (jitter takes each wait to
        between half and all of its ceiling): how long a receiver may be away before a
        notification becomes a dead letter."""
        return sum(
            0.75 * min(self.backoff_max, self.backoff * 2.0 ** min(k, 62))
            for k in range(self.attempts - 1)
        )


RELAY_DEFAULTS: Final = RelayPolicy()
"""24 tries over about three days (:meth:`RelayPolicy.expected_span`), 10 s per delivery,
8 at once."""


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempts``-th failed try: exponential, capped, with jitter
    (between half and all of ``base * 2 ** (attempts - 1)``), so retries do not come in
    waves."""
    exponent = min(max(attempts - 1, 0), 62)
    ceiling = min(cap, base * 2.0**exponent)
    return ceiling * random.uniform(0.5, 1.0)


@attrs.frozen
class Answer:
    """What came of one delivery: whether the receiver took the notification, and what it
    answered (``"HTTP 204"``) or what went wrong (``"ConnectError: ..."``)."""

    delivered: bool
    said: str


Send = Callable[["OutboxItem"], Awaitable[Answer]]
"""Deliver one notification, and say what came of it."""
RelayOutcome = Literal["sent", "failed", "dead", "skipped"]


async def relay_batch(
    store: AsyncStore,
    send: Send,
    policy: RelayPolicy,
    *,
    owner: str,
    now: Callable[[], dt.datetime],
    stopping: Callable[[], bool] = lambda: False,
) -> dict[RelayOutcome, int]:
    """One round: claim up to ``policy.concurrency`` notifications due now
    (:meth:`claim <statemachine.store.SQLStore.claim>`, held under ``owner``'s lease), deliver
    them at once, each cut at ``policy.timeout``, and record each try
    (:func:`relay_one`). How many notifications had each outcome."""
    counts: dict[RelayOutcome, int] = {"sent": 0, "failed": 0, "dead": 0, "skipped": 0}
    if stopping():
        return counts
    items = await store.claim(owner, now(), policy.lease, policy.concurrency)
    if not items:
        return counts
    known = await store.deliveries([item.id for item in items])

    async def one(item: OutboxItem) -> None:
        outcome = await relay_one(store, item, known.get(item.id), send, policy, owner, now)
        counts[outcome] += 1

    async with anyio.create_task_group() as tasks:
        for item in items:
            tasks.start_soon(one, item)
    return counts


async def relay_one(
    store: AsyncStore,
    item: OutboxItem,
    record: Delivery | None,
    send: Send,
    policy: RelayPolicy,
    owner: str,
    now: Callable[[], dt.datetime],
) -> RelayOutcome:
    """Deliver one claimed notification (``record``: what was done with it before), cut at
    ``policy.timeout``, and record the try under ``owner`` (which ends its lease). Every try
    is logged with its answer. A store fault in recording is logged and left to the lease:
    the notification is tried again once the lease ends."""
    try:
        if record is not None and await _settled(store, item, record, policy, now()):
            return "skipped"
        try:
            with anyio.fail_after(policy.timeout):
                answer = await send(item)
        except TimeoutError:
            answer = Answer(False, f"no complete answer within {policy.timeout:g} s")
        return await _record(store, item, record, answer, policy, owner, now())
    except OrderError as exc:
        LOGGER.warning(
            "notification %d of order %s: its try could not be recorded (%s); it is tried "
            "again when its lease ends",
            item.id,
            item.order_id,
            exc,
        )
        return "skipped"


async def _settled(
    store: AsyncStore, item: OutboxItem, record: Delivery, policy: RelayPolicy, now: dt.datetime
) -> bool:
    """Whether ``item`` needs no try now: finished already (then ack it: a record carried over
    from schema 2, when the relay's records lived apart from the queue), or its tries used up
    under a policy with fewer than it had (a dead letter)."""
    if record.status == "retrying" and record.attempts >= policy.attempts:
        await store.give_up(item.id, now)
        LOGGER.warning(
            "notification %d of order %s is a dead letter: %d tries, the most the relay makes",
            item.id,
            item.order_id,
            record.attempts,
            extra={"order_id": item.order_id, "outcome": "dead_letter"},
        )
        record = attrs.evolve(record, status="dead")
    if record.status != "retrying":
        await store.ack([item.id])
        return True
    return False


async def _record(
    store: AsyncStore,
    item: OutboxItem,
    record: Delivery | None,
    answer: Answer,
    policy: RelayPolicy,
    owner: str,
    now: dt.datetime,
) -> RelayOutcome:
    attempts = (record.attempts if record is not None else 0) + 1
    where = {"order_id": item.order_id, "notification_id": item.id, "attempt": attempts}
    if answer.delivered:  # recorded, and out of the queue, in one transaction
        await store.record_delivery(
            item.id,
            status="acked",
            error=None,
            next_attempt_at=None,
            now=now,
            answer=answer.said,
            owner=owner,
        )
        LOGGER.info(
            "notification %d of order %s delivered on try %d: %s",
            item.id,
            item.order_id,
            attempts,
            answer.said,
            extra={**where, "outcome": "sent"},
        )
        return "sent"
    dead = attempts >= policy.attempts
    wait = backoff(attempts, policy.backoff, policy.backoff_max)
    try:
        next_at = None if dead else now + dt.timedelta(seconds=wait)
    except OverflowError:
        next_at, dead = None, True
    await store.record_delivery(
        item.id,
        status="dead" if dead else "retrying",
        error=answer.said,
        next_attempt_at=next_at,
        now=now,
        owner=owner,
    )
    if dead:
        LOGGER.warning(
            "notification %d of order %s is a dead letter after %d tries; the last: %s",
            item.id,
            item.order_id,
            attempts,
            answer.said,
            extra={**where, "outcome": "dead_letter"},
        )
        return "dead"
    assert next_at is not None
    LOGGER.warning(
        "notification %d of order %s: try %d of %d failed: %s; next try at %s",
        item.id,
        item.order_id,
        attempts,
        policy.attempts,
        answer.said,
        next_at.isoformat(timespec="seconds"),
        extra={**where, "outcome": "retrying"},
    )
    return "failed"


def redeliver(store: OrderStore, notification_ids: Iterable[int] | None = None) -> int:
    """Send dead letters again: the ones named, or every one (``None``); their tries start
    over. How many were dead letters."""
    return store.redeliver(notification_ids)
