"""What an order remembers and returns (statemachine.declaration._records), in plain JSON."""

from __future__ import annotations

import json

from .helpers import reach, t


def test_fire_result_to_dict_is_plain_json_with_the_given_offset() -> None:
    """R6 R15: a result's JSON form carries the event, states, time with the offset given,
    event id, duplicate flag and the new notifications as objects."""
    order = reach("paid")
    at = t(1)
    result = order.request_cancellation(at=at, event_id="wh-1")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["at"] == at.isoformat() and data["at"].endswith("+08:00")
    assert (data["event"], data["source"], data["dest"]) == (
        "request_cancellation",
        "paid",
        "cancel_requested",
    )
    assert data["event_id"] == "wh-1" and data["duplicate"] is False
    assert [n["kind"] for n in data["notifications"]] == ["cancellation_request_received"]
    again = order.request_cancellation(at=t(2), event_id="wh-1").to_dict()
    assert again["duplicate"] is True and again["notifications"] == []
