"""The JSON-safe round trip, and stored data checked against its own history (R1-R16)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statemachine import EVENTS, InvalidInput, Order, OrderError, Policy
from statemachine.runtime._serialize import FORMAT_VERSION

from .helpers import VARIANTS, edited, reach, t


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
    return edited(good(), path, value)


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
        (["history", 1, "source"], "paid", "history[1].source"),
        (["history", 1, "event"], "open_claim", "history[1]"),
        (["history", 2, "at"], "2026-03-02T00:00:00+08:00", "history[2].at"),
        (["pending_refund"], None, "pending_refund"),
        (["refunds"], [{"at": "2026-03-09T09:00+08:00", "amount": "101.00", "reason": "x",
                       "blame": "supplier", "event_id": None}],
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


# --------------------------------------------------------------------------------------------
# Stored orders are checked against their own history (issue 9, class 1)


def _body(variant: str) -> dict[str, Any]:
    order = reach(variant)
    if variant == "refunded":
        order.reimburse_customer(amount="10.00", at=t(6), event_id="r-1")
    return json.loads(json.dumps(order.to_dict()))


REVIEW_CASES = [
    # (variant, path, value, field): what the review loaded and the machine can never produce
    ("refund_pending:cancellation", ["pending_refund", "amount"], "0.01", "pending_refund.amount"),
    ("refund_pending:cancellation", ["pending_refund", "amount"], "-5.00", "pending_refund.amount"),
    ("refund_pending:cancellation", ["pending_refund", "amount"], "1E+30", "pending_refund.amount"),
    ("refund_pending:cancellation", ["pending_refund", "amount"], "1.001", "pending_refund.amount"),
    ("refund_pending:cancellation", ["pending_refund", "repayment_deadline"], None,
     "pending_refund.repayment_deadline"),
    ("refund_pending:cancellation", ["pending_refund", "reason"], "not_dispatched",
     "pending_refund.reason"),
    ("refund_pending:claim", ["pending_refund", "reason"], "not_as_described",
     "pending_refund.reason"),
    ("paid", ["dispatched_at"], "2026-03-03T09:00:00+08:00", "dispatched_at"),
    ("paid", ["refunds"], [{"at": "2026-03-03T09:00:00+08:00", "amount": "5.00",
                            "reason": "goodwill", "blame": "merchant", "event_id": None}],
     "refunds"),
    ("refunded", ["refunds"], [], "refunds"),
    ("cancel_requested", ["notifications"], [], "notifications"),
    ("dispatched", ["incidents"], [{"kind": "late_dispatch", "at": "2026-03-03T09:00:00+08:00",
                                    "rule": "R1", "detail": "made up"}], "incidents"),
    ("paid", ["dispatch_deadline"], "2026-03-01T23:59:59.999999+08:00", "dispatch_deadline"),
    ("paid", ["dispatch_deadline"], "2026-03-12T10:00:00+08:00", "dispatch_deadline"),
    ("refund_pending:claim", ["history", 2, "data", "amount"], "NaN", "history[2].data.amount"),
    ("refund_pending:claim", ["history", 2, "data", "reason"], "changed_mind", "history[2]"),
    ("delivered", ["history", 1, "data", "claim_deadline"], "2026-03-01T23:59:59.999999+08:00",
     "history[1].data.claim_deadline"),
    ("delivered", ["claim_deadline"], "2026-04-30T23:59:59.999999+08:00", "claim_deadline"),
    ("refunded", ["customer_refunds", 0, "amount"], "90.00", "customer_refunds[0].amount"),
    ("refunded", ["customer_refunds", 0, "blame"], "supplier", "customer_refunds[0].blame"),
    ("paid", ["policy"], ..., "policy"),
    ("paid", ["state"], ..., "state"),
    ("refunded", ["history"], ..., "history"),
    ("refunded", ["refunds"], ..., "refunds"),
    ("refunded", ["customer_refunds"], ..., "customer_refunds"),
    ("refunded", ["history", 0, "event_id"], ..., "history[0].event_id"),
    ("refund_pending:claim", ["pending_refund", "overdue_escalated"], ...,
     "pending_refund.overdue_escalated"),
    ("paid", ["policy", "claim_window_days"], ..., "policy.claim_window_days"),
    ("paid", ["format_version"], True, "format_version"),
    ("paid", ["format_version"], ..., "format_version"),
    ("paid", ["format_version"], "2", "format_version"),
    ("paid", ["order_id"], " AE-1", "order_id"),
    ("paid", ["currency"], "XXX", "currency"),
    ("paid", ["warnings"], [{"kind": "calendar_unofficial", "field": "state", "year": 2026,
                             "message": "x"}], "warnings[0]"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("variant", "path", "value", "field"),
    REVIEW_CASES,
    ids=[f"{v}-{'.'.join(map(str, p))}" for v, p, _, _ in REVIEW_CASES],
)
def test_bodies_the_machine_cannot_produce_are_refused(
    variant: str, path: list[str | int], value: Any, field: str
) -> None:
    """R4 R5 R6 R9 R11 R13 R15 R16: a stored body that disagrees with what its history gives,
    lacks a key or carries a deadline of the wrong shape is InvalidInput naming the field."""
    with pytest.raises(InvalidInput) as caught:
        Order.from_dict(edited(_body(variant), path, value))
    assert caught.value.field == field
    assert field in str(caught.value)


def _leaves(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


REPLACEMENTS = st.one_of(
    st.sampled_from(
        [None, True, False, 0, 1, -1, "", "0.01", "-1.00", "25.00", "100.00", "1E+30", "NaN",
         "paid", "refunded", "delivered", "goodwill", "cancellation", "supplier", "merchant",
         "R1", "R7", "2026-03-02T09:00:00+08:00", "2026-03-20T23:59:59.999999+08:00",
         "2026-03-02", [], {}]
    ),
    st.text(max_size=6),
    st.integers(-3, 3),
)  # fmt: skip
"""Values a corrupted or hand-edited body may hold instead of the real one."""

GIVEN = ("order_id", "amount", "currency", "paid_at", "policy", "dispatch_deadline", "warnings")
"""Fields the history cannot derive: the creation's arguments, and what is checked for its
shape only (the R1 deadline, calendar warnings)."""


PARAMS = {p.name for e in EVENTS.values() for p in e.params}


def _is_input(path: tuple[str | int, ...]) -> bool:
    """Whether ``path`` is something the replay takes (not derives): a creation argument, a
    shape-checked field, or what a caller sent with an event (its name, time, id and data)."""
    if path[0] in GIVEN:
        return True
    if path[0] != "history" or len(path) < 3:
        return False
    return path[2] in ("event", "at", "event_id") or (path[2] == "data" and path[3] in PARAMS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(VARIANTS)), st.data())
def test_any_edited_value_is_refused_unless_the_history_gives_it(
    variant: str, data: st.DataObject
) -> None:
    """R1-R16: replacing any one value of a stored body is InvalidInput naming a field, unless
    the value changed nothing the history determines; an accepted body is a fixed point of the
    round trip and the machine can continue it."""
    body = _body(variant)
    path = data.draw(st.sampled_from(_leaves(body)), label="path")
    value = data.draw(REPLACEMENTS, label="value")
    changed = edited(body, list(path), value)
    refusal: InvalidInput | None = None
    try:
        order = Order.from_dict(changed)
    except InvalidInput as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.field, str(refusal)
        return
    if not _is_input(path):
        assert order.to_dict() == body, (path, value)
    text = json.dumps(order.to_dict())
    again = Order.from_dict(json.loads(text))
    assert again == order
    assert json.dumps(again.to_dict()) == text  # the same JSON text, key order included
    for event in order.allowed_events(t(30)):
        copy_ = Order.from_dict(order.to_dict())
        try:
            copy_.fire(event, at=t(30), **_DATA.get(event, {}))
        except OrderError:
            continue
        assert Order.from_dict(copy_.to_dict()) == copy_


_DATA: dict[str, dict[str, Any]] = {
    "dispatch": {"tracking_number": "LP9"},
    "open_claim": {"reason": "damaged_in_transit", "amount": "1.00"},
    "offer_goodwill_refund": {"amount": "1.00"},
    "reimburse_customer": {"amount": "1.00"},
}


def test_layout_1_is_read_and_written_back_in_the_current_layout() -> None:
    """R9 R4: a body of layout 1 (ledger entries say funded_by; history records do not carry
    the repayment window; no definition is named) is read, and written back in the current
    layout, which names orders@1."""
    order = reach("cancelled")
    body = order.to_dict()
    body["format_version"] = 1
    del body["definition"]
    for entry in body["refunds"]:
        entry["funded_by"] = entry.pop("blame")
    for record in body["history"]:
        record["data"].pop("repayment_earliest", None)
        record["data"].pop("repayment_deadline", None)
    restored = Order.from_dict(body)
    assert restored.refunds[0].blame == "supplier"
    assert restored.to_dict()["format_version"] == FORMAT_VERSION
    assert restored.to_dict()["definition"] == restored.definition == "orders@1"
    assert Order.from_dict(restored.to_dict()) == restored


@pytest.mark.parametrize("altered", [None, False, True])
def test_an_order_fired_by_name_round_trips_to_the_same_text(altered: bool | None) -> None:
    """R9: a claim fired through `fire` with or without `listing_altered` (so with the
    default) gives history data whose keys come in the order a replay gives them: to_dict,
    from_dict, to_dict is the same JSON text, key order included."""
    order = Order.create("AE-1", "100.00", "USD", t(0))
    order.fire("dispatch", tracking_number="LP1", at=t(1))
    order.fire("confirm_delivery", at=t(2))
    extra = {} if altered is None else {"listing_altered": altered}
    order.fire("open_claim", reason="not_as_described", amount="40.00", at=t(3), **extra)
    text = json.dumps(order.to_dict())
    assert json.dumps(Order.from_dict(json.loads(text)).to_dict()) == text
