"""Benchmark: creating and firing orders, against a transitions Machine per order (the peer).

Run with ``make bench`` (or ``python bench/order_create.py``). Prints microseconds per order
and bytes per order for both designs, measured in the same run on the same machine.
"""

from __future__ import annotations

import datetime as dt
import gc
import sys
import timeit
import tracemalloc
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from transitions import Machine

from statemachine import TRANSITIONS, Order
from statemachine.records import FINAL_STATES, STATES

PAID = dt.datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
N = 2000


def ours() -> Order:
    """An order of this package: plain attrs data, the shared machine."""
    return Order.create("AE-1", "25.00", "USD", PAID)


class PeerOrder:
    """The peer design: the same data, with its own transitions Machine bound onto it."""

    def __init__(self) -> None:
        self.order_id, self.amount, self.currency, self.paid_at = "AE-1", "25.00", "USD", PAID
        self.history: list[Any] = []
        Machine(
            model=self,
            states=list(STATES),
            initial="paid",
            transitions=[
                {"trigger": t.event, "source": list(t.sources), "dest": t.dest or "="}
                for t in TRANSITIONS
            ],
            auto_transitions=False,
        )


def peer() -> PeerOrder:
    """An order of the peer design: one Machine per order."""
    return PeerOrder()


def per_call_us(fn: Callable[[], object]) -> float:
    """Best of five runs, microseconds per call."""
    runs = timeit.repeat(fn, number=N, repeat=5)
    return min(runs) / N * 1e6


def bytes_per(fn: Callable[[], object]) -> float:
    """Bytes allocated and kept per object, from tracemalloc over N objects."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = [fn() for _ in range(N)]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert len(kept) == N
    return total / N


def fire_us() -> float:
    """Microseconds for request_cancellation + supplier_accepts + settle on a fresh order."""

    def run() -> None:
        order = ours()
        order.request_cancellation(at=PAID)
        order.supplier_accepts_cancellation(at=PAID)
        order.settle_refund(at=PAID)
        assert order.state in FINAL_STATES

    return per_call_us(run)


def main() -> None:
    """Print the comparison table."""
    ours(), peer()  # warm caches (calendar, shared machine)
    print(f"python {sys.version.split()[0]}, {N} orders per run, best of 5")
    print(f"{'design':42} {'create us/order':>16} {'bytes/order':>12}")
    for name, fn in (
        ("order-statemachine Order.create", ours),
        ("transitions Machine per order (peer)", peer),
    ):
        print(f"{name:42} {per_call_us(fn):16.1f} {bytes_per(fn):12.0f}")
    print(f"{'3 events to cancelled (ours), us/order':42} {fire_us():16.1f}")


if __name__ == "__main__":
    main()
