"""Versions over HTTP (issue 19, points 3 and 4): a service that registers orders@2
(ORDERFSM_DEFINITIONS) creates new orders under the version ORDERFSM_NEW_ORDERS names,
serves that version's events and states, and dry-runs a migration plan over its store
(POST /migrations, the write role only), writing nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from web_helpers import READ, WRITE, ProcessServer, server_env

from statemachine import Order
from statemachine.examples.risk_hold import PLAN
from statemachine.store import SQLiteStore

EXAMPLE = "statemachine.examples.risk_hold"
SH = ZoneInfo("Asia/Shanghai")
PAID = dt.datetime(2026, 3, 2, 10, tzinfo=SH)
W = {"Authorization": f"Bearer {WRITE}"}
R = {"Authorization": f"Bearer {READ}"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ProcessServer, Path]]:
    """The service on a SQLite file holding three orders@1 orders (two unfinished), started
    with orders@2 registered and new orders created under it."""
    db = tmp_path / "orders.db"
    with SQLiteStore(db) as store:
        for i in range(3):
            store.add(Order.create(f"OLD-{i}", "30.00", "USD", PAID))
        store.apply("OLD-2", "dispatch_deadline_expired", at=PAID + dt.timedelta(days=20))
        store.apply("OLD-2", "settle_refund", at=PAID + dt.timedelta(days=21))
    env = server_env(ORDERFSM_DEFINITIONS=EXAMPLE, ORDERFSM_NEW_ORDERS="orders@2")
    running = ProcessServer(db=str(db), log=tmp_path / "server.log", env=env)
    running.start()
    yield running, db
    running.stop()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_orders_run_under_the_version_the_service_names(
    server: tuple[ProcessServer, Path],
) -> None:
    """R15: POST /orders creates an orders@2 order; orders@2's events are served and its
    states published; the older orders keep orders@1."""
    running, _ = server
    with httpx.Client(base_url=running.url, timeout=30) as http:
        body = {"order_id": "NEW-1", "amount": "25.00", "currency": "USD",
                "paid_at": PAID.isoformat()}  # fmt: skip
        created = http.post("/orders", json=body, headers=W)
        assert created.status_code == 201, created.text
        assert created.json()["order"]["definition"] == "orders@2"
        held = http.post(
            "/orders/NEW-1/events/risk_hold",
            json={"at": (PAID + dt.timedelta(days=1)).isoformat()},
            headers=W,
        )
        assert held.status_code == 200, held.text
        assert held.json()["order"]["state"] == "on_hold"
        old = http.post(
            "/orders/OLD-0/events/risk_hold",
            json={"at": (PAID + dt.timedelta(days=1)).isoformat()},
            headers=W,
        )
        assert old.status_code == 422  # an orders@1 order has no hold: it keeps its version
        assert "runs under orders@1, which has no event 'risk_hold'" in old.json()["detail"]
        doc = http.get("/openapi.json").json()
        assert "on_hold" in doc["components"]["schemas"]["StateName"]["enum"]
        operations = {op["operationId"] for ops in doc["paths"].values() for op in ops.values()}
        assert {"fireRiskHold", "fireReleaseHold", "fireRiskClose", "dryRunMigration"} <= operations


def test_a_migration_is_dry_run_over_http_by_the_write_role_only(
    server: tuple[ProcessServer, Path],
) -> None:
    """POST /migrations answers what the plan would do to every unfinished order and writes
    nothing; the read role is 403, no credential 401, a plan that does not fit 422 naming
    the plan."""
    running, db = server
    before = _digest(db)
    plan = PLAN.read_text(encoding="utf-8")
    now = (PAID + dt.timedelta(days=2)).isoformat()
    with httpx.Client(base_url=running.url, timeout=60) as http:
        assert http.post("/migrations", json={"plan": plan}).status_code == 401
        refused = http.post("/migrations", json={"plan": plan}, headers=R)
        assert refused.status_code == 403 and "may not run migration plans" in refused.text
        done = http.post("/migrations", json={"plan": plan, "now": now}, headers=W)
        assert done.status_code == 200, done.text
        report = done.json()
        assert report["dry_run"] is True and (report["from"], report["to"]) == (
            "orders@1",
            "orders@2",
        )
        assert report["counts"] == {"migrates": 2, "finished": 1, "other_versions": 0}
        assert sorted(report["samples"]["migrates"]) == ["OLD-0", "OLD-1"]
        assert report["outcomes"] == []  # over HTTP, only the blocked orders' outcomes
        bad = http.post(
            "/migrations", json={"plan": plan.replace('"keep"', '"never"', 1)}, headers=W
        )
        assert bad.status_code == 422 and bad.json()["field"] == "plan"
        assert "clocks.dispatch" in bad.json()["detail"]
        odd = http.post("/migrations", json={"plan": plan, "apply": True}, headers=W)
        assert odd.status_code == 422 and odd.json()["field"] == "apply"
    assert _digest(db) == before


def test_a_service_naming_a_version_nobody_registered_does_not_start(tmp_path: Path) -> None:
    """ORDERFSM_NEW_ORDERS naming a version no module registered is a settings error (exit 3,
    one line naming it), not a service that fails on its first order."""
    env = server_env(ORDERFSM_NEW_ORDERS="orders@2")
    done = subprocess.run(
        [sys.executable, "-m", "statemachine.web", "--db", str(tmp_path / "x.db"), "--create"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert "orders@2" in done.stderr and "Traceback" not in done.stderr
