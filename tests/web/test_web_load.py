"""Load and faults over real HTTP (issue 12, point 6): two real server processes share one
store (a SQLite file; a PostgreSQL database), many clients send racing webhooks (dispatches
against cancellations, each delivered several times, some forged or malformed), one instance
is killed mid-load, and afterwards the store is checked: every accepted event is in the log
exactly once, no refused or forged one is, every order reads back and replays under the rules,
and the outbox holds each notification once."""

from __future__ import annotations

import json
import random
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from web_helpers import ProcessServer, W, at, signed

from statemachine.store import PostgresStore, SQLiteStore
from statemachine.testing import check_log

ORDERS = 80
DELIVERIES = 3
CLIENTS = 16


def _plan(rng: random.Random) -> list[dict[str, Any]]:
    """Every request of the run, shuffled: per order a customer's cancellation (token), the
    supplier's dispatch and its answer to the cancellation (signed webhooks), a delivery
    confirmation, each sent DELIVERIES times; plus forged and malformed webhooks."""
    requests: list[dict[str, Any]] = []
    for i in range(ORDERS):
        oid = f"LD-{i}"
        events = [
            ("request_cancellation", f"cancel-{i}", {"at": at(hours=1)}, False),
            ("dispatch", f"dispatch-{i}", {"at": at(hours=2), "tracking_number": f"LP{i}"}, True),
            ("supplier_accepts_cancellation", f"accept-{i}", {"at": at(hours=3)}, True),
            ("confirm_delivery", f"deliver-{i}", {"at": at(days=5)}, False),
        ]
        for event, key, body, webhook in events:
            for _ in range(DELIVERIES):
                requests.append(
                    {"order": oid, "event": event, "key": key, "body": body, "signed": webhook}
                )
        if i % 4 == 0:
            requests.append(
                {"order": oid, "event": "dispatch", "key": f"forged-{i}", "forged": True,
                 "body": {"at": at(hours=2), "tracking_number": "EVIL"}, "signed": True}
            )  # fmt: skip
        if i % 4 == 1:
            requests.append(
                {"order": oid, "event": "dispatch", "key": f"malformed-{i}", "malformed": True,
                 "body": {}, "signed": True}
            )  # fmt: skip
    rng.shuffle(requests)
    return requests


def _send(client: httpx.Client, request: dict[str, Any]) -> httpx.Response:
    path = f"/orders/{request['order']}/events/{request['event']}"
    if request.get("malformed"):
        raw, headers = signed(
            path, b'{"at": "2026-03-02T11:00:00+08:00", "tracking', request["key"]
        )
    elif request["signed"]:
        raw, headers = signed(path, request["body"], request["key"])
        if request.get("forged"):
            raw = json.dumps({**request["body"], "tracking_number": "EVIL2"}).encode()
    else:
        raw = json.dumps(request["body"]).encode()
        headers = {**W, "Content-Type": "application/json", "Idempotency-Key": request["key"]}
    return client.post(path, content=raw, headers=headers)


def _run(servers: list[ProcessServer], seed: int) -> dict[str, set[int]]:
    """Send the plan from CLIENTS threads to both servers; kill the first one part way.
    A request whose server died is sent again to another (same key): every request ends
    with an HTTP answer. Returns the statuses seen per key."""
    rng = random.Random(seed)
    plan = _plan(rng)
    seen: dict[str, set[int]] = defaultdict(set)
    lock = threading.Lock()
    done = [0]
    killed = threading.Event()
    kill_at = len(plan) * 2 // 5
    clients = [httpx.Client(base_url=s.url, timeout=60) for s in servers]

    def one(index: int) -> None:
        request = plan[index]
        order = [0, 1] if index % 2 == 0 else [1, 0]
        for attempt in range(40):
            client = clients[order[attempt % 2]]
            try:
                answer = _send(client, request)
            except httpx.TransportError:
                continue  # that instance is gone: the other one answers
            with lock:
                seen[request["key"]].add(answer.status_code)
                done[0] += 1
                due = done[0] >= kill_at and not killed.is_set()
                if due:
                    killed.set()
            if due:
                servers[0].kill()
            return
        raise AssertionError(f"no server answered {request['key']}")

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(one, range(len(plan))))
    finally:
        for c in clients:
            c.close()
    assert killed.is_set()
    assert servers[0].process is not None and servers[0].process.poll() is not None
    return seen


def _check(store: SQLiteStore | PostgresStore, seen: dict[str, set[int]]) -> None:
    accepted = {key for key, statuses in seen.items() if 200 in statuses}
    logged: list[str] = []
    for i in range(ORDERS):
        oid = f"LD-{i}"
        order = store.get(oid)  # validated: a state the machine could have produced
        entries = store.history(oid)
        report = check_log(entries, created=[order])
        assert report.ok, report.findings()
        logged.extend(e.event_id for e in entries if e.event_id is not None)
        queued = [item for item in store.outbox(10_000) if item.order_id == oid]
        assert sorted(item.position for item in queued) == list(range(len(order.notifications)))
    assert len(logged) == len(set(logged)), "an event is in the log twice"
    assert set(logged) == accepted
    for key, statuses in seen.items():
        if key.startswith("forged-"):
            assert statuses == {401}, key
        elif key.startswith("malformed-"):
            assert statuses == {400}, key
        else:
            assert statuses <= {200, 409, 422}, (key, statuses)
    refused = {key for key, statuses in seen.items() if statuses == {409}}
    assert refused, "the races refused nothing: no race happened"
    assert any(key.startswith("accept-") for key in accepted)
    assert any(key.startswith("dispatch-") for key in accepted)


def _create_orders(server: ProcessServer) -> None:
    with httpx.Client(base_url=server.url, headers=W, timeout=30) as client:
        for i in range(ORDERS):
            answer = client.post(
                "/orders",
                json={"order_id": f"LD-{i}", "amount": "25.00", "currency": "USD",
                      "paid_at": at()},
            )  # fmt: skip
            assert answer.status_code == 201


def test_load_on_sqlite_with_an_instance_killed(tmp_path: Path) -> None:
    """R15 under load on SQLite: two processes on one file, racing and repeated webhooks,
    one process killed mid-load; every accepted event once, no forged one, orders valid."""
    db = str(tmp_path / "orders.db")
    servers = [ProcessServer(db=db, log=tmp_path / f"server-{n}.log") for n in range(2)]
    try:
        for s in servers:
            s.start()
        _create_orders(servers[1])
        seen = _run(servers, seed=12)
    finally:
        for s in servers:
            s.stop()
    with SQLiteStore(db) as store:
        _check(store, seen)


def test_load_on_postgres_with_an_instance_killed(tmp_path: Path, pg_dsn: str) -> None:
    """R15 under load on PostgreSQL: two instances share the database, racing and repeated
    webhooks, one instance killed mid-load; every accepted event once, orders valid."""
    servers = [ProcessServer(dsn=pg_dsn, log=tmp_path / f"server-{n}.log") for n in range(2)]
    try:
        for s in servers:
            s.start()
        _create_orders(servers[1])
        seen = _run(servers, seed=13)
    finally:
        for s in servers:
            s.stop()
    with PostgresStore(pg_dsn) as store:
        _check(store, seen)
