"""Fixtures of the web tests: the service on a real SQLite file and on a real PostgreSQL
database, served by a real uvicorn on a local port.

PostgreSQL comes from ``ORDER_SM_PG_DSN`` or a throwaway server (as in ``tests/store``);
without server binaries the PostgreSQL cases skip on a developer machine and fail under CI.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

from pg_server import PostgresUnavailable, TempPostgres
from web_helpers import READ, SECRET, WRITE, ThreadServer

from statemachine.store import AsyncPostgresStore, AsyncSQLiteStore, AsyncStore
from statemachine.web import Settings, create_app


@pytest.fixture(scope="session")
def pg_base_dsn() -> Iterator[str]:
    """A DSN of a PostgreSQL database the tests may create schemas in."""
    dsn = os.environ.get("ORDER_SM_PG_DSN")
    if dsn:
        yield dsn
        return
    try:
        server = TempPostgres().start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must test the service on PostgreSQL: {exc}")
        pytest.skip(str(exc))
    try:
        yield server.dsn
    finally:
        server.stop()


@pytest.fixture
def pg_dsn(pg_base_dsn: str) -> Iterator[str]:
    """A DSN whose tables live in a fresh schema of their own, dropped afterwards."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    schema = f"w_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_base_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield make_conninfo(pg_base_dsn, options=f"-csearch_path={schema}")
    with psycopg.connect(pg_base_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """Each service test runs on a real SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return ("sqlite", str(tmp_path / "orders.db"))
    return ("postgres", request.getfixturevalue("pg_dsn"))


def open_async(where: tuple[str, str]) -> AsyncStore:
    """An async store on ``where``'s database."""
    kind, target = where
    if kind == "sqlite":
        return AsyncSQLiteStore(target)
    return AsyncPostgresStore(target, pool_size=4)


SETTINGS = Settings(token=WRITE, read_token=READ, webhook_secret=SECRET, sweep_interval=0)


@pytest.fixture
def served(where: tuple[str, str]) -> Iterator[tuple[ThreadServer, AsyncStore]]:
    """The service on ``where`` with the test tokens (no sweeper, no relay), under uvicorn."""
    store = open_async(where)
    dsn = where[1] if where[0] == "postgres" else None
    app = create_app(store, settings=SETTINGS, dsn=dsn)
    with ThreadServer(app) as server:
        yield server, store
    store.sync.close()


@pytest.fixture
def client(served: tuple[ThreadServer, AsyncStore]) -> Iterator[httpx.Client]:
    """An HTTP client of the served service."""
    with httpx.Client(base_url=served[0].url, timeout=30) as http:
        yield http
