"""The service's health: the process answers (liveness), the store answers (readiness)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from ._deps import ServiceDep
from ._openapi import answer, problems
from ._problems import LOGGER, problem
from ._routing import DirectRoute

__all__ = ["router"]

router = APIRouter(tags=["service"], route_class=DirectRoute)


@router.get(
    "/healthz",
    operation_id="getHealth",
    summary="The process answers",
    responses=answer(200, "The process runs", "Health"),
)
async def healthz() -> Response:
    """Always 200 while the process runs (liveness)."""
    return JSONResponse({"status": "ok"})


@router.get(
    "/readyz",
    operation_id="getReadiness",
    summary="The store answers",
    responses=answer(200, "The store answers", "Health")
    | problems((503,), said={503: "The order store does not answer"}),
)
async def readyz(service: ServiceDep) -> Response:
    """200 when the order store answers a query (readiness)."""
    try:
        await service.store.ping()
    except Exception as exc:  # any failure means not ready; the reason goes to the log only
        LOGGER.warning("readyz: the store does not answer: %s", type(exc).__name__)
        return problem(503, "the order store does not answer", name="NotReady")
    return JSONResponse({"status": "ready"})
