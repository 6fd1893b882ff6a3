"""The service's log (statemachine.web._logs) on real server processes: a request id on every
answer and on every line of its request, taken from X-Request-ID only when it is a sane token;
time, level and request id on each line, as text or JSON lines; the access line ours; and
`orderfsm serve --log-level/--log-format` (issue 18, part 3)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from web_helpers import (
    ROOT,
    ProcessServer,
    R,
    ThreadServer,
    at,
    create,
    fire,
    free_port,
    wait_healthy,
)

from conftest import SETTINGS
from statemachine.store import AsyncSQLiteStore
from statemachine.web import create_app
from statemachine.web._logs import MAX_REQUEST_ID, RequestIdFilter

MADE = re.compile(r"[0-9a-f]{32}")
"""A request id the service made (uuid4().hex)."""
TEXT_LINE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+ \[\S+\] "
)


def start(tmp_path: Path, *options: str, **place: str) -> ProcessServer:
    """``python -m statemachine.web`` at INFO with ``options`` (``--log-format json``); on
    ``place`` (``db=`` or ``dsn=``), a new SQLite file by default."""
    if not place:
        place = {"db": str(tmp_path / "orders.db")}
    server = ProcessServer(**place, log=tmp_path / "server.log")
    server.command[server.command.index("--log-level") + 1] = "info"
    server.command += list(options)
    return server.start()


@pytest.fixture
def text_server(tmp_path: Path) -> Iterator[ProcessServer]:
    """A server process writing text lines at INFO."""
    server = start(tmp_path)
    yield server
    server.stop()


def lines_of(server: ProcessServer) -> list[str]:
    """The server's log so far, line by line."""
    return server.log.read_text(errors="backslashreplace").splitlines()


def raw_request(port: int, header: bytes) -> bytes:
    """GET /healthz sent byte for byte with ``header`` (what httpx would refuse to send); the
    status line and headers of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + header + b"\r\nConnection: close\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.split(b"\r\n\r\n")[0]


def test_a_sane_request_id_is_echoed_and_any_other_replaced(text_server: ProcessServer) -> None:
    """X-Request-ID comes back as sent when it is a token of 1 to 128 printable ASCII
    characters, on answers and on problems (401, 404) alike; absent, too long (129 characters,
    10 KB), with a space or a tab or not ASCII, it is replaced by a new uuid4 hex; a line break
    or an escape never reaches the service (the HTTP parser refuses the request); none of
    the hostile values reaches the log."""
    url = text_server.url
    sane = "shop-42.req:7f/AB_c+=~"
    longest = "x" * MAX_REQUEST_ID
    with httpx.Client(base_url=url, timeout=30) as client:
        for answer in (
            client.get("/healthz", headers={"X-Request-ID": sane}),
            client.get("/orders/AE-404", headers={**R, "X-Request-ID": sane}),
            client.get("/orders/AE-404", headers={"X-Request-ID": sane}),
        ):
            assert answer.headers["X-Request-ID"] == sane, answer.status_code
        assert (
            client.get("/healthz", headers={"X-Request-ID": longest}).headers["X-Request-ID"]
            == longest
        )
        made = client.get("/healthz").headers["X-Request-ID"]
        assert MADE.fullmatch(made)
        assert client.get("/healthz").headers["X-Request-ID"] != made
        for hostile in (longest + "x", "k" * 10240, "a b", "a\tb", "café"):
            answer = client.get("/healthz", headers={"X-Request-ID": hostile.encode()})
            assert MADE.fullmatch(answer.headers["X-Request-ID"]), hostile
    for header in (b"X-Request-ID: evil\nINFO forged line", b"X-Request-ID: evil\x1b[2Jwiped"):
        assert raw_request(text_server.port, header).startswith(b"HTTP/1.1 400")
    log = "\n".join(lines_of(text_server))
    assert f"[{sane}] GET /healthz 200" in log
    assert f"[{sane}] GET /orders/AE-404 404" in log and f"[{sane}] GET /orders/AE-404 401" in log
    for hostile in ("k" * 200, "forged line", "wiped", "café", "a b"):
        assert hostile not in log


def test_text_lines_carry_time_level_and_request_id(text_server: ProcessServer) -> None:
    """Every line of a text log starts with its time (ISO 8601, UTC), its level, its logger and
    its request id in brackets (- outside a request); uvicorn's access line is replaced by
    ours: request id, method, path without its query, status, duration and the credential
    that asked."""
    with httpx.Client(base_url=text_server.url, timeout=30) as client:
        assert create(client, "AE-1").status_code == 201
        listed = client.get("/orders?limit=5&state=paid", headers={**R, "X-Request-ID": "list-1"})
        assert listed.status_code == 200
    lines = lines_of(text_server)
    assert lines and all(TEXT_LINE.match(line) for line in lines), lines
    access = [line for line in lines if " statemachine.web.access " in line]
    assert any(
        re.search(r"\[list-1\] GET /orders 200 \d+\.\dms by read-token$", line) for line in access
    )  # who asked: the credential's name
    assert not [line for line in lines if '"GET /orders' in line]  # uvicorn's own access line
    stamp = dt.datetime.fromisoformat(lines[-1].split(" ", 1)[0])
    assert stamp.utcoffset() == dt.timedelta(0)


def test_every_line_of_a_failing_request_names_it(tmp_path: Path) -> None:
    """A stored order whose row is damaged: the 500 problem and the operator's ERROR line
    (naming the order) and the access line all carry the request's id."""
    server = start(tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert create(client, "AE-1").status_code == 201
            with sqlite3.connect(tmp_path / "orders.db") as db:
                db.execute(
                    "UPDATE orders SET head = replace(head, '\"25.00\"', '\"lots\"') "
                    "WHERE order_id = 'AE-1'"
                )
            answer = client.get("/orders/AE-1", headers={**R, "X-Request-ID": "broken-1"})
        assert answer.status_code == 500 and answer.headers["X-Request-ID"] == "broken-1"
        mine = [line for line in lines_of(server) if "[broken-1]" in line]
        assert any(" ERROR statemachine.web " in line and "AE-1" in line for line in mine)
        assert any(" statemachine.web.access " in line and " 500 " in line for line in mine)
    finally:
        server.stop()


def test_the_store_s_line_of_an_event_carries_the_request_id(
    where: tuple[str, str], tmp_path: Path
) -> None:
    """R15: the store's INFO line of an applied event and of its replay (logger
    statemachine) carries the id of the request that sent it, beside the access line."""
    kind, target = where
    server = start(tmp_path, **({"db": target} if kind == "sqlite" else {"dsn": target}))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert create(client, "AE-1").status_code == 201
            for rid in ("ev-1", "ev-2"):
                fire(
                    client,
                    "AE-1",
                    "request_cancellation",
                    key="c-1",
                    headers={"X-Request-ID": rid},
                    at=at(hours=1),
                )
        lines = lines_of(server)
        applied = [line for line in lines if "request_cancellation applied on order" in line]
        replayed = [line for line in lines if "request_cancellation duplicate on order" in line]
        assert applied and "[ev-1]" in applied[0], lines
        assert replayed and "[ev-2]" in replayed[0], lines
    finally:
        server.stop()


def test_json_lines_parse_with_time_level_and_request_id(tmp_path: Path) -> None:
    """--log-format json: every line is one JSON object with time (ISO 8601, UTC), level,
    logger, message and request_id; a request's access line adds method, path, status and
    duration_ms; a refused event's line is as parseable as the rest."""
    server = start(tmp_path, "--log-format", "json")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert create(client, "AE-1").status_code == 201
            fire(client, "AE-1", "dispatch", at=at(1), tracking_number="LP1")
            refused = fire(
                client,
                "AE-1",
                "request_cancellation",
                headers={"X-Request-ID": "json-1"},
                at=at(2),
            )
            assert refused.status_code == 409  # R2
    finally:
        assert server.terminate() == 0
        server.stop()
    records = [json.loads(line) for line in lines_of(server)]
    assert records
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= set(record), record
        assert dt.datetime.fromisoformat(record["time"]).utcoffset() == dt.timedelta(0)
        assert record["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    ours = [r for r in records if r["request_id"] == "json-1"]
    access = [r for r in ours if r["logger"] == "statemachine.web.access"]
    assert [(r["method"], r["path"], r["status"]) for r in access] == [
        ("POST", "/orders/AE-1/events/request_cancellation", 409)
    ]
    assert access[0]["duration_ms"] >= 0
    assert {r["logger"] for r in ours} == {"statemachine.web.access", "statemachine"}
    assert any(r["request_id"] is None and r["logger"].startswith("uvicorn") for r in records)


def test_an_unexpected_error_answers_and_logs_its_request_id(tmp_path: Path) -> None:
    """A bug (an exception no handler knows, answered outside every middleware): the 500
    problem carries X-Request-ID, and the ERROR line that logs it names the same id."""
    caught: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            caught.append(record)

    keep = Keep()
    keep.addFilter(RequestIdFilter())
    logger = logging.getLogger("statemachine.web")
    logger.addHandler(keep)
    store = AsyncSQLiteStore(tmp_path / "orders.db")
    app = create_app(store, settings=SETTINGS)

    async def boom() -> Any:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    try:
        with ThreadServer(app) as server:
            answer = httpx.get(f"{server.url}/boom", headers={"X-Request-ID": "bug-1"}, timeout=30)
    finally:
        logger.removeHandler(keep)
        store.sync.close()
    assert answer.status_code == 500 and answer.headers["X-Request-ID"] == "bug-1"
    assert "a bug" not in answer.text
    errors = [r for r in caught if r.levelno == logging.ERROR]
    assert errors and all(getattr(r, "request_id", None) == "bug-1" for r in errors)


def _orderfsm() -> str:
    script = shutil.which("orderfsm", path=sysconfig.get_path("scripts")) or shutil.which(
        "orderfsm"
    )
    assert script, "orderfsm is installed with the package"
    return script


def test_orderfsm_serve_takes_a_log_level_and_format(tmp_path: Path) -> None:
    """`orderfsm serve --log-level WARNING --log-format json` serves, and its log holds no
    INFO line (uvicorn's start-up lines and the access lines are INFO); every line it writes
    is JSON, the warning that no token is set among them."""
    from web_helpers import server_env

    env = {
        k: v for k, v in server_env().items() if k not in ("ORDERFSM_TOKEN", "ORDERFSM_READ_TOKEN")
    }
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                _orderfsm(),
                "serve",
                "--db",
                str(tmp_path / "orders.db"),
                "--create",
                "--port",
                str(port),
                "--log-level",
                "WARNING",
                "--log-format",
                "json",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, log.read_text)
        assert httpx.get(f"http://127.0.0.1:{port}/orders/AE-1").status_code == 401
    finally:
        process.terminate()
        assert process.wait(60) == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert all(r["level"] in {"WARNING", "ERROR", "CRITICAL"} for r in records), records
    assert any("ORDERFSM_TOKEN" in r["message"] for r in records), records  # no token set


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["serve", "--log-level", "loud"], "--log-level"),
        (["serve", "--log-format", "xml"], "--log-format"),
    ],
)
def test_orderfsm_serve_refuses_a_bad_log_option_with_exit_2(
    command: list[str], option: str, tmp_path: Path
) -> None:
    """A log level or format `orderfsm serve` does not know is a usage error: exit status 2
    naming the option, before anything starts."""
    done = subprocess.run(
        [_orderfsm(), *command, "--db", str(tmp_path / "orders.db"), "--create"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert option in done.stderr
    assert not (tmp_path / "orders.db").exists()


def test_python_m_statemachine_web_refuses_a_bad_log_format_with_exit_2(tmp_path: Path) -> None:
    """`python -m statemachine.web --log-format xml` is a usage error, exit status 2."""
    done = subprocess.run(
        [sys.executable, "-m", "statemachine.web", "--db", str(tmp_path / "o.db"),
         "--log-format", "xml"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "--log-format" in done.stderr
