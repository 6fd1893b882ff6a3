"""check_log (statemachine.testing.log): what a recorded event stream says against the rules."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statemachine import EventRejected, InvalidInput, Order, OrderError, Policy
from statemachine.testing import check_log, transition_cover
from statemachine.testing import log as log_module
from statemachine.testing.log import (
    CREATED,
    LogProblem,
    LogRefusal,
    LogReport,
    StateMismatch,
    _read,
    log_of,
    record_of,
)


def _faithful_log() -> list[dict[str, object]]:
    """The logs of every covering path, one order each, interleaved line by line."""
    logs = [log_of(p.replay(p.new_order(f"O{i}"))) for i, p in enumerate(transition_cover())]
    out: list[dict[str, object]] = []
    for i in range(max(len(log) for log in logs)):
        out += [log[i] for log in logs if i < len(log)]
    return out


def test_faithful_interleaved_log_of_many_orders_is_ok(tmp_path: Path) -> None:
    """A log written by following the rules, read back from a JSON-lines file, has no finding."""
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _faithful_log()) + "\n")
    with path.open() as lines:
        report = check_log(lines)
    assert report.ok, str(report)
    assert len(report.orders) == len(transition_cover())
    for i, p in enumerate(transition_cover()):
        assert report.replayed[f"O{i}"].state == p.final_state


def test_refused_step_is_reported_with_its_rule() -> None:
    """R2: a cancellation recorded after dispatch is reported refused by R2, at its line."""
    at = "2026-03-0{}T10:00:00+08:00"
    records = [
        {"order_id": "A", "event": "created", "at": at.format(2),
         "data": {"amount": "9.00", "currency": "EUR"}},
        {"order_id": "A", "event": "dispatch", "at": at.format(3),
         "data": {"tracking_number": "LP1"}},
        {"order_id": "A", "event": "request_cancellation", "at": at.format(4)},
    ]  # fmt: skip
    report = check_log(records)
    assert [(r.line, r.rule, r.state) for r in report.refusals] == [(3, "R2", "dispatched")]
    assert not report.mismatches  # no recorded state to compare


def test_state_mismatch_is_reported_once_per_order() -> None:
    """An order whose recorded state parts from the replayed one is reported at the first line."""
    log = log_of(transition_cover()[0].replay())
    log[2]["state"] = "cancelled"
    log[3]["state"] = "cancelled"
    report = check_log(log)
    assert [(m.line, m.recorded) for m in report.mismatches] == [(3, "cancelled")]
    assert not report.refusals


def test_r16_step_out_of_order_is_a_refusal() -> None:
    """R16: a record dated before the one before it is refused by R16."""
    log = log_of(transition_cover()[0].replay())
    log[2]["at"] = log[0]["at"]
    report = check_log(log)
    assert report.refusals[0].rule == "R16"
    assert report.refusals[0].line == 3


def test_r15_replayed_webhook_is_not_a_finding() -> None:
    """R15: a record sent twice with the same event_id is a duplicate, not a refusal."""
    at = "2026-03-02T1{}:00:00+08:00"
    created = record_of("B", "created", dt.datetime.fromisoformat(at.format(0)))
    created["data"] = {"amount": "5.00", "currency": "USD"}
    dispatch = {"order_id": "B", "event": "dispatch", "at": at.format(1), "event_id": "wh-1",
                "data": {"tracking_number": "LP9"}, "state": "dispatched"}  # fmt: skip
    report = check_log([created, dispatch, dispatch])
    assert report.ok, str(report)


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("not json", "not a JSON object"),
        ('["a list"]', "a record is a JSON object"),
        ('{"order_id": "Z", "event": "dispatch"}', "the record has no 'at'"),
        ('{"order_id": "Z", "event": "dispatch", "at": "2026-03-02T10:00:00+08:00"}', "before"),
        ('{"order_id": "Z", "event": "created", "at": "yesterday"}', "ISO 8601"),
        (
            '{"order_id": "Z", "event": "created", "at": "2026-03-02T10:00:00+08:00"}',
            "cannot create",
        ),
    ],
    ids=["not-json", "not-object", "no-at", "no-created", "bad-at", "no-amount"],
)
def test_unreadable_records_are_problems(line: str, needle: str) -> None:
    """Records that cannot be read or replayed are reported as problems naming what is wrong."""
    report = check_log([line])
    assert not report.ok
    assert len(report.problems) == 1
    assert needle in report.problems[0].message


def test_unknown_event_and_naive_time_are_problems_not_refusals() -> None:
    """InvalidInput (unknown event, naive time) is a problem of the log, not a refusal."""
    log = log_of(transition_cover()[0].replay())[:1]
    log.append(
        {"order_id": log[0]["order_id"], "event": "teleport", "at": "2026-03-03T10:00:00+08:00"}
    )
    log.append({"order_id": log[0]["order_id"], "event": "dispatch", "at": "2026-03-03T10:00:00",
                "data": {"tracking_number": "X"}})  # fmt: skip
    report = check_log(log)
    assert [p.line for p in report.problems] == [2, 3]
    assert not report.refusals


def test_policy_is_used_for_the_replay() -> None:
    """R12 off: a recorded auto-close is refused under the policy the log was checked with."""
    path = transition_cover()[1]
    assert "dispatch_deadline_expired" in path.events
    log = log_of(path.replay())
    report = check_log(log, policy=Policy(auto_close_unshipped=False))
    assert "R12" in {r.rule for r in report.refusals}
    assert check_log(log).ok


# ------------------------------------------------------------------------------------------
# Memory: orders leave memory once final, and every finding stays the same


def _check_keeping_every_order(records: list[Any], policy: Policy | None = None) -> LogReport:
    """check_log as it was before orders left memory: every replayed order kept in a dict.
    The reference the bounded check_log must agree with."""
    orders: dict[str, Order] = {}
    mismatched: set[str] = set()
    refusals: list[LogRefusal] = []
    mismatches: list[StateMismatch] = []
    problems: list[LogProblem] = []
    count = 0
    for line, raw in enumerate(records, start=1):
        if isinstance(raw, str | bytes) and not raw.strip():
            continue
        count += 1
        try:
            rec = _read(line, raw)
        except InvalidInput as exc:
            problems.append(LogProblem(line, None, str(exc)))
            continue
        order = orders.get(rec.order_id)
        if rec.event == CREATED:
            if order is not None:
                problems.append(LogProblem(line, rec.order_id, "a second 'created' record"))
                continue
            try:
                order = Order.create(
                    rec.order_id,
                    rec.data.get("amount"),
                    rec.data.get("currency"),
                    rec.at,
                    policy=policy,
                )
            except OrderError as exc:
                problems.append(LogProblem(line, rec.order_id, f"cannot create the order: {exc}"))
                continue
            orders[rec.order_id] = order
        elif order is None:
            problems.append(
                LogProblem(line, rec.order_id, f"{rec.event} before the order's 'created' record")
            )
            continue
        else:
            try:
                order.fire(rec.event, at=rec.at, event_id=rec.event_id, **rec.data)
            except EventRejected as exc:
                refusals.append(
                    LogRefusal(line, rec.order_id, rec.event, rec.at, exc.state, exc.rule, str(exc))
                )
            except InvalidInput as exc:
                problems.append(LogProblem(line, rec.order_id, f"{rec.event}: {exc}"))
        if rec.state is not None and rec.state != order.state and rec.order_id not in mismatched:
            mismatched.add(rec.order_id)
            mismatches.append(StateMismatch(line, rec.order_id, rec.event, rec.state, order.state))
    return LogReport(
        count, tuple(orders), tuple(refusals), tuple(mismatches), tuple(problems), orders
    )


@pytest.fixture(params=[0, 3, 1000], ids=["spill-all", "keep-3", "keep-1000"])
def keep_finished(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many finished orders check_log keeps in memory before moving them to its temporary
    database: none, a few, the default."""
    monkeypatch.setattr(log_module, "_RECENT_FINISHED", request.param)
    return int(request.param)


def _assert_same_report(records: list[Any], policy: Policy | None = None) -> LogReport:
    """check_log on ``records`` reports exactly what the reference reports, and its replayed
    orders (finished ones read back) equal the reference's."""
    report = check_log(records, policy=policy)
    reference = _check_keeping_every_order(records, policy)
    assert report == reference
    assert [str(f) for f in report.findings()] == [str(f) for f in reference.findings()]
    assert list(report.replayed) == list(reference.replayed)
    assert {k: report.replayed[k] for k in report.replayed} == dict(reference.replayed)
    open_at_end = sum(not o.is_final for o in reference.replayed.values())
    assert open_at_end <= report.max_open <= len(reference.replayed)
    return report


def _ided(order_id: str, path_index: int) -> list[dict[str, Any]]:
    """The log of one covering path for ``order_id``, every event with an event id."""
    path = transition_cover()[path_index]
    records = log_of(path.replay(path.new_order(order_id)))
    for n, record in enumerate(records[1:], start=1):
        record["event_id"] = f"{order_id}:{n}"
    return records


def _late_facts(order_id: str, after: str) -> list[dict[str, Any]]:
    """Records of a finished order sent after its last one: what a final state must judge."""
    at = dt.datetime.fromisoformat(after)
    later = (at + dt.timedelta(days=1)).isoformat()
    return [
        {"order_id": order_id, "event": "reimburse_customer", "at": later,
         "data": {"amount": "1.00"}, "event_id": f"{order_id}:late-1"},  # R7, R11 if over cap
        {"order_id": order_id, "event": "reimburse_customer", "at": later,
         "data": {"amount": "1.00"}, "event_id": f"{order_id}:late-1"},  # R15 duplicate
        {"order_id": order_id, "event": "dispatch", "at": later, "event_id": f"{order_id}:1",
         "data": {"tracking_number": "LP9"}},  # R15: an id reused for another event
        {"order_id": order_id, "event": "dispatch", "at": later,
         "data": {"tracking_number": "LP9"}, "state": "cancelled"},  # R7 or R14
        {"order_id": order_id, "event": "confirm_delivery", "at": later},  # R14
        {"order_id": order_id, "event": "reimburse_customer", "at": after,
         "data": {"amount": "1.00"}},  # R16: before the last record
        {"order_id": order_id, "event": "reimburse_customer", "at": later,
         "data": {"amount": "999.00"}},  # R11: over the cap
        {"order_id": order_id, "event": "created", "at": later,
         "data": {"amount": "1.00", "currency": "USD"}},  # a second creation
    ]  # fmt: skip


def test_finished_orders_leave_memory_and_late_facts_are_still_judged(
    keep_finished: int,
) -> None:
    """R7, R11, R14, R15, R16: with orders logged one after the other, at most one order is
    in memory at a time; records after an order's final state are judged as before."""
    records: list[Any] = []
    for i in range(12):
        log = _ided(f"O{i}", i % 2)  # both paths end final: refunded, cancelled
        records += log + _late_facts(f"O{i}", log[-1]["at"])
    report = _assert_same_report(records)
    assert report.max_open == 1
    assert len(report.orders) == 12
    assert {r.rule for r in report.refusals} >= {"R11", "R14", "R16"}
    assert any("R15" in p.message for p in report.problems)
    assert any("second 'created'" in p.message for p in report.problems)
    assert report.replayed["O1"].incidents[-1].kind == "dispatched_after_cancellation"  # R7


def test_memory_follows_the_orders_open_at_once(keep_finished: int) -> None:
    """check_log holds as many orders as are open at once in the log (a window of 5 here),
    not every order it has seen (40)."""
    logs = [_ided(f"W{i}", i % 2) for i in range(40)]
    records: list[Any] = []
    window: list[list[dict[str, Any]]] = []
    while logs or window:
        while logs and len(window) < 5:
            window.append(logs.pop(0))
        for log in window:
            records.append(log.pop(0))
        window = [log for log in window if log]
    report = _assert_same_report(records)
    assert report.max_open == 5
    assert len(report.replayed) == 40
    assert "W7" in report.replayed
    assert "W99" not in report.replayed


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    paths=st.lists(st.integers(0, len(transition_cover()) - 1), min_size=1, max_size=6),
    late=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 7)), max_size=10),
    shuffle=st.randoms(use_true_random=False),
    form=st.sampled_from(["json lines", "mappings", "mappings with datetimes"]),
)
def test_findings_are_those_of_a_check_keeping_every_order(
    keep_finished: int,
    paths: list[int],
    late: list[tuple[int, int]],
    shuffle: Any,
    form: str,
) -> None:
    """R7, R14, R15, R16: any interleaving of order logs, with late records of any kind mixed
    in anywhere, gets the same findings, counts and replayed orders as the reference that
    keeps every order in memory."""
    logs = [_ided(f"H{i}", p) for i, p in enumerate(paths)]
    for which, kind in late:
        log = logs[which % len(logs)]
        log.append(_late_facts(str(log[0]["order_id"]), log[-1]["at"])[kind])
    records: list[Any] = []
    while any(logs):  # interleave, keeping each order's own records in their order
        log = shuffle.choice([log for log in logs if log])
        records.append(log.pop(0))
    if form == "json lines":
        records = [json.dumps(r) for r in records]
    elif form == "mappings with datetimes":
        for r in records:
            r["at"] = dt.datetime.fromisoformat(r["at"]).astimezone(ZoneInfo("Europe/Paris"))
    _assert_same_report(records)
