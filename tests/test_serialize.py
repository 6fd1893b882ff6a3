"""The JSON-safe round trip and the validation of stored data (R11, R15, R16)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from statemachine import InvalidInput, Order, Policy

from .helpers import VARIANTS, reach, t


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_round_trip_keeps_everything(variant: str) -> None:
    """to_dict is JSON-safe and from_dict gives back an equal order in every state."""
    order = reach(variant)
    if order.state == "cancelled":
        order.dispatch(tracking_number="LP9", at=t(5), event_id="late-1")
        order.reimburse_customer(amount="100.00", at=t(6), event_id="r-1")
    data = json.loads(json.dumps(order.to_dict()))
    restored = Order.from_dict(data)
    assert restored == order
    assert restored.to_dict() == data
    assert restored.refunded_total == order.refunded_total


def test_round_trip_keeps_policy_and_continues() -> None:
    """A restored order keeps its policy and its stored deadlines, and takes further events."""
    policy = Policy(dispatch_business_days=3, extra_holidays=["2026-03-03"])
    order = reach("paid", policy=policy)
    restored = Order.from_dict(json.loads(json.dumps(order.to_dict())))
    assert restored.policy == policy
    assert restored.dispatch_deadline == order.dispatch_deadline
    restored.request_cancellation(at=t(1), event_id="c-1")
    assert restored.request_cancellation(at=t(1), event_id="c-1").duplicate


def good() -> dict[str, Any]:
    """A valid stored order with history, a pending refund and notifications."""
    return reach("refund_pending:claim").to_dict()


def broken(path: list[str | int], value: Any) -> dict[str, Any]:
    """A copy of :func:`good` with one value replaced (``...`` deletes it)."""
    data = copy.deepcopy(good())
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["state"], "shipped", "state"),
        (["paid_at"], "2026-03-02T09:00:00", "paid_at"),
        (["history", 0, "at"], "2026-03-03T09:00:00", "history[0].at"),
        (["amount"], "ten", "amount"),
        (["amount"], 10.5, "amount"),
        (["amount"], "10.001", "amount"),
        (["amount"], "-5.00", "amount"),
        (["pending_refund", "amount"], "NaN", "pending_refund.amount"),
        (["order_id"], ..., "order_id"),
        (["surprise"], 1, "surprise"),
        (["history", 0, "extra"], 1, "history[0].extra"),
        (["state"], "delivered", "state"),
        (["history", 1, "source"], "paid", "history[1]"),
        (["history", 1, "event"], "open_claim", "history[1]"),
        (["history", 2, "at"], "2026-03-02T00:00:00+08:00", "history[2].at"),
        (["pending_refund"], None, "pending_refund"),
        (["refunds"], [{"at": "2026-03-09T09:00+08:00", "amount": "101.00", "reason": "x",
                       "blame": "supplier"}],
         "refunds"),
        (["policy", "dispatch_business_days"], 0, "policy.dispatch_business_days"),
        (["format_version"], 99, "format_version"),
    ],
)  # fmt: skip
def test_malformed_data_raises_invalid_input_naming_the_field(
    path: list[str | int], value: Any, field: str | None
) -> None:
    """Unknown state, naive datetime, bad amount, contradicting history: InvalidInput(field)."""
    with pytest.raises(InvalidInput) as info:
        Order.from_dict(broken(path, value))
    if field is not None:
        assert info.value.field == field
        assert field.split("[")[0].split(".")[0] in str(info.value)


def test_duplicate_event_ids_in_stored_history_refused() -> None:
    """R15: stored history that uses one event id twice is malformed."""
    order = reach("paid")
    order.request_cancellation(at=t(1), event_id="e-1")
    order.withdraw_cancellation(at=t(2), event_id="e-2")
    data = order.to_dict()
    data["history"][1]["event_id"] = "e-1"
    with pytest.raises(InvalidInput) as info:
        Order.from_dict(data)
    assert info.value.field == "history[1].event_id"


def test_not_a_mapping_is_invalid() -> None:
    """A stored order that is not a mapping is refused."""
    with pytest.raises(InvalidInput):
        Order.from_dict([])  # type: ignore[arg-type]
