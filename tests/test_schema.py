"""JSON Schemas of event payloads and stored orders (statemachine.schema), checked by the
jsonschema validator against real payloads, valid and invalid."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from statemachine import EVENTS, InvalidInput
from statemachine.declaration._records import FireResult
from statemachine.schema import event_schema, order_schema, record_schema
from statemachine.testing.strategies import valid_paths

from .helpers import VARIANTS, edited, reach


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _payload(step: Any, event_id: str | None) -> dict[str, Any]:
    data = {k: v if isinstance(v, bool) else str(v) for k, v in step.data.items()}
    payload = {"at": step.at.isoformat(), **data}
    if event_id is not None:
        payload["event_id"] = event_id
    return json.loads(json.dumps(payload))


def test_every_event_has_a_valid_schema_of_its_keywords() -> None:
    """R15 R16: each event's schema is valid 2020-12, requires `at` and the event's required
    keywords, allows `event_id`, and nothing else."""
    for name, spec in EVENTS.items():
        schema = event_schema(name)
        Draft202012Validator.check_schema(schema)
        assert set(schema["properties"]) == {"at", "event_id"} | {p.name for p in spec.params}
        assert schema["required"] == ["at", *(p.name for p in spec.params if p.required)]
        assert schema["additionalProperties"] is False


def test_unknown_event_has_no_schema() -> None:
    """An unknown event name is InvalidInput naming the event."""
    with pytest.raises(InvalidInput) as caught:
        event_schema("teleport")
    assert caught.value.field == "event"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_paths(max_steps=6), st.sampled_from([None, "wh-1"]))
def test_payloads_of_accepted_events_are_valid(path: Any, event_id: str | None) -> None:
    """R1-R16: every step of a path the machine accepts, sent as JSON, is valid against its
    event's schema, and the machine accepts the JSON form too."""
    order = path.new_order()
    for step in path:
        payload = _payload(step, event_id)
        _validator(event_schema(step.event)).validate(payload)
        at = payload.pop("at")
        payload.pop("event_id", None)
        order.fire(step.event, at=dt.datetime.fromisoformat(at), **payload)
    assert order.state == path.final_state


BAD_PAYLOADS = [
    ("open_claim", {"reason": "damaged_in_transit", "amount": 25.0}, "a JSON number amount"),
    ("open_claim", {"reason": "damaged_in_transit", "amount": "1e3"}, "an exponent"),
    ("open_claim", {"reason": "damaged_in_transit", "amount": "1_000"}, "an underscore"),
    ("open_claim", {"reason": "damaged_in_transit"}, "a missing amount"),
    ("open_claim", {"reason": "damaged_in_transit", "amount": "5", "colour": "red"}, "extra key"),
    ("open_claim", {"reason": "damaged_in_transit", "amount": "5", "listing_altered": "yes"},
     "a flag as text"),
    ("dispatch", {"tracking_number": "   "}, "a blank tracking number"),
    ("dispatch", {"tracking_number": "LP\u0000"}, "a NUL"),
    ("dispatch", {"tracking_number": "x" * 1001}, "an over-long tracking number"),
    ("dispatch", {"tracking_number": "LP1", "event_id": "x" * 201}, "an over-long event id"),
    ("confirm_delivery", {"event_id": 7}, "a numeric event id"),
]  # fmt: skip


@pytest.mark.parametrize(("event", "data", "why"), BAD_PAYLOADS, ids=[b[2] for b in BAD_PAYLOADS])
def test_malformed_payloads_are_invalid(event: str, data: dict[str, Any], why: str) -> None:
    """R11 R15: payloads the machine would refuse as InvalidInput fail the schema too."""
    payload = {"at": "2026-03-03T09:00:00+08:00", **data}
    assert not _validator(event_schema(event)).is_valid(payload), why


@pytest.mark.parametrize("at", ["2026-03-03T09:00:00", "yesterday", "2026-03-03", 1772500000])
def test_times_without_an_offset_are_invalid(at: object) -> None:
    """R16: `at` must be an RFC 3339 date-time with an offset."""
    assert not _validator(event_schema("confirm_delivery")).is_valid({"at": at})


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_stored_orders_are_valid_against_the_order_schema(variant: str) -> None:
    """R1-R16: to_dict() of an order in every state is valid against order_schema()."""
    body = json.loads(json.dumps(reach(variant).to_dict()))
    _validator(order_schema()).validate(body)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["state"], "shipped"),
        (["amount"], 25),
        (["policy"], ...),
        (["history", 0, "dest"], "lost"),
        (["history", 0, "surprise"], 1),
        (["format_version"], 99),
        (["pending_refund", "blame"], "customer"),
        (["paid_at"], "2026-03-02T09:00:00"),
    ],
)
def test_malformed_stored_orders_are_invalid(path: list[str | int], value: Any) -> None:
    """R14 R16: a body with an unknown state, a numeric amount, a missing or extra key, a naive
    time or another layout version fails the order schema, as from_dict refuses it."""
    body = edited(json.loads(json.dumps(reach("refund_pending:claim").to_dict())), path, value)
    assert not _validator(order_schema()).is_valid(body)


def test_amount_pattern_agrees_with_the_machine() -> None:
    """R11: the schema's amount pattern accepts exactly the canonical decimal strings."""
    pattern = event_schema("offer_goodwill_refund")["properties"]["amount"]["pattern"]
    for text in ("25.00", "25", "-1.5", "0.01"):
        assert re.search(pattern, text) and Decimal(text) == Decimal(text)
    for text in ("25.", ".5", "+1", "1e3", "1_000", " 1", "\u0661"):
        assert not re.search(pattern, text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_paths(max_steps=6))
def test_fire_results_are_valid_against_their_record_schema(path: Any) -> None:
    """R1-R16: what every accepted step returns, in its JSON form, is valid against
    record_schema(FireResult), notifications and incidents included."""
    validator = _validator(record_schema(FireResult))
    order = path.new_order()
    for step in path:
        result = order.fire(step.event, at=step.at, **step.data)
        validator.validate(json.loads(json.dumps(result.to_dict())))


def test_only_records_have_a_record_schema() -> None:
    """A class that is not an attrs record has no schema (TypeError), rather than a guess."""
    with pytest.raises(TypeError):
        record_schema(dict)
