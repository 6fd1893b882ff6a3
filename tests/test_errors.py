"""The errors (statemachine.errors): one root, data on every error, JSON forms."""

from __future__ import annotations

import json

import pytest

from statemachine import EventRejected, InvalidInput, OrderError
from statemachine.errors import CorruptOrder, RefusalKind

from .helpers import reach, t

KEYS = {"type", "message", "rule", "kind", "event", "state", "order_id", "field", "facts"}


def test_refusal_to_dict_carries_rule_kind_and_facts() -> None:
    """R2: a refusal's JSON form has its type, message, rule, kind, event, state, order id and
    facts, in plain JSON types."""
    order = reach("dispatched")
    with pytest.raises(EventRejected) as caught:
        order.request_cancellation(at=t(5))
    data = json.loads(json.dumps(caught.value.to_dict()))
    assert set(data) == KEYS
    assert data["type"] == "EventRejected"
    assert (data["rule"], data["kind"], data["event"], data["state"], data["order_id"]) == (
        "R2",
        "state",
        "request_cancellation",
        "dispatched",
        "AE-1",
    )
    assert data["facts"]["tracking_number"] == "LP1"
    assert data["message"] == str(caught.value)


@pytest.mark.parametrize(
    "error",
    [
        InvalidInput("amount must be positive", field="amount"),
        CorruptOrder("AE-7", "its body is not JSON", field="body"),
        OrderError.__new__(OrderError),
    ],
    ids=["invalid-input", "corrupt-order", "bare-root"],
)
def test_every_error_has_the_same_json_keys(error: OrderError) -> None:
    """R15: every OrderError's to_dict has the same keys (None where one does not apply), so
    a service maps any of them to one problem document."""
    if not hasattr(error, "message"):
        error.message = "bare"
    data = json.loads(json.dumps(error.to_dict()))
    assert set(data) == KEYS
    assert data["type"] == type(error).__name__
    assert data["field"] == getattr(error, "field", None)


def test_refusal_kinds_are_the_documented_three() -> None:
    """The kinds a service maps to HTTP statuses are exactly state, data and time, and the
    EventRejected docstring documents each with order_id and facts."""
    assert set(RefusalKind.__args__) == {"state", "data", "time"}  # type: ignore[attr-defined]
    doc = EventRejected.__doc__ or ""
    for word in ('"state"', '"data"', '"time"', "order_id", "facts"):
        assert word in doc
