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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from .._observe import LOGGER
from ..declaration._records import FireResult
from ..errors import EventRejected, EventTooFarAhead, InvalidInput, OrderError, OrderExists
from ..runtime._machine import MAX_ID_LENGTH
from ..runtime._order import Order
from ..runtime._serialize import replay
from ..store import Applied, Delivery, LogEntry, NotificationRow, OrderRow, OrderStore, Swept
from ._requests import EventRequest, NewOrder

if TYPE_CHECKING:
    from ..store import AsyncStore, OutboxItem

__all__ = [
    "MAX_PAGE",
    "Created",
    "Explained",
    "Fired",
    "Page",
    "RelayPolicy",
    "Shown",
    "backoff",
    "check_not_too_far_ahead",
    "create",
    "explain",
    "fire",
    "first_result",
    "list_orders",
    "redeliver",
    "relay_batch",
    "show",
    "sweep_all",
]

MAX_PAGE: Final = 500
"""The most orders one page of :func:`list_orders` holds."""


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
) -> Created:
    """Create the order ``request`` describes; if an order with its id is stored already with
    the same amount, currency and payment time, answer with it (``replay``: sending a create
    twice is safe), else :class:`~statemachine.errors.OrderExists`. With ``now`` and
    ``max_skew``, a payment dated more than ``max_skew`` ahead is refused first
    (:class:`EventTooFarAhead`)."""
    check_not_too_far_ahead(request, now, max_skew)
    order = Order.create(request.order_id, request.amount, request.currency, request.paid_at)  # type: ignore[arg-type]
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
) -> Fired:
    """Fire ``request``'s event on its stored order, in one transaction (``store.apply``).

    With ``now`` (the receiver's clock) and ``max_skew``, an event dated more than
    ``max_skew`` after ``now`` is refused first (:class:`EventTooFarAhead`), nothing read or
    written."""
    check_not_too_far_ahead(request, now, max_skew)
    applied = store.apply(
        request.order_id,
        request.event,
        at=request.at,
        event_id=request.event_id,
        source=source,
        expected_version=expected_version,
        **request.data,
    )
    result = applied.result
    if applied.duplicate:
        result = first_result(applied.order, applied.seq) or result
    return Fired(applied, result)


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


def list_orders(
    store: OrderStore,
    *,
    state: str | None = None,
    due_before: dt.datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """A page of orders from the store's indexes: in ``state``, due at or before
    ``due_before`` (soonest first), after the page ``cursor`` ends (keyset paging: stable
    while orders change)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_PAGE}", field="limit")
    after = None if cursor is None else _decode_cursor(cursor)
    rows = store.orders(state=state, due_before=due_before, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = _encode_cursor(last.due_at if due_before is not None else None, last.order_id)
    return Page(tuple(rows), next_cursor)


def _encode_cursor(due_at: dt.datetime | None, order_id: str) -> str:
    key = [None if due_at is None else due_at.astimezone(dt.UTC).isoformat(), order_id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime | None, str]:
    bad = InvalidInput("cursor is not one this service gave out", field="cursor")
    if not isinstance(cursor, str) or len(cursor) > 4 * MAX_ID_LENGTH + 200:
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
    """How a relay retries: ``attempts`` tries before a dead letter, waiting an exponential
    ``backoff`` (seconds, doubled each try, with jitter) of at most ``backoff_max``."""

    attempts: int
    backoff: float
    backoff_max: float


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempts``-th failed try: exponential, capped, with jitter
    (between half and all of ``base * 2 ** (attempts - 1)``), so retries do not come in
    waves."""
    exponent = min(max(attempts - 1, 0), 62)
    ceiling = min(cap, base * 2.0**exponent)
    return ceiling * random.uniform(0.5, 1.0)


Send = Callable[["OutboxItem"], Awaitable[str | None]]
"""Deliver one notification; ``None`` if the receiver took it, else what went wrong."""
RelayOutcome = Literal["sent", "failed", "dead", "skipped"]


async def relay_batch(
    store: AsyncStore,
    send: Send,
    policy: RelayPolicy,
    *,
    limit: int,
    now: Callable[[], dt.datetime],
    stopping: Callable[[], bool] = lambda: False,
) -> dict[RelayOutcome, int]:
    """One pass over the head of the outbox: each notification due is sent, and what came of
    it recorded (:meth:`record_delivery <statemachine.store.SQLStore.record_delivery>`); one
    that failed ``policy.attempts`` times is a dead letter. How many notifications had each
    outcome."""
    counts: dict[RelayOutcome, int] = {"sent": 0, "failed": 0, "dead": 0, "skipped": 0}
    items = await store.outbox(limit)
    if not items:
        return counts
    known = await store.deliveries([item.id for item in items])
    for item in items:
        if stopping():
            break
        record = known.get(item.id)
        if record is not None and await _settled(store, item, record, policy, now()):
            counts["skipped"] += 1
            continue
        error = await send(item)
        counts[await _record(store, item, record, error, policy, now())] += 1
    return counts


async def _settled(
    store: AsyncStore, item: OutboxItem, record: Delivery, policy: RelayPolicy, now: dt.datetime
) -> bool:
    """Whether ``item`` needs no try now: finished already (then ack it: a record carried over
    from schema 2, when the relay's records lived apart from the queue), used up (a dead
    letter), or not due yet."""
    if record.status == "retrying" and record.attempts >= policy.attempts:
        await store.give_up(item.id, now)
        record = attrs.evolve(record, status="dead")
    if record.status != "retrying":
        await store.ack([item.id])
        return True
    return record.next_attempt_at is not None and record.next_attempt_at > now


async def _record(
    store: AsyncStore,
    item: OutboxItem,
    record: Delivery | None,
    error: str | None,
    policy: RelayPolicy,
    now: dt.datetime,
) -> RelayOutcome:
    if error is None:  # delivered: recorded, and out of the queue, in one transaction
        await store.record_delivery(
            item.id, status="acked", error=None, next_attempt_at=None, now=now
        )
        return "sent"
    attempts = (record.attempts if record is not None else 0) + 1
    dead = attempts >= policy.attempts
    wait = backoff(attempts, policy.backoff, policy.backoff_max)
    await store.record_delivery(
        item.id,
        status="dead" if dead else "retrying",
        error=error,
        next_attempt_at=None if dead else now + dt.timedelta(seconds=wait),
        now=now,
    )
    if dead:
        LOGGER.warning(
            "notification %d of order %s is a dead letter after %d tries: %s",
            item.id,
            item.order_id,
            attempts,
            error,
            extra={"order_id": item.order_id, "outcome": "dead_letter"},
        )
    return "dead" if dead else "failed"


def redeliver(store: OrderStore, notification_ids: Iterable[int] | None = None) -> int:
    """Send dead letters again: the ones named, or every one (``None``); their tries start
    over. How many were dead letters."""
    return store.redeliver(notification_ids)
