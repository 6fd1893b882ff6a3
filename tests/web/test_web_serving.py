"""How the service is started: settings from the environment, the command line, serve()'s
signature (what ``orderfsm serve`` calls), and the app mounted inside another one."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from web_helpers import (
    READ,
    ROOT,
    WRITE,
    R,
    ThreadServer,
    W,
    create,
    pg_url,
    server_env,
    wait_healthy,
)

from statemachine import InvalidInput
from statemachine.errors import StoreUnavailable
from statemachine.store import AsyncPostgresStore, AsyncSQLiteStore, PostgresStore, SQLiteStore
from statemachine.web import Settings, app_from_env, create_app, serve


def test_settings_come_from_the_environment() -> None:
    """Every ORDERFSM_* variable is read; blank tokens open nothing; defaults fill the rest."""
    settings = Settings.from_env(
        {
            "ORDERFSM_TOKEN": " w ",
            "ORDERFSM_READ_TOKEN": "",
            "ORDERFSM_WEBHOOK_SECRET": "s",
            "ORDERFSM_WEBHOOK_TOLERANCE": "60",
            "ORDERFSM_MAX_BODY": "1024",
            "ORDERFSM_SWEEP_INTERVAL": "0",
            "ORDERFSM_RELAY_URL": "https://hooks.example/orders",
            "ORDERFSM_RELAY_SECRET": "r",
            "ORDERFSM_RELAY_ATTEMPTS": "3",
            "ORDERFSM_RELAY_CONCURRENCY": "2",
        }
    )
    assert (settings.token, settings.read_token, settings.webhook_secret) == ("w", None, "s")
    assert (settings.webhook_tolerance, settings.max_body, settings.sweep_interval) == (60, 1024, 0)
    assert (settings.relay_url, settings.relay_attempts) == ("https://hooks.example/orders", 3)
    assert settings.relay_concurrency == 2
    assert (settings.relay_backoff, settings.relay_backoff_max) == (60, 21600)  # about 3 days
    assert settings.sweep_batch == 100


@pytest.mark.parametrize(
    ("environ", "field"),
    [
        ({"ORDERFSM_MAX_BODY": "lots"}, "max_body"),
        ({"ORDERFSM_MAX_BODY": "0"}, "max_body"),
        ({"ORDERFSM_SWEEP_INTERVAL": "-1"}, "sweep_interval"),
        ({"ORDERFSM_RELAY_URL": "ftp://x"}, "relay_url"),
        ({"ORDERFSM_RELAY_URL": "https://x/hook"}, "relay_secret"),
        ({"ORDERFSM_WEBHOOK_TOLERANCE": "inf"}, "webhook_tolerance"),
        ({"ORDERFSM_WEBHOOK_TOLERANCE": "nan"}, "webhook_tolerance"),
        ({"ORDERFSM_WEBHOOK_TOLERANCE": "3601"}, "webhook_tolerance"),
        ({"ORDERFSM_SWEEP_INTERVAL": "inf"}, "sweep_interval"),
        ({"ORDERFSM_RELAY_TIMEOUT": "1e400"}, "relay_timeout"),
        ({"ORDERFSM_TOKEN": "jeton-\u00e9t\u00e9"}, "token"),
        ({"ORDERFSM_READ_TOKEN": "two words"}, "read_token"),
        ({"ORDERFSM_TOKEN": "zero\u200bwidth"}, "token"),
        ({"ORDERFSM_MAX_SKEW": "1e15"}, "max_skew"),
        ({"ORDERFSM_MAX_SKEW": "-1"}, "max_skew"),
        ({"ORDERFSM_NEAR_HOURS": "1e8"}, "near_hours"),
        ({"ORDERFSM_SWEEP_BATCH": "20000"}, "sweep_batch"),
        ({"ORDERFSM_RELAY_CONCURRENCY": "0"}, "relay_concurrency"),
        ({"ORDERFSM_RELAY_CONCURRENCY": "257"}, "relay_concurrency"),
        ({"ORDERFSM_RELAY_ATTEMPTS": "100000"}, "relay_attempts"),
        ({"ORDERFSM_MAX_BODY": "99999999999999999999999"}, "max_body"),
    ],
)
def test_a_setting_that_does_not_read_names_its_variable(
    environ: dict[str, str], field: str
) -> None:
    """A bad setting is InvalidInput naming the field and its environment variable."""
    with pytest.raises(InvalidInput) as caught:
        Settings.from_env(environ)
    assert caught.value.field == field
    assert "ORDERFSM_" in caught.value.message


def test_serve_takes_the_store_and_the_address_never_a_token() -> None:
    """serve()'s signature, which orderfsm serve calls: keyword-only store, whether to create
    it, address, workers, pool and log level; no parameter for a token or a secret. A new
    SQLite file is made only when asked (R1: a lost file never silently becomes a new store)."""
    parameters = inspect.signature(serve).parameters
    assert list(parameters) == [
        "db", "dsn", "create", "host", "port", "workers", "pool_size", "log_level", "log_format"
    ]  # fmt: skip
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())
    assert parameters["create"].default is False
    assert (parameters["host"].default, parameters["port"].default) == ("127.0.0.1", 8000)


@pytest.mark.parametrize("variable", ["ORDERFSM_DB path", "ORDERFSM_DB URL", "ORDERFSM_DSN"])
def test_app_from_env_reads_orderfsm_db_as_orderfsm_does(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """ORDERFSM_DB is a SQLite path or a postgresql:// URL to app_from_env (the factory of
    serve's workers and of uvicorn --factory), as to every orderfsm command; ORDERFSM_DSN still
    names PostgreSQL. The order created over HTTP is in the store the variable names."""
    monkeypatch.delenv("ORDERFSM_DB", raising=False)
    monkeypatch.delenv("ORDERFSM_DSN", raising=False)
    for name, value in server_env().items():
        if name.startswith("ORDERFSM_"):
            monkeypatch.setenv(name, value)
    if variable == "ORDERFSM_DB path":
        path = tmp_path / "orders.db"
        SQLiteStore(path).close()  # serve() makes it (with create=True) before its workers
        monkeypatch.setenv("ORDERFSM_DB", str(path))
    else:
        dsn = request.getfixturevalue("pg_dsn")
        if variable == "ORDERFSM_DB URL":
            monkeypatch.setenv("ORDERFSM_DB", pg_url(dsn))
        else:
            monkeypatch.setenv("ORDERFSM_DSN", dsn)
    app = app_from_env()
    with ThreadServer(app) as server, httpx.Client(base_url=server.url) as client:
        assert create(client, "ENV-1").status_code == 201
    store = SQLiteStore(path) if variable == "ORDERFSM_DB path" else PostgresStore(dsn)
    try:
        assert store.get("ENV-1").state == "paid"
    finally:
        store.close()


def test_app_from_env_never_makes_a_new_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R1: the workers' factory opens only a SQLite file that exists: a worker restarted after
    the file was deleted says so (StoreUnavailable naming --create) instead of starting on a new
    empty store, where every order would look gone; no file is made."""
    for name, value in server_env().items():
        if name.startswith("ORDERFSM_"):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("ORDERFSM_DSN", raising=False)
    monkeypatch.setenv("ORDERFSM_DB", str(tmp_path / "orders.db"))
    with pytest.raises(StoreUnavailable, match=r"no such file.*--create"):
        app_from_env()
    assert list(tmp_path.iterdir()) == []


def test_app_from_env_refuses_two_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ORDERFSM_DB and ORDERFSM_DSN both set: InvalidInput naming both, no store opened."""
    monkeypatch.setenv("ORDERFSM_DB", str(tmp_path / "orders.db"))
    monkeypatch.setenv("ORDERFSM_DSN", "host=db dbname=shop")
    with pytest.raises(InvalidInput) as caught:
        app_from_env()
    assert "ORDERFSM_DB" in caught.value.message and "ORDERFSM_DSN" in caught.value.message
    assert not (tmp_path / "orders.db").exists()


def test_serve_refuses_a_url_as_its_sqlite_file() -> None:
    """serve(db=...) is a SQLite file, handed to its workers in ORDERFSM_DB: a postgresql://
    URL there is refused before anything starts (the workers would read it as PostgreSQL)."""
    with pytest.raises(InvalidInput) as caught:
        serve(db="postgresql://shop@db.invalid/orders")
    assert caught.value.field == "db"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "statemachine.web", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env or server_env(),
        cwd=ROOT,
        check=False,
    )


def test_the_command_line_refuses_what_it_cannot_serve(tmp_path: Path) -> None:
    """python -m statemachine.web needs --db or --dsn, says which setting or store is wrong
    (exit 2 for an argument, 3 for a setting, 4 for the store, as orderfsm serve) before it
    listens, and takes no token on the command line."""
    assert _cli().returncode == 2
    assert _cli("--db", "a.db", "--dsn", "x").returncode == 2
    missing = _cli("--db", str(tmp_path / "no" / "such" / "dir" / "orders.db"))
    assert missing.returncode == 4 and "cannot use the store" in missing.stderr
    bad = _cli("--db", str(tmp_path / "o.db"), env=server_env(ORDERFSM_MAX_BODY="lots"))
    assert bad.returncode == 3 and "ORDERFSM_MAX_BODY" in bad.stderr
    helped = _cli("--help")
    assert "ORDERFSM_TOKEN" in helped.stdout and "--token" not in helped.stdout
    assert _cli("--db", "o.db", "--token", WRITE).returncode == 2


def test_the_app_mounts_inside_another_with_its_lifespan(tmp_path: Path) -> None:
    """Mounted under /fsm in another FastAPI app (its lifespan run from the outer one): the
    API, Location headers, the inspector's links and its sweeper all work under the prefix."""
    store = AsyncSQLiteStore(tmp_path / "orders.db")
    inner = create_app(store, settings=Settings(token=WRITE, read_token=READ, sweep_interval=0.1))

    @asynccontextmanager
    async def lifespan(outer: FastAPI) -> AsyncIterator[None]:
        async with inner.router.lifespan_context(inner):
            yield

    outer = FastAPI(lifespan=lifespan)
    outer.mount("/fsm", inner)
    with ThreadServer(outer) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/fsm/healthz").json() == {"status": "ok"}
        created = client.post(
            "/fsm/orders",
            headers=W,
            json={"order_id": "M-1", "amount": "5.00", "currency": "EUR",
                  "paid_at": "2026-03-02T09:00:00+08:00"},
        )  # fmt: skip
        assert created.status_code == 201
        assert created.headers["location"] == f"{server.url}/fsm/orders/M-1"
        page = client.get("/fsm/inspect/", headers=R).text
        assert 'href="/fsm/inspect/orders?state=paid"' in page
        for _ in range(600):  # the sweeper runs under the outer lifespan (R12)
            state = client.get("/fsm/orders/M-1", headers=R).json()["order"]["state"]
            if state != "paid":
                break
            import time

            time.sleep(0.05)
        assert state == "refund_pending"
    store.sync.close()


def test_a_postgres_store_is_all_the_service_needs(pg_dsn: str) -> None:
    """create_app takes the store and nothing else: on an AsyncPostgresStore the service
    answers, lists and is ready, with no connection string of its own."""
    store = AsyncPostgresStore(pg_dsn, pool_size=2)
    try:
        app = create_app(store, settings=Settings(token=WRITE, sweep_interval=0))
        with ThreadServer(app) as server, httpx.Client(base_url=server.url) as client:
            assert create(client, "P-1").status_code == 201
            assert client.get("/readyz").json() == {"status": "ready"}
            listing = client.get("/orders", headers={"Authorization": f"Bearer {WRITE}"})
            assert [o["order_id"] for o in listing.json()["orders"]] == ["P-1"]
    finally:
        store.sync.close()


@pytest.mark.parametrize("where", ["--db PATH", "ORDERFSM_DB URL"])
def test_orderfsm_serve_runs_the_service_and_stops_on_sigterm(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """R15: `orderfsm serve --db PATH`, or with ORDERFSM_DB a postgresql:// URL as for every
    command, serves the API (a write needs ORDERFSM_TOKEN from the environment, never an
    option), and SIGTERM stops it cleanly with exit status 0."""
    import shutil
    import signal
    import sysconfig

    from web_helpers import free_port

    script = shutil.which("orderfsm", path=sysconfig.get_path("scripts")) or shutil.which(
        "orderfsm"
    )
    assert script, "orderfsm is installed with the package"
    port = free_port()
    if where == "--db PATH":
        env, store_args = server_env(), ["--db", str(tmp_path / "orders.db"), "--create"]
    else:
        dsn = request.getfixturevalue("pg_dsn")
        env, store_args = {**server_env(), "ORDERFSM_DB": pg_url(dsn)}, []
    process = subprocess.Popen(
        [script, "serve", *store_args, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process)
        body = {"order_id": "AE-1", "amount": "25.00", "currency": "USD",
                "paid_at": "2026-03-02T09:00:00+08:00"}  # fmt: skip
        assert httpx.post(f"{url}/orders", json=body, timeout=10).status_code == 401
        created = httpx.post(f"{url}/orders", json=body, headers=W, timeout=10)
        assert created.status_code == 201
        shown = httpx.get(f"{url}/orders/AE-1", headers=R, timeout=10).json()
        assert shown["order"]["state"] == "paid", shown
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
    assert code == 0, process.stderr.read() if process.stderr else ""
    if where == "ORDERFSM_DB URL":
        store = PostgresStore(dsn)
        try:
            assert store.get("AE-1").state == "paid"
        finally:
            store.close()


def test_orderfsm_serve_without_a_store_is_one_line_exit_2() -> None:
    """`orderfsm serve` with no store given prints one line naming --db/--dsn, exit status 2."""
    import shutil
    import sysconfig

    script = shutil.which("orderfsm", path=sysconfig.get_path("scripts")) or shutil.which(
        "orderfsm"
    )
    assert script
    env = {k: v for k, v in server_env().items() if k != "ORDERFSM_DB"}
    done = subprocess.run([script, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "--db" in done.stderr
