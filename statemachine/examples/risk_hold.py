"""``orders@2``: the package's table with a risk hold, a worked example of a definition of
your own.

AliExpress may hold a paid order for a risk review before the supplier may ship it (the
order's status reads ``RISK_CONTROL``). ``orders@2`` adds that to ``orders@1``:

- the state ``on_hold``: the supplier's platform holds the paid order; the R1 dispatch window
  stands still, so no auto-close (R12) fires while it lasts;
- ``risk_hold`` (``paid`` to ``on_hold``), sent by the supplier's platform;
- ``release_hold`` (``on_hold`` to ``paid``): the review passed, and the R1 dispatch deadline
  moves by the business days held, counted as R1 counts (the working days after the day the
  hold began, up to and including the day it ended, in the supplier's calendar);
- ``risk_close`` (``on_hold`` to ``refund_pending``): the review failed and the platform
  closes the order; like R12's auto-close, a full refund funded by the supplier, with a refund
  reason of its own (``risk_control``) and the R4 repayment window;
- one changed guard: a goodwill refund (R10) may be at most half the amount paid, where
  ``orders@1`` asks only that it be partial.

Everything else is ``orders@1``'s, derived from its table rather than written again. The
module registers nothing until it is named: ``--definitions statemachine.examples.risk_hold``,
``ORDERFSM_DEFINITIONS=statemachine.examples.risk_hold``, or in code::

    from statemachine.declaration import register
    from statemachine.examples.risk_hold import DEFINITION
    register(DEFINITION)

The plan that moves ``orders@1`` orders to it is ``statemachine/examples/orders-1-to-2.toml``
(:data:`PLAN`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs

from ..declaration._calendar import given_window_end, to_local_date
from ..declaration._definition import Definition, recorded_fingerprints, shipped
from ..declaration._effects import _open_refund
from ..declaration._guards import fmt_money, goodwill_is_partial
from ..declaration._spec import (
    Context,
    EventSpec,
    Guard,
    Objection,
    StateSpec,
    Table,
    TransitionSpec,
    effect,
    guard,
)
from ..declaration._table import PAID, REFUND_PENDING, STATE_SPECS, TABLE
from ..runtime._migration import BEFORE, MIGRATED

if TYPE_CHECKING:
    from ..runtime._order import Order

__all__ = ["DEFINITION", "DEFINITIONS", "ON_HOLD", "PLAN", "TABLE_2"]

ON_HOLD: Final = StateSpec(
    "on_hold",
    "the supplier's platform holds the paid order for a risk review (RISK_CONTROL); the R1 "
    "dispatch window stands still",
)


@effect("R1")
def move_dispatch_deadline(order: Order, ctx: Context) -> None:
    """The hold is over: the R1 dispatch deadline moves by the business days held, counted as
    R1 counts (the working days after the day the hold began, up to the day it ended)."""
    before = order.dispatch_deadline
    given = ctx.given.get("dispatch_deadline")
    if isinstance(given, dt.datetime):
        after = given_window_end(given, order.paid_at, order.policy.timezone, "dispatch_deadline")
    else:
        began = _held_since(order)
        cal = order.policy.business_calendar
        first = to_local_date(began, order.policy.timezone)
        last = to_local_date(ctx.at, order.policy.timezone)
        held = sum(
            1 for n in range(1, (last - first).days + 1)
            if cal.is_working_day(first + dt.timedelta(days=n))
        )  # fmt: skip
        after = before if held == 0 else cal.business_deadline(before, held)
    order.dispatch_deadline = after
    order.check_calendar("dispatch_deadline", after)
    ctx.recorded.update({"dispatch_deadline": after.isoformat(), BEFORE: before.isoformat()})


def _held_since(order: Order) -> dt.datetime:
    """When the order went on hold: the record that brought it into ``on_hold`` (a
    ``risk_hold``, or a migration that mapped it there)."""
    for record in reversed(order.history):
        if record.dest == ON_HOLD.name and record.source != ON_HOLD.name:
            return record.at
        if record.dest == ON_HOLD.name and record.event == MIGRATED:
            return record.at
    return order.history[-1].at if order.history else order.paid_at


@effect("R4")
def open_risk_control_refund(order: Order, ctx: Context) -> None:
    """The platform closed the held order: a full refund (R5), funded by the supplier (R9),
    for the reason ``risk_control``; the R4 repayment window opens now."""
    _open_refund(order, ctx, "risk_control", order.amount, "supplier")


@guard("R10", kind="data")
def goodwill_at_most_half(order: Order, ctx: Context) -> Objection | None:
    """A goodwill refund is partial (R10) and at most half the amount paid (orders@2)."""
    partial = goodwill_is_partial.fn(order, ctx)
    if partial is not None:
        return partial
    amount: Decimal = ctx.data["amount"]
    half = order.amount / 2
    if amount <= half:
        return None
    return Objection(
        f"a goodwill refund on order {order.order_id} may be at most half the amount paid "
        f"({fmt_money(order, half)} of {fmt_money(order, order.amount)}) under orders@2, got "
        f"{fmt_money(order, amount)}. For goods not as described or damaged in transit, open a "
        "claim instead (R8).",
        {"amount": str(amount), "cap": str(half)},
    )


def _changed(g: Guard) -> Guard:
    """orders@2's guard in place of orders@1's ``g``: the goodwill cap changed, the rest kept."""
    return goodwill_at_most_half if g is goodwill_is_partial else g


def _table() -> Table:
    """orders@1's table with the hold: its state, three events, three rows, the prohibitions
    that name ``paid`` naming ``on_hold`` too, and the goodwill guard changed."""
    events = {
        **TABLE.events,
        "risk_hold": EventSpec(
            "risk_hold",
            "The supplier's platform holds the paid order for a risk review (RISK_CONTROL).",
            party="supplier",
        ),
        "release_hold": EventSpec(
            "release_hold",
            "The risk review passed: the order is paid again, its R1 deadline moved on by the "
            "business days held.",
            party="supplier",
        ),
        "risk_close": EventSpec(
            "risk_close",
            "The risk review failed: the platform closes the order and the supplier repays "
            "in full.",
            party="supplier",
        ),
    }
    rows = (
        *(attrs.evolve(row, guards=tuple(_changed(g) for g in row.guards)) for row in TABLE.rows),
        TransitionSpec("risk_hold", (PAID,), ON_HOLD),
        TransitionSpec("release_hold", (ON_HOLD,), PAID, effects=(move_dispatch_deadline,)),
        TransitionSpec(
            "risk_close", (ON_HOLD,), REFUND_PENDING, effects=(open_risk_control_refund,)
        ),
    )
    prohibitions = tuple(
        attrs.evolve(p, states=(*p.states, ON_HOLD.name))
        if PAID.name in p.states and p.when is None
        else p
        for p in TABLE.prohibitions
    )
    states = (STATE_SPECS[0], ON_HOLD, *STATE_SPECS[1:])
    return Table(
        states=states,
        events=events,
        rows=rows,
        prohibitions=prohibitions,
        final_prohibition=TABLE.final_prohibition,
    )


TABLE_2: Final = _table()
"""The table of ``orders@2``."""

DEFINITION: Final = Definition(
    "orders",
    2,
    TABLE_2,
    shipped().policy,
    dict(shipped().constants),
    "orders@1 with a risk hold (on_hold: AliExpress RISK_CONTROL) and goodwill refunds of at "
    "most half the amount paid.",
    recorded=recorded_fingerprints().get("orders@2"),
)
"""``orders@2``: registered only when this module is named (:func:`~statemachine.declaration.
load_definitions`)."""

DEFINITIONS: Final = (DEFINITION,)
"""What :func:`~statemachine.declaration.load_definitions` registers from this module."""

PLAN: Final[Path] = Path(str(resources.files(__package__).joinpath("orders-1-to-2.toml")))
"""The migration plan from ``orders@1`` to ``orders@2`` shipped beside this module."""
