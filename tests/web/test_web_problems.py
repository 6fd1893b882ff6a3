"""Errors as problem documents (statemachine.web._problems): a request error tells the caller
what to fix, a store fault tells the caller only that the store failed and the operator why."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from store_helpers import StoreSpec, raw
from web_helpers import READ, WRITE, R, ThreadServer, at, create, fire

from statemachine.errors import EventRejected, OrderError, StoreFault
from statemachine.store import AsyncSQLiteStore
from statemachine.web import Settings, create_app
from statemachine.web._problems import PROBLEM_JSON, problem_of
from tests.helpers import ERRORS

STATUS: dict[str, tuple[int, dict[str, str]]] = {
    "InvalidInput": (422, {}),
    "EventTooFarAhead": (422, {}),
    "EventRejected": (409, {}),
    "UnknownOrder": (404, {}),
    "OrderExists": (409, {}),
    "VersionConflict": (412, {"etag": '"2"'}),
    "NotPermitted": (403, {}),
    "StoreUnavailable": (503, {"retry-after": "5"}),
    "ConcurrentUpdate": (503, {"retry-after": "1"}),
    "CorruptOrder": (500, {}),
    "SchemaVersionError": (500, {}),
    "TableError": (500, {}),
    "GraphvizMissing": (503, {}),
}
"""The status and the extra headers of each error's problem document."""

EXTRA = ("etag", "retry-after")


def _answer(error: OrderError) -> tuple[int, dict[str, str], dict[str, Any]]:
    response = problem_of(error, instance="/orders/AE-1")
    assert response.headers["content-type"] == PROBLEM_JSON
    headers = {k: v for k, v in response.headers.items() if k in EXTRA}
    return response.status_code, headers, json.loads(bytes(response.body))


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_every_error_has_its_status_and_headers(error: OrderError) -> None:
    """Each error of the package answers its status: a request error a 4xx, a store fault a
    503 with Retry-After where trying again may help and a 500 where the operator must act."""
    status, headers, body = _answer(error)
    assert (status, headers) == STATUS[type(error).__name__]
    assert (body["status"], body["error"]) == (status, type(error).__name__)
    assert body["type"] == f"urn:orderfsm:problem:{type(error).__name__}"
    if not isinstance(error, StoreFault):
        assert body["detail"] == error.message  # in the error's own words


@pytest.mark.parametrize(("kind", "status"), [("state", 409), ("time", 409), ("data", 422)])
def test_a_refusal_answers_by_its_kind(kind: str, status: int) -> None:
    """R2 R10 R16: a refusal of the order's state or of the time is 409, of the data 422."""
    refusal = EventRejected("no", rule="R0", event="e", state="s", order_id="AE-1", kind=kind)  # type: ignore[arg-type]
    assert _answer(refusal)[0] == status


@pytest.mark.parametrize(
    "error", [e for e in ERRORS if isinstance(e, StoreFault)], ids=lambda e: type(e).__name__
)
def test_a_store_fault_names_the_order_never_the_row(
    error: StoreFault, caplog: pytest.LogCaptureFixture
) -> None:
    """A store fault's problem document names the order where there is one, and nothing of
    the row, the path or the database; the operator's log has the whole message at ERROR."""
    with caplog.at_level(logging.ERROR, logger="statemachine.web"):
        _, _, body = _answer(error)
    text = json.dumps(body)
    for secret in ("/srv/orders.db", "lots-of-money", "amount", "schema version", "write lock"):
        assert secret not in text
    assert body["order_id"] == error.to_dict()["order_id"]
    assert (body["field"], body["facts"]) == (None, {})
    logged = [r for r in caplog.records if r.name == "statemachine.web"]
    assert [r.levelno for r in logged] == [logging.ERROR]
    assert error.message in logged[0].getMessage()


def test_a_corrupt_row_answers_500_without_its_values(
    client: httpx.Client,
    where: StoreSpec,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A stored head that holds no amount is 500 naming the order, on reads and on events;
    the value it holds and the store's path are in the operator's log, not in the answer; an
    unknown order is still 404."""
    create(client, "AE-1")
    kind, target = where
    body = "replace(head, '\"25.00\"', '\"lots-of-money\"')"
    if kind == "postgres":
        body = "replace(head::text, '\"25.00\"', '\"lots-of-money\"')::jsonb"
    raw(where, f"UPDATE orders SET head = {body} WHERE order_id = 'AE-1'")
    with caplog.at_level(logging.ERROR, logger="statemachine.web"):
        read = client.get("/orders/AE-1", headers=R)
        event = fire(client, "AE-1", "request_cancellation", at=at(hours=1))
    for answer in (read, event):
        assert answer.status_code == 500
        assert answer.headers["content-type"] == PROBLEM_JSON
        problem = answer.json()
        assert (problem["error"], problem["order_id"]) == ("CorruptOrder", "AE-1")
        for secret in ("lots-of-money", "amount", target, "SELECT", "Traceback"):
            assert secret not in answer.text
    logged = [r.getMessage() for r in caplog.records if r.name == "statemachine.web"]
    assert len(logged) == 2 and all("lots-of-money" in line for line in logged)
    assert fire(client, "AE-9", "request_cancellation", at=at(hours=1)).status_code == 404


def test_a_database_file_deleted_under_the_service_is_503_and_loses_nothing(
    tmp_path: Any,
) -> None:
    """R1: the SQLite file moved away under a running service: writes answer 503 with
    Retry-After (nothing written, no path in the answer) and /readyz 503, never a 201 for a
    write kept nowhere; every order answered 201 before is in the file."""
    import shutil

    path = tmp_path / "orders.db"
    store = AsyncSQLiteStore(path)
    app = create_app(store, settings=Settings(token=WRITE, read_token=READ, sweep_interval=0))
    write = {"Authorization": f"Bearer {WRITE}"}

    def order(oid: str) -> dict[str, str]:
        return {"order_id": oid, "amount": "25.00", "currency": "USD",
                "paid_at": "2026-03-02T09:00:00+08:00"}  # fmt: skip

    with ThreadServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("/orders", json=order("AE-1"), headers=write).status_code == 201
        assert http.get("/readyz").status_code == 200
        kept = tmp_path / "kept"
        kept.mkdir()
        for name in ("orders.db", "orders.db-wal", "orders.db-shm"):
            if (tmp_path / name).exists():
                shutil.move(tmp_path / name, kept / name)
        answer = http.post("/orders", json=order("AE-2"), headers=write)
        assert answer.status_code == 503 and answer.headers["Retry-After"]
        assert str(tmp_path) not in answer.text
        assert http.get("/readyz").status_code == 503
    import sqlite3

    rows = sqlite3.connect(kept / "orders.db").execute("SELECT order_id FROM orders").fetchall()
    assert rows == [("AE-1",)]


def test_a_read_only_store_is_not_ready_and_its_writes_are_503(tmp_path: Any) -> None:
    """R1: a store that cannot write (a read-only file or volume). `python -m
    statemachine.web` refuses to start on it, in one line saying so; the app factory uvicorn
    runs (`--factory statemachine.web:app_from_env`) starts, but /readyz is 503 with
    Retry-After and a write is 503 with Retry-After and no path (never 201, never a 500 with
    the driver's error); reads still answer. The file is unchanged."""
    import hashlib
    import subprocess
    import sys

    from web_helpers import ROOT, free_port, server_env, wait_healthy

    from statemachine.store import SQLiteStore
    from tests.helpers import read_only

    path = tmp_path / "orders.db"
    with SQLiteStore(path) as store:
        store.add(_order("AE-1"))
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    env = server_env(ORDERFSM_SWEEP_INTERVAL="0")
    refused = subprocess.run(
        read_only(path, [sys.executable, "-m", "statemachine.web", "--db", str(path)]),
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 4, refused.stderr
    assert refused.stderr.count("\n") == 1 and "read-only" in refused.stderr
    port = free_port()
    factory = [sys.executable, "-m", "uvicorn", "--factory", "statemachine.web:app_from_env",
               "--port", str(port), "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(
        read_only(path, factory),
        env={**env, "ORDERFSM_DB": str(path)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        ready = httpx.get(f"{url}/readyz", timeout=30)
        assert ready.status_code == 503 and ready.headers["Retry-After"]
        write = {"Authorization": f"Bearer {WRITE}"}
        answer = httpx.post(f"{url}/orders", json=_body("AE-2"), headers=write, timeout=30)
        assert answer.status_code == 503 and answer.headers["Retry-After"], answer.text
        assert str(tmp_path) not in answer.text and "sqlite" not in answer.text.lower()
        assert httpx.get(f"{url}/orders/AE-1", headers=R, timeout=30).status_code == 200
    finally:
        server.terminate()
        server.wait(60)
    assert "Traceback" not in (server.stderr.read().decode() if server.stderr else "")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def _body(oid: str) -> dict[str, str]:
    return {"order_id": oid, "amount": "25.00", "currency": "USD",
            "paid_at": "2026-03-02T09:00:00+08:00"}  # fmt: skip


def _order(oid: str) -> Any:
    import datetime as dt

    from statemachine import Order

    return Order.create(oid, "25.00", "USD", dt.datetime(2026, 3, 2, 1, tzinfo=dt.UTC))


def test_a_stopped_postgresql_is_503_within_seconds_in_one_line_each_and_recovers(
    tmp_path: Any,
) -> None:
    """R1: PostgreSQL stopped under a running service (a real server process on a real
    PostgreSQL). Reads, writes and /readyz answer 503 with Retry-After within seconds (a short
    wait for a connection, not half a minute), naming no DSN, host or port; the log says it in
    single lines, without a traceback and without a line per reconnection attempt. Started
    again, the same service serves and writes; what was answered 201 is kept, what was answered
    503 is not."""
    import time

    from pg_server import PostgresUnavailable, TempPostgres
    from web_helpers import ProcessServer

    from tests.helpers import skip_or_fail

    try:
        database = TempPostgres().start()
    except PostgresUnavailable as exc:
        skip_or_fail(f"the service on PostgreSQL is not tested: {exc}")
    log = tmp_path / "server.log"
    server = ProcessServer(dsn=database.dsn, log=log)
    write = {"Authorization": f"Bearer {WRITE}"}
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=60) as http:
            assert http.post("/orders", json=_body("AE-1"), headers=write).status_code == 201
            database.halt()
            outage = [
                lambda: http.get("/orders/AE-1", headers=R),
                lambda: http.post("/orders", json=_body("AE-2"), headers=write),
                lambda: http.get("/orders", headers=R),
                lambda: http.get("/readyz"),
                lambda: http.post(  # too large, with a session to look up in the store
                    "/orders",
                    content=b"x" * 70_000,
                    headers={
                        "Cookie": "orderfsm_inspector=abc",
                        "Content-Type": "application/json",
                    },
                ),
            ]
            for ask in outage:
                began = time.monotonic()
                answer = ask()
                assert time.monotonic() - began < 15, answer.request.url
                assert answer.status_code == 503 and answer.headers["Retry-After"], answer.text
                assert str(database.port) not in answer.text and "127.0.0.1" not in answer.text
            database.resume()
            deadline = time.monotonic() + 60
            while http.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "the service did not recover"
                time.sleep(0.2)
            assert http.post("/orders", json=_body("AE-3"), headers=write).status_code == 201
            assert http.get("/orders/AE-1", headers=R).json()["order"]["state"] == "paid"
            assert http.get("/orders/AE-2", headers=R).status_code == 404
    finally:
        server.stop()
        database.stop()
    text = log.read_text()
    assert "Traceback" not in text
    assert not [line for line in text.splitlines() if line[:1].isspace()], text
    assert text.count("error connecting") <= 2, text


def test_a_service_whose_file_was_deleted_stops_writing_and_does_not_restart_on_a_new_one(
    tmp_path: Any,
) -> None:
    """R1: the SQLite file deleted under a running service process (an operator's slip, a
    cleanup job): writes answer 503 with Retry-After and /readyz 503, never 201 for a write
    kept nowhere. Restarted without --create, the service refuses in one line and makes no new
    empty file at the path (which would look like every order gone); every order answered 201
    is in the file that was moved away."""
    import shutil
    import sqlite3
    import subprocess
    import sys

    from web_helpers import ROOT, ProcessServer, server_env

    path = tmp_path / "orders.db"
    server = ProcessServer(db=str(path), log=tmp_path / "server.log")
    write = {"Authorization": f"Bearer {WRITE}"}
    kept = tmp_path / "kept"
    kept.mkdir()
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for oid in ("AE-1", "AE-2"):
                assert http.post("/orders", json=_body(oid), headers=write).status_code == 201
            for name in ("orders.db", "orders.db-wal", "orders.db-shm"):
                if (tmp_path / name).exists():
                    shutil.move(tmp_path / name, kept / name)
            for oid in ("AE-3", "AE-4"):
                answer = http.post("/orders", json=_body(oid), headers=write)
                assert answer.status_code == 503 and answer.headers["Retry-After"], answer.text
                assert str(tmp_path) not in answer.text
            assert http.get("/readyz").status_code == 503
        assert server.terminate() == 0
    finally:
        server.stop()
    again = subprocess.run(
        [sys.executable, "-m", "statemachine.web", "--db", str(path), "--port", "1"],
        capture_output=True, text=True, env=server_env(), cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode == 4 and again.stderr.count("\n") == 1, again.stderr
    assert "no such file" in again.stderr and "--create" in again.stderr
    assert not path.exists()
    rows = sqlite3.connect(kept / "orders.db").execute("SELECT order_id FROM orders ORDER BY 1")
    assert rows.fetchall() == [("AE-1",), ("AE-2",)]


def test_a_write_lock_held_elsewhere_is_503_within_seconds(tmp_path: Any) -> None:
    """R1: another process holds the SQLite file's write lock: a write and /readyz answer 503
    with Retry-After within seconds (the service waits 5 s for the lock, not half a minute),
    naming no path; once the lock is let go, the same write is 201."""
    import sqlite3
    import time

    from web_helpers import ProcessServer

    path = tmp_path / "orders.db"
    server = ProcessServer(db=str(path), log=tmp_path / "server.log")
    write = {"Authorization": f"Bearer {WRITE}"}
    try:
        server.start()
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for ask in (
                lambda: http.post("/orders", json=_body("AE-1"), headers=write),
                lambda: http.get("/readyz"),
            ):
                began = time.monotonic()
                answer = ask()
                assert time.monotonic() - began < 15
                assert answer.status_code == 503 and answer.headers["Retry-After"], answer.text
                assert str(tmp_path) not in answer.text
            holder.execute("ROLLBACK")
            holder.close()
            assert http.post("/orders", json=_body("AE-1"), headers=write).status_code == 201
    finally:
        server.stop()
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def test_a_frozen_postgresql_is_503_within_seconds_and_recovers(tmp_path: Any) -> None:
    """R1: a PostgreSQL server that stops answering without closing its connections (frozen:
    SIGSTOP): a read answers 503 with Retry-After within seconds instead of hanging; thawed,
    the service reads and writes again."""
    import os
    import signal
    import subprocess
    import time

    from pg_server import PostgresUnavailable, TempPostgres
    from web_helpers import ProcessServer

    from tests.helpers import skip_or_fail

    try:
        database = TempPostgres().start()
    except PostgresUnavailable as exc:
        skip_or_fail(f"the service on PostgreSQL is not tested: {exc}")
    server = ProcessServer(dsn=database.dsn, log=tmp_path / "server.log")
    write = {"Authorization": f"Bearer {WRITE}"}
    frozen: list[int] = []
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=120) as http:
            assert http.post("/orders", json=_body("AE-1"), headers=write).status_code == 201
            postmaster = int((database.data / "postmaster.pid").read_text().split()[0])
            children = subprocess.run(
                ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
            ).stdout.split()
            frozen = [postmaster, *map(int, children)]
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)
            began = time.monotonic()
            answer = http.get("/orders/AE-1", headers=R)
            assert time.monotonic() - began < 30, "a read hung on the frozen server"
            assert answer.status_code == 503 and answer.headers["Retry-After"]
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
            frozen = []
            deadline = time.monotonic() + 60
            while http.get("/orders/AE-1", headers=R).status_code != 200:
                assert time.monotonic() < deadline, "the service did not recover"
                time.sleep(0.2)
            assert http.post("/orders", json=_body("AE-2"), headers=write).status_code == 201
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        server.stop()
        database.stop()


def test_a_sweeper_whose_store_fails_says_so_in_one_line_not_a_traceback_a_turn(
    tmp_path: Any,
) -> None:
    """R12: the sweeper of a service whose SQLite file went away: it logs the store's reason
    on one line when the sweeps start failing, not a traceback at every turn."""
    import shutil
    import time

    from web_helpers import ProcessServer, server_env

    path = tmp_path / "orders.db"
    log = tmp_path / "server.log"
    env = server_env(ORDERFSM_SWEEP_INTERVAL="0.1")
    server = ProcessServer(db=str(path), log=log, env=env)
    try:
        server.start()
        (tmp_path / "kept").mkdir()
        for name in ("orders.db", "orders.db-wal", "orders.db-shm"):
            if (tmp_path / name).exists():
                shutil.move(tmp_path / name, tmp_path / "kept" / name)
        time.sleep(2)  # some twenty sweeps
    finally:
        server.stop()
    text = log.read_text()
    assert "Traceback" not in text
    failed = [line for line in text.splitlines() if "the sweep failed" in line]
    assert 1 <= len(failed) <= 2, text
    assert "deleted or moved" in failed[0]
