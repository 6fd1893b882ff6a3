"""Fixtures for the store tests: real SQLite files and a real PostgreSQL server.

The PostgreSQL fixtures (``pg_base_dsn``, ``pg_dsn``) live in ``tests/conftest.py``, shared
with the command line's tests: see there how the server is found or started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from store_helpers import StoreSpec, open_store

from statemachine.store import OrderStore


@pytest.fixture(params=["sqlite", "postgres"])
def spec(request: pytest.FixtureRequest, tmp_path: object) -> StoreSpec:
    """Each store test runs on a real SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return ("sqlite", str(tmp_path / "orders.db"))  # type: ignore[operator]
    return ("postgres", request.getfixturevalue("pg_dsn"))


@pytest.fixture
def store(spec: StoreSpec) -> Iterator[OrderStore]:
    """An open store on ``spec``'s database."""
    opened = open_store(spec)
    yield opened
    opened.close()


@pytest.fixture
def opener(spec: StoreSpec) -> Iterator[Callable[[], OrderStore]]:
    """Opens more stores (own connections) on the same database; closes them afterwards."""
    opened: list[OrderStore] = []

    def open_more() -> OrderStore:
        opened.append(open_store(spec))
        return opened[-1]

    yield open_more
    for s in opened:
        s.close()
