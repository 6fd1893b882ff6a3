"""Fixtures for the package's own tests; the helpers live in :mod:`tests.helpers`.

PostgreSQL comes from ``ORDER_SM_PG_DSN`` (``.ci/run`` starts a server and sets it); without it
the session starts its own throwaway server (initdb + pg_ctl, as the ``postgres`` user when
run as root). Without server binaries the PostgreSQL tests are skipped on a developer machine,
and fail under CI (``CI=true``): CI must test both stores. Graphviz's ``dot`` follows the same
rule (fixture ``dot_program``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from statemachine import Order

from .helpers import new_order, require_dot, skip_or_fail


@pytest.fixture
def order() -> Order:
    """A fresh order in ``paid``, paid at ``PAID_AT``."""
    return new_order()


@pytest.fixture
def dot_program() -> str:
    """Graphviz's ``dot``: skipped with how to install it when missing, failed under CI."""
    return require_dot()


@pytest.fixture(scope="session")
def pg_base_dsn() -> Iterator[str]:
    """A DSN of a PostgreSQL database the tests may create schemas in."""
    from .store.pg_server import PostgresUnavailable, TempPostgres

    dsn = os.environ.get("ORDER_SM_PG_DSN")
    if dsn:
        yield dsn
        return
    try:
        server = TempPostgres().start()
    except PostgresUnavailable as exc:
        skip_or_fail(f"PostgresStore is not tested: {exc}")
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
