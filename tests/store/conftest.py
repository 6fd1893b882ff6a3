"""Fixtures for the store tests: real SQLite files and a real PostgreSQL server.

PostgreSQL comes from ``ORDER_SM_PG_DSN`` (``.ci/run`` starts a server and sets it); without it
the session starts its own throwaway server (initdb + pg_ctl, as the ``postgres`` user when
run as root). Without server binaries the PostgreSQL tests are skipped on a developer machine,
and fail under CI (``CI=true``): CI must test both stores.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from pg_server import PostgresUnavailable, TempPostgres
from store_helpers import StoreSpec, open_store

from statemachine.store import OrderStore


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
            pytest.fail(f"CI must test PostgresStore: {exc}")
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

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_base_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield make_conninfo(pg_base_dsn, options=f"-csearch_path={schema}")
    with psycopg.connect(pg_base_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


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
