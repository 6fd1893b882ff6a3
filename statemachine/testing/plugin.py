"""The pytest plugin of order-statemachine, registered through the ``pytest11`` entry point.

Installing the package makes these available in every test suite, with no import:

* ``clock``: a :class:`Clock`, a controllable ``now`` that starts at
  :data:`~statemachine.testing.paths.DEFAULT_PAID_AT` and moves only when told (no real
  waiting: the package never reads the wall clock);
* ``order_factory``: an :class:`OrderFactory`, orders with sensible defaults (100.00 USD, paid
  at ``clock.now``), any field overridable, and ``state=`` to get an order already driven to a
  state along its shortest generated path;
* the marker ``@pytest.mark.order_paths(kind="transitions", argname="path", policy=None)``:
  parametrizes the test over :func:`~statemachine.testing.paths.transition_cover` (``kind``
  ``"refusals"``: :func:`~statemachine.testing.paths.refusal_cover`; ``"states"``:
  :func:`~statemachine.testing.paths.shortest_paths`), one test per path, named by its id.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, Final

import attrs
import pytest

from ..declaration._policy import DEFAULT_POLICY, Policy
from ..declaration._records import FireResult
from ..errors import InvalidInput
from ..runtime._machine import require_aware
from ..runtime._order import Order
from .paths import (
    DEFAULT_PAID_AT,
    PAST,
    Path,
    RefusalCase,
    Start,
    refusal_cover,
    shortest_paths,
    transition_cover,
)

__all__ = ["Clock", "OrderFactory", "clock", "order_factory", "paths_of_kind"]

MARKER: Final = "order_paths"


class Clock:
    """A ``now`` that moves only when a test moves it.

    Pass ``clock.now`` (or the clock itself: calling it returns ``now``) wherever your code
    takes the current time.

    >>> c = Clock()
    >>> c.advance(days=2).isoformat()
    '2026-03-04T10:00:00+08:00'
    >>> c() == c.now
    True
    """

    def __init__(self, now: dt.datetime = DEFAULT_PAID_AT) -> None:
        self.now = require_aware(now, "now")

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta | None = None, **kwargs: float) -> dt.datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; the new ``now``."""
        step = delta if delta is not None else dt.timedelta(**kwargs)
        if step < dt.timedelta(0):
            raise ValueError(f"a clock does not go back: advance({step})")
        self.now += step
        return self.now

    def set(self, moment: dt.datetime) -> dt.datetime:
        """Jump to ``moment`` (forward or back: a test may need either); the new ``now``."""
        self.now = require_aware(moment, "moment")
        return self.now

    def past(self, deadline: dt.datetime) -> dt.datetime:
        """Move to just past ``deadline`` (if not already past it); the new ``now``."""
        self.now = max(self.now, require_aware(deadline, "deadline") + PAST)
        return self.now

    def tick(self, order: Order) -> list[FireResult]:
        """Fire the clock events due on ``order`` at ``now`` (:meth:`Order.tick`)."""
        return order.tick(self.now)

    def __repr__(self) -> str:
        return f"Clock({self.now.isoformat()})"


class OrderFactory:
    """Makes orders for tests: ``order_factory(amount="30.00", state="delivered")``.

    Defaults: ``order_id`` ``ORDER-1``, ``ORDER-2``, ... (unique per test), amount ``100.00``,
    currency ``USD``, ``paid_at`` the clock's ``now``, the default policy. ``state`` drives the
    order along the shortest generated path to that state and moves the clock to its last
    event (never back). Other keywords override the order's fields (``dispatch_deadline=...``);
    the result is checked like a stored order (:meth:`Order.from_dict`), so an inconsistent
    override raises :class:`~statemachine.errors.InvalidInput`.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._ids = itertools.count(1)

    def __call__(
        self,
        *,
        order_id: str | None = None,
        amount: str = "100.00",
        currency: str = "USD",
        paid_at: dt.datetime | None = None,
        policy: Policy | None = None,
        state: str | None = None,
        **fields: Any,
    ) -> Order:
        start = Start(
            order_id or f"ORDER-{next(self._ids)}",
            amount,
            currency,
            paid_at or self.clock.now,
            policy or DEFAULT_POLICY,
        )
        order = start.new_order()
        if state is not None:
            paths = {p.final_state: p for p in shortest_paths(start=start)}
            if state not in paths:
                raise InvalidInput(
                    f"unknown state {state!r}; states: {', '.join(paths)}", field="state"
                )
            paths[state].replay(order)
            if order.history:
                self.clock.now = max(self.clock.now, order.history[-1].at)
        if fields:
            try:
                order = attrs.evolve(order, **fields)
            except TypeError as exc:
                raise InvalidInput(f"cannot override {sorted(fields)}: {exc}", field=None) from None
            order = Order.from_dict(order.to_dict())
        return order


def paths_of_kind(kind: str, policy: Policy | None = None) -> tuple[Path | RefusalCase, ...]:
    """The generated paths of ``kind``: ``transitions``, ``refusals`` or ``states``."""
    if kind == "transitions":
        return transition_cover(policy=policy)
    if kind == "refusals":
        return refusal_cover(policy=policy)
    if kind == "states":
        return shortest_paths(policy=policy)
    raise pytest.UsageError(
        f"@pytest.mark.{MARKER}(kind={kind!r}): kind must be transitions, refusals or states"
    )


@pytest.fixture
def clock() -> Clock:
    """A controllable ``now``, starting at ``DEFAULT_PAID_AT``; it never waits."""
    return Clock()


@pytest.fixture
def order_factory(clock: Clock) -> OrderFactory:
    """Orders with sensible defaults, paid at ``clock.now``; any field overridable."""
    return OrderFactory(clock)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``order_paths`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(kind='transitions', argname='path', policy=None): run the test once per "
        "generated path of order-statemachine (kind: transitions, refusals or states)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize tests marked ``order_paths`` over the generated paths."""
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    if marker.args:
        raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keywords only: kind, argname, policy")
    kind = marker.kwargs.get("kind", "transitions")
    argname = marker.kwargs.get("argname", "path")
    policy = marker.kwargs.get("policy")
    if argname not in metafunc.fixturenames:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: @pytest.mark.{MARKER} parametrizes the argument "
            f"{argname!r}, which the test does not take"
        )
    items = paths_of_kind(kind, policy)
    metafunc.parametrize(argname, items, ids=[item.id for item in items])
