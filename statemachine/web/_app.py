"""``create_app``: the service as one ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any, Final

import anyio
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..errors import OrderError
from ..store import AsyncStore
from ._background import Relay, Sweeper
from ._diagrams import router as diagrams
from ._docs import router as docs
from ._events import event_router
from ._events import router as events
from ._finding import router as finding
from ._health import router as health
from ._inspect import router as inspector
from ._metrics import observe
from ._metrics import router as metrics
from ._migrations import router as migrations
from ._notifications import router as notifications
from ._openapi import install as install_openapi
from ._openapi import webhooks
from ._orders import router as orders
from ._problems import LOGGER, PROBLEM_JSON, problem, problem_of
from ._security import SIGNATURE_HEADER, BodyLimit
from ._service import Service
from ._settings import Settings

__all__ = ["create_app"]

_ROUTERS: Final = (
    health,
    orders,
    events,
    notifications,
    migrations,
    diagrams,
    docs,
    finding,
    inspector,
    metrics,
)
"""One router per resource: the service's health, orders, events, notifications, diagrams,
the documentation page, the inspector and the metrics. Requests are matched against them in
this order: the probes, which come most often and cost least, first."""


def create_app(store: AsyncStore, *, settings: Settings) -> FastAPI:
    """The order service as an ASGI application (FastAPI) on ``store``.

    ``store`` is an :class:`~statemachine.store.AsyncSQLiteStore` or
    :class:`~statemachine.store.AsyncPostgresStore`; the caller opened it and closes it.
    Everything the service keeps (orders, listings, the outbox and what the relay did with
    each notification) is in that store: nothing else is needed.

    The app's lifespan runs the sweeper and the outbox relay (as ``settings`` asks). Mounted
    inside another application, run its lifespan from the outer one's (Starlette does not run
    a mounted app's lifespan)::

        inner = create_app(store, settings=Settings.from_env())

        @asynccontextmanager
        async def lifespan(outer):
            async with inner.router.lifespan_context(inner):
                yield

        outer = FastAPI(lifespan=lifespan)
        outer.mount("/orderfsm", inner)
    """
    return build(store, settings, owns_store=False)


def build(store: AsyncStore, settings: Settings, *, owns_store: bool) -> FastAPI:
    """The app on an open store; ``owns_store``: close the store when the app's lifespan ends
    (the command line's server)."""
    service = Service(store, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stopping = anyio.Event()
        try:
            ended = await service.end_stale_sessions()
        except OrderError as exc:  # the store is down at the start: say so, serve anyway
            LOGGER.warning("the inspector's old sessions could not be checked: %s", exc)
        else:
            if ended:
                LOGGER.warning("ended %d inspector sessions of changed credentials", ended)
        try:
            async with anyio.create_task_group() as tasks:
                if settings.sweep_interval > 0:
                    tasks.start_soon(Sweeper(service, stopping).run)
                if settings.relay_url is not None:
                    tasks.start_soon(Relay(service, stopping).run)
                try:
                    yield
                finally:
                    stopping.set()  # each loop finishes its current item, then returns
        finally:
            if owns_store:
                await store.aclose()

    app = FastAPI(
        title="order-statemachine",
        version=version("order-statemachine"),
        summary="Dropshipping orders as a finite state machine, over HTTP",
        description=_DESCRIPTION,
        docs_url=None,  # FastAPI's pages load scripts from a CDN: /docs is _docs's
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.orderfsm = service
    for router in _ROUTERS:
        app.include_router(router)
        if router is events:  # the events' own routes: of the definitions registered now
            app.include_router(event_router())
    app.webhooks.include_router(webhooks)
    app.add_middleware(BodyLimit, limit=settings.max_body, known=service.known)
    _handlers(app)
    observe(app)  # request ids, latency and the access log, around everything above
    install_openapi(app)
    if settings.token is None and settings.read_token is None:
        LOGGER.warning(
            "neither ORDERFSM_TOKEN nor ORDERFSM_READ_TOKEN is set: only signed webhooks and "
            "the health checks get in"
        )
    return app


_DESCRIPTION: Final = f"""\
The order lifecycle (rules R1 to R16) behind an HTTP API.

* Writes need `Authorization: Bearer <ORDERFSM_TOKEN>`; reads accept that token or
  `ORDERFSM_READ_TOKEN`. Supplier webhooks may instead sign an event with
  `{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex>`, the HMAC-SHA256 of
  `t LF METHOD LF path LF Idempotency-Key LF body` under the shared webhook secret.
* `Idempotency-Key` is the event id (R15): a replay answers as the first time did, with
  `replay: true` and `Idempotent-Replayed: true`; the same key with other data is 422.
* `ETag` is the order's row version; `If-Match` applies an event only at that version (412).
* Every error is `{PROBLEM_JSON}` (RFC 9457) carrying the rule, the kind (`state`, `data`,
  `time`) and the facts that decided; `explain` gives a refusal as that same document.
* Moments are ISO 8601 with an offset, as in the order's own JSON form: those the service
  works out (deadlines, `due_at`) in the supplier's time zone, those a caller sent as sent.
* `webhooks` describes the outbox relay's signed POST of each notification.
"""


def _handlers(app: FastAPI) -> None:
    async def order_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OrderError)
        return problem_of(exc, instance=request.url.path)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return problem(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=dict(exc.headers or {}),
        )

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first: dict[str, Any] = next(iter(exc.errors()), {})
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        detail = f"{where}: {first.get('msg', 'is not valid')}"
        return problem(422, detail, name="InvalidInput", instance=request.url.path, field=where)

    async def unexpected(request: Request, exc: Exception) -> Response:
        LOGGER.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem(500, "the service failed; the operator's log says why")

    app.add_exception_handler(OrderError, order_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, unexpected)
