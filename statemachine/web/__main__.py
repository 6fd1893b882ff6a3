"""``python -m statemachine.web [--db PATH | --dsn URL] [--create] [--host --port --workers]
[--log-level LEVEL] [--log-format text|json]``;
without ``--db`` or ``--dsn``, the store ``ORDERFSM_DB`` names (a path or a ``postgresql://``
URL), as for ``orderfsm serve``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import OrderError, StoreFault
from ..store._ref import store_in_env
from ._logs import LOG_FORMATS, LOG_LEVELS
from ._serve import serve
from ._settings import ENV


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and serve; with one line, 2 when the arguments are not usable,
    3 when a setting is not, 4 when the store is not (as ``orderfsm serve`` says each)."""
    parser = argparse.ArgumentParser(
        prog="python -m statemachine.web",
        description="Serve the order API and the inspector under uvicorn.",
        epilog="Tokens and secrets come from the environment only: "
        + ", ".join(sorted(ENV.values())),
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--db",
        metavar="PATH",
        help="a SQLite file; default: $ORDERFSM_DB (a path or a postgresql:// URL)",
    )
    where.add_argument("--dsn", metavar="URL", help="a PostgreSQL connection string")
    parser.add_argument(
        "--create",
        action="store_true",
        help="make the SQLite file if it does not exist (a new store); refused otherwise",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--pool-size", type=int, default=10, help="PostgreSQL connections per worker"
    )
    parser.add_argument("--log-level", default="info", choices=LOG_LEVELS)
    parser.add_argument(
        "--log-format",
        default="text",
        choices=LOG_FORMATS,
        help="text lines, or one JSON object per line (time, level, logger, message, "
        "request_id...)",
    )
    args = parser.parse_args(argv)
    if args.db is None and args.dsn is None:
        named = store_in_env(os.environ)
        if named is None:
            parser.error("give the store with --db or --dsn, or in ORDERFSM_DB")
        elif named.kind == "postgres":
            args.dsn = named.target
        else:
            args.db = named.target
    try:
        serve(
            db=args.db,
            dsn=args.dsn,
            create=args.create,
            host=args.host,
            port=args.port,
            workers=args.workers,
            pool_size=args.pool_size,
            log_level=args.log_level,
            log_format=args.log_format,
        )
    except OrderError as exc:
        print(f"python -m statemachine.web: {exc}", file=sys.stderr)
        return 4 if isinstance(exc, StoreFault) else 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
