"""The seed's stories that `orderfsm demo` (and `make demo`) tell end where the rules say."""

from __future__ import annotations

from pathlib import Path

from statemachine._demo import STORIES, tell_all, write_journey
from statemachine.store import SQLiteStore


def test_stories_reach_the_states_and_refusals_the_rules_give(tmp_path: Path) -> None:
    """R2 R3 R4 R7 R8 R10 R11 R12 R15: told through a real SQLite store, each story's order
    ends in its state, each refusal names its rule, and the clock fires what is due."""
    store = SQLiteStore(tmp_path / "orders.db")
    told = {run.story.number: run for run in tell_all(store)}
    assert {n: run.order.state for n, run in told.items()} == {
        1: "cancelled",
        2: "dispatched",
        3: "dispatched",
        4: "refund_pending",
        5: "refunded",
        6: "refunded",
        7: "refunded",
        8: "refund_pending",
    }
    refusals = {n: [s.refusal.rule for s in run.steps if s.refusal] for n, run in told.items()}
    assert refusals == {1: [], 2: ["R2"], 3: [], 4: [], 5: [], 6: ["R11"], 7: ["R8", "R10"], 8: []}
    assert [s.outcome for s in told[3].steps][-1] == "duplicate"
    r7 = told[4]
    assert r7.order.pending_refund is not None and r7.order.customer_refunded_total == 30
    assert [i.kind for i in r7.order.incidents] == ["dispatched_after_cancellation"]
    clock = [(s.event, s.outcome) for s in told[8].steps]
    assert clock == [
        ("sweep", "idle"),
        ("dispatch_deadline_expired", "clock"),
        ("sweep", "idle"),
        ("repayment_overdue", "clock"),
    ]
    store.close()


def test_every_story_is_numbered_in_order_with_its_own_order() -> None:
    """The stories are numbered 1..8 and each drives its own order id."""
    assert [s.number for s in STORIES] == list(range(1, len(STORIES) + 1))
    assert len({s.order_id for s in STORIES}) == len(STORIES)


def test_journey_is_written_as_mermaid_without_dot(tmp_path: Path, monkeypatch: object) -> None:
    """Without Graphviz's dot the journey is still written, as Mermaid only."""
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    store = SQLiteStore(tmp_path / "orders.db")
    (run,) = tell_all(store, STORIES[:1])
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    written = write_journey(run.order, tmp_path / "out")
    assert [p.name for p in written] == ["AE-1001.mmd"]
    assert "(1) request_cancellation" in written[0].read_text(encoding="utf-8")
    store.close()
