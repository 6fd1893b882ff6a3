"""The seed's stories, told end to end through a store: what ``orderfsm demo`` shows.

Each :class:`Story` drives one order through a real store (:class:`~statemachine.store.OrderStore`)
the way a shop back end would: every event is a store ``apply`` sent by someone (the customer,
the supplier, the merchant, the carrier), and the clock is a store ``sweep``. Refusals are part
of the stories: a merchant meets them, and they say which rule refused. What happened is kept
as :class:`Step` records, one per event sent or clock tick, for the command line to print.

Dates are real dates of 2026 on the Chinese calendar, in Shanghai time. The clock story runs in
February and March, across the Spring Festival; the other stories run from April on, so its
sweeps never find another story's order due.

This module needs neither click nor Rich: the command line (:mod:`statemachine.cli`) prints the
stories, and the test suite runs them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import attrs

from .declaration._records import Incident, Notification
from .declaration._table import TABLE
from .diagrams import Edge, journey_dot, journey_mermaid, render
from .errors import EventRejected, GraphvizMissing
from .runtime._order import Order
from .store import OrderStore, clock_due_at

__all__ = ["STORIES", "Step", "Story", "StoryRun", "Teller", "run_story", "write_journey"]

SHANGHAI = ZoneInfo("Asia/Shanghai")

Outcome = Literal["applied", "duplicate", "refused", "clock", "idle"]


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A moment of 2026 in Shanghai, the supplier's time zone."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@attrs.frozen
class Step:
    """One thing that happened to a story's order.

    ``outcome`` is ``applied`` (the event changed the order, or recorded a fact), ``duplicate``
    (R15: the event id was applied already; nothing written), ``refused`` (``refusal`` says by
    which rule), ``clock`` (a sweep fired a clock event) or ``idle`` (a sweep found nothing due).
    ``rules`` are the rules that decided: for an accepted event the guards that let it through
    and the rules its effects carried out (the table's row), for a refusal the refusing rule.
    """

    at: dt.datetime
    who: str
    event: str
    outcome: Outcome
    source: str
    dest: str
    rules: tuple[str, ...] = ()
    event_id: str | None = None
    notifications: tuple[Notification, ...] = ()
    incidents: tuple[Incident, ...] = ()
    refusal: EventRejected | None = None
    details: tuple[str, ...] = ()
    """What the step left behind, in words: a tracking number, a refund opened or settled, a
    window that opened, when the clock is due next."""


class Teller:
    """Sends a story's events to the store and keeps what happened, step by step."""

    def __init__(self, store: OrderStore, order_id: str) -> None:
        self.store = store
        self.order_id = order_id
        self.steps: list[Step] = []

    def create(self, amount: str, currency: str, paid_at: dt.datetime) -> None:
        """The merchant pays the supplier: a new order in the store."""
        self.store.add(Order.create(self.order_id, amount, currency, paid_at))

    def send(
        self,
        who: str,
        event: str,
        when: dt.datetime,
        *,
        event_id: str | None = None,
        **data: Any,
    ) -> None:
        """``who`` sends ``event`` at ``when``; a refusal is kept as a step, not raised."""
        try:
            applied = self.store.apply(
                self.order_id, event, at=when, event_id=event_id, source=who, **data
            )
        except EventRejected as refused:
            rule = () if refused.rule is None else (refused.rule,)
            self.steps.append(
                Step(when, who, event, "refused", refused.state, refused.state, rule, event_id,
                     refusal=refused)
            )  # fmt: skip
            return
        result = applied.result
        if result.duplicate:
            self.steps.append(
                Step(when, who, event, "duplicate", result.dest, result.dest, ("R15",), event_id)
            )
            return
        order = applied.order
        self.steps.append(
            Step(
                when,
                who,
                event,
                "applied",
                result.source,
                result.dest,
                _decided_by(order, event, result.source, result.dest),
                event_id,
                result.notifications,
                result.incidents,
                details=_details(order, event, result.source, result.dest),
            )
        )

    def clock(self, now: dt.datetime) -> None:
        """A scheduler sweeps the store at ``now``: the clock events due on this order fire."""
        swept = [a for a in self.store.sweep(now) if a.order.order_id == self.order_id]
        if not swept:
            order = self.store.get(self.order_id)
            self.steps.append(
                Step(now, "clock", "sweep", "idle", order.state, order.state,
                     details=(_next_due(order),))
            )  # fmt: skip
            return
        for applied in swept:
            result = applied.result
            self.steps.append(
                Step(
                    now,
                    "clock",
                    result.event,
                    "clock",
                    result.source,
                    result.dest,
                    _decided_by(applied.order, result.event, result.source, result.dest),
                    None,
                    result.notifications,
                    result.incidents,
                    details=_details(applied.order, result.event, result.source, result.dest),
                )
            )


def _local(order: Order, moment: dt.datetime, *, seconds: bool = False) -> str:
    """``moment`` in the order's supplier time zone, to the minute (or second)."""
    shown = moment.astimezone(ZoneInfo(order.policy.timezone))
    return f"{shown:%Y-%m-%d %H:%M:%S}" if seconds else f"{shown:%Y-%m-%d %H:%M}"


def _next_due(order: Order) -> str:
    """When the clock has something to fire on ``order`` next, and which deadline that is."""
    due = clock_due_at(order)
    if due is None:
        return "the clock has nothing left to fire on this order"
    pending = order.pending_refund
    which = "a deadline"
    if due == order.dispatch_deadline:
        which = "the R1 dispatch deadline"
    elif pending is not None and due == pending.repayment_deadline:
        which = "the R4 repayment deadline"
    return f"not due: {which} ends at {_local(order, due, seconds=True)}"


def _details(order: Order, event: str, source: str, dest: str) -> tuple[str, ...]:
    """What an applied event left on ``order`` (as it is right after the event), in words."""
    out: list[str] = []
    pending = order.pending_refund
    money = order.currency
    if event == "dispatch" and source != dest:
        out.append(f"tracking {order.tracking_number}")
    if event == "confirm_delivery" and order.claim_deadline is not None:
        out.append(f"claims accepted until {_local(order, order.claim_deadline)} (R13)")
    if pending is not None and source != dest:
        out.append(
            f"refund pending: {pending.amount} {money} ({pending.reason}), funded by the "
            f"{pending.blame} (R9)"
        )
    if pending is not None and pending.repayment_deadline is not None and source != dest:
        out.append(
            f"supplier repays from {pending.repayment_earliest}, by "
            f"{_local(order, pending.repayment_deadline)} (R4)"
        )
    if event == "repayment_overdue" and pending is not None:
        out.append(f"the supplier has not repaid {pending.amount} {money}: escalated (R4)")
    if event == "dispatch" and source == dest and pending is not None:
        out.append(f"the refund of {pending.amount} {money} is still owed by the {pending.blame}")
    if event == "settle_refund" and order.refunds:
        entry = order.refunds[-1]
        out.append(f"refund settled: {entry.amount} {money}, funded by the {entry.blame}")
    if event == "reimburse_customer" and order.customer_refunds:
        out.append(f"customer paid back {order.customer_refunds[-1].amount} {money}")
    return tuple(out)


def _decided_by(order: Order, event: str, source: str, dest: str) -> tuple[str, ...]:
    """The rules of the table row the event took: its guards, then its effects."""
    row = TABLE.row_taken(event, source, dest, order.policy)
    if row is None:  # pragma: no cover - the store's orders come from the machine
        return ()
    edge = Edge(row, source)
    return tuple(dict.fromkeys((*edge.guard_rules, *edge.effect_rules)))


@attrs.frozen
class Story:
    """One of the seed's stories: a title, the rules it shows, what happens, and its script."""

    number: int
    title: str
    rules: tuple[str, ...]
    summary: str
    order_id: str
    script: Callable[[Teller], None]


@attrs.frozen
class StoryRun:
    """A story told: its order as the store holds it afterwards, and the steps on the way."""

    story: Story
    order: Order
    steps: tuple[Step, ...]


# --------------------------------------------------------------------------------------------
# The stories


def _early_cancellation(t: Teller) -> None:
    t.create("25.00", "USD", at(4, 1))
    t.send("customer", "request_cancellation", at(4, 1, 11))
    t.send("supplier", "supplier_accepts_cancellation", at(4, 2, 9))
    t.send("supplier", "settle_refund", at(4, 8, 15))
    t.send("merchant", "reimburse_customer", at(4, 8, 16), amount="25.00")


def _refused_after_dispatch(t: Teller) -> None:
    t.create("18.50", "USD", at(4, 6))
    t.send("supplier", "dispatch", at(4, 8, 9), tracking_number="LP00000102CN")
    t.send("customer", "request_cancellation", at(4, 9, 20))


def _overtaken_by_dispatch(t: Teller) -> None:
    t.create("39.90", "USD", at(4, 13))
    t.send("customer", "request_cancellation", at(4, 21, 20))
    t.send("supplier", "dispatch", at(4, 22, 9), event_id="wh-7731", tracking_number="LP00000103CN")
    t.send("supplier", "dispatch", at(4, 22, 9), event_id="wh-7731", tracking_number="LP00000103CN")


def _dispatched_after_acceptance(t: Teller) -> None:
    t.create("30.00", "USD", at(5, 6))
    t.send("customer", "request_cancellation", at(5, 6, 12))
    t.send("supplier", "supplier_accepts_cancellation", at(5, 7, 9))
    t.send("merchant", "reimburse_customer", at(5, 7, 10), amount="30.00")
    t.send("supplier", "dispatch", at(5, 8, 9), tracking_number="LP00000104CN")


def _not_as_described(t: Teller) -> None:
    t.create("40.00", "USD", at(5, 11))
    t.send("supplier", "dispatch", at(5, 12, 9), tracking_number="LP00000105CN")
    t.send("carrier", "confirm_delivery", at(5, 25, 14))
    t.send("customer", "open_claim", at(5, 27), reason="not_as_described", amount="40.00")
    t.send("supplier", "settle_refund", at(6, 3))


def _damaged_in_transit(t: Teller) -> None:
    t.create("60.00", "USD", at(6, 1))
    t.send("supplier", "dispatch", at(6, 2, 9), tracking_number="LP00000106CN")
    t.send("carrier", "confirm_delivery", at(6, 16, 14))
    t.send("customer", "open_claim", at(6, 30), reason="damaged_in_transit", amount="65.00")
    t.send("customer", "open_claim", at(7, 1, 18), reason="damaged_in_transit", amount="60.00")
    t.send("supplier", "settle_refund", at(7, 6))


def _goodwill(t: Teller) -> None:
    t.create("30.00", "USD", at(6, 8))
    t.send("supplier", "dispatch", at(6, 9, 9), tracking_number="LP00000107CN")
    t.send("carrier", "confirm_delivery", at(6, 22, 14))
    t.send("customer", "open_claim", at(6, 23), reason="changed_mind", amount="30.00")
    t.send("merchant", "offer_goodwill_refund", at(6, 23, 12), amount="30.00")
    t.send("merchant", "offer_goodwill_refund", at(6, 23, 13), amount="8.00")
    t.send("merchant", "settle_refund", at(6, 24))


def _auto_closed(t: Teller) -> None:
    t.create("15.00", "USD", at(2, 13))
    t.clock(at(3, 2, 23, 59))
    t.clock(at(3, 3, 0, 1))
    t.clock(at(3, 24, 9))
    t.clock(at(3, 25, 9))


STORIES: tuple[Story, ...] = (
    Story(
        1,
        "Early cancellation, accepted and repaid",
        ("R3", "R4", "R5", "R6"),
        "The customer changes their mind an hour after paying; the supplier agrees, repays in "
        "full, and the merchant pays the customer back.",
        "AE-1001",
        _early_cancellation,
    ),
    Story(
        2,
        "Cancellation refused after dispatch",
        ("R2",),
        "The supplier ships in two days; the customer's cancellation comes a day later.",
        "AE-1002",
        _refused_after_dispatch,
    ),
    Story(
        3,
        "Late cancellation overtaken by dispatch",
        ("R3", "R15"),
        "The customer asks to cancel the evening before the dispatch deadline; the supplier "
        "ships the next morning without answering, and its webhook arrives twice.",
        "AE-1003",
        _overtaken_by_dispatch,
    ),
    Story(
        4,
        "Dispatched after the cancellation was accepted",
        ("R7",),
        "The supplier accepts the cancellation, the merchant reimburses the customer at once, "
        "then the supplier ships anyway: an incident for a person, and the refund still owed.",
        "AE-1004",
        _dispatched_after_acceptance,
    ),
    Story(
        5,
        "Not as described",
        ("R8", "R9", "R13"),
        "The goods differ from the listing; the customer claims within the window and the "
        "supplier funds the refund.",
        "AE-1005",
        _not_as_described,
    ),
    Story(
        6,
        "Damaged in transit",
        ("R9", "R11", "R13"),
        "The parcel arrives broken. A claim for more than was paid is refused; the customer "
        "claims again on the last day of the 15-day window, and the supplier, who packed and "
        "carried the parcel, funds the refund.",
        "AE-1006",
        _damaged_in_transit,
    ),
    Story(
        7,
        "Goodwill partial refund",
        ("R8", "R10", "R11"),
        "Goods in good shape, an unhappy customer: no claim reason fits, so the merchant offers "
        "part of the price back to keep a good review.",
        "AE-1007",
        _goodwill,
    ),
    Story(
        8,
        "Unshipped, auto-closed by the clock across the Spring Festival",
        ("R1", "R12", "R4"),
        "Paid the Friday before the Spring Festival, never shipped: the holidays do not count "
        "toward the 7 business days, the clock closes the order after the deadline, and "
        "escalates when the supplier has not repaid 15 business days later.",
        "AE-1008",
        _auto_closed,
    ),
)


def run_story(store: OrderStore, story: Story) -> StoryRun:
    """Tell ``story`` through ``store``: its order is added, its events applied, the clock swept."""
    teller = Teller(store, story.order_id)
    story.script(teller)
    return StoryRun(story, store.get(story.order_id), tuple(teller.steps))


def write_journey(order: Order, directory: Path) -> list[Path]:
    """Write ``order``'s journey into ``directory``: Mermaid always, SVG when Graphviz's ``dot``
    is installed. The paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    mermaid = directory / f"{order.order_id}.mmd"
    mermaid.write_text(journey_mermaid(order), encoding="utf-8")
    written = [mermaid]
    try:
        svg = render(journey_dot(order), "svg")
    except GraphvizMissing:
        return written
    picture = directory / f"{order.order_id}.svg"
    picture.write_bytes(svg)
    written.append(picture)
    return written


def tell_all(store: OrderStore, stories: Sequence[Story] = STORIES) -> list[StoryRun]:
    """Every story, in order, through one store."""
    return [run_story(store, story) for story in stories]
