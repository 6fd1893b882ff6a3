"""check_log (statemachine.testing.log): what a recorded event stream says against the rules."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from statemachine import Policy
from statemachine.testing import check_log, transition_cover
from statemachine.testing.log import log_of, record_of


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
