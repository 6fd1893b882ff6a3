"""What the JSON API answers: each 2xx body, built from the package's own JSON forms.

Every body here is one of the schemas ``/openapi.json`` publishes (:mod:`._openapi`); the web
tests validate real answers against the served document. Moments are ISO 8601 with an
offset, as in the order's own JSON form: those the service works out (deadlines, ``due_at``)
in the supplier's time zone, those a caller sent with the offset it sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.responses import JSONResponse

from ..application import Fired
from ..declaration._jsonform import to_json
from ..errors import EventRejected, InvalidInput
from ..runtime._order import Order
from ..store import Attention, Loaded, LogEntry, OrderRow
from ._problems import problem_document

__all__ = [
    "JSONAnswer",
    "attention_page",
    "etag",
    "event_applied",
    "explanation",
    "history",
    "order_created",
    "order_page",
    "order_read",
]


def etag(version: int) -> str:
    """The ``ETag`` of an order's row version."""
    return f'"{version}"'


class JSONAnswer(JSONResponse):
    """A JSON answer written by orjson: the very text Starlette's :class:`JSONResponse` writes
    (compact, UTF-8, nothing escaped that need not be) for the service's bodies, which hold
    text, whole numbers, booleans and nulls, in a tenth of the time (``tests/web`` compares
    the two on every kind of answer)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _json(data: object, status: int = 200, headers: dict[str, str] | None = None) -> JSONAnswer:
    return JSONAnswer(data, status_code=status, headers=headers)


def order_created(order: Order, version: int, *, replay: bool, location: str) -> JSONAnswer:
    """``OrderCreated``, 201: the order, its version (also its ``ETag``) and its address;
    ``replay`` (and ``Idempotent-Replayed``) when the same order was created before."""
    headers = {"ETag": etag(version), "Location": location}
    if replay:
        headers["Idempotent-Replayed"] = "true"
    return _json({"version": version, "replay": replay, "order": order.to_dict()}, 201, headers)


def order_read(loaded: Loaded) -> JSONAnswer:
    """``VersionedOrder``: the stored order and its row version, which is its ``ETag``."""
    return _json(
        {"version": loaded.version, "order": loaded.order.to_dict()},
        headers={"ETag": etag(loaded.version)},
    )


def order_page(rows: Sequence[OrderRow], next_cursor: str | None) -> JSONAnswer:
    """``OrderPage``: listing rows in their JSON form (moments in each order's supplier's
    time zone, named by ``timezone``) and the cursor of the next page."""
    return _json({"orders": [to_json(row) for row in rows], "next_cursor": next_cursor})


def attention_page(found: Sequence[Attention], next_cursor: str | None) -> JSONAnswer:
    """``AttentionPage``: each order that needs a person (its listing row) with its reasons,
    and the cursor of the next page."""
    return _json({"orders": [a.to_dict() for a in found], "next_cursor": next_cursor})


def history(order_id: str, entries: Sequence[LogEntry]) -> JSONAnswer:
    """``History``: the order's log, oldest first."""
    return _json({"order_id": order_id, "entries": [e.to_dict() for e in entries]})


def event_applied(fired: Fired, event: str, event_id: str | None) -> JSONAnswer:
    """``EventApplied``: the same for every replay of the event (R15), but for ``replay`` and
    the order as it is now (the first answer's result: :func:`statemachine.application.fire`)."""
    applied, result = fired.applied, fired.result
    body = {
        "order_id": applied.order.order_id,
        "event": event,
        "event_id": event_id,
        "seq": applied.seq,
        "replay": applied.duplicate,
        "result": result.to_dict(),
        "version": applied.version,
        "order": applied.order.to_dict(),
    }
    headers = {"ETag": etag(applied.version)}
    if applied.duplicate:
        headers["Idempotent-Replayed"] = "true"
    return _json(body, headers=headers)


def explanation(
    order_id: str,
    event: str,
    at: dt.datetime,
    refusal: EventRejected | InvalidInput | None,
    *,
    instance: str | None,
) -> JSONAnswer:
    """``Explanation``: whether ``event`` would be accepted at ``at``; if not, ``refusal`` is
    the very problem document sending it would answer (``instance``: where it would go)."""
    return _json(
        {
            "order_id": order_id,
            "event": event,
            "at": at.isoformat(),
            "allowed": refusal is None,
            "refusal": None if refusal is None else problem_document(refusal, instance=instance),
        }
    )
