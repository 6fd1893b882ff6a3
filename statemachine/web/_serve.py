"""Running the service under uvicorn: :func:`serve` (what ``orderfsm serve`` and
``python -m statemachine.web`` call) and the app factory its worker processes import."""

from __future__ import annotations

import logging
import logging.config
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import Any, Final

import anyio
from fastapi import FastAPI

from ..declaration._definition import DEFINITIONS
from ..errors import InvalidInput, StoreUnavailable
from ..store import AsyncPostgresStore, AsyncSQLiteStore, AsyncStore
from ..store._ref import DB_ENV, DSN_ENV, StoreRef, in_memory, store_in_env
from ._app import build
from ._logs import LOG_FORMATS, LOG_LEVELS, LogFormat, log_config
from ._metrics import MULTIPROC_ENV
from ._settings import Settings

__all__ = ["DB_ENV", "DSN_ENV", "POOL_ENV", "app_from_env", "serve"]

LOCK_WAIT: Final = 5.0
"""Seconds the service's SQLite store waits for the file's write lock (another process
writing) before a write is ConcurrentUpdate, 503 with ``Retry-After``: within seconds, not
the half minute a script's store waits."""
POOL_ENV: Final = "ORDERFSM_POOL_SIZE"
"""Connections per process to PostgreSQL (default 10)."""
SWITCH_INTERVAL: Final = 0.0005
"""Seconds a thread of the service's process holds the interpreter before handing it on
(Python's default is 0.005). The event loop thread and the store's worker thread take turns:
when a write's commit comes back from the disk, its thread waits for the loop to let go, up to
this long, and meanwhile the write lock and every answer of its group wait too. Half a
millisecond takes ``POST /orders`` on SQLite about a sixth further (``bench/bench_wrk.py``)."""


def _open(db: str | None, dsn: str | None, pool_size: int, *, create: bool) -> AsyncStore:
    if (db is None) == (dsn is None):
        raise InvalidInput("give the store as either db (a SQLite file) or dsn (PostgreSQL)")
    if db is not None:
        if in_memory(db):
            raise InvalidInput(
                f"db {db!r} is a database in memory or a URI, which keeps nothing in a file "
                "once the service stops (and each connection would see its own): name a file "
                "by its path",
                field="db",
            )
        if not create and not os.path.lexists(db):
            raise StoreUnavailable(
                db,
                "no such file: a new store is made only when asked (`orderfsm serve --create`, "
                "or serve(create=True))",
            )
        return AsyncSQLiteStore(db, create=create, timeout=LOCK_WAIT)
    assert dsn is not None
    return AsyncPostgresStore(dsn, pool_size=pool_size)


def _store_env() -> tuple[str | None, str | None]:
    """``(db, dsn)`` as the environment names them: ``ORDERFSM_DB`` read as ``orderfsm`` reads
    it (a SQLite path, or a ``postgresql://`` URL), or ``ORDERFSM_DSN``."""
    named = store_in_env(os.environ)
    dsn = os.environ.get(DSN_ENV) or None
    if named is None:
        return None, dsn
    if dsn is not None:
        raise InvalidInput(f"{DB_ENV} and {DSN_ENV} both name a store; set one of them")
    if named.kind == "sqlite":
        return named.target, None
    return None, named.target


def app_from_env() -> FastAPI:
    """The app on the store ``ORDERFSM_DB`` (a SQLite path, or a ``postgresql://`` URL) or
    ``ORDERFSM_DSN`` names, with :meth:`Settings.from_env`; its lifespan closes the store. An
    app factory for any ASGI server: ``uvicorn --factory statemachine.web:app_from_env``.

    It sets the interpreter's switch interval to :data:`SWITCH_INTERVAL`: the process is the
    service's own."""
    settings = Settings.from_env()
    db, dsn = _store_env()
    pool = os.environ.get(POOL_ENV, "10")
    if not pool.isdigit() or int(pool) < 1:
        raise InvalidInput(f"{POOL_ENV} must be a whole number from 1, got {pool!r}")
    sys.setswitchinterval(SWITCH_INTERVAL)
    # never a new file: serve() made it, if asked to, before the workers started; a file
    # missing now was lost, and a new empty one would hide that every order is gone
    return build(_open(db, dsn, int(pool), create=False), settings, owns_store=True)


async def _ready(store: AsyncStore) -> None:
    """Refuse a store that cannot write (a read-only file or mount, a standby server) before
    the server starts, then close it."""
    async with store:
        await store.ping()
        used = await store.run(lambda sync: sync.definitions_used())
    check_versions(used)


def check_versions(used: Mapping[str, int]) -> None:
    """Refuse a store holding orders under versions this process has not registered: the
    service would answer 500 for each of them, and list them as corrupt."""
    missing = {key: n for key, n in used.items() if key not in DEFINITIONS}
    if missing:
        held = ", ".join(f"{n} under {key}" for key, n in sorted(missing.items()))
        raise InvalidInput(
            f"the store holds orders of versions not registered here ({held}): name the "
            "module that declares them in ORDERFSM_DEFINITIONS",
            field="definitions",
        )


_ADDRESS: Final = re.compile(r" at 0x[0-9a-fA-F]+")


class OnceALine(logging.Filter):
    """A library's log record as one line, and the same line at most once every ``every``
    seconds. A PostgreSQL server that is down makes ``psycopg_pool`` report each failed
    reconnection, on two lines, a few times a second, and each connection it drops: the
    operator needs to read once that the server refuses connections, not a screenful. An
    exception attached to a record is named on its line, without its traceback."""

    def __init__(self, every: float = 30.0) -> None:
        super().__init__()
        self.every = every
        self._said: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = f"{text} ({type(exc).__name__}: {exc})"
        text = " ".join(_ADDRESS.sub("", text).split())
        now = time.monotonic()
        with self._lock:
            said = self._said.get(text)
            if said is not None and now - said < self.every:
                return False
            if len(self._said) >= 1000:  # bounded, whatever the libraries say
                self._said.clear()
            self._said[text] = now
        record.msg, record.args = text, None
        record.exc_info = record.exc_text = record.stack_info = None
        return True


def _log_config(level: str, log_format: LogFormat = "text") -> dict[str, Any]:
    """uvicorn's logging as :func:`._logs.log_config` sets it: time, level and request id on
    every line, as text or JSON lines; the drivers' own lines (psycopg_pool's reconnections)
    through :class:`OnceALine`."""
    return log_config(level, log_format)


def _stop_quietly() -> None:
    """After a graceful stop uvicorn raises the signal it caught again, with the handler it
    found in place: make that handler a no-op, so a clean SIGTERM exits 0 (what service
    managers expect), not by the signal."""
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, _ignore)


def _ignore(number: int, frame: object) -> None:
    return None


def serve(
    *,
    db: str | os.PathLike[str] | None = None,
    dsn: str | None = None,
    create: bool = False,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    pool_size: int = 10,
    log_level: str = "info",
    log_format: LogFormat = "text",
) -> None:
    """Serve the API and the inspector under uvicorn until SIGTERM or SIGINT.

    The store is ``db`` (a SQLite file) or ``dsn`` (a PostgreSQL connection string), not both.
    A SQLite file that does not exist is refused unless ``create`` (a new, empty store).
    Tokens, secrets and the other settings come from the environment (:class:`Settings`,
    ``ORDERFSM_*``), never from arguments, which other users of the machine can read in the
    process list. ``workers`` processes share the store (each with its own sweeper and relay,
    which is safe); on PostgreSQL each holds up to ``pool_size`` connections.

    The settings and the store are checked before the server starts:
    :class:`~statemachine.errors.InvalidInput` or
    :class:`~statemachine.errors.StoreUnavailable` say what is wrong. On SIGTERM the server
    stops taking connections, finishes the requests in flight, lets the sweeper and the relay
    finish their current item, and closes the store.

    The log goes to standard error at ``log_level``, each line with its time (UTC), level and
    request id, as ``log_format`` says: ``text``, or ``json`` (one object per line). With
    ``workers`` over 1 the workers count their metrics (``GET /metrics``) in a directory made
    for this run (``PROMETHEUS_MULTIPROC_DIR``, under the system's temporary directory), which
    is removed when the server stops.
    """
    import uvicorn

    if log_level not in LOG_LEVELS:
        raise InvalidInput(f"log_level must be one of {', '.join(LOG_LEVELS)}", field="log_level")
    if log_format not in LOG_FORMATS:
        raise InvalidInput(
            f"log_format must be one of {', '.join(LOG_FORMATS)}", field="log_format"
        )
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidInput(f"workers must be a whole number from 1, got {workers!r}")
    if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
        raise InvalidInput(f"pool_size must be a whole number from 1, got {pool_size!r}")
    Settings.from_env()  # refuse bad settings before anything starts
    location = None if db is None else os.fspath(db)
    if location is not None and StoreRef.named(location).kind != "sqlite":
        # the workers read it back from ORDERFSM_DB, where such a name is a PostgreSQL URL
        raise InvalidInput("db is a SQLite file; give a postgresql:// URL as dsn", field="db")
    logging.config.dictConfig(_log_config(log_level, log_format))  # the drivers' lines too
    store = _open(location, dsn, 1, create=create)  # opens (and migrates) it once, or says why not
    anyio.run(_ready, store)
    os.environ.pop(DB_ENV, None)
    os.environ.pop(DSN_ENV, None)
    if location is not None:
        os.environ[DB_ENV] = location
    else:
        assert dsn is not None
        os.environ[DSN_ENV] = dsn
    os.environ[POOL_ENV] = str(pool_size)
    # one worker counts in its memory; several count in files of their own, summed at a scrape
    counts = tempfile.mkdtemp(prefix="orderfsm-metrics-") if workers > 1 else None
    if counts is not None:
        os.environ[MULTIPROC_ENV] = counts
    _stop_quietly()
    try:
        uvicorn.run(
            "statemachine.web:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=_log_config(log_level, log_format),
            access_log=False,  # ours, with the request id (statemachine.web.access)
            server_header=False,
            timeout_graceful_shutdown=30,
        )
    finally:
        if counts is not None:
            os.environ.pop(MULTIPROC_ENV, None)
            shutil.rmtree(counts, ignore_errors=True)
