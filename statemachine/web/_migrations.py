"""Migrations over HTTP: a plan dry-run over every unfinished order of the store (``POST
/migrations``), never applied here: applying is ``orderfsm migrate PLAN --apply``, run by an
operator who watches it."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response

from ..application import parse_moment
from ..errors import InvalidInput
from ..migration import Plan, dry_run
from ._deps import Migrator
from ._openapi import answer, problems, ref
from ._parsing import json_object
from ._routing import DirectRoute

__all__ = ["MIGRATION_SCHEMAS", "router"]

router = APIRouter(tags=["migrations"], route_class=DirectRoute)

MIGRATION_SCHEMAS: Final[dict[str, Any]] = {
    "MigrationRequest": {
        "type": "object",
        "properties": {
            "plan": {
                "description": "The plan: its TOML text, or the same as a JSON object "
                "(plan, from, to, states, clocks, preconditions)",
                "oneOf": [{"type": "string"}, {"type": "object"}],
            },
            "now": {
                "type": "string",
                "format": "date-time",
                "description": "Run the plan as of this moment (default: the server's clock)",
            },
        },
        "required": ["plan"],
        "additionalProperties": False,
    },
    "MigrationReport": {
        "type": "object",
        "properties": {
            "plan": {"type": "string"},
            "from": {"type": "string"},
            "to": {"type": "string"},
            "dry_run": {"type": "boolean"},
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "reasons": {"type": "object", "additionalProperties": {"type": "integer"}},
            "samples": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
            "outcomes": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["plan", "from", "to", "dry_run", "counts", "reasons", "samples", "outcomes"],
    },
}
"""The request and the answer of ``POST /migrations``, for the OpenAPI document."""


@router.post(
    "/migrations",
    operation_id="dryRunMigration",
    summary="Dry-run a migration plan over the store",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ref("MigrationRequest")}},
        }
    },
    responses=answer(200, "What the plan would do to each unfinished order", "MigrationReport")
    | problems(
        (400, 401, 403, 413, 415, 422, 500, 503),
        said={
            403: "The credential's role may not run migrations (only write may)",
            422: "The plan does not read, or does not fit the registered definitions",
        },
    ),
)
async def dry_run_migration(request: Request, caller: Migrator) -> Response:
    """Run a migration plan in memory on every unfinished order of the store's source
    version and answer what it would do: counts per outcome and reason, sample ids, and the
    outcome of each blocked order (the first 1,000). Nothing is written; apply a plan with
    ``orderfsm migrate --apply``."""
    body = json_object(request.headers.get("content-type"), await request.body())
    unknown = sorted(set(body) - {"plan", "now"})
    if unknown:
        raise InvalidInput(
            f"a migration request takes plan and now, not {unknown[0]!r}", field=unknown[0]
        )
    raw = body.get("plan")
    if isinstance(raw, str):
        plan = Plan.parse(raw)
    elif isinstance(raw, dict):
        plan = Plan.from_data(raw)
    else:
        raise InvalidInput("plan must be the plan's TOML text or a JSON object", field="plan")
    now = parse_moment(body["now"], "now") if "now" in body else dt.datetime.now(dt.UTC)
    report = await caller.service.store.run(dry_run, plan, now)
    return JSONResponse(report.to_dict(every=False))
