"""Fixtures of the web tests: the service on a real SQLite file and on a real PostgreSQL
database, served by a real uvicorn on a local port; its clients, whose every answer is checked
against the served OpenAPI document; and Debian's Chromium for the pages.

PostgreSQL comes from the suite's own ``pg_dsn`` fixture (``tests/conftest.py``): from
``ORDER_SM_PG_DSN`` or one throwaway server for the whole run; without server binaries the
PostgreSQL cases skip on a developer machine and fail under CI.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

from contract import Contract
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


_CONTRACT: list[Contract] = []
"""The served document, read once: it is the same for every app."""


def contract_of(url: str) -> Contract:
    """The contract of the service at ``url`` (its ``/openapi.json``)."""
    if not _CONTRACT:
        _CONTRACT.append(Contract(httpx.get(f"{url}/openapi.json", timeout=30).json()))
    return _CONTRACT[0]


@pytest.fixture
def client(served: tuple[ThreadServer, AsyncStore]) -> Iterator[httpx.Client]:
    """An HTTP client of the served service; every answer it gets must be one the served
    OpenAPI document lists, valid against its schema."""
    hooks = {"response": [contract_of(served[0].url).check]}
    with httpx.Client(base_url=served[0].url, timeout=30, event_hooks=hooks) as http:
        yield http


CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HINT = (
    "the browser tests need Debian's chromium (apt-get install chromium; .ci/run installs it) "
    "and Playwright's Python package (pip install -e '.[dev]'); never `playwright install`"
)


def _require_browser() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the browser tests: {HINT}")
        pytest.skip(HINT)
    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, started by Playwright (nothing downloaded)."""
    sync_playwright = _require_browser()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            headless=True,
            args=FLAGS,
        )
        yield chromium
        chromium.close()
