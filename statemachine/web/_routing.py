"""How a request reaches its endpoint: :class:`DirectRoute`, the route class of every router.

FastAPI hands each route's declared inputs (its dependencies, path and header parameters) to
the endpoint through one generic algorithm that validates every value with pydantic. On
``GET /orders/{id}`` that costs about 80 µs a request (FastAPI 0.165 on the bench's machine,
``bench/bench_wrk.py``), more than reading the order from the store. Yet most of the service's
routes declare only inputs that need no validation: path parameters and optional headers, which
are text as they arrive, and dependencies that take the request (the credential checks of
:mod:`._deps`). For such a route :class:`DirectRoute` reads them from the request and calls
the dependencies and the endpoint itself: the same calls, in the order FastAPI makes them
(dependencies first, each solved once per request), with the same values, raising the same
exceptions, so the answers are the same. The declarations are FastAPI's as before, so
``/openapi.json`` describes every route from them.

A route with any other kind of input (a query parameter, a body model, a cookie, a dependency
with ``yield`` or a synchronous one, security scopes, a websocket) keeps FastAPI's own
handler, and so does every request while the application has dependency overrides or
FastAPI's telemetry is recording, so neither misses a thing.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

try:  # FastAPI's own telemetry (recent releases)
    from fastapi.telemetry import get_telemetry_data
except ImportError:  # pragma: no cover - older FastAPI records no telemetry of its own
    get_telemetry_data = None  # type: ignore[assignment]
try:  # where recent releases keep the route as a router includes it (its dependencies too)
    from fastapi.routing import _effective_route_context_var as _included
except ImportError:  # pragma: no cover - older FastAPI copies included routes instead
    _included = None  # type: ignore[assignment]

__all__ = ["DirectRoute"]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Step = Callable[[Request, dict[Any, Any]], Awaitable[tuple[str, Any]]]
"""Reads one input of an endpoint or dependency: its name and its value, given the request
and the dependencies solved so far in this request."""

_TEXT: Final = (str, str | None)


def _async(call: Any) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 - an instance with an async __call__
    )


def _path_step(name: str, key: str) -> Step:
    async def step(request: Request, solved: dict[Any, Any]) -> tuple[str, Any]:
        return name, request.path_params[key]

    return step


def _header_step(name: str, key: str) -> Step:
    async def step(request: Request, solved: dict[Any, Any]) -> tuple[str, Any]:
        return name, request.headers.get(key)

    return step


def _request_step(name: str) -> Step:
    async def step(request: Request, solved: dict[Any, Any]) -> tuple[str, Any]:
        return name, request

    return step


def _dependency_step(name: str, call: Any, steps: list[Step], cached: bool) -> Step:
    async def step(request: Request, solved: dict[Any, Any]) -> tuple[str, Any]:
        if cached and call in solved:
            return name, solved[call]
        kwargs = dict([await s(request, solved) for s in steps])
        value = await call(**kwargs)
        if cached:
            solved[call] = value
        return name, value

    return step


def _plain_text(field: Any) -> bool:
    """Whether a parameter is text that FastAPI would pass on as it came: ``str`` or
    ``str | None``, no constraint, no other alias mechanism."""
    info = field.field_info
    return (
        info.annotation in _TEXT
        and not info.metadata
        and getattr(info, "validation_alias", None) in (None, field.alias)
        and not getattr(field, "config", None)
    )


def _steps(dependant: Dependant) -> list[Step] | None:
    """How to read what ``dependant`` declares straight from the request, in FastAPI's order;
    ``None`` when it declares anything that needs FastAPI's solver."""
    if (
        dependant.query_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
    ):
        return None
    steps: list[Step] = []
    for sub in dependant.dependencies:
        call = sub.call
        if (
            call is None
            or sub.name is None
            or not _async(call)
            or getattr(sub, "own_oauth_scopes", None)
            or getattr(sub, "parent_oauth_scopes", None)
            or getattr(sub, "security_scopes", None)
        ):
            return None
        inner = _steps(sub)
        if inner is None:
            return None
        steps.append(_dependency_step(sub.name, call, inner, sub.use_cache))
    for field in dependant.path_params:
        if not (_plain_text(field) and field.field_info.is_required()):
            return None
        steps.append(_path_step(field.name, field.alias))
    for field in dependant.header_params:
        info = field.field_info
        if not (
            _plain_text(field)
            and isinstance(info, params.Header)
            and not info.is_required()
            and field.default is None
            and field.alias != field.name  # named explicitly, as sent
        ):
            return None
        steps.append(_header_step(field.name, field.alias))
    for name in (dependant.http_connection_param_name, dependant.request_param_name):
        if name:
            steps.append(_request_step(name))
    return steps


class DirectRoute(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` that calls its endpoint with inputs read straight
    from the request when they need no validation (see the module's docstring); FastAPI's
    handler otherwise."""

    def get_route_handler(self) -> Handler:
        generic = super().get_route_handler()
        dependant = self.dependant
        context = None if _included is None else _included.get()
        if context is not None and getattr(context, "original_route", None) is self:
            dependant = context.dependant  # as included: the includer's dependencies too
        endpoint = dependant.call
        steps = _steps(dependant)
        if steps is None or not inspect.iscoroutinefunction(endpoint):
            return generic

        async def handler(request: Request) -> Response:
            if getattr(request.app, "dependency_overrides", None) or (
                get_telemetry_data is not None and get_telemetry_data() is not None
            ):
                return await generic(request)
            solved: dict[Any, Any] = {}
            kwargs = dict([await step(request, solved) for step in steps])
            response = await endpoint(**kwargs)
            if not isinstance(response, Response):  # FastAPI would serialise it; ours never ask
                raise TypeError(f"{endpoint.__name__} must return a Response")
            return response

        return handler
