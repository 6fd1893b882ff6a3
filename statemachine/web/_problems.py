"""Errors as RFC 9457 problem documents (``application/problem+json``).

An :class:`~statemachine.errors.OrderError` becomes a problem carrying what its ``to_dict()``
says (``rule``, ``kind``, ``facts``, ``field``...), with the status its meaning calls for:

============================================  ======
error                                         status
============================================  ======
``EventRejected`` of kind ``state`` or time   409
``EventRejected`` of kind ``data``            422
``InvalidInput`` (also R15's reused key)      422
``UnknownOrder``                              404
``OrderExists``                               409
``VersionConflict`` (``If-Match``)            412
``ConcurrentUpdate``                          503, ``Retry-After``
``StoreUnavailable``, ``SchemaVersionError``  503
``GraphvizMissing`` (an SVG without ``dot``)  503
``CorruptOrder``                              500
============================================  ======

Anything else is a 500 that says only that: no stack trace and no SQL ever leave the service
(they go to the ``statemachine.web`` logger).
"""

from __future__ import annotations

import logging
from typing import Any, Final

from starlette.responses import JSONResponse

from ..errors import (
    ConcurrentUpdate,
    CorruptOrder,
    EventRejected,
    GraphvizMissing,
    InvalidInput,
    OrderError,
    OrderExists,
    SchemaVersionError,
    StoreUnavailable,
    UnknownOrder,
    VersionConflict,
)

__all__ = ["LOGGER", "PROBLEM_JSON", "problem", "problem_of", "status_of"]

PROBLEM_JSON: Final = "application/problem+json"
LOGGER: Final = logging.getLogger("statemachine.web")

_TITLES: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def status_of(error: OrderError) -> int:
    """The HTTP status of an error of the package."""
    if isinstance(error, EventRejected):
        return 422 if error.kind == "data" else 409
    if isinstance(error, UnknownOrder):
        return 404
    if isinstance(error, OrderExists):
        return 409
    if isinstance(error, CorruptOrder):
        return 500
    if isinstance(error, InvalidInput):
        return 422
    if isinstance(error, VersionConflict):
        return 412
    if isinstance(
        error, ConcurrentUpdate | StoreUnavailable | SchemaVersionError | GraphvizMissing
    ):
        return 503
    return 500


def _type_uri(name: str) -> str:
    return f"urn:orderfsm:problem:{name}"


def problem(
    status: int,
    detail: str,
    *,
    name: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem document; ``name`` makes its ``type`` (``urn:orderfsm:problem:<name>``),
    ``extra`` its extension members."""
    body: dict[str, Any] = {
        "type": _type_uri(name) if name else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_of(error: OrderError, *, instance: str | None = None) -> JSONResponse:
    """The problem document of an error of the package: its ``to_dict()`` members (``rule``,
    ``kind``, ``facts``, ``field``...) beside ``type``, ``title``, ``status`` and ``detail``."""
    status = status_of(error)
    members = error.to_dict()
    name = str(members.pop("type"))
    detail = str(members.pop("message"))
    headers = {"Retry-After": "1"} if isinstance(error, ConcurrentUpdate) else None
    if isinstance(error, VersionConflict):
        members.update(expected_version=error.expected, current_version=error.found)
        headers = {"ETag": f'"{error.found}"'}
    if isinstance(error, StoreUnavailable | SchemaVersionError):
        # They name a file path or a database: for the operator's log, not for clients.
        LOGGER.error("%s: %s", name, detail)
        detail = "the order store is unavailable; try again later"
        members = {"rule": None, "kind": None, "facts": {}}
    elif status == 500 or isinstance(error, GraphvizMissing):
        LOGGER.error("%s: %s", name, detail)
    return problem(
        status, detail, name=name, instance=instance, headers=headers, error=name, **members
    )
