"""Concrete event sequences derived from the machine's one table.

Nothing here is a hand-kept list of paths. The generator starts from a fresh
:meth:`Order.create <statemachine.runtime.Order.create>` and explores the table: for every row a
state offers it makes a step that the row's selectors and guards admit, with data drawn from the
order itself (amounts within the caps the order holds, a claim reason the R8 guard accepts, a
tracking number) and a timestamp computed from the deadlines the order holds (the earliest one
the guards admit: an hour after the last event, or just past a deadline for the clock events).

* :func:`shortest_paths`: the shortest sequence reaching each state.
* :func:`transition_cover`: a few sequences that together take every row of the table from
  every one of its source states, clock events and the R7 incident included.
* :func:`refusal_cover`: for every refused (state, event) pair, and every guard that can refuse,
  a sequence reaching the state and the refused step, with the rule id expected.

Every path and case has a readable ``id`` (``str(path)`` is the id), so
``pytest.mark.parametrize("path", transition_cover(), ids=str)`` works as is.

>>> paths = shortest_paths()
>>> [p.final_state for p in paths]
['paid', 'cancel_requested', 'refund_pending', 'cancelled', 'dispatched', 'delivered', 'refunded']
>>> str(paths[4])
'to-dispatched:dispatch'
>>> [step.event for step in paths[6]]
['dispatch', 'confirm_delivery', 'open_claim', 'settle_refund']
>>> paths[6].replay().state
'refunded'
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import ROUND_DOWN, Decimal
from functools import lru_cache
from typing import Any, Final, Literal, NamedTuple
from zoneinfo import ZoneInfo

import attrs

from ..declaration._definition import resolve
from ..declaration._money import minor_unit
from ..declaration._policy import DEFAULT_POLICY, Policy
from ..declaration._records import CLAIM_REASONS, FireResult, StateName
from ..declaration._spec import Context, Param, Table, TransitionSpec
from ..declaration._table import TABLE
from ..errors import OrderError
from ..runtime._order import Order

__all__ = [
    "DEFAULT_PAID_AT",
    "PAST",
    "STEP_GAP",
    "Path",
    "RefusalCase",
    "Start",
    "Step",
    "admits",
    "next_steps",
    "params",
    "refusal_cover",
    "refusal_targets",
    "row_label",
    "shortest_paths",
    "transition_cover",
    "transition_targets",
]

DEFAULT_PAID_AT: Final = dt.datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
"""A Monday morning in Shanghai, in a year whose official working-day schedule is known."""

STEP_GAP: Final = dt.timedelta(hours=1)
"""How long after the last event a generated step happens, unless a deadline asks for later."""

PAST: Final = dt.timedelta(microseconds=1)
"""How far past a deadline a generated step goes to be late (a clock event, a late claim)."""


# --------------------------------------------------------------------------------------------
# Records


def _decimal(value: Decimal | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


@attrs.frozen
class Start:
    """How a path's order is created: the arguments of :meth:`Order.create`."""

    order_id: str = "ORDER-1"
    amount: Decimal = attrs.field(default=Decimal("100.00"), converter=_decimal)
    currency: str = "USD"
    paid_at: dt.datetime = DEFAULT_PAID_AT
    policy: Policy = DEFAULT_POLICY
    definition: str | None = None
    """The version the order runs under (a registered definition's key; ``None``:
    ``orders@1``, the shipped table)."""

    @property
    def table(self) -> Table:
        """The table of :attr:`definition`."""
        return TABLE if self.definition is None else resolve(self.definition).table

    def new_order(self, order_id: str | None = None) -> Order:
        """A fresh order in its table's initial state (``order_id`` overrides this start's)."""
        return Order.create(
            order_id or self.order_id,
            self.amount,
            self.currency,
            self.paid_at,
            policy=self.policy,
            definition=self.definition,
        )


class Step(NamedTuple):
    """One event to send: its name, its keyword data and its timestamp."""

    event: str
    data: Mapping[str, object]
    at: dt.datetime

    def fire(self, order: Order, *, event_id: str | None = None) -> FireResult:
        """Send this step to ``order`` (the reference machine)."""
        return order.fire(self.event, at=self.at, event_id=event_id, **self.data)

    def __str__(self) -> str:
        data = ", ".join(f"{k}={v}" for k, v in self.data.items())
        return f"{self.event}({data}) at {self.at.isoformat()}"


@attrs.frozen
class Path:
    """A sequence of steps a fresh order (made from ``start``) accepts, in order.

    ``states`` is the state after each step; ``covers`` names the table rows the steps take
    (see :func:`row_label`). Iterating a path yields its steps.
    """

    id: str
    start: Start
    steps: tuple[Step, ...]
    states: tuple[StateName, ...]
    covers: tuple[str, ...]

    @property
    def final_state(self) -> StateName:
        """The state the order is in after the last step."""
        return self.states[-1] if self.states else self.start.table.initial_state

    @property
    def events(self) -> tuple[str, ...]:
        """The event names of the steps, in order."""
        return tuple(s.event for s in self.steps)

    def new_order(self, order_id: str | None = None) -> Order:
        """A fresh order for this path."""
        return self.start.new_order(order_id)

    def replay(self, order: Order | None = None) -> Order:
        """Fire every step on ``order`` (a fresh one by default) and return it."""
        order = self.new_order() if order is None else order
        for step in self.steps:
            step.fire(order)
        return order

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __str__(self) -> str:
        return self.id


RefusalKind = Literal["state", "guard"]


@attrs.frozen
class RefusalCase:
    """A path to a state, then a step the rules refuse there.

    ``kind`` is ``"state"`` when the state does not take the event at all (the rule then comes
    from the refusal table, R14 in a final state, or is ``None``), ``"guard"`` when a row takes
    the event but its guard ``guard`` refuses this data or time. ``rule`` is the rule id the
    :class:`~statemachine.errors.EventRejected` must carry.
    """

    id: str
    path: Path
    refused: Step
    state: StateName
    rule: str | None
    kind: RefusalKind
    guard: str | None = None
    selectors: tuple[str, ...] = ()

    @property
    def steps(self) -> tuple[Step, ...]:
        """The steps that reach the state (without the refused one)."""
        return self.path.steps

    @property
    def target(self) -> tuple[str, str, str | None]:
        """``(state, event, rule)``: what :func:`refusal_targets` measures."""
        return (self.state, self.refused.event, self.rule)

    def replay(self, order: Order | None = None) -> Order:
        """An order (fresh by default) driven to :attr:`state`, ready for :attr:`refused`."""
        return self.path.replay(order)

    def __str__(self) -> str:
        return self.id


# --------------------------------------------------------------------------------------------
# Reading the table


def row_label(row: TransitionSpec, source: StateName) -> str:
    """A row taken from ``source``: ``event@source[when]->dest`` (unique, the table has no
    ambiguous pair); the table's own label, :meth:`TransitionSpec.label
    <statemachine.declaration.TransitionSpec.label>`."""
    return row.label(source)


def _table(definition: str | None) -> Table:
    return TABLE if definition is None else resolve(definition).table


def transition_targets(
    policy: Policy | None = None, definition: str | None = None
) -> dict[str, tuple[TransitionSpec, str]]:
    """Every (row, source state) of the table of ``definition`` (``None``: ``orders@1``)
    under ``policy``, by :func:`row_label`.

    This is what 100% transition coverage means: :func:`transition_cover` takes each of them.
    """
    policy = policy or DEFAULT_POLICY
    return {
        row_label(row, source): (row, source)
        for row in _table(definition).rows_for(policy)
        for source in row.sources
    }


def refusal_targets(
    policy: Policy | None = None, definition: str | None = None
) -> frozenset[tuple[str, str, str | None]]:
    """Every ``(state, event, rule)`` refusal the table of ``definition`` (``None``:
    ``orders@1``) declares under ``policy``.

    For each state and each event without a row from that state: ``R14`` in a final state;
    else the rule of each refusal declared for the pair; else ``None`` (no rule speaks). Plus,
    for each rule a guard of the table enforces, ``("*", "*", rule)``: some generated case must
    be refused by that rule.
    """
    policy = policy or DEFAULT_POLICY
    table = _table(definition)
    rows = table.rows_for(policy)
    has_row = {(s, t.event) for t in rows for s in t.sources}
    out: set[tuple[str, str, str | None]] = set()
    for state in table.state_names:
        for event in table.events:
            if (state, event) not in has_row:
                out.update((state, event, rule) for rule in table.refusal_rules(state, event))
    out.update(("*", "*", g.rule) for t in rows for g in t.guards)
    return frozenset(out)


def _expected_refusal_rule(order: Order, event: str) -> str | None:
    """The rule the table names for ``event`` in ``order``'s state when no row takes it."""
    prohibition = order.table.prohibition_for(order, event)
    return None if prohibition is None else prohibition.rule


def _selectors(order: Order) -> tuple[str, ...]:
    names = {
        t.when.name
        for t in order.table.rows_for(order.policy)
        if t.when is not None and order.state in t.sources and t.when(order)
    }
    return tuple(sorted(names))


def _refusal_conditions(order: Order) -> tuple[bool, ...]:
    return tuple(
        p.when(order)
        for p in order.table.prohibitions
        if p.when is not None and order.state in p.states
    )


# --------------------------------------------------------------------------------------------
# Data and time candidates, from the order


def _deadlines(order: Order) -> list[dt.datetime]:
    """Every deadline the table compares against that the order holds now."""
    return [d for deadline in order.table.deadlines() if (d := deadline.of(order)) is not None]


def _last_at(order: Order) -> dt.datetime:
    return order.history[-1].at if order.history else order.paid_at


def _times(order: Order) -> list[dt.datetime]:
    """Candidate timestamps, earliest first: an hour after the last event, each deadline still
    ahead, and a moment past it."""
    last = _last_at(order)
    found = {last + STEP_GAP}
    for d in _deadlines(order):
        if d >= last:
            found.update((d, d + PAST))
    return sorted(found)


_OMIT: Final = object()


def _half(value: Decimal, unit: Decimal) -> Decimal:
    return (value / 2).quantize(unit, rounding=ROUND_DOWN)


def _amounts(order: Order) -> list[Decimal]:
    """Amounts that matter to the caps the order holds: halves of them first (valid for
    every cap), then the caps, then the smallest unit, then invalid ones (zero, negative,
    one unit over a cap)."""
    unit = Decimal(1).scaleb(-minor_unit(order.currency))
    caps = [
        order.amount - order.refunded_total,
        order.amount - order.customer_refunded_total,
        order.amount,
    ]
    if order.pending_refund is not None:
        caps.insert(0, order.pending_refund.amount)
    ordered = [_half(c, unit) for c in caps] + caps + [unit, Decimal(0) * unit, -unit]
    ordered += [c + unit for c in caps]
    seen: dict[Decimal, None] = {}
    for a in ordered:
        if (a > 0 or a in (0, -unit)) and a not in seen:
            seen[a] = None
    return list(seen)


def _values(order: Order, param: Param) -> list[object]:
    values: list[object] = [] if param.required else [_OMIT]
    if param.kind == "amount":
        values += _amounts(order)
    elif param.kind == "text":
        values += [f"{param.name.upper()}-{len(order.history) + 1}", *CLAIM_REASONS]
    else:
        values += [] if _OMIT in values else [False]
        values.append(True)
    return values


def _data_options(order: Order, event: str) -> Iterator[dict[str, object]]:
    """Every combination of candidate keyword data for ``event`` (omitted optionals first)."""
    params = order.table.events[event].params
    for combo in itertools.product(*(_values(order, p) for p in params)):
        yield {p.name: v for p, v in zip(params, combo, strict=True) if v is not _OMIT}


def _context(order: Order, event: str, at: dt.datetime, data: Mapping[str, object]) -> Context:
    spec = order.table.events[event]
    parsed: dict[str, Any] = {p.name: data.get(p.name, p.default) for p in spec.params}
    return Context(event, at, None, parsed)


def _valid_step(order: Order, row: TransitionSpec) -> Step | None:
    """The earliest step, with the first candidate data, that ``row``'s guards all admit."""
    for at in _times(order):
        time_ctx = Context(row.event, at)
        if not all(g.allows(order, time_ctx) for g in row.guards if not g.needs_data):
            continue
        for data in _data_options(order, row.event):
            ctx = _context(order, row.event, at, data)
            if all(g.allows(order, ctx) for g in row.guards):
                return Step(row.event, data, at)
    return None


def _refused_by(order: Order, row: TransitionSpec, k: int) -> Step | None:
    """A step that guards before ``k`` admit and guard ``k`` of ``row`` refuses, if any."""
    for at in _times(order):
        for data in _data_options(order, row.event):
            ctx = _context(order, row.event, at, data)
            if all(g.allows(order, ctx) for g in row.guards[:k]) and not row.guards[k].allows(
                order, ctx
            ):
                return Step(row.event, data, at)
    return None


def _any_step(order: Order, event: str) -> Step:
    """A well-formed step for ``event`` an hour after the last one (for state refusals)."""
    data = next(_data_options(order, event))
    return Step(event, data, _last_at(order) + STEP_GAP)


# --------------------------------------------------------------------------------------------
# Exploring


@attrs.frozen
class _Node:
    order: Order
    steps: tuple[Step, ...]
    states: tuple[StateName, ...]
    covers: tuple[str, ...]


def next_steps(order: Order) -> list[tuple[TransitionSpec, Step]]:
    """Every row the order's state offers, each with the earliest step its guards admit."""
    out: list[tuple[TransitionSpec, Step]] = []
    table = order.table
    for event in table.events:
        for row in table.candidates(order, event):
            step = _valid_step(order, row)
            if step is not None:
                out.append((row, step))
    return out


def admits(order: Order, row: TransitionSpec, step: Step) -> bool:
    """Whether ``row``'s guards all admit ``step`` (data and time) for ``order`` now."""
    if step.at < _last_at(order):
        return False
    ctx = _context(order, row.event, step.at, step.data)
    return all(g.allows(order, ctx) for g in row.guards)


def _moves(node: _Node) -> Iterator[tuple[str, Step]]:
    """Every row the node's state offers whose guards some step admits: (label, step)."""
    for row, step in next_steps(node.order):
        yield row_label(row, node.order.state), step


def _take(node: _Node, label: str, step: Step) -> _Node:
    order = copy.copy(node.order)
    try:
        step.fire(order)
    except OrderError as exc:  # the generator and the machine disagree: say where
        raise AssertionError(
            f"generated step {step} was refused after {[s.event for s in node.steps]}: {exc}"
        ) from exc
    return _Node(order, (*node.steps, step), (*node.states, order.state), (*node.covers, label))


def _key(node: _Node, moves: Sequence[tuple[str, Step]]) -> tuple[object, ...]:
    order = node.order
    return (
        order.state,
        _selectors(order),
        _refusal_conditions(order),
        frozenset(label for label, _ in moves),
    )


def _explore(root: _Node) -> Iterator[tuple[_Node, list[tuple[str, Step]]]]:
    """Breadth first from ``root``: each distinct situation once, shortest path first."""
    seen: set[tuple[object, ...]] = set()
    todo = deque([root])
    while todo:
        node = todo.popleft()
        moves = list(_moves(node))
        key = _key(node, moves)
        if key in seen:
            continue
        seen.add(key)
        yield node, moves
        todo.extend(_take(node, label, step) for label, step in moves)


def _root(start: Start) -> _Node:
    return _Node(start.new_order(), (), (), ())


def _start(start: Start | None, policy: Policy | None, definition: str | None = None) -> Start:
    start = start or Start()
    if policy is not None:
        start = attrs.evolve(start, policy=policy)
    if definition is not None:
        start = attrs.evolve(start, definition=resolve(definition).key)
    return start


def _path(start: Start, node: _Node, path_id: str) -> Path:
    return Path(path_id, start, node.steps, node.states, node.covers)


# --------------------------------------------------------------------------------------------
# The three generators


def shortest_paths(
    *, start: Start | None = None, policy: Policy | None = None, definition: str | None = None
) -> tuple[Path, ...]:
    """The shortest path to each state, in the order of the table's states (``definition``:
    a registered version's, ``orders@1`` by default).

    A state no generated step reaches raises :class:`AssertionError` naming it.
    """
    return _shortest_paths(_start(start, policy, definition))


@lru_cache(maxsize=16)
def _shortest_paths(start: Start) -> tuple[Path, ...]:
    first: dict[str, _Node] = {}
    for node, _ in _explore(_root(start)):
        first.setdefault(node.order.state, node)
    states = start.table.state_names
    missing = [s for s in states if s not in first]
    if missing:
        raise AssertionError(f"no generated path reaches {', '.join(missing)}")
    return tuple(
        _path(start, first[s], f"to-{s}:{'>'.join(st.event for st in first[s].steps) or 'start'}")
        for s in states
    )


def transition_cover(
    *, start: Start | None = None, policy: Policy | None = None, definition: str | None = None
) -> tuple[Path, ...]:
    """A few paths that together take every row of the table from each of its sources.

    Built greedily: each path goes on to the nearest row not yet taken until none is reachable
    from where it stands, then a new path starts from a fresh order. A row no generated step can
    take raises :class:`AssertionError` naming it.
    """
    return _transition_cover(_start(start, policy, definition))


def _nearest(root: _Node, wanted: set[str]) -> tuple[_Node, str, Step] | None:
    for node, moves in _explore(root):
        for label, step in moves:
            if label in wanted:
                return node, label, step
    return None


@lru_cache(maxsize=16)
def _transition_cover(start: Start) -> tuple[Path, ...]:
    wanted = set(transition_targets(start.policy, start.definition))
    paths: list[Path] = []
    while wanted:
        node = _root(start)
        found = _nearest(node, wanted)
        if found is None:
            raise AssertionError(f"no generated path takes the rows {', '.join(sorted(wanted))}")
        while found is not None:
            at, label, step = found
            node = _take(at, label, step)
            wanted -= set(node.covers)
            found = _nearest(node, wanted) if wanted else None
        events = ">".join(node.covers[i].split("@")[0] for i in range(len(node.covers)))
        paths.append(_path(start, node, f"cover{len(paths) + 1}:{events}"))
    return tuple(paths)


def refusal_cover(
    *, start: Start | None = None, policy: Policy | None = None, definition: str | None = None
) -> tuple[RefusalCase, ...]:
    """For every refused (state, event) pair, and every guard that can refuse, one case.

    Situations are told apart by state, by which ``when`` selectors hold (a cancellation refund
    or a claim refund pending) and by which conditional refusals apply. In each, every event
    the state does not take gives a ``"state"`` case, and every guard of a row it does take
    gives a ``"guard"`` case if some candidate data or time makes it the first guard to refuse.
    """
    return _refusal_cover(_start(start, policy, definition))


@lru_cache(maxsize=16)
def _refusal_cover(start: Start) -> tuple[RefusalCase, ...]:
    cases: list[RefusalCase] = []
    seen_situations: set[tuple[object, ...]] = set()
    seen_targets: set[tuple[object, ...]] = set()
    for node, _ in _explore(_root(start)):
        order = node.order
        situation = (order.state, _selectors(order), _refusal_conditions(order))
        if situation in seen_situations:
            continue
        seen_situations.add(situation)
        selectors = situation[1]
        where = f"{order.state}[{','.join(selectors)}]" if selectors else order.state
        path = _path(start, node, f"to-{where}")
        for event in order.table.events:
            rows = order.table.candidates(order, event)
            if not rows:
                rule = _expected_refusal_rule(order, event)
                target: tuple[object, ...] = ("state", order.state, event, rule)
                if target not in seen_targets:
                    seen_targets.add(target)
                    cases.append(
                        RefusalCase(
                            f"{where}:{event}->{rule or 'none'}",
                            path,
                            _any_step(order, event),
                            order.state,
                            rule,
                            "state",
                            None,
                            selectors,
                        )
                    )
                continue
            for row in rows:
                for k, g in enumerate(row.guards):
                    target = ("guard", row_label(row, order.state), g.name)
                    if target in seen_targets:
                        continue
                    step = _refused_by(order, row, k)
                    if step is None:
                        continue
                    seen_targets.add(target)
                    cases.append(
                        RefusalCase(
                            f"{where}:{event}->{g.rule}:{g.name}",
                            path,
                            step,
                            order.state,
                            g.rule,
                            "guard",
                            g.name,
                            selectors,
                        )
                    )
    return tuple(cases)


def params(items: Iterable[Path | RefusalCase]) -> list[Any]:
    """``pytest.param`` objects with readable ids, for ``pytest.mark.parametrize``."""
    import pytest

    return [pytest.param(item, id=item.id) for item in items]
