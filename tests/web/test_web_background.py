"""Work the service does on its own, on real servers: the sweeper (R12, also two sweepers on
one PostgreSQL database), the outbox relay (signed, retried with backoff, acked on 2xx, a dead
letter after N tries) and a clean shutdown on SIGTERM (issue 12, point 4)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from web_helpers import (
    READ,
    RELAY_SECRET,
    SECRET,
    WRITE,
    ProcessServer,
    R,
    ThreadServer,
    at,
    create,
    fire,
    server_env,
    wait_until,
)

from conftest import open_async
from statemachine.web import SIGNATURE_HEADER, Settings, create_app, verify_signature


class Receiver:
    """A real HTTP endpoint that records what the relay sends and answers as ``plan`` says
    (a status per call for a notification id); ``hold`` keeps the first call waiting."""

    def __init__(self, plan: Callable[[str, int], int] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.plan = plan or (lambda key, n: 200)
        self.hold: threading.Event | None = None
        self.holding = threading.Event()
        self.lock = threading.Lock()
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> JSONResponse:
        body = await request.body()
        key = request.headers.get("idempotency-key", "")
        valid = verify_signature(
            RELAY_SECRET,
            request.headers.get(SIGNATURE_HEADER),
            method="POST",
            path="/hook",
            key=key,
            body=body,
            tolerance=300,
        )
        with self.lock:
            n = sum(1 for c in self.calls if c["key"] == key) + 1
            self.calls.append({"key": key, "body": body, "valid": valid is None})
        if self.hold is not None and not self.holding.is_set():
            self.holding.set()
            await anyio.to_thread.run_sync(self.hold.wait)
        return JSONResponse({}, status_code=self.plan(key, n))

    def keys(self) -> list[str]:
        with self.lock:
            return [c["key"] for c in self.calls]


def relay_settings(url: str, **more: Any) -> Settings:
    values: dict[str, Any] = {
        "token": WRITE,
        "read_token": READ,
        "webhook_secret": SECRET,
        "sweep_interval": 0,
        "relay_url": f"{url}/hook",
        "relay_secret": RELAY_SECRET,
        "relay_attempts": 3,
        "relay_backoff": 0.05,
        "relay_backoff_max": 0.2,
        "relay_interval": 0.05,
        **more,
    }
    return Settings(**values)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    """A receiver of relayed notifications, served by uvicorn."""
    got = Receiver()
    with ThreadServer(got.app) as server:
        yield got, server.url


def test_the_sweeper_fires_r12_on_due_orders(where: tuple[str, str]) -> None:
    """R12: with the sweeper on, an order past its R1 dispatch deadline is closed by the clock
    (dispatch_deadline_expired, source sweep) without any request."""
    store = open_async(where)
    settings = Settings(token=WRITE, read_token=READ, sweep_interval=0.1)
    with (
        ThreadServer(create_app(store, settings=settings)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        create(client, "AE-1")  # paid 2026-03-02: its deadline has passed by the wall clock

        def closed() -> bool:
            return bool(client.get("/orders/AE-1", headers=R).json()["order"]["state"] != "paid")

        wait_until(closed, "the sweeper closed AE-1")
        entries = client.get("/orders/AE-1/history", headers=R).json()["entries"]
        assert [(e["event"], e["source"]) for e in entries] == [
            ("dispatch_deadline_expired", "sweep")
        ]
    store.sync.close()


def test_two_sweepers_on_one_postgres_database_fire_each_clock_event_once(pg_dsn: str) -> None:
    """R12 with many instances: two services sweeping one PostgreSQL database (SKIP LOCKED)
    fire every due order's clock event exactly once between them."""
    stores = [open_async(("postgres", pg_dsn)) for _ in range(2)]
    settings = Settings(token=WRITE, read_token=READ, sweep_interval=0.05, sweep_batch=5)
    setup = Settings(token=WRITE, read_token=READ, sweep_interval=0)
    setup_store = open_async(("postgres", pg_dsn))
    setup_app = create_app(setup_store, settings=setup)
    with ThreadServer(setup_app) as server, httpx.Client(base_url=server.url) as client:
        for i in range(40):
            assert create(client, f"S-{i}").status_code == 201
    setup_store.sync.close()
    apps = [create_app(s, settings=settings) for s in stores]
    with (
        ThreadServer(apps[0]) as one,
        ThreadServer(apps[1]),
        httpx.Client(base_url=one.url) as client,
    ):

        def all_closed() -> bool:
            listing = client.get("/orders", params={"state": "paid"}, headers=R).json()
            return not listing["orders"]

        wait_until(all_closed, "every order closed")
        for i in range(40):
            entries = client.get(f"/orders/S-{i}/history", headers=R).json()["entries"]
            assert [e["event"] for e in entries] == ["dispatch_deadline_expired"]
    for s in stores:
        s.sync.close()


def test_the_relay_signs_retries_and_acks(
    where: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    """Notifications reach the receiver signed, with their id as Idempotency-Key; a 500 is
    retried with backoff, a 2xx acks it; the inspector shows it sent after its tries."""
    got, url = receiver
    got.plan = lambda key, n: 500 if n <= 2 else 200
    store = open_async(where)
    app = create_app(store, settings=relay_settings(url))
    with ThreadServer(app) as server, httpx.Client(base_url=server.url) as client:
        create(client, "AE-1")
        fire(client, "AE-1", "request_cancellation", at=at(hours=1))
        wait_until(lambda: not store.sync.outbox(), "the outbox emptied")
        item_keys = got.keys()
        assert len(item_keys) == 3 and len(set(item_keys)) == 1
        assert all(c["valid"] for c in got.calls)
        import json

        sent = json.loads(got.calls[-1]["body"])
        assert sent["id"] == int(item_keys[0])
        assert sent["notification"]["kind"] == "cancellation_request_received"
        page = client.get("/inspect/orders/AE-1", headers=R).text
        assert "sent</span> after 3 tries" in page
    store.sync.close()


def test_a_notification_becomes_a_dead_letter_after_n_tries(
    where: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    """After relay_attempts failures a notification is a dead letter: out of the queue, kept
    with its last error, and shown by the inspector."""
    got, url = receiver
    got.plan = lambda key, n: 503
    store = open_async(where)
    app = create_app(store, settings=relay_settings(url))
    with ThreadServer(app) as server, httpx.Client(base_url=server.url) as client:
        create(client, "DL-1")
        fire(client, "DL-1", "request_cancellation", at=at(hours=1))
        wait_until(lambda: not store.sync.outbox(), "the outbox gave up")
        assert len(got.keys()) == 3
        dead = client.get("/inspect/dead-letters", headers=R).text
        assert "DL-1" in dead and "HTTP 503" in dead
        page = client.get("/inspect/orders/DL-1", headers=R).text
        assert "dead letter</span> after 3 tries: HTTP 503" in page
        home = client.get("/inspect/", headers=R).text
        assert "1 dead letter" in home
    store.sync.close()


def test_sigterm_finishes_the_delivery_in_flight_then_exits(
    tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    """SIGTERM while the relay waits on a receiver: the server stops listening, lets that
    delivery finish and acks it, exits 0; the notification was sent once, nothing twice."""
    got, url = receiver
    got.hold = threading.Event()
    env = server_env(
        ORDERFSM_RELAY_URL=f"{url}/hook",
        ORDERFSM_RELAY_SECRET=RELAY_SECRET,
        ORDERFSM_RELAY_INTERVAL="0.05",
    )
    db = str(tmp_path / "orders.db")
    server = ProcessServer(db=db, log=tmp_path / "server.log", env=env).start()
    try:
        with httpx.Client(base_url=server.url) as client:
            create(client, "AE-1")
            fire(client, "AE-1", "request_cancellation", key="c-1", at=at(hours=1))
        assert got.holding.wait(30), "the relay never called"
        assert server.process is not None
        server.process.send_signal(15)

        def stopped_listening() -> bool:
            try:
                httpx.get(f"{server.url}/healthz", timeout=0.5)
            except httpx.TransportError:
                return True
            return False

        wait_until(stopped_listening, "the server stopped taking connections")
        assert server.process.poll() is None  # still finishing its delivery
        got.hold.set()
        assert server.process.wait(60) == 0
    finally:
        got.hold.set()
        server.stop()
    from statemachine.store import SQLiteStore

    with SQLiteStore(db) as store:
        assert store.outbox() == []
        assert [e.event_id for e in store.history("AE-1")] == ["c-1"]
    assert len(got.keys()) == 1
