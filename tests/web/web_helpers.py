"""Helpers of the web tests: real servers (uvicorn in a thread, or ``python -m
statemachine.web`` in a process), tokens, and signed requests."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from fastapi import FastAPI

from statemachine.web import SIGNATURE_HEADER, signature_header

WRITE: Final = "write-token-5f1c9e"
READ: Final = "read-token-0a7d22"
SECRET: Final = "webhook-secret-93b1"
RELAY_SECRET: Final = "relay-secret-77e0"
SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
PAID: Final = dt.datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
"""A Monday; the R1 dispatch deadline is the end of 2026-03-11 in Shanghai."""
ROOT: Final = Path(__file__).resolve().parents[2]

W: Final = {"Authorization": f"Bearer {WRITE}"}
R: Final = {"Authorization": f"Bearer {READ}"}


def at(days: float = 0, hours: float = 0) -> str:
    """A moment ``days`` and ``hours`` after :data:`PAID`, as ISO 8601."""
    return (PAID + dt.timedelta(days=days, hours=hours)).isoformat()


def free_port() -> int:
    """A port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ThreadServer:
    """A real uvicorn server for ``app`` on a free local port, in a thread of the test."""

    def __init__(self, app: FastAPI | Any) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        for _ in range(3000):
            if self.server.started or not self.thread.is_alive():
                break
            time.sleep(0.01)
        assert self.server.started, "the server did not start"
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(60)


def server_env(**settings: str) -> dict[str, str]:
    """The environment of a server process: the tokens, and ``settings`` (ORDERFSM_*)."""
    env = {
        **os.environ,
        "ORDERFSM_TOKEN": WRITE,
        "ORDERFSM_READ_TOKEN": READ,
        "ORDERFSM_WEBHOOK_SECRET": SECRET,
        "ORDERFSM_SWEEP_INTERVAL": "0",
        **settings,
    }
    env.pop("ORDERFSM_DB", None)
    env.pop("ORDERFSM_DSN", None)
    return env


def wait_until(check: Callable[[], object], what: str, seconds: float = 30) -> None:
    """Poll ``check`` every 50 ms for at most ``seconds``; fail naming ``what``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def wait_healthy(
    url: str,
    process: subprocess.Popen[Any] | None = None,
    said: Callable[[], str] = lambda: "",
) -> None:
    """Wait (bounded: about 30 s) until the server at ``url`` answers ``/healthz``; fail at
    once, with what it said, if its ``process`` exits first."""
    for _ in range(600):
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited: {said()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"the server at {url} did not answer /healthz: {said()}")


class ProcessServer:
    """``python -m statemachine.web`` in a process of its own, its output in a file; a SQLite
    file that does not exist is made (``--create``) unless ``create=False``."""

    def __init__(
        self,
        *,
        db: str | None = None,
        dsn: str | None = None,
        log: Path,
        env: dict[str, str] | None = None,
        workers: int = 1,
        create: bool = True,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        where = ["--db", db] if db is not None else ["--dsn", str(dsn)]
        if create and db is not None:
            where.append("--create")
        self.command = [
            sys.executable,
            "-m",
            "statemachine.web",
            *where,
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--pool-size",
            "4",
            "--log-level",
            "warning",
        ]
        self.env = env if env is not None else server_env()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ProcessServer:
        """Start the process and wait until it answers /healthz (bounded)."""
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
        out.close()
        wait_healthy(self.url, self.process, lambda: self.log.read_text()[-2000:])
        return self

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, then wait for the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: the process dies at once, mid-request."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)

    def stop(self) -> None:
        """Make sure it is gone (SIGTERM, then SIGKILL)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)


def signed(
    path: str,
    body: dict[str, Any] | bytes,
    key: str,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a supplier webhook signed with ``secret``."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        SIGNATURE_HEADER: signature_header(secret, "POST", path, key, raw, timestamp=timestamp),
    }
    return raw, headers


def pg_url(dsn: str) -> str:
    """A libpq connection string (the ``pg_dsn`` fixture's) as the ``postgresql://`` URL that
    ``ORDERFSM_DB`` takes, its schema in the ``options`` parameter."""
    from urllib.parse import quote

    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    auth = quote(str(params["user"]), safe="")
    if params.get("password"):
        auth += ":" + quote(str(params["password"]), safe="")
    url = f"postgresql://{auth}@{params['host']}:{params['port']}/{params['dbname']}"
    if params.get("options"):
        url += f"?options={quote(str(params['options']), safe='')}"
    return url


def create(client: httpx.Client, order_id: str, *, paid_at: str | None = None) -> httpx.Response:
    """POST /orders with the write token; the response."""
    return client.post(
        "/orders",
        headers=W,
        json={
            "order_id": order_id,
            "amount": "25.00",
            "currency": "USD",
            "paid_at": paid_at or PAID.isoformat(),
        },
    )


def fire(
    client: httpx.Client,
    order_id: str,
    event: str,
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    **data: Any,
) -> httpx.Response:
    """POST an event with the write token (``data`` includes ``at``)."""
    sent = {**W, **(headers or {})}
    if key is not None:
        sent["Idempotency-Key"] = key
    return client.post(f"/orders/{order_id}/events/{event}", headers=sent, json=data)
