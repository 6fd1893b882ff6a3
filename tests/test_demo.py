"""The seed's stories that `make demo` runs end where the rules say."""

from __future__ import annotations

from pathlib import Path

import pytest

from statemachine.demo import STORIES, main, stored_webhooks


def test_stories_reach_the_states_the_rules_give(capsys: pytest.CaptureFixture[str]) -> None:
    """R2 R3 R4 R5 R8 R10 R12: each story's order ends in its expected state."""
    states = {story.__name__: story().state for story in STORIES}
    assert states == {
        "early_cancellation": "cancelled",
        "late_cancellation": "dispatched",
        "damaged_in_transit": "refunded",
        "goodwill": "refunded",
        "never_shipped": "refund_pending",
    }
    main()
    out = capsys.readouterr().out
    assert "refused: R2:" in out
    assert "refused: R8:" in out
    assert "repayment_overdue" in out


def test_stored_webhooks_story_applies_the_duplicate_once(tmp_path: Path) -> None:
    """R15 R3: through a real SQLite file, the twice-delivered dispatch is applied once."""
    order = stored_webhooks(tmp_path)
    assert order.state == "dispatched"
    assert [h.event for h in order.history] == ["request_cancellation", "dispatch"]
    assert (tmp_path / "orders.db").is_file()
