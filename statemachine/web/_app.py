"""``create_app``: the service as one ASGI application."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any, Final

import anyio
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..errors import OrderError
from ..schema import AMOUNT_PATTERN, event_schema, order_schema
from ..store import AsyncStore
from ..table import EVENTS
from ._api import router as api_router
from ._background import Relay, Sweeper
from ._inspect import router as inspect_router
from ._problems import LOGGER, PROBLEM_JSON, problem, problem_of
from ._security import SIGNATURE_HEADER, BodyLimit
from ._service import Service
from ._settings import Settings

__all__ = ["create_app"]

_PUBLIC: Final = frozenset({"/healthz", "/readyz", "/lifecycle.svg"})
"""Paths anyone may read: the process's health and the machine's (public) table."""


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
        docs_url=None,  # the interactive pages load scripts from a CDN: not here
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.orderfsm = service
    app.include_router(api_router)
    app.include_router(inspect_router)
    app.add_middleware(BodyLimit, limit=settings.max_body)
    _handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
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
  `time`) and the facts that decided.
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


# ------------------------------------------------------------------------------------------------
# OpenAPI: the event payloads and the order from statemachine.schema

_PROBLEM_SCHEMA: Final = {
    "type": "object",
    "description": "RFC 9457 problem details, with the error's own members",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "error": {"type": "string", "description": "the error's class (EventRejected...)"},
        "rule": {"type": ["string", "null"], "description": "the rule that refused (R2...)"},
        "kind": {"enum": ["state", "data", "time", None]},
        "event": {"type": ["string", "null"]},
        "state": {"type": ["string", "null"]},
        "order_id": {"type": ["string", "null"]},
        "field": {"type": ["string", "null"]},
        "facts": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["type", "title", "status", "detail"],
}

_NEW_ORDER: Final = {
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


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for event in EVENTS:
        payload = event_schema(event)
        payload.pop("$schema", None)
        schemas[f"{event}_payload"] = payload
    order = order_schema()
    order.pop("$schema", None)
    for name, definition in order.pop("$defs", {}).items():
        schemas[name] = _refs(definition)
    schemas["Order"] = _refs(order)
    schemas["NewOrder"] = copy.deepcopy(_NEW_ORDER)
    schemas["Problem"] = copy.deepcopy(_PROBLEM_SCHEMA)
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "ORDERFSM_TOKEN writes and reads; ORDERFSM_READ_TOKEN reads",
        },
        "signature": {
            "type": "apiKey",
            "in": "header",
            "name": SIGNATURE_HEADER,
            "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of t LF METHOD LF path LF "
            "Idempotency-Key LF body>; events only, with an Idempotency-Key",
        },
    }
    problem_ref = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            operation.setdefault("security", [] if path in _PUBLIC else [{"bearer": []}])
            for status, response in operation.get("responses", {}).items():
                if status[0] in "45":
                    response["content"] = copy.deepcopy(problem_ref)
                    if status == "422":
                        response["description"] = "The request or its data is refused"
            if path not in _PUBLIC:
                responses = operation.setdefault("responses", {})
                for status, text in (("401", "No valid credentials"), ("404", "Not found")):
                    responses.setdefault(
                        status, {"description": text, "content": copy.deepcopy(problem_ref)}
                    )
    app.openapi_schema = doc
    return doc
