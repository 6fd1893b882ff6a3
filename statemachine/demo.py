"""A short run of the seed's stories: what ``make demo`` shows until the command line exists.

Each story drives one order through the rules with real dates on the Chinese calendar and
prints what happened, including the refusals a merchant would meet.
"""

from __future__ import annotations

import datetime as dt
import inspect
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .errors import EventRejected
from .order import Order

__all__ = ["STORIES", "main"]

SH = ZoneInfo("Asia/Shanghai")


def _at(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=SH)


def early_cancellation() -> Order:
    """The customer changes their mind the same day; the supplier agrees and repays."""
    order = Order.create("AE-1001", "25.00", "USD", _at(2, 13))
    order.request_cancellation(at=_at(2, 13, 11))
    order.supplier_accepts_cancellation(at=_at(2, 14))
    order.reimburse_customer(amount="25.00", at=_at(2, 14, 12))
    order.settle_refund(at=_at(2, 26))
    return order


def late_cancellation() -> Order:
    """The customer asks too late: the supplier dispatches while the request is pending."""
    order = Order.create("AE-1002", "40.00", "USD", _at(3, 2))
    order.request_cancellation(at=_at(3, 9))
    order.dispatch(tracking_number="LP00123", at=_at(3, 10))
    try:
        order.request_cancellation(at=_at(3, 11))
    except EventRejected as refused:
        print(f"    refused: {refused}")
    return order


def damaged_in_transit() -> Order:
    """The parcel arrives broken: a claim the supplier funds."""
    order = Order.create("AE-1003", "60.00", "USD", _at(4, 1))
    order.dispatch(tracking_number="LP00456", at=_at(4, 3))
    order.confirm_delivery(at=_at(4, 20))
    order.open_claim(reason="damaged_in_transit", amount="60.00", at=_at(4, 22))
    order.settle_refund(at=_at(4, 28))
    return order


def goodwill() -> Order:
    """Goods in good shape, an unhappy customer: a partial refund to avoid a bad review."""
    order = Order.create("AE-1004", "30.00", "USD", _at(5, 6))
    order.dispatch(tracking_number="LP00789", at=_at(5, 8))
    order.confirm_delivery(at=_at(5, 25))
    try:
        order.open_claim(reason="changed_mind", amount="30.00", at=_at(5, 26))
    except EventRejected as refused:
        print(f"    refused: {refused}")
    order.offer_goodwill_refund(amount="8.00", at=_at(5, 26, 12))
    order.settle_refund(at=_at(5, 27))
    return order


def never_shipped() -> Order:
    """The supplier never ships: the clock auto-closes the order, then escalates repayment."""
    order = Order.create("AE-1005", "15.00", "USD", _at(9, 28))
    for day in (dt.datetime(2026, 10, 20, 9, tzinfo=SH), dt.datetime(2026, 11, 20, 9, tzinfo=SH)):
        for result in order.tick(day):
            print(f"    clock at {day:%Y-%m-%d}: {result.event} -> {result.dest}")
    return order


STORIES: tuple[Callable[[], Order], ...] = (
    early_cancellation,
    late_cancellation,
    damaged_in_transit,
    goodwill,
    never_shipped,
)


def _show(order: Order) -> None:
    print(f"    paid {order.amount} {order.currency}; dispatch deadline {order.dispatch_deadline}")
    for record in order.history:
        print(f"    {record.at:%Y-%m-%d %H:%M} {record.event}: {record.source} -> {record.dest}")
    for note in order.notifications:
        print(f"    notify [{note.channel}] {note.kind}: {note.message}")
    for incident in order.incidents:
        print(f"    incident {incident.kind}: {incident.detail}")
    print(
        f"    final: {order.state}; refunded {order.refunded_total}, "
        f"customer reimbursed {order.customer_refunded_total}"
    )


def stored_webhooks(folder: Path) -> Order:
    """The same stories' events as a shop back end sees them: webhooks, some delivered twice,
    applied to an order kept in a SQLite file; notifications wait in the outbox."""
    from .store import SQLiteStore

    store = SQLiteStore(folder / "orders.db")
    store.add(Order.create("AE-2001", "19.90", "USD", _at(6, 1)))
    webhooks: tuple[tuple[str, str, dict[str, Any]], ...] = (
        ("wh-1", "request_cancellation", {}),
        ("wh-2", "dispatch", {"tracking_number": "LP00999"}),
        ("wh-2", "dispatch", {"tracking_number": "LP00999"}),
    )
    for event_id, event, data in webhooks:
        applied = store.apply("AE-2001", event, at=_at(6, 2), event_id=event_id, **data)
        print(f"    {event_id} {event}: version {applied.version}, duplicate {applied.duplicate}")
    pending = store.outbox(limit=10)
    print(f"    outbox: {', '.join(item.notification.kind for item in pending)}")
    store.ack([item.id for item in pending])
    print(f"    log: {len(store.history('AE-2001'))} entries in {folder / 'orders.db'}")
    return store.get("AE-2001")


def main() -> None:
    """Run every story and print its order's life; then one through the SQLite store."""
    for story in STORIES:
        print(f"* {story.__name__.replace('_', ' ')}: {story.__doc__}")
        _show(story())
        print()
    print(f"* stored webhooks: {inspect.cleandoc(stored_webhooks.__doc__ or '')}")
    with tempfile.TemporaryDirectory() as folder:
        _show(stored_webhooks(Path(folder)))


if __name__ == "__main__":
    main()
