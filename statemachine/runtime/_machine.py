"""The runtime: a table and a policy made into something that runs, and how an order fires an
event on it.

A :class:`Runtime` is built from a :class:`~statemachine.declaration.Table` and a
:class:`~statemachine.declaration.Policy` (checking the table first,
:func:`~statemachine.declaration._checks. check_table`) and answers every question of the order's
life from that table alone: firing an event, explaining a refusal, the events a state takes now, the
clock event due and the deadline a store sweeps by. Its engine is one ``transitions.Machine``: the
table's states, and one transition per row and source state holding the row's selector and guards as
conditions and its effects as ``after`` callbacks. No order is ever added to it as a model and
nothing is bound onto an order. :func:`runtime_for` builds one runtime per (table, policy) and
shares it; each order carries its table and finds its runtime through :attr:`Order.runtime
<statemachine.runtime.Order.runtime>`, so orders of two tables run side by side in one process.

:meth:`Runtime.fire` runs a transition the way the engine's ``Event.trigger`` would (conditions
in order, then the state change, then the ``after`` callbacks), reading the transition straight
from the engine's own table (``engine.events[event].transitions[state]``) but without the
per-call machinery ``trigger`` brings (its event queue, an ``EventData`` per call, model
look-ups and logging). The test suite checks that both ways give the same orders.

The module's functions (:func:`fire`, :func:`explain`, :func:`refusals`,
:func:`allowed_events`, :func:`due_clock_event`) ask the order's own runtime;
:func:`machine_for` and :func:`moves_for` read a runtime of the default table unless given
another.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import attrs
from transitions import Machine, State

from ..declaration._calendar import as_instant, at_offset
from ..declaration._checks import check_table
from ..declaration._money import parse_amount
from ..declaration._records import DataValue, FireResult, HistoryRecord
from ..declaration._spec import (
    Context,
    Deadline,
    Effect,
    EffectFn,
    EventSpec,
    Guard,
    Objection,
    Table,
    When,
    event_rejected,
)
from ..declaration._table import TABLE
from ..errors import EventRejected, InvalidInput

if TYPE_CHECKING:
    from ..declaration._policy import Policy
    from ._order import Order

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_TEXT_LENGTH",
    "Move",
    "Runtime",
    "allowed_events",
    "build_machine",
    "due_clock_event",
    "explain",
    "fire",
    "machine_for",
    "moves_for",
    "parse_data",
    "refusals",
    "require_aware",
    "require_text",
    "runtime_for",
    "time_objection",
]


# --------------------------------------------------------------------------------------------
# Building the engine


@attrs.frozen
class _Select:
    """A row's selector as an engine condition (``send_event=True``)."""

    when: When

    def __call__(self, event_data: Any) -> bool:
        return self.when(event_data.model)


@attrs.frozen
class _Check:
    """A guard as an engine condition: raises :class:`EventRejected` when it objects."""

    guard: Guard

    def __call__(self, event_data: Any) -> bool:
        self.guard.check(event_data.model, event_data.kwargs["ctx"])
        return True


@attrs.frozen
class _Apply:
    """An effect as an engine ``after`` callback."""

    effect: Effect

    def __call__(self, event_data: Any) -> None:
        self.effect(event_data.model, event_data.kwargs["ctx"])


def build_machine(table: Table, policy: Policy) -> Any:
    """A ``transitions.Machine`` of ``table``'s rows under ``policy``, after checking them.

    :class:`~statemachine.errors.TableError` lists every problem of a broken table.
    """
    rows = table.rows_for(policy)
    check_table(
        rows,
        prohibitions=table.prohibitions,
        events=table.events,
        states=table.state_names,
        final_states=table.final_states,
        initial=table.initial_state,
    )
    return Machine(
        model=None,
        states=[State(s.name, final=s.final) for s in table.states],
        initial=table.initial_state,
        transitions=[
            {
                "trigger": t.event,
                "source": list(t.sources),
                "dest": t.dest,
                "conditions": [
                    *(() if t.when is None else (_Select(t.when),)),
                    *(_Check(g) for g in t.guards),
                ],
                "after": [_Apply(e) for e in t.effects],
            }
            for t in rows
        ],
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
        name=f"order[{policy.calendar}]",
    )


# --------------------------------------------------------------------------------------------
# Reading the engine's transitions for the direct path


@attrs.frozen
class Move:
    """One engine transition, ready to run: ``dest`` (``None``: internal), the row's selector,
    its guards in order, those of them that judge no event data, and its effects' functions."""

    dest: str | None
    when: When | None
    guards: tuple[Guard, ...]
    effects: tuple[EffectFn, ...]
    data_free_guards: tuple[Guard, ...] = attrs.field(init=False)

    @data_free_guards.default
    def _data_free(self) -> tuple[Guard, ...]:
        return tuple(g for g in self.guards if not g.needs_data)


def _move(transition: Any) -> Move:
    when: When | None = None
    guards: list[Guard] = []
    for condition in transition.conditions:
        func = condition.func
        if not condition.target:
            raise TypeError(f"unexpected negated condition {func!r} in the engine")
        if isinstance(func, _Select):
            when = func.when
        elif isinstance(func, _Check):
            guards.append(func.guard)
        else:
            raise TypeError(f"condition {func!r} was not built from the table")
    effects = []
    for callback in transition.after:
        if not isinstance(callback, _Apply):
            raise TypeError(f"after-callback {callback!r} was not built from the table")
        effects.append(callback.effect.fn)
    if transition.prepare or transition.before:
        raise TypeError("the direct path runs no prepare or before callbacks")
    return Move(transition.dest, when, tuple(guards), tuple(effects))


def _read_moves(machine: Any) -> Mapping[tuple[str, str], tuple[Move, ...]]:
    """Every (state, event) of ``machine`` with its transitions, in the engine's order."""
    if machine.before_state_change or machine.after_state_change or machine.prepare_event:
        raise TypeError("the direct path runs no machine-wide callbacks")
    out: dict[tuple[str, str], tuple[Move, ...]] = {}
    for name, event in machine.events.items():
        for source, transitions in event.transitions.items():
            if transitions:
                out[(source, name)] = tuple(_move(t) for t in transitions)
    return out


# --------------------------------------------------------------------------------------------
# Input


def require_aware(value: object, field: str) -> dt.datetime:
    """``value`` as an instant (:func:`~statemachine.declaration._calendar.as_instant`) if it is a
    timezone-aware datetime, else :class:`InvalidInput` naming ``field`` (R16)."""
    if type(value) is dt.datetime:  # the common case, in one pass
        tz = value.tzinfo
        if type(tz) is dt.timezone:
            if 1 < value.year < 9999:
                return value  # a fixed offset: already an instant
            return _within_time(value, field)
        if tz is not None:
            offset = value.utcoffset()
            if offset is not None:
                return _within_time(at_offset(value, offset), field)
    if not isinstance(value, dt.datetime):
        raise InvalidInput(f"{field} must be a timezone-aware datetime, got {value!r}", field=field)
    if value.utcoffset() is None:
        raise InvalidInput(
            f"{field} must be timezone-aware, got the naive datetime {value.isoformat()} "
            "(R16); pass tzinfo, e.g. datetime(..., tzinfo=ZoneInfo('Asia/Shanghai'))",
            field=field,
        )
    return _within_time(as_instant(value), field)


def _within_time(moment: dt.datetime, field: str) -> dt.datetime:
    """``moment`` if its instant is a moment of years 1 to 9999 in UTC too (where every
    database keeps it), else :class:`InvalidInput` naming ``field``."""
    if 1 < moment.year < 9999:
        return moment
    try:
        moment.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidInput(
            f"{field} {moment.isoformat()} is outside the years 1 to 9999 in UTC, where no "
            "store can keep it",
            field=field,
        ) from None
    return moment


def require_keepable(value: object, field: str) -> dt.datetime:
    """``value`` as :func:`require_aware` takes it, and a moment of the years 2 to 9998 both
    as written and in UTC, else :class:`InvalidInput` naming ``field``. What a store keeps
    or a service is sent must be this: a moment of the years 1 or 9999 may fall outside what
    a datetime holds once it is shown in another time zone (the supplier's) or a deadline is
    counted from it, so an order holding one could no longer be shown or swept."""
    moment = require_aware(value, field)
    try:
        in_utc = moment.astimezone(dt.UTC)
    except OverflowError:  # pragma: no cover - require_aware refuses it first
        in_utc = None
    if 1 < moment.year < 9999 and in_utc is not None and 1 < in_utc.year < 9999:
        return moment
    raise InvalidInput(
        f"{field} {moment.isoformat()} is at an end of time: give a moment of the years 2 to "
        "9998 (one of the years 1 or 9999 could not be shown in another time zone, or have a "
        "deadline counted from it)",
        field=field,
    )


MAX_ID_LENGTH: Final = 200
"""The longest order id or event id accepted, in characters."""
MAX_TEXT_LENGTH: Final = 1000
"""The longest text event data (a tracking number, a claim reason) accepted, in characters."""


def require_text(value: object, field: str, *, limit: int = MAX_TEXT_LENGTH) -> str:
    """``value`` stripped if it is non-blank text a database can store (no NUL, no lone
    surrogate) of at most ``limit`` characters, else :class:`InvalidInput` naming ``field``."""
    if (
        type(value) is str
        and 0 < len(value) <= limit
        and value.isascii()
        and value.isprintable()
        and value[0] != " "
        and value[-1] != " "
    ):
        return value  # the common case: printable ASCII, nothing to strip, nothing to refuse
    if not isinstance(value, str) or not value.strip():
        shown = repr(value) if not isinstance(value, str) else repr(value[:20])
        raise InvalidInput(f"{field} must be a non-blank string, got {shown}", field=field)
    if len(value) > limit:
        raise InvalidInput(
            f"{field} is {len(value)} characters long; at most {limit} are accepted",
            field=field,
        )
    if "\x00" in value:
        raise InvalidInput(f"{field} contains a NUL character, which no store keeps", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{field} is not valid Unicode text (it holds a lone surrogate): {value[:20]!r}",
            field=field,
        ) from None
    return value.strip()


def parse_data(
    spec: EventSpec, data: Mapping[str, object], currency: str
) -> tuple[dict[str, Any], dict[str, DataValue]]:
    """The event's keyword data parsed (amounts as ``Decimal``) and as the history keeps it."""
    if not spec.params:
        if data:
            key = next(iter(data))
            raise InvalidInput(
                f"event {spec.name} takes no keyword {key!r}; it takes: no keyword data", field=key
            )
        return {}, {}
    for key in data:
        if key not in spec.param_names:
            takes = ", ".join(sorted(spec.param_names))
            raise InvalidInput(
                f"event {spec.name} takes no keyword {key!r}; it takes: {takes}", field=key
            )
    parsed: dict[str, Any] = {}
    recorded: dict[str, DataValue] = {}
    for p in spec.params:
        value = data.get(p.name)
        if value is None:
            if p.required:
                raise InvalidInput(f"event {spec.name} needs the keyword {p.name}", field=p.name)
            parsed[p.name] = p.default
            continue
        if p.kind == "amount":
            amount = parse_amount(value, currency, field=p.name)
            parsed[p.name], recorded[p.name] = amount, str(amount)
        elif p.kind == "text":
            text = require_text(value, p.name)
            parsed[p.name] = recorded[p.name] = text
        else:
            if not isinstance(value, bool):
                raise InvalidInput(f"{p.name} must be True or False, got {value!r}", field=p.name)
            parsed[p.name] = recorded[p.name] = value
    return parsed, recorded


def time_objection(order: Order, event: str, at: dt.datetime) -> EventRejected | None:
    """The R16 refusal of an event dated before the payment or the last record, if it is."""
    history = order.history
    if at < order.paid_at:
        limit, what = order.paid_at, "the payment"
    elif history and at < history[-1].at:
        limit, what = history[-1].at, f"its last recorded event ({history[-1].event})"
    else:
        return None
    return EventRejected(
        f"R16: {event} on order {order.order_id} is dated {at.isoformat()}, before {what} at "
        f"{limit.isoformat()}; time only moves forward (order is {order.state}).",
        rule="R16",
        event=event,
        state=order.state,
        order_id=order.order_id,
        facts={"at": at.isoformat(), "not_before": limit.isoformat()},
        kind="time",
    )


def _unknown_event(order: Order, event: object, events: Mapping[str, EventSpec]) -> InvalidInput:
    """The refusal of an event ``order``'s table does not have: named as an event of another
    version where one registered has it (an order keeps the version it runs under)."""
    from ..declaration._definition import DEFINITIONS, definition_of

    mine = definition_of(order.table)
    others = [d.key for d in DEFINITIONS.values() if d is not mine and event in d.table.events]
    if mine is not None and others:
        return InvalidInput(
            f"order {order.order_id} runs under {mine.key}, which has no event {event!r} (it "
            f"is an event of {', '.join(others)}); events: {', '.join(events)}",
            field="event",
        )
    return InvalidInput(f"unknown event {event!r}; events: {', '.join(events)}", field="event")


# --------------------------------------------------------------------------------------------
# The runtime


_NO_GIVEN: Final[Mapping[str, object]] = MappingProxyType({})


@attrs.frozen(eq=False)
class Runtime:
    """``table`` run under ``policy``: its engine, the engine's transitions as moves, and every
    question an order asks of its table, answered from this table alone.

    Get one with :func:`runtime_for`, which builds it once per (table, policy); an order finds
    its own through :attr:`Order.runtime <statemachine.runtime.Order.runtime>`. Every method takes
    an order of this table under this policy. Runtimes compare by identity.
    """

    table: Table
    policy: Policy
    engine: Any = attrs.field(init=False, repr=False)
    """The ``transitions.Machine`` of the table's rows under the policy (checked when built)."""
    moves: Mapping[tuple[str, str], tuple[Move, ...]] = attrs.field(init=False, repr=False)
    """Every (state, event) of the engine with its transitions, in the engine's order."""
    caller_events: tuple[str, ...] = attrs.field(init=False, repr=False)
    """The events callers send, in the table's order."""
    clock_deadlines: tuple[tuple[str, Deadline], ...] = attrs.field(init=False, repr=False)
    """Each clock event with the deadline that makes it due, in the table's order."""

    @engine.default
    def _build(self) -> Any:
        return build_machine(self.table, self.policy)

    @moves.default
    def _read(self) -> Mapping[tuple[str, str], tuple[Move, ...]]:
        return _read_moves(self.engine)

    @caller_events.default
    def _callers(self) -> tuple[str, ...]:
        return self.table.caller_events

    @clock_deadlines.default
    def _clock(self) -> tuple[tuple[str, Deadline], ...]:
        return tuple((name, e.due) for name, e in self.table.events.items() if e.due is not None)

    # -- firing ------------------------------------------------------------------------------

    def fire(
        self,
        order: Order,
        event: str,
        at: dt.datetime,
        event_id: str | None,
        data: Mapping[str, object],
        given: Mapping[str, object] | None = None,
        *,
        via_engine: bool = False,
    ) -> FireResult:
        """Apply ``event`` to ``order`` (see :meth:`Order.fire <statemachine.runtime.Order.fire>`).

        The order is changed only by the effects of the transition taken; if one raises, every
        field is put back as it was. ``via_engine`` runs the transition through the engine's own
        ``Event.trigger`` instead of directly: slower, the same result (the tests compare them).
        ``given`` holds the ends of the windows the event opens, when an order is read back
        (:attr:`Context.given <statemachine.declaration.Context.given>`).
        """
        prepared = self._prepare(order, event, at, event_id, data, given)
        if isinstance(prepared, FireResult):
            return prepared
        ctx, move = prepared
        if via_engine:
            return self._fire_via_engine(order, ctx)
        source = order.state
        notifications, incidents = order.notifications, order.incidents
        saved = order.snapshot()
        try:
            if move.dest is not None:
                order.state = move.dest
            for apply in move.effects:
                apply(order, ctx)
            order.record(
                HistoryRecord(event, source, order.state, ctx.at, ctx.event_id, ctx.recorded)
            )
        except InvalidInput as exc:  # a deadline the event would open cannot be counted
            order.restore(saved)
            if exc.field is None:
                message = f"{event} at {ctx.at.isoformat()}: {exc.message}"
                raise InvalidInput(message, field="at") from None
            raise
        except BaseException:
            order.restore(saved)
            raise
        return FireResult(
            event,
            source,
            order.state,
            ctx.at,
            ctx.event_id,
            False,
            ()
            if order.notifications is notifications
            else order.notifications[len(notifications) :],
            () if order.incidents is incidents else order.incidents[len(incidents) :],
        )

    def explain(
        self, order: Order, event: str, at: object, event_id: object, data: Mapping[str, object]
    ) -> EventRejected | InvalidInput | None:
        """The refusal :meth:`fire` would raise for this request, or ``None`` if it would be
        accepted (a duplicate included); changes nothing."""
        try:
            self._prepare(order, event, at, event_id, data, None)
        except (EventRejected, InvalidInput) as exc:
            return exc
        return None

    def _prepare(
        self,
        order: Order,
        event: str,
        at: object,
        event_id: object,
        data: Mapping[str, object],
        given: Mapping[str, object] | None,
    ) -> FireResult | tuple[Context, Move]:
        """Every check of :meth:`fire`, in its order, without changing anything: the duplicate's
        result (R15), or the context and the transition to take; raises the refusal otherwise."""
        if event_id is not None:
            event_id = require_text(event_id, "event_id", limit=MAX_ID_LENGTH)
            applied = order.find_event_id(event_id)
            if applied is not None:
                return self._duplicate(order, applied, event, event_id, data)
        events = self.table.events
        spec = events.get(event) if isinstance(event, str) else None
        if spec is None:
            raise _unknown_event(order, event, events)
        moment = require_aware(at, "at")
        parsed, recorded = parse_data(spec, data, order.currency)
        history = order.history
        if moment < order.paid_at or (history and moment < history[-1].at):
            raise time_objection(order, event, moment) or AssertionError("R16")
        ctx = Context(event, moment, event_id, parsed, recorded, given or _NO_GIVEN)
        move = None
        for candidate in self.moves.get((order.state, event), ()):
            if candidate.when is None or candidate.when(order):
                move = candidate
                break
        if move is None:
            raise self.prohibited(order, ctx)
        for g in move.guards:
            objection = g.fn(order, ctx)
            if objection is not None:
                raise event_rejected(g.rule, order, event, objection, g.kind)
        return ctx, move

    def _duplicate(
        self,
        order: Order,
        record: HistoryRecord,
        event: str,
        event_id: str,
        data: Mapping[str, object],
    ) -> FireResult:
        """R15: the result of the first application of ``event_id``, if this request is the same
        one: the same event, and the same data after parsing (``at`` is not compared: a retry may
        carry a later receipt time). A key reused for another request is :class:`InvalidInput`."""
        reused = (
            f"R15: event_id {event_id!r} was already applied to order {order.order_id} as "
            f"{record.event}"
        )
        if record.event != event:
            raise InvalidInput(f"{reused}; it cannot be reused for {event!r}", field="event_id")
        spec = self.table.events[event]
        _, recorded = parse_data(spec, data, order.currency)
        for p in spec.params:
            if p.name in recorded:
                new: object = recorded[p.name]
            elif p.default is None:
                continue  # omitted, and its default is whatever the first request resolved
            else:
                new = p.default
            old = record.data.get(p.name)
            if new != old or type(new) is not type(old):
                raise InvalidInput(
                    f"{reused} with {p.name}={old!r}; this request has {p.name}={new!r}. An "
                    "event id names one request: send a new id for another one",
                    field="event_id",
                )
        return FireResult(event, record.source, record.dest, record.at, event_id, True)

    def _fire_via_engine(self, order: Order, ctx: Context) -> FireResult:
        """The transition through ``engine.events[event].trigger(order, ctx=ctx)``."""
        if not self.table.candidates(order, ctx.event):
            raise self.prohibited(order, ctx)
        source, notes, incidents = order.state, len(order.notifications), len(order.incidents)
        saved = order.snapshot()
        try:
            if not self.engine.events[ctx.event].trigger(order, ctx=ctx):
                raise self.prohibited(order, ctx)
            order.record(
                HistoryRecord(ctx.event, source, order.state, ctx.at, ctx.event_id, ctx.recorded)
            )
        except BaseException:
            order.restore(saved)
            raise
        return FireResult(
            ctx.event,
            source,
            order.state,
            ctx.at,
            ctx.event_id,
            False,
            order.notifications[notes:],
            order.incidents[incidents:],
        )

    # -- refusals ----------------------------------------------------------------------------

    def prohibited(self, order: Order, ctx: Context) -> EventRejected:
        """The refusal of ``ctx.event`` where the order's state has no (selected) row for it
        (kind ``state``): the rule of the table's prohibition that applies (R14 in a final
        state), else no rule, with the caller events the order takes now at ``ctx.at``."""
        prohibition = self.table.prohibition_for(order, ctx.event)
        if prohibition is not None:
            return event_rejected(
                prohibition.rule, order, ctx.event, prohibition.explain(order, ctx)
            )
        takes = tuple(e for e in self.caller_events if self._admitted(order, e, ctx.at))
        return event_rejected(
            None,
            order,
            ctx.event,
            Objection(
                f"order {order.order_id} is {order.state}, which does not take the event "
                f"{ctx.event}; it takes now: {', '.join(takes) or 'nothing'}.",
                {"state": order.state},
            ),
        )

    def refusals(self, order: Order, at: object) -> dict[str, EventRejected]:
        """Every caller event the order's state or the time refuses at ``at``, with its refusal:
        the reasons behind :meth:`allowed_events` (event data is not judged)."""
        moment = require_aware(at, "at")
        out: dict[str, EventRejected] = {}
        for name in self.caller_events:
            refused = time_objection(order, name, moment) or self._refusal(order, name, moment)
            if refused is not None:
                out[name] = refused
        return out

    def allowed_events(self, order: Order, at: object) -> tuple[str, ...]:
        """The caller events neither the state nor the time refuses at ``at`` (those without an
        entry in :meth:`refusals`); empty when ``at`` is before the last record (R16)."""
        refused = self.refusals(order, at)
        return tuple(name for name in self.caller_events if name not in refused)

    def _selected(self, order: Order, event: str) -> Move | None:
        """The engine transition of ``event`` from the order's state whose selector holds."""
        for move in self.moves.get((order.state, event), ()):
            if move.when is None or move.when(order):
                return move
        return None

    def _objecting(
        self, order: Order, ctx: Context
    ) -> tuple[Move | None, Guard | None, Objection | None]:
        """The transition of ``ctx.event`` (``None``: no row), and its first data-free guard
        that objects at ``ctx.at``, with the objection."""
        move = self._selected(order, ctx.event)
        if move is not None:
            for g in move.data_free_guards:
                objection = g.fn(order, ctx)
                if objection is not None:
                    return move, g, objection
        return move, None, None

    def _admitted(self, order: Order, event: str, at: dt.datetime) -> bool:
        """Whether the state and the time admit ``event`` at ``at`` (data not judged)."""
        move, objecting, _ = self._objecting(order, Context(event, at))
        return move is not None and objecting is None

    def _refusal(self, order: Order, event: str, at: dt.datetime) -> EventRejected | None:
        """Why ``event`` is refused at ``at`` judging the state and the time only (not data)."""
        ctx = Context(event, at)
        move, objecting, objection = self._objecting(order, ctx)
        if move is None:
            return self.prohibited(order, ctx)
        if objecting is not None and objection is not None:
            return event_rejected(objecting.rule, order, event, objection, objecting.kind)
        return None

    # -- the clock ---------------------------------------------------------------------------

    def due_clock_event(self, order: Order, now: dt.datetime) -> str | None:
        """The first clock event whose deadline has passed at ``now`` and that the order's
        state and guards admit, or ``None``."""
        for name, deadline in self.clock_deadlines:
            due = deadline.of(order)
            if due is not None and now > due and self._admitted(order, name, now):
                return name
        return None

    def clock_due_at(self, order: Order) -> dt.datetime | None:
        """The deadline after which a clock event may fire on ``order``; ``None`` if none.

        A clock event counts when the order's state has a row for it (so R12's switch and R14's
        final states are the table's to decide) and the deadline its spec declares
        (:attr:`EventSpec.due <statemachine.declaration.EventSpec.due>`) is set on the order: the R1
        dispatch deadline for ``dispatch_deadline_expired``, the R4 repayment deadline, until
        escalated once, for ``repayment_overdue``. A store sweeps orders by this moment.
        """
        due = [
            moment
            for name, deadline in self.clock_deadlines
            if self._selected(order, name) is not None
            and (moment := deadline.of(order)) is not None
        ]
        return min(due, default=None)


# --------------------------------------------------------------------------------------------
# One runtime per table and policy


@lru_cache(maxsize=64)
def runtime_for(table: Table, policy: Policy) -> Runtime:
    """The one :class:`Runtime` of ``table`` under ``policy``, built once and shared by every
    order of that table and policy. :class:`~statemachine.errors.TableError` lists every
    problem of a broken table."""
    return Runtime(table, policy)


def machine_for(policy: Policy, table: Table = TABLE) -> Any:
    """The one ``transitions.Machine`` of ``table`` (by default the shipped one) under
    ``policy``, built once and shared by every order."""
    return runtime_for(table, policy).engine


def moves_for(policy: Policy, table: Table = TABLE) -> Mapping[tuple[str, str], tuple[Move, ...]]:
    """Every (state, event) of :func:`machine_for`'s engine with its transitions, in the
    engine's order."""
    return runtime_for(table, policy).moves


# --------------------------------------------------------------------------------------------
# The order's own runtime


def fire(
    order: Order,
    event: str,
    at: dt.datetime,
    event_id: str | None,
    data: Mapping[str, object],
    given: Mapping[str, object] | None = None,
    *,
    via_engine: bool = False,
) -> FireResult:
    """Apply ``event`` to ``order`` by its own runtime (:meth:`Runtime.fire`)."""
    return order.runtime.fire(order, event, at, event_id, data, given, via_engine=via_engine)


def explain(
    order: Order, event: str, at: object, event_id: object, data: Mapping[str, object]
) -> EventRejected | InvalidInput | None:
    """The refusal :func:`fire` would raise for this request, or ``None`` (:meth:`Runtime.
    explain`)."""
    return order.runtime.explain(order, event, at, event_id, data)


def refusals(order: Order, at: object) -> dict[str, EventRejected]:
    """Every caller event refused at ``at``, with its refusal (:meth:`Runtime.refusals`)."""
    return order.runtime.refusals(order, at)


def allowed_events(order: Order, at: object) -> tuple[str, ...]:
    """The caller events neither the state nor the time refuses at ``at``
    (:meth:`Runtime.allowed_events`)."""
    return order.runtime.allowed_events(order, at)


def due_clock_event(order: Order, now: dt.datetime) -> str | None:
    """The first clock event due at ``now`` that the order admits, or ``None``
    (:meth:`Runtime.due_clock_event`)."""
    return order.runtime.due_clock_event(order, now)
