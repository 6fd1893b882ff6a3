"""What the package tells the people who operate it: its own logger, and OpenTelemetry.

* The logger ``statemachine`` writes one INFO record per event a store handles: applied,
  duplicate (R15), refused (a rule) or invalid (bad input). Each record carries structured
  fields as attributes (``outcome``, ``order_id``, ``event``, ``from_state``, ``to_state``,
  ``rule``, ``kind``, ``event_id``, ``duration_ms``), for a JSON log formatter to pick up. The
  in-memory machine logs nothing: :meth:`Order.fire <statemachine.runtime.Order.fire>` is the hot
  path, and the engine's own per-event log lines are not on it either.
* With the ``[otel]`` extra (``opentelemetry-api`` only, as a library should), every store
  operation is a span (``statemachine.apply``, ``statemachine.sweep``...) and the counter
  ``statemachine.events`` counts events by outcome, event and rule. Without it, or without an
  SDK configured by the application, all of this is a no-op.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Final, Literal

__all__ = ["LOGGER", "Outcome", "event_handled", "span"]

LOGGER: Final = logging.getLogger("statemachine")
"""The package's logger; the application decides where its records go."""

Outcome = Literal["applied", "duplicate", "refused", "invalid"]


@lru_cache(maxsize=1)
def _traced() -> Any:
    """``None`` without ``opentelemetry-api``; else a function telling whether an SDK's tracer
    provider is set (until then, a span would be a no-op: :func:`span` skips making one)."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    get, proxy = trace.get_tracer_provider, trace.ProxyTracerProvider
    return lambda: not isinstance(get(), proxy)


@lru_cache(maxsize=1)
def _otel() -> tuple[Any, Any] | None:
    """The tracer and the event counter, or ``None`` without ``opentelemetry-api``."""
    try:
        from opentelemetry import metrics, trace
    except ImportError:
        return None
    from importlib.metadata import version

    release = version("order-statemachine")
    tracer = trace.get_tracer("statemachine", release)
    counter = metrics.get_meter("statemachine", release).create_counter(
        "statemachine.events",
        unit="{event}",
        description="Events handled by the order stores, by outcome, event and rule",
    )
    return tracer, counter


@contextmanager
def span(operation: str, **attributes: str | int | None) -> Iterator[None]:
    """A span ``statemachine.<operation>`` around a store operation (a no-op without
    OpenTelemetry); an exception is recorded on it and raised on."""
    traced = _traced()
    otel = _otel()
    if otel is None or traced is None or not traced():
        yield
        return
    kept = {f"statemachine.{k}": v for k, v in attributes.items() if v is not None}
    with otel[0].start_as_current_span(f"statemachine.{operation}", attributes=kept):
        yield


def event_handled(
    outcome: Outcome,
    *,
    order_id: str,
    event: str,
    started: float,
    from_state: str | None = None,
    to_state: str | None = None,
    rule: str | None = None,
    kind: str | None = None,
    event_id: str | None = None,
    actor: str | None = None,
) -> None:
    """Log one handled event (and count it), ``started`` being its ``time.perf_counter()``;
    ``actor`` is who sent it (a credential's name), named in the line."""
    duration_ms = round((time.perf_counter() - started) * 1000, 3)
    otel = _otel()
    if otel is not None:
        labels = {"outcome": outcome, "event": event, "rule": rule or "none"}
        otel[1].add(1, labels)
    if not LOGGER.isEnabledFor(logging.INFO):
        return
    moved = f"{from_state} -> {to_state}" if from_state and to_state else ""
    why = f" by {rule}" if rule else ""
    LOGGER.info(
        "%s %s on order %s%s%s%s",
        event,
        outcome,
        order_id,
        f" ({moved})" if moved else "",
        why,
        f", sent by {actor}" if actor else "",
        extra={
            "actor": actor,
            "outcome": outcome,
            "order_id": order_id,
            "event": event,
            "from_state": from_state,
            "to_state": to_state,
            "rule": rule,
            "kind": kind,
            "event_id": event_id,
            "duration_ms": duration_ms,
        },
    )
