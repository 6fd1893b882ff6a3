"""The service's health: the process answers (liveness), the store can write (readiness)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from ..errors import OrderError
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
    summary="The store can write",
    responses=answer(200, "The store answers and takes a write", "Health")
    | problems((503,), said={503: "The order store cannot write now"}),
)
async def readyz(service: ServiceDep) -> Response:
    """200 when the order store could write now (readiness): it answers, its SQLite file is
    still the one opened, and it takes a write that is then rolled back. A deleted, replaced or
    read-only file, a read-only mount or a standby server is 503 with ``Retry-After``."""
    try:
        await service.store.ping()
    except Exception as exc:  # any failure means not ready; the reason goes to the log only
        why = exc.message if isinstance(exc, OrderError) else type(exc).__name__
        LOGGER.warning("readyz: the store cannot write: %s", why)
        return problem(
            503, "the order store cannot write now", name="NotReady", headers={"Retry-After": "5"}
        )
    return JSONResponse({"status": "ready"})
