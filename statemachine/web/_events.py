"""The events: one route per caller event of the machine's table, and ``explain``, which says
what sending one would answer without sending it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from starlette.requests import Request
from starlette.responses import Response

from ..application import check_not_too_far_ahead, fire, parse_moment
from ..application import explain as explain_event
from ..declaration._definition import caller_events, event_spec
from ..errors import InvalidInput
from ._answers import event_applied, explanation
from ._deps import Reader, SenderDep, event_sender
from ._metrics import event_fired, event_refused
from ._openapi import JSON, answer, problems, ref
from ._parsing import check_id, event_request, expected_version, explain_request, json_object
from ._problems import problem
from ._routing import DirectRoute

__all__ = ["event_router", "operation_id", "router"]

router = APIRouter(tags=["events"], route_class=DirectRoute)
"""``explain``; the events' own routes are :func:`event_router`'s."""


def operation_id(event: str) -> str:
    """The operationId of an event's route: ``fire`` and the event in camel case
    (``fireOpenClaim``)."""
    return "fire" + "".join(word.capitalize() for word in event.split("_"))


@router.get(
    "/orders/{order_id}/explain/{event}",
    operation_id="explainEvent",
    summary="Would this event be accepted now?",
    responses=answer(200, "Allowed, or the refusal sending it would answer", "Explanation")
    | problems((401, 404, 422, 500, 503)),
)
async def explain(
    request: Request,
    service: Reader,
    order_id: str,
    event: str,
    at: Annotated[
        str | None, Query(description="When (ISO 8601 with an offset); now if left out")
    ] = None,
    event_id: Annotated[str | None, Query(description="The event id (R15)")] = None,
) -> Response:
    """What firing ``event`` would do, without doing it: ``allowed``, or as ``refusal`` the
    very problem document (status, rule, kind, facts) that sending it would answer. The
    event's data goes in the query string (``?reason=damaged_in_transit&amount=5.00``), read
    as a ``POST`` body is (the application layer's parser), then judged by the use case
    :func:`statemachine.application.explain`."""
    now = dt.datetime.now(dt.UTC)
    path = request.url.path
    instance = f"{path[: path.rindex('/explain/')]}/events/{event}"  # where sending it goes
    oid = check_id(order_id)
    try:
        asked = explain_request(oid, event, request.query_params.items(), now)
        check_not_too_far_ahead(asked, now, service.settings.skew)
    except InvalidInput as refused:  # sending it would be refused before the order is read
        try:
            when = now if at is None else parse_moment(at, "at")
        except InvalidInput:
            when = now
        return explanation(oid, event, when, refused, instance=instance)
    told = await service.store.run(
        explain_event, oid, event, asked.data, at=asked.at, event_id=asked.event_id
    )
    return explanation(oid, event, asked.at, told.refusal, instance=instance)


def _event_route(router: APIRouter, event: str) -> None:
    spec = event_spec(event)
    if spec is None:  # pragma: no cover - a caller event of a registered definition
        raise KeyError(event)

    async def endpoint(
        request: Request,
        sender: SenderDep,
        order_id: str,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                description="The event id (R15): a replay answers as the first time; the same "
                "key with other data is 422. Required on signed webhooks.",
            ),
        ] = None,
        if_match: Annotated[
            str | None,
            Header(
                alias="If-Match",
                description="Apply only if the order is still at this ETag (else 412)",
            ),
        ] = None,
    ) -> Response:
        try:
            data = json_object(request.headers.get("content-type"), await request.body())
            sent = event_request(check_id(order_id), event, data, idempotency_key)
            fired = await sender.service.store.run_write(
                fire,
                sent,
                source=sender.source,
                expected_version=expected_version(if_match),
                now=dt.datetime.now(dt.UTC),
                max_skew=sender.service.settings.skew,
                actor=sender.actor,
            )
        except Exception as refused:  # counted by why, then answered by the app's handlers
            event_refused(event, refused)
            raise
        event_fired(event, duplicate=fired.applied.duplicate)
        return event_applied(fired, event, sent.event_id)

    endpoint.__name__ = f"fire_{event}"
    router.add_api_route(
        f"/orders/{{order_id}}/events/{event}",
        endpoint,
        methods=["POST"],
        operation_id=operation_id(event),
        summary=event.replace("_", " ").capitalize(),
        description=f"{spec.doc} Sent by the {spec.party} (RULES.md, who sends each event): "
        "a supplier credential may send only the supplier's events.\n\nRefusals of the state "
        "or the time are 409, of the data 422 (each naming its rule, kind and facts); an "
        "unknown order is 404; a credential whose role may not send the event is 403.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": ref(f"{event}_payload")}},
            }
        },
        responses=answer(
            200,
            "Applied, or a replay of an applied event (the first answer again)",
            "EventApplied",
            headers=("ETag", "Idempotent-Replayed"),
        )
        | problems(
            (400, 401, 403, 404, 409, 412, 413, 415, 422, 500, 503),
            said={
                401: "No credentials, wrong credentials, or a webhook signature that does "
                "not match this request",
                422: "The data is refused: InvalidInput naming its field (R15's reused "
                "Idempotency-Key included), or a rule's refusal of kind data",
            },
        ),
    )


def event_router() -> APIRouter:
    """One route per caller event of the definitions registered now (``POST
    /orders/{id}/events/{event}``; each order's own version judges it), and an answer for
    every other name: built when an app is, so a definition registered before it
    (``ORDERFSM_DEFINITIONS``) has its events served."""
    events = APIRouter(tags=["events"], route_class=DirectRoute)
    callers = caller_events()
    for event in callers:
        _event_route(events, event)

    @events.post(
        "/orders/{order_id}/events/{event}",
        include_in_schema=False,
        dependencies=[Depends(event_sender)],  # a caller who may send events hears it is none
    )
    async def unknown_event(event: str) -> Response:
        """An event name that no caller sends."""
        if event_spec(event) is not None:
            why = f"{event} is a clock event: a sweep fires it when it is due, not a request"
        else:
            why = f"unknown event {event[:40]!r}; callers send {', '.join(callers)}"
        return problem(404, why, name="UnknownEvent", field="event")

    return events
