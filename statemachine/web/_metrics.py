"""Something to watch: ``GET /metrics`` in the Prometheus text format, behind read access,
and what every request leaves behind (its id, its log line, its time).

Counted as the service works, per process (:mod:`prometheus_client`):

- ``orderfsm_events_total{outcome, event, rule, kind}``: each event sent to the service, by
  ``outcome``: ``applied``, ``duplicate`` (a replay of an applied event id, R15),
  ``rejected`` (a rule refused it: its ``rule`` and ``kind``), ``invalid`` (the request could
  not be used: bad data, an unknown order, a stale ``If-Match``; ``kind`` ``time`` for an event
  dated too far ahead) or ``failed`` (the store failed, or a bug). ``event`` is one of the
  table's caller events, never what a caller typed.
- ``orderfsm_http_request_duration_seconds{route, method, status}``: a histogram of the time
  to answer, by route template (``/orders/{order_id}``, never a path: no order id is ever a
  label), method and status class (``2xx``... ``5xx``).

Read from the store at each scrape, so they are right with any number of workers and
instances:

- ``orderfsm_outbox_depth``: notifications not delivered yet (neither acknowledged nor dead);
- ``orderfsm_outbox_oldest_age_seconds``: how long ago the oldest of them happened (the moment
  of the event that gave it; 0 with none);
- ``orderfsm_dead_letters``: notifications the relay gave up on;
- ``orderfsm_sweep_lag_seconds``: how long ago the earliest clock deadline passed among the
  orders still due (0 with none): the sweep's delay, or an order it cannot fire;
- ``orderfsm_store_up``: 1 when the store can write now (the check ``/readyz`` makes), else 0,
  and then nothing else is read from it;
- ``orderfsm_store_read_errors``: the reads above this scrape could not make (a damaged row in
  the outbox...); their gauges are left out, and the log says why.

**Several workers.** ``serve(workers=N)`` with N > 1 runs prometheus_client's multiprocess
mode: it makes a new ``PROMETHEUS_MULTIPROC_DIR`` for the run, where each worker keeps its
counts, and removes it when the server stops; a scrape, whichever worker answers it, sums
every worker's files (those of a worker that died and was replaced too: a count never goes
down). One worker counts in its own memory. An application that sets
``PROMETHEUS_MULTIPROC_DIR`` itself (under gunicorn) gets the same summing.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Final

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..errors import EventRejected, NotPermitted, OrderError, RequestError
from ..store import AsyncStore, OutboxItem
from ._deps import Reader
from ._logs import ACCESS, REQUEST_ID, request_id
from ._routing import DirectRoute

__all__ = [
    "CONTENT_TYPE",
    "MULTIPROC_ENV",
    "OUTBOX_COUNTED",
    "Observe",
    "event_fired",
    "event_refused",
    "observe",
    "router",
]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text format."""
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
"""Where prometheus_client's multiprocess mode keeps each worker's counts."""
OUTBOX_COUNTED: Final = 1000
"""The most notifications a scrape reads to count the outbox, while the store has no count of
its own (``outbox_depth``): a depth of this many means at least this many."""
REQUEST_ID_HEADER: Final = "X-Request-ID"

_REGISTRY: Final = CollectorRegistry()
"""This process's counts (a scrape reads the multiprocess files instead when there are)."""
EVENTS: Final = Counter(
    "orderfsm_events",
    "Events sent to the service, by outcome (applied, duplicate, rejected, invalid, failed), "
    "event, and the rule and kind of a refusal",
    ("outcome", "event", "rule", "kind"),
    registry=_REGISTRY,
)
LATENCY: Final = Histogram(
    "orderfsm_http_request_duration_seconds",
    "Time to answer a request, by route template, method and status class",
    ("route", "method", "status"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=_REGISTRY,
)
_MULTIPROCESS: Final = values.ValueClass is not values.MutexValue
"""Whether this process's counts are in multiprocess files: prometheus_client chose so when
it was imported, from the environment (:data:`MULTIPROC_ENV`)."""
_LOGGER: Final = logging.getLogger("statemachine.web")

# -- counting events ---------------------------------------------------------------------------


def event_fired(event: str, *, duplicate: bool) -> None:
    """Count an event the store applied, or found applied already (R15)."""
    EVENTS.labels("duplicate" if duplicate else "applied", event, "", "").inc()


def event_refused(event: str, error: BaseException) -> None:
    """Count an event that was not applied, by why: ``rejected`` by a rule (its rule and
    kind), ``forbidden`` (the caller's role may not send it), ``invalid`` (any other request
    error, or a request that could not be read),
    ``failed`` (the store, or a bug)."""
    if isinstance(error, EventRejected):
        outcome = "rejected"
    elif isinstance(error, NotPermitted):  # the caller's role may not send it
        outcome = "forbidden"
    elif isinstance(error, RequestError) or (
        isinstance(error, HTTPException) and error.status_code < 500
    ):  # a body that is not JSON (400, 415), a bad If-Match (400)
        outcome = "invalid"
    else:
        outcome = "failed"
    rule = getattr(error, "rule", None) if isinstance(error, OrderError) else None
    kind = getattr(error, "kind", None) if isinstance(error, OrderError) else None
    EVENTS.labels(outcome, event, rule or "", kind or "").inc()


# -- what every request leaves behind ----------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _route(scope: Scope) -> str:
    """The template of the route that answered (``unmatched`` when none did)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _sent_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            return text
    return None


class Observe:
    """ASGI middleware: the request's id (:func:`._logs.request_id`) in :data:`._logs.REQUEST_ID`
    for every log line of the request and on its answer as ``X-Request-ID``; then its time in
    :data:`LATENCY` and its line in the access log (:data:`._logs.ACCESS`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(_sent_id(scope))
        # left set: the app's handler of unexpected errors answers outside this middleware,
        # in this task, and names the id too (each request is a task of its own)
        REQUEST_ID.set(rid)
        marked = rid.encode("ascii")
        status: int | None = None
        began = time.perf_counter()
        told = False

        def tell() -> None:
            """Record the request once: before its answer's last part leaves, so a client
            that has the answer finds it counted and logged."""
            nonlocal told
            if told:
                return
            told = True
            took = time.perf_counter() - began
            method = scope["method"]
            if status is not None:
                LATENCY.labels(_route(scope), method, f"{status // 100}xx").observe(took)
            if ACCESS.isEnabledFor(logging.INFO):
                path = scope.get("raw_path") or scope["path"].encode("utf-8")
                shown = path.decode("ascii", "backslashreplace")
                state = scope.get("state")
                actor = state.get("actor") if isinstance(state, dict) else None
                ACCESS.info(
                    "%s %s %s %.1fms%s",
                    method,
                    shown,
                    status if status is not None else "-",
                    took * 1000,
                    f" by {actor}" if actor else "",
                    extra={
                        "method": method,
                        "path": shown,
                        "status": status,
                        "duration_ms": round(took * 1000, 3),
                        "actor": actor,
                    },
                )

        async def send_marked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", ()) if k != b"x-request-id"]
                headers.append((b"x-request-id", marked))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                tell()
            await send(message)

        try:
            await self.app(scope, receive, send_marked)
        except Exception:
            if status is None:
                status = 500  # answered next, by the app's handler of unexpected errors
            raise
        finally:
            tell()


def observe(app: FastAPI) -> None:
    """Watch ``app``: :class:`Observe` outside its other middleware, and its handler of
    unexpected errors (which answers outside every middleware) giving the request id too.
    Call it once the handlers are in place."""
    app.add_middleware(Observe)
    unexpected = app.exception_handlers.get(Exception)
    if unexpected is None:
        return

    async def marked(request: Request, exc: Exception) -> Response:
        answered = unexpected(request, exc)
        response = await answered if inspect.isawaitable(answered) else answered
        rid = REQUEST_ID.get()
        if rid is not None:
            response.headers[REQUEST_ID_HEADER] = rid
        return response

    app.add_exception_handler(Exception, marked)


# -- the scrape --------------------------------------------------------------------------------


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=value)


def _age(now: dt.datetime, moment: dt.datetime | None) -> float:
    return 0.0 if moment is None else max(0.0, (now - moment).total_seconds())


async def store_gauges(store: AsyncStore, now: dt.datetime) -> list[Metric]:
    """The gauges read from the store at ``now``. ``orderfsm_store_up`` is the readiness
    check's answer (the store can write now); when it cannot, nothing else is asked (a SQLite
    file deleted under the service still answers reads, from the file nobody sees any more).
    A gauge that cannot be read is left out, counted in ``orderfsm_store_read_errors``, and the
    log says why."""
    found: list[Metric] = []
    failed: list[str] = []

    async def read(what: str, reading: Callable[[], Awaitable[None]]) -> None:
        try:
            await reading()
        except Exception as exc:  # a scrape answers whatever the store does; the log says why
            failed.append(f"{what}: {type(exc).__name__}: {exc}")

    async def outbox() -> None:
        count = getattr(store, "outbox_depth", None)
        queued_at = getattr(store, "oldest_pending_at", None)
        head: list[OutboxItem] | None = None
        if count is not None:
            depth: int = await count()
        else:  # counted from the queue itself, up to OUTBOX_COUNTED
            head = await store.outbox(limit=OUTBOX_COUNTED)
            depth = len(head)
        oldest: dt.datetime | None = None if queued_at is None else await queued_at()
        if oldest is None and depth:  # no time of queueing: the moment of the event instead
            if head is None:
                head = await store.outbox(limit=1)
            oldest = min((item.notification.at for item in head), default=None)
        found.append(
            _gauge(
                "orderfsm_outbox_depth",
                "Notifications not delivered yet (neither acknowledged nor dead letters)",
                depth,
            )
        )
        found.append(
            _gauge(
                "orderfsm_outbox_oldest_age_seconds",
                "Seconds since the oldest notification not delivered yet happened",
                _age(now, oldest),
            )
        )

    async def dead() -> None:
        found.append(
            _gauge(
                "orderfsm_dead_letters",
                "Notifications the relay gave up on (orderfsm outbox; redeliver them)",
                await store.dead_letter_count(),
            )
        )

    async def due() -> None:
        rows = await store.orders(due_before=now, limit=1)
        found.append(
            _gauge(
                "orderfsm_sweep_lag_seconds",
                "Seconds since the earliest clock deadline passed among the orders still due",
                _age(now, rows[0].due_at if rows else None),
            )
        )

    try:
        await store.ping()
    except Exception as exc:  # not ready: the same answer as /readyz
        up = False
        why = exc.message if isinstance(exc, OrderError) else type(exc).__name__
        _LOGGER.warning("metrics: the store cannot write: %s", why)
    else:
        up = True
        await read("outbox", outbox)
        await read("dead letters", dead)
        await read("due orders", due)
        if failed:
            _LOGGER.warning("metrics: the store did not answer: %s", "; ".join(failed))
    found.append(
        _gauge("orderfsm_store_up", "1 when the order store can write now (as /readyz)", int(up))
    )
    found.append(
        _gauge(
            "orderfsm_store_read_errors",
            "Reads of the store this scrape could not make (their gauges are left out)",
            len(failed),
        )
    )
    return found


class _Read:
    """A collector of metrics read already."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self.metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        return self.metrics


def exposition(gauges: Iterable[Metric]) -> bytes:
    """The text format of the counts (every worker's, summed, in multiprocess mode) and
    ``gauges``."""
    scrape = CollectorRegistry()
    if _MULTIPROCESS:
        summing: Any = MultiProcessCollector  # untyped in prometheus_client
        summing(scrape)
    else:
        scrape.register(_REGISTRY)
    scrape.register(_Read(gauges))
    return generate_latest(scrape)


router = APIRouter(tags=["service"], route_class=DirectRoute)


@router.get("/metrics", include_in_schema=False)
async def metrics(service: Reader) -> Response:
    """The service's metrics in the Prometheus text format, for a caller that may read.

    Left out of ``/openapi.json``: Prometheus scrapes it, no API client calls it, and the
    document describes the API's operations (``tests/web/test_web_openapi.py`` holds them to
    a fixed list)."""
    now = dt.datetime.now(dt.UTC)
    body = exposition(await store_gauges(service.store, now))
    return Response(body, media_type=CONTENT_TYPE)
