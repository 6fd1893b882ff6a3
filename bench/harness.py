"""The work every contender of ``bench/peers.py`` does, and how it is measured or checked.

Standard library only: each contender script imports this module in its own process, and
``contender_psm.py`` runs in a virtual environment where ``statemachine`` is
python-statemachine, without this package or ``transitions``.

A contender script builds a :class:`Contender` (the same five operations, written the way its
library is meant to be used) and calls :func:`main`, which prints one JSON object:

* ``--measure``: ``events_per_s`` on the claim path (``dispatch``, ``confirm_delivery``,
  ``open_claim``, ``settle_refund``: four events per order, each with an event id),
  ``create_us`` per order, ``bytes_per_order`` kept after the claim path (tracemalloc over
  ``--orders`` orders kept alive) and ``refusals_per_s`` of a late cancellation (R2) on
  dispatched orders. Times are the best of ``--repeat`` passes, with the garbage collector on.
* ``--check``: a few orders through the scenarios in :data:`SCENARIOS`, no timing; every step's
  outcome, the state after it, and the order's final history, ledger, blame and incidents.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
PAID_AT = dt.datetime(2026, 3, 2, 9, tzinfo=TZ)
"""A Monday: the R1 deadline (7 business days on the Chinese calendar) ends on 2026-03-11."""
AMOUNT = "25.00"
CURRENCY = "USD"
DISPATCH_AT = PAID_AT + dt.timedelta(days=2)
DELIVERED_AT = PAID_AT + dt.timedelta(days=10)
CLAIM_AT = PAID_AT + dt.timedelta(days=11)
SETTLE_AT = PAID_AT + dt.timedelta(days=14)
CANCEL_AT = PAID_AT + dt.timedelta(days=3)
CLAIM_REASON = "damaged_in_transit"
CLAIM_AMOUNT = "25.00"


@dataclass(frozen=True, slots=True)
class Plan:
    """One order's inputs, made before any timing: its id, tracking number and event ids."""

    order_id: str
    tracking: str
    ids: tuple[str, str, str, str]
    cancel_id: str


def make_plan(i: int) -> Plan:
    """The inputs of the ``i``-th order."""
    oid = f"AE-{i}"
    return Plan(oid, f"LP{i:08d}CN", (f"{oid}:d", f"{oid}:r", f"{oid}:c", f"{oid}:s"), f"{oid}:x")


@dataclass(frozen=True)
class Contender:
    """One contender's implementation of the work.

    ``create(order_id, amount, currency, paid_at)`` returns the handle the caller keeps;
    ``claim_path(order, plan)`` fires the four claim-path events at the module's dates;
    ``dispatch(order, plan)`` fires only the dispatch; ``late_cancellation(order, plan)``
    requests a cancellation of a dispatched order, which must raise ``rejected`` with ``rule``
    ``"R2"``; ``fire(order, event, at, event_id, data)`` fires any event and returns whether it
    was a duplicate (R15); ``view(order)`` describes the order as JSON-safe data;
    ``invalid`` is the exception for bad input (with ``field``).
    """

    name: str
    versions: dict[str, str]
    rejected: type[Exception]
    invalid: type[Exception]
    create: Callable[[str, str, str, dt.datetime], Any]
    claim_path: Callable[[Any, Plan], None]
    dispatch: Callable[[Any, Plan], None]
    late_cancellation: Callable[[Any, Plan], None]
    fire: Callable[[Any, str, dt.datetime, str | None, dict[str, Any]], bool]
    view: Callable[[Any], dict[str, Any]]


# ------------------------------------------------------------------------------------------
# Measure


def _create_all(c: Contender, plans: list[Plan]) -> list[Any]:
    create = c.create
    return [create(p.order_id, AMOUNT, CURRENCY, PAID_AT) for p in plans]


def _expect_state(c: Contender, orders: list[Any], state: str) -> None:
    wrong = [c.view(o)["state"] for o in orders if c.view(o)["state"] != state]
    if wrong:
        raise AssertionError(f"{c.name}: {len(wrong)} orders ended in {wrong[0]}, not {state}")


def measure(c: Contender, n: int, repeat: int) -> dict[str, float]:
    """Create ``n`` orders and run the claim path on them, ``repeat`` times; the best rates,
    then refusals of a late cancellation, then bytes per order under tracemalloc."""
    plans = [make_plan(i) for i in range(n)]
    warm = _create_all(c, plans[:20])  # caches, lazily built machines, first-call costs
    for o, p in zip(warm, plans, strict=False):
        c.claim_path(o, p)
    del warm
    claim_path, dispatch, late, rejected = c.claim_path, c.dispatch, c.late_cancellation, c.rejected
    create_s = events_s = refusals_s = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        orders = _create_all(c, plans)
        t1 = time.perf_counter()
        gc.collect()
        t2 = time.perf_counter()
        for o, p in zip(orders, plans, strict=True):
            claim_path(o, p)
        t3 = time.perf_counter()
        _expect_state(c, orders, "refunded")
        create_s, events_s = min(create_s, t1 - t0), min(events_s, t3 - t2)
        del orders

        orders = _create_all(c, plans)
        for o, p in zip(orders, plans, strict=True):
            dispatch(o, p)
        gc.collect()
        refused = 0
        t4 = time.perf_counter()
        for o, p in zip(orders, plans, strict=True):
            try:
                late(o, p)
            except rejected as refusal:
                refused += refusal.rule == "R2"  # type: ignore[attr-defined]
        t5 = time.perf_counter()
        if refused != n:
            raise AssertionError(f"{c.name}: {n - refused} late cancellations not refused R2")
        _expect_state(c, orders, "dispatched")
        refusals_s = min(refusals_s, t5 - t4)
        del orders

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    orders = _create_all(c, plans)
    for o, p in zip(orders, plans, strict=True):
        claim_path(o, p)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    _expect_state(c, orders, "refunded")
    return {
        "events_per_s": 4 * n / events_s,
        "create_us": create_s / n * 1e6,
        "bytes_per_order": (after - before) / n,
        "refusals_per_s": n / refusals_s,
    }


# ------------------------------------------------------------------------------------------
# Check

Step = tuple[str, dt.datetime, str | None, dict[str, Any]]
_EDGE = dt.datetime(2026, 3, 27, 23, 59, 59, tzinfo=TZ)
"""Delivered 2026-03-12 (local): the R13 window ends at the end of 2026-03-27."""


def _path(prefix: str, *, dispatch_at: dt.datetime = DISPATCH_AT) -> list[Step]:
    return [
        ("dispatch", dispatch_at, f"{prefix}:d", {"tracking_number": f"LP-{prefix}"}),
        ("confirm_delivery", DELIVERED_AT, f"{prefix}:r", {}),
    ]


def _claim(prefix: str, reason: str = CLAIM_REASON, amount: str = CLAIM_AMOUNT) -> Step:
    return ("open_claim", CLAIM_AT, f"{prefix}:c", {"reason": reason, "amount": amount})


SCENARIOS: dict[str, list[Step]] = {
    "claim_path": [*_path("a"), _claim("a"), ("settle_refund", SETTLE_AT, "a:s", {})],
    "claim_partial_listing_altered": [
        *_path("b"),
        (
            "open_claim",
            CLAIM_AT,
            "b:c",
            {"reason": "not_as_described", "amount": "10.00", "listing_altered": True},
        ),
        ("settle_refund", SETTLE_AT, "b:s", {"amount": "8.00"}),
    ],
    "late_dispatch": [
        *_path("c", dispatch_at=PAID_AT + dt.timedelta(days=9, hours=16)),
        _claim("c"),
        ("settle_refund", SETTLE_AT, "c:s", {}),
    ],
    "late_cancellation": [
        _path("d")[0],
        ("request_cancellation", CANCEL_AT, "d:x", {}),
        ("request_cancellation", CANCEL_AT, None, {}),
    ],
    "duplicate_event_id": [
        _path("e")[0],
        _path("e")[0],
        ("dispatch", CANCEL_AT, "e:d", {"tracking_number": "LP-e"}),
        _path("e")[1],
        ("confirm_delivery", DELIVERED_AT, "e:d", {}),
    ],
    "time_backwards": [
        ("dispatch", PAID_AT + dt.timedelta(days=5), "f:d", {"tracking_number": "LP-f"}),
        ("confirm_delivery", PAID_AT + dt.timedelta(days=3), "f:r", {}),
        ("confirm_delivery", PAID_AT - dt.timedelta(days=1), "f:r", {}),
        ("confirm_delivery", PAID_AT + dt.timedelta(days=6), "f:r", {}),
    ],
    "wrong_reason": [*_path("g"), _claim("g", reason="changed_mind"), _claim("g")],
    "claim_before_delivery": [_path("h")[0], _claim("h")],
    "claim_window": [
        *_path("i"),
        (
            "open_claim",
            _EDGE + dt.timedelta(seconds=1),
            "i:c",
            {"reason": CLAIM_REASON, "amount": "5.00"},
        ),
        ("open_claim", _EDGE, "i:c2", {"reason": CLAIM_REASON, "amount": "5.00"}),
    ],
    "amount_caps": [
        *_path("j"),
        _claim("j", amount="25.01"),
        _claim("j", amount="0.00"),
        _claim("j", amount="10.00"),
        ("settle_refund", SETTLE_AT, "j:s", {"amount": "10.01"}),
        ("settle_refund", SETTLE_AT, "j:s", {"amount": "10.00"}),
    ],
}
"""Each scenario is one order (created at ``PAID_AT`` for ``AMOUNT``) and its events."""


def check(c: Contender) -> dict[str, Any]:
    """Run every scenario; per step the outcome and the state, then the final view."""
    report: dict[str, Any] = {}
    for name, steps in SCENARIOS.items():
        order = c.create(f"AE-{name}", AMOUNT, CURRENCY, PAID_AT)
        outcomes: list[dict[str, Any]] = []
        for event, at, event_id, data in steps:
            before = c.view(order)
            try:
                duplicate = c.fire(order, event, at, event_id, dict(data))
            except c.rejected as refusal:
                outcome = f"refused {refusal.rule}"  # type: ignore[attr-defined]
            except c.invalid as bad:
                outcome = f"invalid {bad.field}"  # type: ignore[attr-defined]
            else:
                outcome = "duplicate" if duplicate else "applied"
            after = c.view(order)
            outcomes.append(
                {
                    "event": event,
                    "outcome": outcome,
                    "state": after["state"],
                    "blame": after["blame"],
                    "unchanged": before == after,
                }
            )
        report[name] = {"steps": outcomes, "final": c.view(order)}
    return report


def view(order: Any) -> dict[str, Any]:
    """An order as JSON-safe data, comparable across contenders.

    Reads ``state``, ``history`` (``event``, ``source``, ``dest``, ``at``, ``event_id``),
    ``refunds`` (``amount``, ``reason``, ``blame``), ``pending_refund.blame``,
    ``incidents`` (``kind``) and ``tracking_number``: ours and the peers' orders have them all.
    """
    pending = order.pending_refund
    return {
        "state": order.state,
        "history": [
            [r.event, r.source, r.dest, r.at.isoformat(), r.event_id] for r in order.history
        ],
        "refunds": [[str(e.amount), e.reason, e.blame] for e in order.refunds],
        "blame": pending.blame if pending is not None else None,
        "incidents": [i.kind for i in order.incidents],
        "tracking_number": order.tracking_number,
    }


# ------------------------------------------------------------------------------------------
# Command line


def main(contenders: dict[str, Callable[[], Contender]], argv: list[str] | None = None) -> None:
    """Measure or check one contender, printing one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--contender", choices=sorted(contenders), default=None)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--measure", action="store_true", help="time the work")
    mode.add_argument("--check", action="store_true", help="run the scenarios, no timing")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    name = args.contender or next(iter(contenders))
    if args.contender is None and len(contenders) > 1:
        parser.error(f"--contender is required: one of {', '.join(sorted(contenders))}")
    c = contenders[name]()
    out: dict[str, Any] = {
        "contender": c.name,
        "versions": {"python": platform.python_version(), **c.versions},
        "executable": sys.executable,
    }
    if args.check:
        out["scenarios"] = check(c)
    else:
        out.update(measure(c, args.orders, args.repeat), orders=args.orders, repeat=args.repeat)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
