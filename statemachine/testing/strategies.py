"""Hypothesis strategies for the order lifecycle (needs ``order-statemachine[testing]``).

* :func:`starts`: how an order is created (amount, currency, payment time, time zone);
* :func:`valid_steps` / :func:`valid_paths`: steps and whole paths the rules accept, drawn
  from the rows the table offers in each state, with data and times varied within what the
  guards admit (clock events past their deadlines included);
* :func:`arbitrary_steps`: any event name (also unknown ones), any keyword data (also wrong
  names and types: floats, negative amounts, blank strings) and any timestamp (also naive ones,
  or before payment), for robustness tests: an order must accept or refuse, never break.

>>> from hypothesis import HealthCheck, given, settings
>>> @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
... @given(valid_paths(max_steps=6))
... def test_every_valid_path_is_accepted(path):
...     assert path.replay().state == path.final_state
>>> test_every_valid_path_is_accepted()
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Final

from hypothesis import strategies as st

from ..declaration._money import minor_unit
from ..declaration._policy import Policy
from ..declaration._records import CLAIM_REASONS, StateName
from ..declaration._spec import TransitionSpec
from ..declaration._table import EVENTS
from ..runtime._order import Order
from .paths import DEFAULT_PAID_AT, Path, Start, Step, admits, next_steps, row_label

__all__ = ["arbitrary_data", "arbitrary_steps", "starts", "valid_paths", "valid_steps"]

_ZONES: Final = ("Asia/Shanghai", "UTC", "America/New_York", "Europe/Paris")
_CURRENCIES: Final = ("USD", "EUR", "JPY", "KWD")


@st.composite
def starts(
    draw: st.DrawFn, *, policy: Policy | None = None, definition: str | None = None
) -> Start:
    """How a fresh order is created: an amount in a currency's minor unit, paid at a moment
    of 2026 (a year with an official working-day schedule) in one of a few time zones, under
    ``definition`` (a registered version's key; ``None``: ``orders@1``)."""
    from zoneinfo import ZoneInfo

    currency = draw(st.sampled_from(_CURRENCIES))
    places = minor_unit(currency)
    cents = draw(st.integers(min_value=1, max_value=10_000 * 10**places))
    amount = Decimal(cents).scaleb(-places)
    local = draw(
        st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 9, 30))
    )
    paid_at = local.replace(tzinfo=ZoneInfo(draw(st.sampled_from(_ZONES))))
    order_id = f"ORDER-{draw(st.integers(min_value=1, max_value=10**6))}"
    return Start(order_id, amount, currency, paid_at, policy or Start().policy, definition)


def _varied(draw: st.DrawFn, order: Order, row: TransitionSpec, base: Step) -> Step:
    """``base`` with a later time and other data, if the guards still admit it."""
    spec = order.table.events[row.event]
    data: dict[str, object] = dict(base.data)
    places = minor_unit(order.currency)
    for p in spec.params:
        if p.kind == "amount" and (p.required or draw(st.booleans())):
            cents = draw(st.integers(min_value=1, max_value=int(order.amount.scaleb(places))))
            data[p.name] = Decimal(cents).scaleb(-places)
        elif p.kind == "text" and p.name == "reason":
            data[p.name] = draw(st.sampled_from(CLAIM_REASONS))
        elif p.kind == "text":
            data[p.name] = draw(st.from_regex(r"[A-Z]{2}[0-9]{6,12}", fullmatch=True))
        elif p.kind == "flag":
            data[p.name] = draw(st.booleans())
    delay = draw(st.sampled_from((0, 1, 30, 60 * 24, 60 * 24 * 9, 60 * 24 * 40)))
    step = Step(row.event, data, base.at + dt.timedelta(minutes=delay))
    return step if admits(order, row, step) else base


@st.composite
def valid_steps(draw: st.DrawFn, order: Order) -> Step:
    """A step ``order`` accepts now: a row its state offers, with data and time the guards
    admit. The order must offer one (see :func:`~statemachine.testing.paths.next_steps`)."""
    moves = next_steps(order)
    if not moves:
        raise ValueError(f"order {order.order_id} in {order.state} offers no step")
    row, base = draw(st.sampled_from(moves))
    return _varied(draw, order, row, base)


@st.composite
def valid_paths(
    draw: st.DrawFn,
    *,
    start: Start | None = None,
    policy: Policy | None = None,
    max_steps: int = 12,
    definition: str | None = None,
) -> Path:
    """A path of up to ``max_steps`` steps that a fresh order accepts, step by step (under
    ``definition``, a registered version's key, unless ``start`` says)."""
    start = start if start is not None else draw(starts(policy=policy, definition=definition))
    order = start.new_order()
    steps: list[Step] = []
    states: list[StateName] = []
    covers: list[str] = []
    for _ in range(draw(st.integers(min_value=0, max_value=max_steps))):
        moves = next_steps(order)
        if not moves:
            break
        row, base = draw(st.sampled_from(moves))
        step = _varied(draw, order, row, base)
        source = order.state
        step.fire(order)
        steps.append(step)
        states.append(order.state)
        covers.append(row_label(row, source))
    events = ">".join(s.event for s in steps) or "start"
    return Path(f"drawn:{events}", start, tuple(steps), tuple(states), tuple(covers))


def arbitrary_data(*, json_only: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword data of any shape: the table's keywords and others, values of any type.

    ``json_only`` keeps to what a JSON body can carry (for a service behind HTTP): strings,
    numbers without NaN or infinities, booleans and null; no ``Decimal``.
    """
    names = sorted({p.name for e in EVENTS.values() for p in e.params} | {"colour", "when"})
    texts = st.one_of(
        st.sampled_from(("", "  ", *CLAIM_REASONS, "goodwill", "lost", "LP0012345")),
        st.text(max_size=12),
        st.decimals(min_value=-500, max_value=500, places=2).map(str),
    )
    if json_only:
        values = st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=-5, max_value=500),
            st.floats(allow_nan=False, allow_infinity=False),
            texts,
        )
    else:
        values = st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=-5, max_value=500),
            st.floats(allow_nan=True, allow_infinity=True),
            st.decimals(min_value=-500, max_value=500, places=2),
            st.decimals(allow_nan=True, allow_infinity=True),
            texts,
        )
    return st.dictionaries(st.sampled_from(names), values, max_size=4)


@st.composite
def arbitrary_steps(
    draw: st.DrawFn, *, around: dt.datetime = DEFAULT_PAID_AT, json_only: bool = False
) -> Step:
    """Any step: known or unknown events, any data, timestamps from a day before ``around``
    to 60 days after it, sometimes naive. Many are refused; none may break an order.
    ``json_only`` limits the data to what JSON carries (:func:`arbitrary_data`)."""
    event = draw(st.one_of(st.sampled_from(tuple(EVENTS)), st.text(max_size=10)))
    offset = dt.timedelta(minutes=draw(st.integers(min_value=-24 * 60, max_value=60 * 24 * 60)))
    at = around + offset
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        at = at.replace(tzinfo=None)
    return Step(event, draw(arbitrary_data(json_only=json_only)), at)
