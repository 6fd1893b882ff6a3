"""``orderfsm serve``: the HTTP service and its inspector (``statemachine.web``) on the store
the options or ``ORDERFSM_DB`` name, until SIGTERM or Ctrl-C."""

from __future__ import annotations

from typing import Final, Literal

import click

from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._errors import missing
from .._options import create_option, store_options
from .._store import refuse_in_memory

__all__ = ["serve"]

_LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug")
"""statemachine.web's LOG_LEVELS (serve() checks them again), written here because the
command line loads without the web extra."""


@click.command("serve")
@store_options
@create_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the store (each runs its own sweeper and relay, safely).",
)
@click.option(
    "--pool-size",
    default=10,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="PostgreSQL connections per process.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(_LOG_LEVELS, case_sensitive=False),
    help="The least a log line must matter to be written (to standard error).",
)
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    type=click.Choice(("text", "json")),
    help="Text lines, or one JSON object per line (time, level, logger, message, request_id).",
)
@pass_invocation
def serve(
    invocation: Invocation,
    host: str,
    port: int,
    workers: int,
    pool_size: int,
    log_level: str,
    log_format: Literal["text", "json"],
) -> ExitCode:
    """Serve the orders over HTTP, with the inspector under /inspect/ (docs/service.md).

    Needs `pip install 'order-statemachine[web]'`. Credentials and secrets come from the
    environment only, never from options others can read in the process list:
    ORDERFSM_CREDENTIALS (a file of NAME ROLE SECRET lines; roles read, support, write,
    supplier), ORDERFSM_CREDENTIAL_<NAME>=ROLE:SECRET, ORDERFSM_TOKEN (the write credential),
    ORDERFSM_READ_TOKEN (the read one), ORDERFSM_WEBHOOK_SECRET (signed supplier webhooks
    naming no key), ORDERFSM_RELAY_URL and ORDERFSM_RELAY_SECRET (the outbox relay). A SQLite
    file that does not exist is refused unless --create is given. Stops cleanly on SIGTERM or
    Ctrl-C. GET /metrics gives Prometheus its metrics (docs/operations.md says what to watch).
    """
    ref = invocation.store_ref()
    try:
        from ...web import serve as run_server
    except ImportError as exc:
        raise missing(
            f"serve needs the web extra: pip install 'order-statemachine[web]' ({exc})"
        ) from None
    sqlite = ref.kind == "sqlite"
    if sqlite:
        refuse_in_memory(ref.target)  # status 2, as every command says it
    run_server(  # a missing file without --create: serve() says so (StoreUnavailable, 4)
        db=ref.target if sqlite else None,
        dsn=None if sqlite else ref.target,
        create=invocation.create,
        host=host,
        port=port,
        workers=workers,
        pool_size=pool_size,
        log_level=log_level,
        log_format=log_format,
    )
    return ExitCode.OK
