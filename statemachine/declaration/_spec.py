"""The vocabulary the machine's table is written in, and the questions it answers.

Nothing here knows a rule of the order's life; :mod:`statemachine.declaration._table` writes the
table with these words, and the runtime (:mod:`statemachine.runtime._machine`), the serializer, the
diagrams, the checks and the test kit read it through :class:`Table`'s queries, so they all ask the
same question the same way.

* :class:`StateSpec`: a state, its meaning, whether it is initial or final.
* :class:`EventSpec`: an event, its keyword data (:class:`Param`), and for a clock event the
  :class:`Deadline` that makes it due.
* :class:`TransitionSpec`: one row: an event takes an order from some states to another, its
  :class:`When` selector, its :class:`Guard`\\ s (each enforcing one rule) and :class:`Effect`\\ s.
* :class:`Prohibition`: the rule that forbids an event in states the table gives it no row in.
* A guard that refuses returns an :class:`Objection` (the explanation and the facts);
  :func:`event_rejected` turns an objection into the :class:`~statemachine.errors.EventRejected`
  the caller sees. A prohibition's explanation is an objection too.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from ..errors import EventRejected, RefusalKind
from ._records import DataValue, StateName
from ._rules import RULES

if TYPE_CHECKING:
    from ..runtime._order import Order
    from ._policy import Policy

__all__ = [
    "PARTIES",
    "Context",
    "Deadline",
    "Effect",
    "EventSpec",
    "Guard",
    "Objection",
    "Param",
    "Party",
    "Prohibition",
    "StateSpec",
    "Table",
    "TransitionSpec",
    "When",
    "effect",
    "event_rejected",
    "guard",
]


# --------------------------------------------------------------------------------------------
# States and events


@attrs.frozen
class StateSpec:
    """A state: its name, what it means, and whether orders start or end in it."""

    name: StateName
    doc: str
    initial: bool = False
    final: bool = False


@attrs.frozen
class Deadline:
    """A moment an order holds after which something is due, and the rule that sets it.

    ``fn`` reads it off the order (``None`` when nothing is due). Declared once and referenced
    by the clock event it makes due and by the guards that compare against it.
    """

    name: str
    rule: str
    doc: str
    fn: Callable[[Order], dt.datetime | None] = attrs.field(repr=False, eq=False)

    def of(self, order: Order) -> dt.datetime | None:
        """The moment on ``order``, or ``None`` if it holds none now."""
        return self.fn(order)


ParamKind = Literal["amount", "text", "flag"]


@attrs.frozen
class Param:
    """A keyword an event takes: its kind, whether it is required and its default."""

    name: str
    kind: ParamKind
    required: bool = True
    default: object = None


Party = Literal["customer", "supplier", "carrier", "merchant", "funder", "clock"]
"""Who sends an event (RULES.md, "Who sends each event"): the ``customer``, the ``supplier``,
the ``carrier`` (from tracking), the ``merchant``, the ``funder`` of the pending refund (R9's
blame: the supplier or the merchant, whoever pays it back) or the ``clock``. A service that
gives its callers roles checks them against it (:meth:`EventSpec.sender`)."""

PARTIES: Final[tuple[Party, ...]] = typing.get_args(Party)
"""Every party, in the order of the rules document."""


@attrs.frozen
class EventSpec:
    """An event's name, its keyword data, who sends it and its doc.

    A clock event (``due`` set) is sent by ``Order.tick`` and the stores' sweep once the
    :class:`Deadline` ``due`` has passed; every other event comes from a caller, its
    ``party`` (:data:`Party`; a clock event's party is ``"clock"``).
    """

    name: str
    doc: str
    params: tuple[Param, ...] = ()
    due: Deadline | None = None
    party: Party | None = None
    param_names: frozenset[str] = attrs.field(init=False, repr=False, eq=False)

    @param_names.default
    def _param_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.params)

    def __attrs_post_init__(self) -> None:
        if self.due is not None and self.party not in (None, "clock"):
            raise ValueError(f"{self.name} is a clock event; its party is the clock")
        if self.due is not None and self.party is None:
            object.__setattr__(self, "party", "clock")
        if self.party is not None and self.party not in PARTIES:
            raise ValueError(f"{self.name}: {self.party!r} is not a party ({', '.join(PARTIES)})")

    def sender(self, order: Order) -> Party | None:
        """Who sends this event to ``order`` now: its party, and for the ``funder`` of the
        pending refund whoever R9 blamed (the ``supplier`` or the ``merchant``); ``None``
        for the funder when no refund is pending."""
        if self.party != "funder":
            return self.party
        pending = order.pending_refund
        return None if pending is None else pending.blame

    @property
    def clock(self) -> bool:
        """Whether the clock sends this event (it has a deadline), not a caller."""
        return self.due is not None


# --------------------------------------------------------------------------------------------
# One firing, and how a guard refuses


@attrs.define
class Context:
    """One firing of one event: its time, id and parsed data; effects add what they resolved."""

    event: str
    at: dt.datetime
    event_id: str | None = None
    data: dict[str, Any] = attrs.field(factory=dict)
    recorded: dict[str, DataValue] = attrs.field(factory=dict)
    """What the history keeps of the data: JSON-safe values."""
    given: Mapping[str, object] = attrs.field(factory=dict)
    """Deadlines to take instead of counting them: when an order is read back, the windows its
    history opened are replayed with the deadlines they were opened with."""


@attrs.frozen
class Objection:
    """Why a rule refuses: the explanation (without the rule id) and the facts that decided;
    ``kind`` overrides the kind of the guard that objects, where one guard refuses for two
    reasons."""

    message: str
    facts: dict[str, str] = attrs.field(factory=dict)
    kind: RefusalKind | None = None


def event_rejected(
    rule: str | None,
    order: Order,
    event: str,
    objection: Objection,
    kind: RefusalKind = "state",
) -> EventRejected:
    """The :class:`EventRejected` for ``objection``: the rule id first, the state always named,
    the objection's kind if it has one, else ``kind``."""
    message = objection.message if rule is None else f"{rule}: {objection.message}"
    if order.state not in message:
        message = f"{message} (order {order.order_id} is {order.state})"
    return EventRejected(
        message,
        rule=rule,
        event=event,
        state=order.state,
        order_id=order.order_id,
        facts=objection.facts,
        kind=objection.kind or kind,
    )


# --------------------------------------------------------------------------------------------
# Guards, effects and selectors

GuardFn = Callable[["Order", Context], "Objection | None"]
EffectFn = Callable[["Order", Context], None]


@attrs.frozen
class Guard:
    """A named check enforcing one rule; it returns an :class:`Objection` or ``None``.

    ``needs_data`` guards judge event data (amounts, reasons); the others judge only the order
    and the time, so ``allowed_events`` can ask them. ``kind`` is what refuses when it objects
    (the order's state, the event's data or its time). ``deadline`` is the moment a time guard
    compares against, if any.
    """

    rule: str
    name: str
    fn: GuardFn = attrs.field(repr=False, eq=False)
    needs_data: bool
    kind: RefusalKind
    doc: str
    deadline: Deadline | None = None

    def check(self, order: Order, ctx: Context) -> None:
        """Raise :class:`EventRejected` naming this guard's rule if it objects."""
        objection = self.fn(order, ctx)
        if objection is not None:
            raise event_rejected(self.rule, order, ctx.event, objection, self.kind)

    def allows(self, order: Order, ctx: Context) -> bool:
        """Whether this guard lets the event through (no exception)."""
        return self.fn(order, ctx) is None


def guard(
    rule: str, *, kind: RefusalKind, deadline: Deadline | None = None
) -> Callable[[GuardFn], Guard]:
    """Declare a guard function as enforcing ``rule``; its docstring is its description.

    A guard of kind ``"data"`` judges the event's data; the others judge only the order and the
    time, so :meth:`Order.allowed_events <statemachine.runtime.Order.allowed_events>` can ask them.
    """
    if rule not in RULES:
        raise KeyError(f"guard names unknown rule {rule!r}")

    def wrap(fn: GuardFn) -> Guard:
        doc = (fn.__doc__ or "").strip()
        return Guard(rule, fn.__name__, fn, kind == "data", kind, doc, deadline)

    return wrap


@attrs.frozen
class Effect:
    """A named change applied after a transition; ``rule`` is the rule it carries out, if any."""

    rule: str | None
    name: str
    fn: EffectFn = attrs.field(repr=False, eq=False)
    doc: str

    def __call__(self, order: Order, ctx: Context) -> None:
        self.fn(order, ctx)


def effect(rule: str | None = None) -> Callable[[EffectFn], Effect]:
    """Declare an effect function, optionally tied to the rule it carries out."""
    if rule is not None and rule not in RULES:
        raise KeyError(f"effect names unknown rule {rule!r}")

    def wrap(fn: EffectFn) -> Effect:
        return Effect(rule, fn.__name__, fn, (fn.__doc__ or "").strip())

    return wrap


@attrs.frozen
class When:
    """A selector among rows of one event from one state (not a rule: it never refuses)."""

    name: str
    fn: Callable[[Order], bool] = attrs.field(repr=False, eq=False)
    doc: str

    def __call__(self, order: Order) -> bool:
        return self.fn(order)


# --------------------------------------------------------------------------------------------
# Rows and prohibitions


def _names(states: Iterable[StateSpec | str]) -> tuple[StateName, ...]:
    return tuple(s.name if isinstance(s, StateSpec) else s for s in states)


def _name(state: StateSpec | str | None) -> StateName | None:
    return state.name if isinstance(state, StateSpec) else state


@attrs.frozen
class TransitionSpec:
    """One row of the table: ``event`` takes the order from ``sources`` to ``dest``.

    ``dest`` of ``None`` is an internal transition: the state does not change, the effects run.
    ``when`` selects among rows of the same event and state; ``guards`` run in order and the
    first that objects names its rule; ``policy_switch`` names a :class:`Policy` flag without
    which the row does not exist. States are given as :class:`StateSpec` or by name.
    """

    event: str
    sources: tuple[StateName, ...] = attrs.field(converter=_names)
    dest: StateName | None = attrs.field(converter=_name)
    guards: tuple[Guard, ...] = ()
    effects: tuple[Effect, ...] = ()
    when: When | None = None
    policy_switch: str | None = None

    @property
    def rules(self) -> tuple[str, ...]:
        """Rule ids of the guards, in order (``("R8", "R13", "R11")``)."""
        return tuple(g.rule for g in self.guards)

    def dest_from(self, source: StateName) -> StateName:
        """The state after taking this row from ``source``."""
        return source if self.dest is None else self.dest

    def label(self, source: StateName | None = None) -> str:
        """The row's one name: ``event@source[when]->dest``, unique in the table.

        Without ``source``, every source joined by ``|``; ``=`` is an internal row's dest.
        """
        when = f"[{self.when.name}]" if self.when is not None else ""
        if source is None:
            return f"{self.event}@{'|'.join(self.sources)}{when}->{self.dest or '='}"
        return f"{self.event}@{source}{when}->{self.dest_from(source)}"


@attrs.frozen
class Prohibition:
    """The rule that forbids ``event`` in ``states`` where the table has no row for it.

    ``when`` narrows it to orders it is true for; ``explain`` writes the objection. An
    ``event`` of ``None`` prohibits every event without a row (R14 in the final states).
    """

    event: str | None
    states: tuple[StateName, ...] = attrs.field(converter=_names)
    rule: str
    explain: Callable[[Order, Context], Objection] = attrs.field(repr=False, eq=False)
    when: Callable[[Order], bool] | None = attrs.field(default=None, repr=False, eq=False)

    def applies(self, order: Order, event: str) -> bool:
        """Whether this prohibition forbids ``event`` for ``order`` in its state."""
        return (
            (self.event is None or self.event == event)
            and order.state in self.states
            and (self.when is None or self.when(order))
        )


# --------------------------------------------------------------------------------------------
# The table and its queries


@attrs.frozen(eq=False, repr=False)
class Table:
    """States, events, rows and prohibitions: the machine's one declaration.

    Everything else derives from it through the queries below; tables compare by identity (a
    copy of a table is the table itself), so per-policy answers are cached cheaply, and the
    names of its states, the initial one and the final ones are read once, when it is made.
    """

    states: tuple[StateSpec, ...]
    events: Mapping[str, EventSpec]
    rows: tuple[TransitionSpec, ...]
    prohibitions: tuple[Prohibition, ...]
    final_prohibition: Prohibition
    """What refuses, in a final state, every event without a row there (R14)."""
    _state_names: tuple[StateName, ...] = attrs.field(init=False, repr=False)
    _initial: StateName | None = attrs.field(init=False, repr=False)
    _finals: frozenset[StateName] = attrs.field(init=False, repr=False)

    @_state_names.default
    def _names_of_states(self) -> tuple[StateName, ...]:
        return tuple(s.name for s in self.states)

    @_initial.default
    def _first_initial(self) -> StateName | None:
        return next((s.name for s in self.states if s.initial), None)

    @_finals.default
    def _final_names(self) -> frozenset[StateName]:
        return frozenset(s.name for s in self.states if s.final)

    def __repr__(self) -> str:
        return (
            f"<Table of {len(self.states)} states, {len(self.events)} events, {len(self.rows)} "
            f"rows and {len(self.prohibitions)} prohibitions at {id(self):#x}>"
        )

    def __copy__(self) -> Table:
        return self  # a declaration is shared, never copied: it is known by its identity

    def __deepcopy__(self, memo: dict[int, object]) -> Table:
        return self

    # -- states ------------------------------------------------------------------------------

    @property
    def state_names(self) -> tuple[StateName, ...]:
        """Every state's name, in declaration order (the initial one first)."""
        return self._state_names

    @property
    def initial_state(self) -> StateName:
        """The state every order starts in; ``KeyError`` if no state is declared initial."""
        if self._initial is None:
            raise KeyError("the table declares no initial state")
        return self._initial

    @property
    def final_states(self) -> frozenset[StateName]:
        """The states an order never leaves."""
        return self._finals

    def state(self, name: str) -> StateSpec:
        """The spec of the state called ``name``; ``KeyError`` if there is none."""
        for s in self.states:
            if s.name == name:
                return s
        raise KeyError(f"unknown state {name!r}; states: {', '.join(self.state_names)}")

    # -- events ------------------------------------------------------------------------------

    @property
    def clock_events(self) -> tuple[str, ...]:
        """The events the clock sends, in declaration order."""
        return tuple(name for name, e in self.events.items() if e.clock)

    @property
    def caller_events(self) -> tuple[str, ...]:
        """The events callers send, in declaration order."""
        return tuple(name for name, e in self.events.items() if not e.clock)

    def deadlines(self) -> tuple[Deadline, ...]:
        """Every deadline the table compares against: clock events' and time guards'."""
        found: dict[str, Deadline] = {}
        for e in self.events.values():
            if e.due is not None:
                found.setdefault(e.due.name, e.due)
        for row in self.rows:
            for g in row.guards:
                if g.deadline is not None:
                    found.setdefault(g.deadline.name, g.deadline)
        return tuple(found.values())

    # -- rows --------------------------------------------------------------------------------

    def rows_for(self, policy: Policy) -> tuple[TransitionSpec, ...]:
        """The rows that exist under ``policy`` (a row with a switch needs the switch on)."""
        return _rows_for(self, policy)

    def index(self, policy: Policy) -> Mapping[tuple[StateName, str], tuple[TransitionSpec, ...]]:
        """Rows by (source state, event) under ``policy``, in table order."""
        return _index(self, policy)

    def candidates(self, order: Order, event: str) -> tuple[TransitionSpec, ...]:
        """Rows of ``event`` from the order's state whose selector holds for the order."""
        rows = _index(self, order.policy).get((order.state, event), ())
        return tuple(t for t in rows if t.when is None or t.when(order))

    def row_taken(
        self, event: str, source: StateName, dest: StateName, policy: Policy
    ) -> TransitionSpec | None:
        """The row a history record (``event`` from ``source`` to ``dest``) took, if any."""
        for row in _index(self, policy).get((source, event), ()):
            if row.dest_from(source) == dest:
                return row
        return None

    # -- refusals ----------------------------------------------------------------------------

    def prohibition_for(self, order: Order, event: str) -> Prohibition | None:
        """The prohibition that forbids ``event`` for ``order`` where no row takes it: R14 in a
        final state, else the first declared one that applies; ``None`` where no rule speaks."""
        if order.state in self.final_states:
            return self.final_prohibition
        for p in self.prohibitions:
            if p.applies(order, event):
                return p
        return None

    def refusal_rules(self, state: StateName, event: str) -> tuple[str | None, ...]:
        """Every rule that may refuse ``event`` in ``state`` for want of a row, whatever the
        order: R14 in a final state, else the declared prohibitions' rules, else ``None``."""
        if state in self.final_states:
            return (self.final_prohibition.rule,)
        rules = tuple(p.rule for p in self.prohibitions if p.event == event and state in p.states)
        return rules or (None,)

    def rules_enforced(self) -> dict[str, list[str]]:
        """Each rule id with the guards, effects and prohibitions that enforce or carry it out."""
        out: dict[str, list[str]] = {rid: [] for rid in RULES}
        for t in self.rows:
            for g in t.guards:
                if g.name not in out[g.rule]:
                    out[g.rule].append(g.name)
            for e in t.effects:
                if e.rule is not None and e.name not in out[e.rule]:
                    out[e.rule].append(e.name)
        for p in (*self.prohibitions, self.final_prohibition):
            name = f"prohibition of {p.event or 'every event without a row'}"
            if name not in out[p.rule]:
                out[p.rule].append(name)
        return out


@lru_cache(maxsize=64)
def _rows_for(table: Table, policy: Policy) -> tuple[TransitionSpec, ...]:
    return tuple(
        t for t in table.rows if t.policy_switch is None or getattr(policy, t.policy_switch)
    )


@lru_cache(maxsize=64)
def _index(
    table: Table, policy: Policy
) -> Mapping[tuple[StateName, str], tuple[TransitionSpec, ...]]:
    index: dict[tuple[StateName, str], list[TransitionSpec]] = {}
    for t in _rows_for(table, policy):
        for source in t.sources:
            index.setdefault((source, t.event), []).append(t)
    return {key: tuple(rows) for key, rows in index.items()}
