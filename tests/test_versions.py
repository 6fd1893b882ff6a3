"""Versions (issue 19): every order and log entry names the version that decided it, replay
follows it across a migration, orders@2 (the example) holds, and migrations are checked over a
whole store before they are applied, online and resumable."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statemachine import Order
from statemachine.declaration import load_definitions, resolve
from statemachine.errors import CorruptOrder, EventRejected, InvalidInput
from statemachine.examples.risk_hold import PLAN
from statemachine.migration import Plan, apply, deadlines, dry_run, migrate
from statemachine.runtime._migration import MIGRATED
from statemachine.store import OrderStore, PostgresStore, SQLiteStore
from statemachine.testing.log import check_log, log_of
from statemachine.testing.paths import next_steps, refusal_cover, transition_cover
from statemachine.testing.strategies import valid_paths

SH = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[1]
ORDERFSM = str(Path(sys.executable).with_name("orderfsm"))
EXAMPLE = "statemachine.examples.risk_hold"


def t(day: int, hour: int = 10, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=SH)


@pytest.fixture
def plan() -> Plan:
    """orders@2 registered (for this test only) and the example plan from orders@1 to it."""
    load_definitions(EXAMPLE)
    return Plan.load(PLAN)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFSM_")}
    environ.update(env or {})
    return subprocess.run(
        [ORDERFSM, *args], capture_output=True, text=True, timeout=300, env=environ, check=False
    )


def delivered(order_id: str = "AE-1", amount: str = "100.00") -> Order:
    order = Order.create(order_id, amount, "USD", t(2))
    order.dispatch(tracking_number="LP1", at=t(3))
    order.confirm_delivery(at=t(4))
    return order


# --------------------------------------------------------------------------------------------
# An order's version, through its JSON form


def test_an_order_keeps_the_version_it_was_created_under(plan: Plan) -> None:
    """R15: an order created under orders@2 names it in its JSON form and reads back under it;
    a body naming a version this process does not know is refused with the way to load it."""
    order = Order.create("AE-2", "25.00", "USD", t(2), definition="orders@2")
    assert order.definition == "orders@2" and order.table is resolve("orders@2").table
    body = order.to_dict()
    assert body["definition"] == "orders@2"
    back = Order.from_dict(body)
    assert back == order and back.definition == "orders@2"
    body["definition"] = "orders@7"
    with pytest.raises(InvalidInput, match="--definitions MODULE") as caught:
        Order.from_dict(body)
    assert caught.value.field == "definition"
    with pytest.raises(InvalidInput, match="not both"):
        Order.create("AE-3", "1.00", "USD", t(2), definition="orders@2", table=order.table)


def test_nobody_sends_definition_migrated() -> None:
    """R14: definition_migrated is no event of any table: a caller sending it is refused as an
    unknown event, and a store refuses it before touching the order."""
    order = Order.create("AE-4", "25.00", "USD", t(2))
    with pytest.raises(InvalidInput, match="unknown event"):
        order.fire(MIGRATED, at=t(3))
    assert order.history == ()


# --------------------------------------------------------------------------------------------
# Replay across a migration


def _migrated_with_a_goodwill_only_orders_1_allowed(plan: Plan) -> Order:
    """An orders@1 order whose history holds a goodwill offer of 60 of 100 (more than
    orders@2 allows), declined, then migrated: its history spans two versions."""
    order = delivered()
    order.offer_goodwill_refund(amount="60.00", at=t(5))
    order.decline_claim(at=t(6))
    moved, outcome = migrate(order, plan, t(7))
    assert outcome.status == "migrates", outcome
    assert moved is not None
    return moved


def test_replay_switches_versions_at_the_migration_record(plan: Plan) -> None:
    """R10: the goodwill offer of 60 of 100 that orders@1 accepted is replayed by orders@1;
    after the migration record the same offer is refused by orders@2's cap (half the amount
    paid), so reading the order back replays each record by the version that decided it."""
    moved = _migrated_with_a_goodwill_only_orders_1_allowed(plan)
    record = moved.history[-1]
    assert (record.event, record.source, record.dest) == (MIGRATED, "delivered", "delivered")
    assert record.data["from"] == "orders@1" and record.data["to"] == "orders@2"
    assert record.data["plan"] == "orders-1-to-2"
    back = Order.from_dict(moved.to_dict())
    assert back == moved and back.definition == "orders@2"
    with pytest.raises(EventRejected, match="at most half") as refused:
        back.offer_goodwill_refund(amount="60.00", at=t(8))
    assert refused.value.rule == "R10"
    back.offer_goodwill_refund(amount="50.00", at=t(8))
    assert Order.from_dict(back.to_dict()) == back


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param(  # the order then starts under orders@2, whose R10 refuses its goodwill
            {"from": "orders@2"}, "history[2]", id="from another version"
        ),
        pytest.param({"to": "orders@9"}, "history[4].data.to", id="to an unknown version"),
        pytest.param({"to": "orders@1"}, "history[4].data.to", id="to itself"),
        pytest.param({"plan": ""}, "history[4].data.plan", id="no plan"),
        pytest.param({"claim_deadline": None}, "history[4].data.claim_deadline", id="a clock lost"),
        pytest.param(  # the deadline counted at payment: checked for its shape, as a head's
            {"dispatch_deadline_before": "2026-03-01T23:59:59.999999+08:00"},
            "dispatch_deadline",
            id="an R1 deadline before the payment",
        ),
    ],
)
def test_a_tampered_migration_record_is_refused_by_name(
    plan: Plan, change: dict[str, Any], field: str
) -> None:
    """R16: a migration record that does not fit the order it moves is the corruption of that
    record, named, and the order is not read."""
    body = _migrated_with_a_goodwill_only_orders_1_allowed(plan).to_dict()
    data = body["history"][4]["data"]
    for key, value in change.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    with pytest.raises(InvalidInput) as caught:
        Order.from_dict(body)
    assert caught.value.field == field


def test_a_migration_to_a_final_state_or_from_one_is_refused(plan: Plan) -> None:
    """R14: a finished order is never migrated, and nothing is mapped to a final state."""
    moved = _migrated_with_a_goodwill_only_orders_1_allowed(plan)
    body = moved.to_dict()
    body["history"][4]["dest"] = "refunded"
    with pytest.raises(InvalidInput, match="no unfinished state") as caught:
        Order.from_dict(body)
    assert caught.value.field == "history[4].dest"
    done = Order.create("AE-5", "10.00", "USD", t(2))
    done.tick(t(20))
    done.settle_refund(at=t(21))
    assert done.is_final
    assert migrate(done, plan, t(22))[1].reason == "finished"


# --------------------------------------------------------------------------------------------
# orders@2: the example version


def test_a_risk_hold_moves_the_dispatch_deadline_by_the_business_days_held(plan: Plan) -> None:
    """R1 R12: held from Tuesday to Friday (three business days after the day it began), the
    R1 deadline moves three business days; no auto-close fires while the order is held; the
    moved deadline is taken, not counted again, when the order is read back."""
    order = Order.create("AE-6", "100.00", "USD", t(2), definition="orders@2")
    assert order.dispatch_deadline == dt.datetime(2026, 3, 11, 23, 59, 59, 999999, tzinfo=SH)
    order.fire("risk_hold", at=t(3))
    assert order.state == "on_hold"
    assert order.tick(t(25)) == []  # past the R1 deadline, and held: nothing is due
    assert "dispatch_deadline_expired" not in order.allowed_events(t(25))
    order.fire("release_hold", at=t(6))
    assert order.dispatch_deadline == dt.datetime(2026, 3, 16, 23, 59, 59, 999999, tzinfo=SH)
    assert order.history[-1].data["dispatch_deadline_before"].startswith("2026-03-11")
    assert Order.from_dict(order.to_dict()) == order
    assert order.tick(t(16, 12)) == []
    assert [r.event for r in order.tick(t(17))] == ["dispatch_deadline_expired"]


def test_a_risk_close_is_a_full_supplier_refund_with_its_own_reason(plan: Plan) -> None:
    """R4 R5 R9: a held order the platform closes owes the full amount back, funded by the
    supplier, for the reason risk_control, with the R4 repayment window; it settles in full
    only, and cancels the order."""
    order = Order.create("AE-7", "80.00", "USD", t(2), definition="orders@2")
    order.fire("risk_hold", at=t(3))
    order.fire("risk_close", at=t(4))
    pending = order.pending_refund
    assert pending is not None and order.state == "refund_pending"
    assert (pending.reason, str(pending.amount), pending.blame) == (
        "risk_control",
        "80.00",
        "supplier",
    )
    assert pending.repayment_deadline is not None
    with pytest.raises(EventRejected) as partial:
        order.settle_refund(amount="10.00", at=t(9))
    assert partial.value.rule == "R5"
    order.settle_refund(at=t(9))
    assert order.state == "cancelled"
    assert Order.from_dict(order.to_dict()) == order


@pytest.mark.parametrize("key", ["orders@1", "orders@2"])
def test_every_rule_holds_under_every_registered_version(plan: Plan, key: str) -> None:
    """R1-R16: the test kit's generated paths take every row of each version's table, and
    each generated refusal is refused by the rule the version's table names: the rules'
    cases run against orders@1 and against orders@2, which keeps them all (its goodwill cap is
    R10 too)."""
    for path in transition_cover(definition=key):
        order = path.replay()
        assert order.definition == key and order.state == path.final_state, path.id
    cases = refusal_cover(definition=key)
    rules = {case.rule for case in cases}
    assert {"R2", "R4", "R5", "R7", "R8", "R10", "R11", "R12", "R13", "R14"} - rules == set()
    for case in cases:
        order = case.replay()
        with pytest.raises(EventRejected) as refused:
            case.refused.fire(order)
        assert refused.value.rule == case.rule, case.id
    if key == "orders@2":
        assert any("risk_close" in c for p in transition_cover(definition=key) for c in p.covers)


def test_a_journey_is_drawn_in_each_version_it_went_through(plan: Plan) -> None:
    """R10: a migrated order's journey numbers the steps each version's table took (the
    migration record is no edge) and is drawn over the table it runs under now; orders@2's
    lifecycle shows on_hold."""
    from statemachine.diagrams import journey_mermaid, journey_steps, lifecycle_mermaid

    moved = _migrated_with_a_goodwill_only_orders_1_allowed(plan)
    steps = journey_steps(moved)
    assert [s.number for s in steps] == [1, 2, 3, 4]  # record 5 is the migration
    assert [s.edge.event for s in steps][-1] == "decline_claim"
    text = journey_mermaid(moved)
    assert "on_hold" in text and "(4) decline_claim" in text
    assert "on_hold" in lifecycle_mermaid(table=resolve("orders@2").table)
    assert "on_hold" not in lifecycle_mermaid()


# --------------------------------------------------------------------------------------------
# Plans


def test_a_plan_that_does_not_fit_the_versions_lists_every_problem(plan: Plan) -> None:
    """A plan is checked before it runs: every unfinished state mapped, to an unfinished state
    of the target; each clock named keep, recount or later; preconditions known."""
    text = PLAN.read_text(encoding="utf-8")
    bad = (
        text.replace('delivered = "delivered"', 'refunded = "refunded"')
        .replace('claim = "later"', 'claim = "whenever"')
        .replace('repayment = "keep"', "")
        .replace('["entered_as_target_would"]', '["moon_is_full"]', 1)
    )
    with pytest.raises(InvalidInput) as caught:
        Plan.parse(bad)
    message = caught.value.message
    for part in (
        "states.delivered: is not mapped",
        "states.refunded: is a final state",
        "clocks.claim: is 'whenever'",
        "clocks.repayment: is not named",
        "'moon_is_full' is no precondition",
    ):
        assert part in message
    with pytest.raises(InvalidInput, match="orders@9"):
        Plan.parse(text.replace('to = "orders@2"', 'to = "orders@9"'))
    with pytest.raises(InvalidInput, match="is not TOML"):
        Plan.parse("plan = ")


def test_clocks_are_kept_recounted_or_the_later_taken(plan: Plan) -> None:
    """R1 R4 R13: keep leaves a deadline as stored; recount counts it again from its window's
    start; later takes whichever is later."""
    order = delivered()
    stored = order.claim_deadline
    assert stored is not None
    shifted = attrs.evolve(order, claim_deadline=stored - dt.timedelta(days=2))
    assert deadlines(shifted, plan)["claim_deadline"] == stored  # later: the recount
    keep = attrs.evolve(plan, clocks={**plan.clocks, "claim": "keep"})
    assert deadlines(shifted, keep)["claim_deadline"] == stored - dt.timedelta(days=2)
    assert deadlines(order, plan)["dispatch_deadline"] == order.dispatch_deadline


# --------------------------------------------------------------------------------------------
# The property


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=valid_paths(max_steps=8), more=st.integers(min_value=0, max_value=4), data=st.data())
def test_any_orders_1_order_migrates_to_one_orders_2_runs(
    path: Any, more: int, data: st.DataObject
) -> None:
    """R1 R4 R11 R13 R15 R16: any order orders@1 can produce either stays (finished, or its
    last step is one orders@2 refuses) or migrates to an order that reads back, with the same
    ledgers, notifications and event ids, the deadlines the plan promised (R1 and R4 kept, the
    R13 claim window the later of stored and recounted), and that orders@2 takes further
    steps on."""
    load_definitions(EXAMPLE)
    plan = Plan.load(PLAN)
    order = path.replay()
    last = order.history[-1].at if order.history else order.paid_at
    now = last + dt.timedelta(hours=1)
    moved, outcome = migrate(order, plan, now)
    if moved is None:
        assert outcome.reason in ("finished", "entered_as_target_would"), outcome
        assert (outcome.reason == "finished") == order.is_final
        return
    assert moved.definition == "orders@2" and moved.state == order.state
    assert Order.from_dict(moved.to_dict()) == moved
    for name in ("refunds", "customer_refunds", "notifications", "incidents"):
        assert getattr(moved, name) == getattr(order, name)
    assert moved.history[:-1] == order.history
    assert moved.dispatch_deadline == order.dispatch_deadline
    if order.claim_deadline is not None:
        assert moved.claim_deadline is not None and moved.claim_deadline >= order.claim_deadline
    if order.pending_refund is not None:
        assert moved.pending_refund is not None
        assert moved.pending_refund.repayment_deadline == order.pending_refund.repayment_deadline
    for _ in range(more):
        steps = [(row, step) for row, step in next_steps(moved) if step.at >= now]
        if not steps:
            break
        _, step = data.draw(st.sampled_from(steps))
        step.fire(moved)
    assert Order.from_dict(moved.to_dict()) == moved
    report = check_log(log_of(moved))
    assert report.ok, str(report)


# --------------------------------------------------------------------------------------------
# Stores


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OrderStore]:
    """A real store: a SQLite file, a PostgreSQL database."""
    if request.param == "sqlite":
        found: OrderStore = SQLiteStore(tmp_path / "orders.db")
    else:
        found = PostgresStore(request.getfixturevalue("pg_dsn"))
    try:
        yield found
    finally:
        found.close()


def test_every_log_entry_names_the_version_that_decided_it(store: OrderStore, plan: Plan) -> None:
    """R15: entries before the migration were decided by orders@1, the migration entry and
    those after it by orders@2; the order's row says orders@2; another store object reads
    the order back equal; check_log follows the version of each entry."""
    store.add(delivered("AE-10"))
    store.add(Order.create("AE-11", "10.00", "USD", t(2)))
    store.apply("AE-11", "dispatch", at=t(3), tracking_number="LP11")
    report = apply(store, plan, t(5), actor="ops")
    assert report.counts["migrated"] == 2 and report.blocked == 0
    store.apply("AE-10", "offer_goodwill_refund", at=t(6), amount="20.00")
    entries = store.history("AE-10")
    assert [(e.event, e.definition) for e in entries] == [
        ("dispatch", "orders@1"),
        ("confirm_delivery", "orders@1"),
        (MIGRATED, "orders@2"),
        ("offer_goodwill_refund", "orders@2"),
    ]
    assert entries[2].actor == "ops" and entries[2].source == "migration"
    assert store.unfinished_by_definition({"cancelled", "refunded"}) == {"orders@2": 2}
    order = store.get("AE-10")
    assert order.definition == "orders@2"
    found = check_log(entries, created=[order])
    assert found.ok, str(found)
    again = apply(store, plan, t(7))  # nothing left under orders@1: nothing to do
    assert again.counts["migrated"] == 0 and again.counts["other_versions"] == 2


def test_a_log_entry_naming_another_version_is_corrupt(tmp_path: Path, plan: Plan) -> None:
    """R16: the version of each log row is derived and checked: a row that names another
    version than the one that decided it, or an order row naming another version than its
    log ends under, is a corrupt order, named by row (a hand edit: the log's trigger off)."""
    path = tmp_path / "orders.db"
    with SQLiteStore(path) as store:
        store.add(delivered("AE-12"))
        store.add(delivered("AE-13"))
        apply(store, plan, t(5))
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER order_log_no_update")
        db.execute(
            "UPDATE order_log SET definition = 'orders@2' WHERE order_id = 'AE-12' AND seq = 1"
        )
        db.execute("UPDATE orders SET definition = 'orders@1' WHERE order_id = 'AE-13'")
    with SQLiteStore(path) as store:
        with pytest.raises(CorruptOrder) as caught:
            store.get("AE-12")
        assert caught.value.field == "order_log[1].definition"
        with pytest.raises(CorruptOrder, match="its log ends under orders@2") as other:
            store.get("AE-13")
        assert other.value.field == "definition"


# --------------------------------------------------------------------------------------------
# The command line: dry run over the demo, apply killed and resumed


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_dry_run_of_the_example_plan_over_the_demo_store_reports_every_order(
    tmp_path: Path,
) -> None:
    """The demo's store, dry-run: every order is counted once (would migrate, blocked,
    finished or of another version), every unfinished one has its outcome, nothing is
    written, and the exit status is 0 when none is blocked."""
    db = tmp_path / "demo.db"
    assert run("demo", "--db", str(db)).returncode == 0
    with sqlite3.connect(db) as conn:
        total = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        unfinished = {
            r[0]
            for r in conn.execute(
                "SELECT order_id FROM orders WHERE state NOT IN ('cancelled', 'refunded')"
            )
        }
    before = _digest(db)
    migrate_args = ("--definitions", EXAMPLE, "migrate", str(PLAN), "--dry-run", "--db", str(db))
    done = run(*migrate_args, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    counts = report["counts"]
    assert sum(counts.values()) == total
    assert {o["order_id"] for o in report["outcomes"]} == unfinished
    assert counts["migrates"] == len(unfinished) and counts["finished"] == total - len(unfinished)
    assert _digest(db) == before
    text = run(*migrate_args)
    assert f"would migrate: {len(unfinished)}" in text.stdout
    unknown = run("migrate", str(PLAN), "--dry-run", "--db", str(db))
    assert unknown.returncode == 3 and "orders@2" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_a_dry_run_names_the_orders_the_target_could_not_have_produced(
    tmp_path: Path, plan: Plan
) -> None:
    """R10: an order whose pending goodwill refund is more than orders@2 allows is blocked,
    with its reason and id; the exit status is 1."""
    db = tmp_path / "orders.db"
    with SQLiteStore(db) as store:
        big = delivered("AE-20")
        big.offer_goodwill_refund(amount="70.00", at=t(5))
        store.add(big)
        store.add(delivered("AE-21"))
        report = dry_run(store, plan, t(6))
    assert report.counts == {"migrates": 1, "blocked": 1, "finished": 0, "other_versions": 0}
    assert report.samples["entered_as_target_would"] == ["AE-20"]
    done = run("--definitions", EXAMPLE, "migrate", str(PLAN), "--dry-run", "--db", str(db))
    assert done.returncode == 1
    assert "entered_as_target_would: 1  e.g. AE-20" in done.stdout


def _count(conn: sqlite3.Connection, sql: str) -> int:
    found: int = conn.execute(sql).fetchone()[0]
    return found


def test_an_applied_migration_killed_midway_resumes(tmp_path: Path, plan: Plan) -> None:
    """R15 R16: --apply writes one order per transaction; killed (SIGKILL) half-way, the
    orders it moved are moved whole and the others untouched; run again, it moves the rest,
    each order exactly once, and every order reads back."""
    db = tmp_path / "orders.db"
    n = 1500
    with SQLiteStore(db) as store:
        store.add_many(Order.create(f"AE-{i:05d}", "10.00", "USD", t(2)) for i in range(n))
    args = [ORDERFSM, "--definitions", EXAMPLE, "migrate", str(PLAN), "--apply", "--db", str(db)]
    args += ["--now", t(3).isoformat()]
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    moved = 0
    deadline = time.monotonic() + 120
    with sqlite3.connect(db, timeout=30) as watch:
        while time.monotonic() < deadline and child.poll() is None:
            moved = watch.execute(
                "SELECT COUNT(*) FROM orders WHERE definition = 'orders@2'"
            ).fetchone()[0]
            if moved >= 50:
                break
            time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    with sqlite3.connect(db) as conn:
        moved = conn.execute(
            "SELECT COUNT(*) FROM orders WHERE definition = 'orders@2'"
        ).fetchone()[0]
        logged = conn.execute(
            f"SELECT COUNT(*) FROM order_log WHERE event = '{MIGRATED}'"
        ).fetchone()[0]
    assert 0 < moved < n, "the run was not stopped half-way"
    assert logged == moved  # each moved order whole: its row and its log entry, or neither
    again = run(*args[1:])
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(db) as conn:
        per = conn.execute(
            f"SELECT order_id, COUNT(*) FROM order_log WHERE event = '{MIGRATED}' GROUP BY order_id"
        ).fetchall()
        left = conn.execute("SELECT COUNT(*) FROM orders WHERE definition = 'orders@1'").fetchone()[
            0
        ]
    assert left == 0 and len(per) == n and all(count == 1 for _, count in per)
    with SQLiteStore(db) as store:
        assert all(store.get(f"AE-{i:05d}").definition == "orders@2" for i in range(0, n, 97))


def test_new_orders_are_created_under_the_version_the_setting_names(tmp_path: Path) -> None:
    """R15: --new-orders (ORDERFSM_NEW_ORDERS) puts the orders apply creates under that
    version; a version nobody registered is a usage error naming it."""
    db = tmp_path / "orders.db"
    lines = tmp_path / "events.jsonl"
    lines.write_text(
        json.dumps({"kind": "create", "order_id": "AE-30", "amount": "9.00", "currency": "USD",
                    "paid_at": t(2).isoformat()}) + "\n"
        + json.dumps({"order_id": "AE-30", "event": "risk_hold", "at": t(3).isoformat()}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    done = run(
        "apply", str(lines), "--db", str(db), "--create",
        env={"ORDERFSM_DEFINITIONS": EXAMPLE, "ORDERFSM_NEW_ORDERS": "orders@2"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT definition, state FROM orders").fetchall() == [
            ("orders@2", "on_hold")
        ]
    wrong = run("--new-orders", "orders@2", "show", "AE-30", "--db", str(db))
    assert wrong.returncode == 2 and "orders@2" in wrong.stderr
    missing = run("--definitions", "no.such.module", "rules")
    assert missing.returncode == 2 and "no.such.module" in missing.stderr
    assert "Traceback" not in missing.stderr


# --------------------------------------------------------------------------------------------
# What an outside probe found (each once a failure)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_moved_r1_deadline_survives_a_rewritten_head_and_an_export(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, plan: Plan
) -> None:
    """R1 R4: a hold's release moves the R1 deadline; a later write that rewrites the row's
    head (a calendar warning of 2027) keeps the deadline counted at payment there, so another
    store object reads the order back equal, and so does a store importing its JSON."""

    def opened() -> OrderStore:
        if kind == "sqlite":
            return SQLiteStore(tmp_path / "orders.db")
        return PostgresStore(request.getfixturevalue("pg_dsn"))

    paid = dt.datetime(2026, 12, 10, 10, tzinfo=SH)
    with opened() as store:
        store.add(Order.create("P-5", "100.00", "USD", paid, definition="orders@2"))
        for event, days in (("risk_hold", 1), ("release_hold", 4), ("request_cancellation", 5)):
            store.apply("P-5", event, at=paid + dt.timedelta(days=days))
        store.apply("P-5", "supplier_accepts_cancellation", at=paid + dt.timedelta(days=6))
        kept = store.get("P-5")
    assert kept.warnings and kept.dispatch_deadline.date() == dt.date(2026, 12, 22)
    with opened() as again:
        assert again.get("P-5") == kept
    with SQLiteStore(tmp_path / "imported.db") as other:
        other.add(Order.from_dict(json.loads(json.dumps(kept.to_dict()))))
    with SQLiteStore(tmp_path / "imported.db") as other:
        assert other.get("P-5") == kept


def test_a_plan_mapping_into_on_hold_is_released_from_the_migration(plan: Plan) -> None:
    """R1: an order a plan put on hold is released counting the days held from the migration
    (there is no risk_hold record), not refused with an internal error."""
    mapped = attrs.evolve(plan, states={**plan.states, "paid": "on_hold"})
    order = Order.create("AE-40", "10.00", "USD", t(2))
    moved, outcome = migrate(order, mapped, t(3))
    assert outcome.status == "migrates" and moved is not None and moved.state == "on_hold"
    moved.fire("release_hold", at=t(6))
    assert moved.state == "paid" and moved.dispatch_deadline.date() == dt.date(2026, 3, 16)
    assert Order.from_dict(moved.to_dict()) == moved


def test_a_plan_giving_a_paid_order_a_pending_refund_is_blocked(plan: Plan) -> None:
    """R5 R12: mapping refund_pending to paid would leave a paid order owing a refund, which no
    path of orders@2 gives: blocked with the shape it would have, the order untouched."""
    wrong = attrs.evolve(plan, states={**plan.states, "refund_pending": "paid"})
    order = Order.create("AE-41", "10.00", "USD", t(2))
    order.tick(t(20))
    assert order.state == "refund_pending"
    moved, outcome = migrate(order, wrong, t(21))
    assert moved is None and outcome.reason == "shape"
    assert "in paid with a refund pending" in (outcome.detail or "")


def test_an_order_already_moved_is_not_blocked(plan: Plan) -> None:
    """R15: an order another run moved meanwhile is counted as moved, not blocked."""
    moved, _ = migrate(delivered("AE-42"), plan, t(5))
    assert moved is not None
    again, outcome = migrate(moved, plan, t(6))
    assert again is None and outcome.status == "already"


def test_plans_that_would_exhaust_the_reader_are_refused(tmp_path: Path, plan: Plan) -> None:
    """A plan nested too deep or too large is refused in one line, never a crash."""
    with pytest.raises(InvalidInput, match="nested too deep"):
        Plan.parse("x = " + "[" * 2000 + "]" * 2000)
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * 50_000, encoding="utf-8")
    with pytest.raises(InvalidInput, match="larger than"):
        Plan.load(big)
    many = "\n".join(f"k{i} = 1" for i in range(500))
    with pytest.raises(InvalidInput) as caught:
        Plan.parse(many)
    assert caught.value.message.endswith("and 483 more")  # 500 keys, plan, from, to


def test_migrate_refuses_what_cannot_be_undone_before_it_starts(tmp_path: Path) -> None:
    """Both --dry-run and --apply, an --apply dated ahead of the clock (every migrated order
    would refuse every real event, R16) and an actor no log keeps are usage errors: exit 2,
    one line, the store untouched."""
    db = tmp_path / "orders.db"
    with SQLiteStore(db) as store:
        store.add(delivered("AE-43"))
    before = _digest(db)
    base = ("--definitions", EXAMPLE, "migrate", str(PLAN), "--db", str(db))
    for extra in (
        ("--dry-run", "--apply"),
        ("--apply", "--now", "2099-01-01T00:00:00+00:00"),
        ("--apply", "--actor", "x" * 300),
        (),
    ):
        done = run(*base, *extra)
        assert done.returncode == 2, (extra, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert _digest(db) == before


def test_a_store_holding_a_version_nobody_registered_is_named(tmp_path: Path, plan: Plan) -> None:
    """definitions --db names a version the store holds that this process has not registered
    (exit 1); the service refuses to start on it (exit 3), naming it."""
    db = tmp_path / "orders.db"
    with SQLiteStore(db) as store:
        store.add(Order.create("AE-44", "10.00", "USD", t(2), definition="orders@2"))
    listed = run("definitions", "--db", str(db))
    assert listed.returncode == 1 and "orders@2  NOT REGISTERED" in listed.stdout
    served = subprocess.run(
        [sys.executable, "-m", "statemachine.web", "--db", str(db), "--port", "0"],
        capture_output=True, text=True, timeout=60, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("ORDERFSM_")},
    )  # fmt: skip
    assert served.returncode == 3 and "1 under orders@2" in served.stderr
    assert "Traceback" not in served.stderr
