"""``orderfsm serve``: the HTTP service and its inspector (``statemachine.web``) on the store
the options or ``ORDERFSM_DB`` name, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import click

from .._codes import ExitCode
from .._context import Invocation, pass_invocation
from .._errors import missing
from .._options import store_options

__all__ = ["serve"]


@click.command("serve")
@store_options
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
@pass_invocation
def serve(invocation: Invocation, host: str, port: int, workers: int, pool_size: int) -> ExitCode:
    """Serve the orders over HTTP, with the inspector under /inspect/ (docs/service.md).

    Needs `pip install 'order-statemachine[web]'`. Tokens and secrets come from the
    environment only, never from options others can read in the process list:
    ORDERFSM_TOKEN (writes), ORDERFSM_READ_TOKEN (reads and the inspector),
    ORDERFSM_WEBHOOK_SECRET (signed supplier webhooks), ORDERFSM_RELAY_URL and
    ORDERFSM_RELAY_SECRET (the outbox relay). Stops cleanly on SIGTERM or Ctrl-C.
    """
    ref = invocation.store_ref()
    try:
        from ...web import serve as run_server
    except ImportError as exc:
        raise missing(
            f"serve needs the web extra: pip install 'order-statemachine[web]' ({exc})"
        ) from None
    if ref.kind == "sqlite":
        run_server(db=ref.target, host=host, port=port, workers=workers, pool_size=pool_size)
    else:
        run_server(dsn=ref.target, host=host, port=port, workers=workers, pool_size=pool_size)
    return ExitCode.OK
