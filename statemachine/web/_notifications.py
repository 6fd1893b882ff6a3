"""The notifications: where each one's delivery stands, its tries, and sending a dead letter
again."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from ..application import redeliver
from ..store import MAX_LIMIT, AsyncStore, DeliveryState
from ._answers import JSONAnswer
from ._deps import Reader, Support
from ._openapi import answer, problems
from ._problems import LOGGER, problem
from ._routing import DirectRoute

__all__ = ["router"]

router = APIRouter(tags=["notifications"], route_class=DirectRoute)

MAX_ID: Final = 2**63 - 1
"""The largest id a store keeps."""


@router.get(
    "/notifications",
    operation_id="listNotifications",
    summary="Where deliveries stand",
    responses=answer(200, "A page of notifications", "NotificationPage")
    | problems((401, 422, 500, 503)),
)
async def list_notifications(
    service: Reader,
    status: Annotated[
        Literal["waiting", "retrying", "sent", "dead"] | None,
        Query(description="Only notifications standing so"),
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="The next_after of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Notifications per page")] = 100,
) -> Response:
    """Notifications by id, the order they were queued, with where each delivery stands:
    ``waiting`` (never tried), ``retrying`` (tried, due again at ``next_attempt_at``),
    ``sent``, or ``dead`` (a dead letter, out of the queue until it is redelivered); how
    many tries, the last answer, and the lease a relay holds on it while it sends."""
    found = await service.store.delivery_states(status, after=after or None, limit=limit)
    last = found[-1].notification_id if len(found) == limit else None
    return JSONAnswer(
        {"notifications": [s.to_dict() for s in found], "next_after": last}, status_code=200
    )


@router.get(
    "/notifications/{notification_id}",
    operation_id="getNotification",
    summary="A notification's delivery and its tries",
    responses=answer(200, "Where it stands, and every try", "NotificationTries")
    | problems((401, 404, 422, 500, 503), said={404: "No notification with this id"}),
)
async def get_notification(service: Reader, notification_id: int) -> Response:
    """Where the notification's delivery stands, and every try kept of it (when, the answer,
    whether it was delivered), a dead letter's included."""
    state = await _state(service.store, notification_id)
    if state is None:
        return _unknown(notification_id)
    tries = await service.store.tries(notification_id)
    return JSONAnswer(
        {"notification": state.to_dict(), "tries": [t.to_dict() for t in tries]}, status_code=200
    )


@router.post(
    "/notifications/{notification_id}/redeliver",
    operation_id="redeliverNotification",
    summary="Send a dead letter again",
    responses=answer(200, "Queued again: its tries start over", "NotificationTries")
    | problems(
        (401, 403, 404, 409, 422, 500, 503),
        said={
            403: "The credential's role may not send notifications again (support, write may)",
            404: "No notification with this id",
            409: "The notification is not a dead letter",
        },
    ),
)
async def redeliver_notification(caller: Support, notification_id: int) -> Response:
    """Queue a dead letter again: the relay sends it anew, its count of tries starting over
    (the tries so far are kept). A notification that is not a dead letter is 409 and left as
    it is. A ``support`` or ``write`` credential may; who did is logged."""
    service = caller.service
    state = await _state(service.store, notification_id)
    if state is None:
        return _unknown(notification_id)
    if not await service.store.run(redeliver, [notification_id]):  # ours: no actor to check
        return problem(
            409,
            f"notification {notification_id} is {state.standing}, not a dead letter; only a "
            "dead letter is sent again",
            name="NotADeadLetter",
        )
    LOGGER.info(
        "notification %d of order %s sent again by %s",
        notification_id,
        state.order_id,
        caller.actor.name,
        extra={"order_id": state.order_id, "actor": caller.actor.name},
    )
    again = await _state(service.store, notification_id)
    assert again is not None
    tries = await service.store.tries(notification_id)
    return JSONAnswer(
        {"notification": again.to_dict(), "tries": [t.to_dict() for t in tries]}, status_code=200
    )


async def _state(store: AsyncStore, notification_id: int) -> DeliveryState | None:
    """The notification's delivery; ``None`` for an id no store could hold, or none stored."""
    if not 1 <= notification_id <= MAX_ID:
        return None
    return await store.delivery_state(notification_id)


def _unknown(notification_id: int) -> Response:
    return problem(404, f"no notification {notification_id} is stored", name="UnknownNotification")
