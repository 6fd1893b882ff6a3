"""The outbox relay on real servers (issue 18, point 1): each notification claimed before it
is sent, so two workers or two instances deliver it once; deliveries at once across orders,
a receiver that trickles its answer cut at the timeout and holding nothing else; every try
kept; dead letters listed, shown and sent again over HTTP and from the command line."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from web_helpers import (
    RELAY_SECRET,
    SECRET,
    WRITE,
    ProcessServer,
    R,
    ThreadServer,
    W,
    at,
    create,
    fire,
    server_env,
    wait_until,
)

from statemachine.store import PostgresStore, SQLiteStore
from statemachine.web import Settings, create_app

TRICKLE = -1
"""A plan's answer: the status line at once, then the body one byte every 0.2 s."""


class Receiver:
    """A real HTTP endpoint that counts what the relay sends, by Idempotency-Key, and
    answers as ``plan(key, n)`` says (a status, or :data:`TRICKLE`) for the n-th call with
    that key."""

    def __init__(self) -> None:
        self.plan: Any = lambda key, n: 200
        self.calls: collections.Counter[str] = collections.Counter()
        self.orders: dict[str, str] = {}
        self.lock = threading.Lock()
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        key = request.headers.get("idempotency-key", "")
        body = await request.json()
        with self.lock:
            self.calls[key] += 1
            self.orders[key] = body["order_id"]
            n = self.calls[key]
        status = self.plan(key, n)
        if status == TRICKLE:

            async def drip() -> AsyncIterator[bytes]:
                for _ in range(150):
                    yield b" "
                    await anyio.sleep(0.2)

            return StreamingResponse(drip(), media_type="application/json")
        return JSONResponse({}, status_code=status)

    def counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self.calls)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    got = Receiver()
    with ThreadServer(got.app) as server:
        yield got, f"{server.url}/hook"


def _relay_env(url: str, **more: str) -> dict[str, str]:
    return server_env(
        ORDERFSM_RELAY_URL=url,
        ORDERFSM_RELAY_SECRET=RELAY_SECRET,
        ORDERFSM_RELAY_INTERVAL="0.05",
        ORDERFSM_RELAY_BACKOFF="0.05",
        ORDERFSM_RELAY_BACKOFF_MAX="0.2",
        ORDERFSM_SWEEP_INTERVAL="0",
        **more,
    )


def _queue(url: str, count: int) -> None:
    """``count`` orders, each cancelled by its customer: one notification each (R6)."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(count):
            assert create(client, f"AE-{i}").status_code == 201
            done = fire(client, f"AE-{i}", "request_cancellation", at=at(hours=1))
            assert done.status_code == 200, done.text


def _delivered_once(got: Receiver, store: Any, count: int) -> None:
    def all_delivered() -> bool:
        return len(store.delivery_states("sent", limit=1000)) == count

    wait_until(all_delivered, f"{count} notifications delivered")
    time.sleep(0.5)  # a second send, were there one, would have come by now
    counts = got.counts()
    assert len(counts) == count and set(counts.values()) == {1}, counts
    assert all(len(store.tries(int(key))) == 1 for key in counts)


def test_two_workers_on_sqlite_deliver_each_notification_once(
    tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    """R6: two worker processes share one SQLite store and each runs a relay: every
    notification reaches the receiver exactly once (each is claimed before it is sent), and
    the store holds one try for each."""
    got, url = receiver
    db = tmp_path / "orders.db"
    server = ProcessServer(db=str(db), log=tmp_path / "server.log", env=_relay_env(url), workers=2)
    try:
        server.start()
        _queue(server.url, 24)
        with SQLiteStore(db) as store:
            _delivered_once(got, store, 24)
    finally:
        server.stop()


def test_two_instances_on_postgresql_deliver_each_notification_once(
    tmp_path: Path, pg_dsn: str, receiver: tuple[Receiver, str]
) -> None:
    """R6: two servers on one PostgreSQL database, each with its relay: every notification
    reaches the receiver exactly once, and the store holds one try for each."""
    got, url = receiver
    servers = [
        ProcessServer(dsn=pg_dsn, log=tmp_path / f"server{i}.log", env=_relay_env(url))
        for i in range(2)
    ]
    try:
        for server in servers:
            server.start()
        _queue(servers[0].url, 24)
        with PostgresStore(pg_dsn) as store:
            _delivered_once(got, store, 24)
    finally:
        for server in servers:
            server.stop()


def test_a_receiver_that_trickles_is_cut_at_the_timeout_and_holds_nothing_else(
    tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    """R6: a receiver answering one byte at a time for one order: that delivery is cut at
    ORDERFSM_RELAY_TIMEOUT (all of it, not each read) and retried; the other orders'
    notifications are delivered meanwhile, once each."""
    got, url = receiver
    stuck = "0"  # the id of AE-0's notification, the first queued
    got.plan = lambda key, n: TRICKLE if key == stuck else 200
    settings = Settings(
        token=WRITE, webhook_secret=SECRET, sweep_interval=0, relay_url=url,
        relay_secret=RELAY_SECRET, relay_interval=0.05, relay_timeout=1.0,
        relay_backoff=30, relay_backoff_max=30, relay_concurrency=4,
    )  # fmt: skip
    from statemachine.store import AsyncSQLiteStore

    store = AsyncSQLiteStore(tmp_path / "orders.db")
    with ThreadServer(create_app(store, settings=settings)) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert create(client, "AE-0").status_code == 201
            fire(client, "AE-0", "request_cancellation", at=at(hours=1))
        stuck = str(store.sync.delivery_states()[0].notification_id)
        began = time.monotonic()
        _queue_more(server.url, 6)
        with SQLiteStore(tmp_path / "orders.db") as sync:

            def cut() -> bool:
                states = {s.order_id: s for s in sync.delivery_states(limit=1000)}
                others = [s for oid, s in states.items() if oid != "AE-0"]
                return (
                    states["AE-0"].standing == "retrying"
                    and all(s.standing == "sent" for s in others)
                    and len(others) == 6
                )

            wait_until(cut, "the trickle cut and the others delivered")
            assert time.monotonic() - began < 20  # cut at 1 s, not after the 30 s trickle
            hung = next(s for s in sync.delivery_states() if s.order_id == "AE-0")
            assert hung.last_answer == "no complete answer within 1 s"
            assert hung.next_attempt_at is not None
    counts = got.counts()
    assert {k: v for k, v in counts.items() if k != stuck} == {k: 1 for k in counts if k != stuck}
    store.sync.close()


def _queue_more(url: str, count: int) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(1, count + 1):
            assert create(client, f"AE-{i}").status_code == 201
            fire(client, f"AE-{i}", "request_cancellation", at=at(hours=1))


def test_a_dead_letter_is_listed_shown_and_sent_again_over_http(
    tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    """R6: a notification refused twice (ORDERFSM_RELAY_ATTEMPTS=2) is a dead letter:
    `GET /notifications?status=dead` lists it with its tries and last answer, `GET
    /notifications/{id}` shows each try; `POST .../redeliver` needs the write token (403 for
    the read one), queues it again, and the receiver gets it and takes it; a second redeliver
    is 409 (not a dead letter), an unknown id 404."""
    got, url = receiver
    got.plan = lambda key, n: 503 if n <= 2 else 204
    env = _relay_env(url, ORDERFSM_RELAY_ATTEMPTS="2")
    server = ProcessServer(db=str(tmp_path / "orders.db"), log=tmp_path / "s.log", env=env)
    try:
        server.start()
        _queue(server.url, 1)
        with httpx.Client(base_url=server.url, timeout=30) as http:

            def dead() -> list[Any]:
                found: list[Any] = http.get("/notifications?status=dead", headers=R).json()[
                    "notifications"
                ]
                return found

            wait_until(lambda: bool(dead()), "a dead letter")
            (letter,) = dead()
            nid = letter["notification_id"]
            assert (letter["standing"], letter["attempts"], letter["last_answer"]) == (
                "dead", 2, "HTTP 503"
            )  # fmt: skip
            shown = http.get(f"/notifications/{nid}", headers=R).json()
            assert [(t["answer"], t["delivered"]) for t in shown["tries"]] == [
                ("HTTP 503", False), ("HTTP 503", False)
            ]  # fmt: skip
            assert http.post(f"/notifications/{nid}/redeliver", headers=R).status_code == 403
            again = http.post(f"/notifications/{nid}/redeliver", headers=W)
            assert again.status_code == 200 and again.json()["notification"]["attempts"] == 0
            wait_until(
                lambda: (
                    http.get(f"/notifications/{nid}", headers=R).json()["notification"]["standing"]
                    == "sent"
                ),
                "the redelivered letter delivered",
            )
            final = http.get(f"/notifications/{nid}", headers=R).json()
            assert [t["answer"] for t in final["tries"]] == ["HTTP 503", "HTTP 503", "HTTP 204"]
            assert final["notification"]["last_answer"] == "HTTP 204"  # the last try's
            refused = http.post(f"/notifications/{nid}/redeliver", headers=W)
            assert refused.status_code == 409 and "not a dead letter" in refused.json()["detail"]
            assert http.post("/notifications/999/redeliver", headers=W).status_code == 404
            assert http.get("/notifications/999", headers=R).status_code == 404
            assert http.get("/notifications?status=lost", headers=R).status_code == 422
            assert http.get("/notifications", headers={}).status_code == 401
        assert got.counts() == {str(nid): 3}
    finally:
        server.stop()
