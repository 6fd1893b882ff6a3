"""Errors as RFC 9457 problem documents (``application/problem+json``).

An :class:`~statemachine.errors.OrderError` becomes a problem with the status its branch of the
tree calls for. A :class:`~statemachine.errors.RequestError` carries what its ``to_dict()`` says
(``rule``, ``kind``, ``facts``, ``field``...) back to the caller, with a 4xx of its class:

================================================  ======
error                                             status
================================================  ======
``EventRejected`` of kind ``state`` or ``time``   409
``EventRejected`` of kind ``data``                422
``InvalidInput`` (also R15's reused key)          422
``UnknownOrder``                                  404
``OrderExists``                                   409
``VersionConflict`` (``If-Match``)                412, ``ETag``
``NotPermitted`` (the caller's role)              403
================================================  ======

A :class:`~statemachine.errors.StoreFault` is for the operator: its full message (a path, a
column value, a database's answer) goes to the ``statemachine.web`` logger at ERROR, and the
caller reads only that the store failed, with the ``order_id`` where there is one:

================================================  ======
error                                             status
================================================  ======
``StoreUnavailable``                              503, ``Retry-After: 5``
``ConcurrentUpdate``                              503, ``Retry-After: 1``
``CorruptOrder``, ``SchemaVersionError``          500
================================================  ======

``GraphvizMissing`` (an SVG without ``dot``) is 503 naming how to install it; ``TableError``
and anything else is a 500. No stack trace and no SQL ever leave the service (they go to the
``statemachine.web`` logger).
"""

from __future__ import annotations

import logging
from typing import Any, Final

from starlette.responses import JSONResponse

from .._text import printable, printable_lines
from ..errors import (
    ConcurrentUpdate,
    CorruptOrder,
    EventRejected,
    GraphvizMissing,
    InvalidInput,
    NotPermitted,
    OrderError,
    OrderExists,
    RequestError,
    SchemaVersionError,
    StoreFault,
    StoreUnavailable,
    UnknownOrder,
    VersionConflict,
)

__all__ = [
    "LOGGER",
    "PROBLEM_JSON",
    "document",
    "problem",
    "problem_document",
    "problem_of",
    "status_of",
]

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


_REQUEST_STATUS: Final[tuple[tuple[type[RequestError], int], ...]] = (
    (InvalidInput, 422),
    (UnknownOrder, 404),
    (OrderExists, 409),
    (VersionConflict, 412),
    (NotPermitted, 403),
)
"""The status of each request error but a refusal, whose status depends on its kind."""

_RETRY_AFTER: Final[tuple[tuple[type[StoreFault], str], ...]] = (
    (ConcurrentUpdate, "1"),  # other writers: the next try is likely to win
    (StoreUnavailable, "5"),  # a database restarting, a disk remounted
)
"""The store faults that trying again may cure (503), with the seconds to wait first; every
other store fault needs the operator (500)."""


def status_of(error: OrderError) -> int:
    """The HTTP status of an error of the package: a 4xx for a request error, a 5xx for a
    store fault (503 where trying again may help)."""
    if isinstance(error, EventRejected):
        return 422 if error.kind == "data" else 409
    if isinstance(error, RequestError):
        return next((status for cls, status in _REQUEST_STATUS if isinstance(error, cls)), 400)
    if isinstance(error, StoreFault):
        return 503 if _retry_after(error) else 500
    if isinstance(error, GraphvizMissing):
        return 503
    return 500


def _retry_after(error: StoreFault) -> str | None:
    return next((seconds for cls, seconds in _RETRY_AFTER if isinstance(error, cls)), None)


def _store_detail(error: StoreFault) -> str:
    """What a caller is told of a store fault: nothing of the row, the path or the SQL."""
    if isinstance(error, CorruptOrder):
        return (
            f"the stored order {error.order_id!r} is damaged and cannot be read; the "
            "operator's log says why"
        )
    if isinstance(error, ConcurrentUpdate):
        return (
            "other writers held the order store; nothing was written, and it is safe to send "
            "the request again"
        )
    if isinstance(error, SchemaVersionError):
        return (
            "the order store was written by a newer release of this service; the operator's "
            "log says why"
        )
    return "the order store is unavailable; try again later"


def _type_uri(name: str) -> str:
    return f"urn:orderfsm:problem:{name}"


def document(
    status: int,
    detail: str,
    *,
    name: str | None = None,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A problem document as a JSON object; ``name`` makes its ``type``
    (``urn:orderfsm:problem:<name>``), ``extra`` its extension members."""
    body: dict[str, Any] = {
        "type": _type_uri(name) if name else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": printable_lines(detail),
    }
    if instance is not None:
        body["instance"] = printable(instance)
    # what a caller sent comes back written out: no ESC or direction override reaches the
    # terminal or page that shows the problem
    body.update({k: printable(v) if isinstance(v, str) else v for k, v in extra.items()})
    return body


def problem(
    status: int,
    detail: str,
    *,
    name: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem document answered with its status (see :func:`document`)."""
    body = document(status, detail, name=name, instance=instance, **extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_document(error: OrderError, *, instance: str | None = None) -> dict[str, Any]:
    """The problem document of an error of the package, as a JSON object: the very body
    :func:`problem_of` answers (``explain`` gives a refusal this way)."""
    return _problem(error, instance)[0]


def problem_of(error: OrderError, *, instance: str | None = None) -> JSONResponse:
    """The problem document of an error of the package: its ``to_dict()`` members (``rule``,
    ``kind``, ``facts``, ``field``...) beside ``type``, ``title``, ``status`` and ``detail``.
    A store fault keeps only its ``order_id``; its message goes to the log instead."""
    body, headers = _problem(error, instance)
    return JSONResponse(body, status_code=body["status"], headers=headers, media_type=PROBLEM_JSON)


def _problem(
    error: OrderError, instance: str | None
) -> tuple[dict[str, Any], dict[str, str] | None]:
    status = status_of(error)
    members = error.to_dict()
    name = str(members.pop("type"))
    detail = str(members.pop("message"))
    headers: dict[str, str] | None = None
    if isinstance(error, VersionConflict):
        members.update(expected_version=error.expected, current_version=error.found)
        headers = {"ETag": f'"{error.found}"'}
    elif isinstance(error, StoreFault):
        LOGGER.error("%s: %s", name, detail)
        detail = _store_detail(error)
        members = {key: None for key in members} | {"facts": {}, "order_id": members["order_id"]}
        seconds = _retry_after(error)
        headers = {"Retry-After": seconds} if seconds else None
    elif status == 500 or isinstance(error, GraphvizMissing):
        LOGGER.error("%s: %s", name, detail)
    body = document(status, detail, name=name, instance=instance, error=name, **members)
    return body, headers
