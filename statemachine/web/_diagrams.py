"""The diagrams: the machine's lifecycle (public) and an order's journey, drawn by Graphviz
or written as Mermaid text."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter
from starlette.responses import Response

from ..diagrams import journey_dot, journey_mermaid, lifecycle_dot, render
from ._deps import Reader
from ._openapi import answer, problems
from ._parsing import check_id
from ._routing import DirectRoute

__all__ = ["router"]

router = APIRouter(tags=["diagrams"], route_class=DirectRoute)

_SVG = "image/svg+xml"
_NO_DOT = {503: "Graphviz's dot is not installed on the server (the detail says how to)"}


async def _render(dot: str) -> bytes:
    return await anyio.to_thread.run_sync(render, dot)


@router.get(
    "/lifecycle.svg",
    operation_id="getLifecycleSvg",
    summary="The lifecycle diagram",
    response_class=Response,
    responses=answer(200, "Every state and transition", media=_SVG)
    | problems((500, 503), said=_NO_DOT),
)
async def lifecycle_svg() -> Response:
    """Every state and transition of the machine's table, drawn by Graphviz."""
    svg = await _render(lifecycle_dot())
    return Response(svg, media_type=_SVG, headers={"Cache-Control": "max-age=3600"})


@router.get(
    "/orders/{order_id}/journey.svg",
    operation_id="getOrderJourneySvg",
    summary="An order's journey, drawn",
    response_class=Response,
    responses=answer(200, "The journey, current state filled, steps numbered", media=_SVG)
    | problems((401, 404, 422, 500, 503), said=_NO_DOT),
)
async def journey_svg(service: Reader, order_id: str) -> Response:
    """The lifecycle with this order's steps numbered and its current state filled."""
    order = await service.store.get(check_id(order_id))
    return Response(await _render(journey_dot(order)), media_type=_SVG)


@router.get(
    "/orders/{order_id}/journey.mmd",
    operation_id="getOrderJourneyMermaid",
    summary="An order's journey, as Mermaid text",
    response_class=Response,
    responses=answer(200, "A Mermaid state diagram", media="text/plain")
    | problems((401, 404, 422, 500, 503)),
)
async def journey_mmd(service: Reader, order_id: str) -> Response:
    """The journey as a Mermaid state diagram."""
    order = await service.store.get(check_id(order_id))
    return Response(journey_mermaid(order), media_type="text/plain; charset=utf-8")
