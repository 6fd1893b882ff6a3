"""Fixtures of the web tests: the service on a real SQLite file and on a real PostgreSQL
database, served by a real uvicorn on a local port.

PostgreSQL comes from the suite's own ``pg_dsn`` fixture (``tests/conftest.py``): from
``ORDER_SM_PG_DSN`` or one throwaway server for the whole run; without server binaries the
PostgreSQL cases skip on a developer machine and fail under CI.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

from web_helpers import READ, SECRET, WRITE, ThreadServer

from statemachine.store import AsyncPostgresStore, AsyncSQLiteStore, AsyncStore
from statemachine.web import Settings, create_app


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
    app = create_app(store, settings=SETTINGS)
    with ThreadServer(app) as server:
        yield server, store
    store.sync.close()


@pytest.fixture
def client(served: tuple[ThreadServer, AsyncStore]) -> Iterator[httpx.Client]:
    """An HTTP client of the served service."""
    with httpx.Client(base_url=served[0].url, timeout=30) as http:
        yield http
