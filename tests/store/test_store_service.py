"""What a service needs from a store: versions for HTTP, JSON forms, strict idempotency keys
across processes, and observability (issue 10)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import PAID, StoreSpec, new_order, open_store, raw

from statemachine import InvalidInput
from statemachine.store import OrderStore, VersionConflict
from statemachine.testing import check_log
from statemachine.testing.strategies import valid_paths

HOUR = dt.timedelta(hours=1)


def test_load_gives_the_version_and_apply_checks_it(store: OrderStore, spec: StoreSpec) -> None:
    """R15: load() returns the order and its row version; apply(expected_version=) writes only
    at that version, else VersionConflict naming both versions, writing nothing."""
    store.add(new_order())
    loaded = store.load("AE-1")
    assert (loaded.version, loaded.order.state) == (1, "paid")
    applied = store.apply("AE-1", "request_cancellation", at=PAID + HOUR, expected_version=1)
    assert applied.version == 2
    with pytest.raises(VersionConflict) as caught:
        store.apply("AE-1", "withdraw_cancellation", at=PAID + 2 * HOUR, expected_version=1)
    assert (caught.value.expected, caught.value.found) == (1, 2)
    assert raw(spec, "SELECT version FROM orders") == [(2,)]
    assert store.load("AE-1").order.state == "cancel_requested"


def test_a_replay_with_an_old_version_answers_as_the_first_time(store: OrderStore) -> None:
    """R15: a duplicate delivery carrying the version it was first sent with is a duplicate,
    not a VersionConflict (a retried request answers as the first time did)."""
    store.add(new_order())
    store.apply("AE-1", "request_cancellation", at=PAID + HOUR, event_id="k1", expected_version=1)
    again = store.apply(
        "AE-1", "request_cancellation", at=PAID + HOUR, event_id="k1", expected_version=1
    )
    assert again.duplicate and again.version == 2


def _reuse(spec: StoreSpec, amount: str) -> str:
    store = open_store(spec)
    try:
        store.apply(
            "AE-1",
            "open_claim",
            at=PAID + 4 * HOUR,
            event_id="claim-1",
            reason="damaged_in_transit",
            amount=amount,
        )
    except InvalidInput as exc:
        return f"invalid:{exc.field}"
    finally:
        store.close()
    return "applied"


def test_a_key_reused_with_other_data_is_refused_across_processes(
    store: OrderStore, spec: StoreSpec
) -> None:
    """R15: another process sending the same event id with another amount gets InvalidInput
    naming event_id; the same amount written differently (5.0) is a duplicate."""
    store.add(new_order())
    store.apply("AE-1", "dispatch", at=PAID + HOUR, tracking_number="LP1")
    store.apply("AE-1", "confirm_delivery", at=PAID + 2 * HOUR)
    store.apply(
        "AE-1",
        "open_claim",
        at=PAID + 3 * HOUR,
        event_id="claim-1",
        reason="damaged_in_transit",
        amount="5.00",
    )
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(_reuse, [(spec, "6.00"), (spec, "5.0")])
    assert results == ["invalid:event_id", "applied"]
    assert store.load("AE-1").version == 4


def test_json_forms_of_applied_log_and_outbox(store: OrderStore) -> None:
    """R6 R16: Applied, LogEntry and OutboxItem have to_dict() of plain JSON types, times with
    the offset the caller gave."""
    store.add(new_order())
    at = PAID + HOUR
    applied = store.apply("AE-1", "request_cancellation", at=at, event_id="wh-1")
    data = json.loads(json.dumps(applied.to_dict()))
    assert data["version"] == 2 and data["duplicate"] is False
    assert data["result"]["at"] == at.isoformat()
    assert data["order"]["state"] == "cancel_requested"
    (entry,) = store.history("AE-1")
    assert json.loads(json.dumps(entry.to_dict()))["at"] == at.isoformat()
    (item,) = store.outbox()
    note = json.loads(json.dumps(item.to_dict()))
    assert note["notification"]["kind"] == "cancellation_request_received"
    assert note["notification"]["at"] == at.isoformat()


def test_each_event_is_logged_once_with_its_fields(
    store: OrderStore, caplog: pytest.LogCaptureFixture
) -> None:
    """R2 R15: the statemachine logger writes one record per applied, duplicate, refused and
    invalid event, with order id, event, states, rule, kind, event id and duration."""
    store.add(new_order())
    with caplog.at_level(logging.INFO, logger="statemachine"):
        store.apply("AE-1", "dispatch", at=PAID + HOUR, event_id="d1", tracking_number="LP1")
        store.apply("AE-1", "dispatch", at=PAID + HOUR, event_id="d1", tracking_number="LP1")
        with pytest.raises(Exception, match="R2"):
            store.apply("AE-1", "request_cancellation", at=PAID + 2 * HOUR)
        with pytest.raises(InvalidInput):
            store.apply("AE-1", "teleport", at=PAID + 2 * HOUR)
    records = [r for r in caplog.records if r.name == "statemachine"]
    assert [r.outcome for r in records] == ["applied", "duplicate", "refused", "invalid"]  # type: ignore[attr-defined]
    applied, duplicate, refused, _ = records
    assert (applied.order_id, applied.event, applied.from_state, applied.to_state) == (  # type: ignore[attr-defined]
        "AE-1",
        "dispatch",
        "paid",
        "dispatched",
    )
    assert duplicate.rule == "R15" and duplicate.event_id == "d1"  # type: ignore[attr-defined]
    assert (refused.rule, refused.kind) == ("R2", "state")  # type: ignore[attr-defined]
    assert all(r.duration_ms >= 0 for r in records)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def otel() -> tuple[object, object]:
    """An OpenTelemetry SDK set up once (its global providers cannot be replaced): an
    in-memory span exporter and metric reader."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return exporter, reader


def _counts(reader: object) -> dict[tuple[str, str], int]:
    data = reader.get_metrics_data()  # type: ignore[attr-defined]
    out: dict[tuple[str, str], int] = {}
    if data is None:
        return out
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "statemachine.events":
                    for point in metric.data.data_points:
                        key = (point.attributes["outcome"], point.attributes["rule"])
                        out[key] = out.get(key, 0) + point.value
    return out


def test_spans_and_counters_with_the_opentelemetry_sdk(
    store: OrderStore, otel: tuple[object, object]
) -> None:
    """R2: with an OpenTelemetry SDK configured, each store operation is a span (a refusal's
    span records the error) and the events counter counts events by outcome and rule."""
    exporter, reader = otel
    exporter.clear()  # type: ignore[attr-defined]
    before = _counts(reader)
    store.add(new_order())
    store.apply("AE-1", "dispatch", at=PAID + HOUR, tracking_number="LP1")
    with pytest.raises(Exception, match="R2"):
        store.apply("AE-1", "request_cancellation", at=PAID + 2 * HOUR)
    store.history("AE-1")
    spans = exporter.get_finished_spans()  # type: ignore[attr-defined]
    names = [s.name for s in spans]
    assert names.count("statemachine.apply") == 2 and "statemachine.history" in names
    refused = next(s for s in spans if s.status.status_code.name == "ERROR")
    assert refused.attributes["statemachine.order_id"] == "AE-1"
    after = _counts(reader)
    assert after.get(("applied", "none"), 0) - before.get(("applied", "none"), 0) == 1
    assert after.get(("refused", "R2"), 0) - before.get(("refused", "R2"), 0) == 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=valid_paths(max_steps=6), as_dicts=st.booleans())
def test_check_log_reads_the_stores_own_log(store: OrderStore, path: Any, as_dicts: bool) -> None:
    """R1-R16: the log a store writes for any valid path, as history() returns it (entries or
    their to_dict()), passes check_log with the stored order as its creation: no finding, and
    the replayed order is the stored one."""
    order_id = f"P-{uuid.uuid4().hex[:8]}"
    order = path.new_order(order_id)
    store.add(order)
    for step in path:
        store.apply(order_id, step.event, at=step.at, **step.data)
    entries = store.history(order_id)
    records = [e.to_dict() for e in entries] if as_dicts else list(entries)
    report = check_log(records, created=[store.get(order_id)])
    assert report.ok, str(report)
    assert report.replayed[order_id] == store.get(order_id)


def test_check_log_finds_a_state_the_store_log_should_not_have(store: OrderStore) -> None:
    """R2: a store log edited to claim another state is a finding of check_log."""
    store.add(new_order())
    store.apply("AE-1", "dispatch", at=PAID + HOUR, tracking_number="LP1")
    (entry,) = (e.to_dict() for e in store.history("AE-1"))
    entry["to_state"] = "cancelled"
    report = check_log([entry], created=[store.get("AE-1")])
    assert not report.ok
    assert report.mismatches[0].recorded == "cancelled"


def test_listing_by_state_and_due_time_with_keyset_pages(store: OrderStore) -> None:
    """R12 R14: orders() lists from the indexes (schema 2 adds one on state): by state, by due
    time up to a moment (oldest due first), in keyset pages that never repeat or skip a row;
    state_counts() counts them; notifications() gives an order's outbox rows and acks."""
    store.add_many(new_order(f"L-{i:02d}", PAID + i * HOUR) for i in range(7))
    store.apply("L-03", "request_cancellation", at=PAID + 10 * HOUR)
    store.apply("L-05", "dispatch", at=PAID + 10 * HOUR, tracking_number="LP1")
    assert [r.order_id for r in store.orders(state="cancel_requested")] == ["L-03"]
    assert store.state_counts() == {"paid": 5, "cancel_requested": 1, "dispatched": 1}
    seen: list[str] = []
    after = None
    while page := store.orders(limit=3, after=after):
        seen += [r.order_id for r in page]
        after = (None, page[-1].order_id)
    assert seen == [f"L-{i:02d}" for i in range(7)]
    late = PAID + dt.timedelta(days=60)
    due = store.orders(due_before=late, limit=2)
    assert [r.order_id for r in due] == ["L-00", "L-01"]
    rest = store.orders(due_before=late, after=(due[-1].due_at, due[-1].order_id), limit=50)
    assert [r.order_id for r in rest] == ["L-02", "L-03", "L-04", "L-06"]  # L-05 shipped
    (note,) = store.notifications("L-03")
    assert (note.position, note.acked) == (0, False)
    store.ack([note.notification_id])
    assert store.notifications("L-03")[0].acked is True
    store.ping()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"state": "lost"}, "state"),
        ({"limit": 0}, "limit"),
        ({"due_before": dt.datetime(2026, 3, 3)}, "due_before"),
    ],
)
def test_listing_arguments_are_checked(
    store: OrderStore, kwargs: dict[str, Any], field: str
) -> None:
    """R14 R16: an unknown state, a bad limit or a naive time is InvalidInput naming it."""
    with pytest.raises(InvalidInput) as caught:
        store.orders(**kwargs)
    assert caught.value.field == field
