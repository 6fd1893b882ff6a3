"""Migrations: moving unfinished orders from one definition to another, checked over a whole
store before anything is written.

A **plan** is data (TOML), reviewed like code::

    plan = "orders-1-to-2"
    from = "orders@1"
    to = "orders@2"

    [states]            # every unfinished state of the source, mapped to one of the target
    paid = "paid"
    cancel_requested = "cancel_requested"
    refund_pending = "refund_pending"
    dispatched = "dispatched"
    delivered = "delivered"

    [clocks]            # each running clock: keep | recount | later
    dispatch = "keep"   # R1, the dispatch deadline
    repayment = "keep"  # R4, the repayment window
    claim = "later"     # R13, the claim window

    [preconditions]     # per source state, the names of PRECONDITIONS that must hold
    refund_pending = ["entered_as_target_would"]

A clock that is ``keep`` keeps its stored deadline; ``recount`` counts it again from the moment
its window opened with the order's own policy and the holidays calendar installed now (an
order's ``Policy`` is data stored with it: a new version's default numbers apply to new
orders); ``later`` takes whichever of the two is later (more time for whoever the clock waits
on). Finished orders are never touched.

:func:`migrate` moves one order in memory and checks the result (:class:`Outcome`): that it
reads back (its whole history replayed, by the source version up to the migration record and
by the target from there), that its ledgers, notifications, incidents and event ids are the
ones it had, that its deadlines are the ones the plan promised, that its new state is one the
target can reach, and that the target can judge every event in it. :func:`dry_run` does that
for every unfinished order of a store and writes nothing; :func:`apply` writes each order
that passes in a transaction of its own (:meth:`SQLStore.rewrite
<statemachine.store.SQLStore.rewrite>`, compare-and-swap on the row version), as a
``definition_migrated`` record. Stopped half-way, :func:`apply` run again goes on where it
stopped: the orders already moved run under the target and are not listed again.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from .declaration._definition import Definition, resolve
from .declaration._policy import Policy
from .declaration._spec import Table
from .errors import CorruptOrder, InvalidInput
from .runtime._machine import MAX_ID_LENGTH, require_aware, require_text
from .runtime._migration import MIGRATED, migration_data, switch
from .runtime._order import Order
from .runtime._serialize import replay

if TYPE_CHECKING:
    from .store import OrderStore

__all__ = [
    "CLOCKS",
    "PRECONDITIONS",
    "Outcome",
    "Plan",
    "Report",
    "apply",
    "dry_run",
    "migrate",
]

Treatment = Literal["keep", "recount", "later"]
TREATMENTS: Final[tuple[Treatment, ...]] = ("keep", "recount", "later")

CLOCKS: Final[Mapping[str, str]] = {
    "dispatch": "R1: the dispatch deadline (dispatch_deadline)",
    "repayment": "R4: the supplier's repayment window (repayment_earliest, repayment_deadline)",
    "claim": "R13: the claim window after delivery (claim_deadline)",
}
"""The running clocks a plan must say what to do with, and the deadlines they are."""

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")

MAX_PLAN_BYTES: Final = 256 * 1024
"""The largest plan read: a plan maps a few states; more is a mistake (or an attack)."""

_MOST_PROBLEMS: Final = 20
"""How many of a plan's problems are listed; the rest are counted."""


# --------------------------------------------------------------------------------------------
# Preconditions


def _no_pending_refund(order: Order, plan: Plan, now: dt.datetime) -> str | None:
    pending = order.pending_refund
    if pending is None:
        return None
    return f"a {pending.reason} refund of {pending.amount} {order.currency} is pending"


def _no_incidents(order: Order, plan: Plan, now: dt.datetime) -> str | None:
    if not order.incidents:
        return None
    return f"it has {len(order.incidents)} incident(s): {order.incidents[-1].kind} last"


def _not_past_dispatch_deadline(order: Order, plan: Plan, now: dt.datetime) -> str | None:
    if now <= order.dispatch_deadline:
        return None
    return f"its R1 dispatch deadline {order.dispatch_deadline.isoformat()} has passed"


def _claim_window_open(order: Order, plan: Plan, now: dt.datetime) -> str | None:
    deadline = order.claim_deadline
    if deadline is None or now <= deadline:
        return None
    return f"its R13 claim window closed at {deadline.isoformat()}"


def _repayment_not_overdue(order: Order, plan: Plan, now: dt.datetime) -> str | None:
    pending = order.pending_refund
    deadline = None if pending is None else pending.repayment_deadline
    if pending is None or deadline is None or (now <= deadline and not pending.overdue_escalated):
        return None
    return f"the supplier's repayment was due by {deadline.isoformat()} (R4)"


def _entered_as_target_would(order: Order, plan: Plan, now: dt.datetime) -> str | None:
    """The event that brought the order into its state, asked again of the target version
    in the state the plan maps the state before it to: refused there, the order is one the
    target could not have produced."""
    history = order.history
    entered = next(
        (i for i in range(len(history) - 1, -1, -1) if history[i].dest != history[i].source),
        None,
    )
    if entered is None or history[entered].event == MIGRATED:
        return None
    record = history[entered]
    before, _ = replay(order, upto=entered)
    mapped = plan.states.get(before.state)
    if mapped is None:
        return None  # pragma: no cover - entered from an unfinished state, which is mapped
    before.table = resolve(plan.target).table
    before.state = mapped
    spec = before.table.events.get(record.event)
    if spec is None:
        return f"it entered {order.state} by {record.event}, an event {plan.target} does not have"
    params = {k: v for k, v in record.data.items() if k in spec.param_names}
    refused = before.runtime.explain(before, record.event, record.at, None, params)
    if refused is None:
        return None
    return f"it entered {order.state} by {record.event}, which {plan.target} refuses: {refused}"


Precondition = Callable[[Order, "Plan", dt.datetime], "str | None"]

PRECONDITIONS: Final[Mapping[str, tuple[str, Precondition]]] = {
    "no_pending_refund": ("no refund is pending", _no_pending_refund),
    "no_incidents": ("the order has no incident (R1 late dispatch, R7)", _no_incidents),
    "not_past_dispatch_deadline": (
        "the R1 dispatch deadline has not passed",
        _not_past_dispatch_deadline,
    ),
    "claim_window_open": ("the R13 claim window, if open, has not closed", _claim_window_open),
    "repayment_not_overdue": (
        "the R4 repayment, if one is awaited, is not overdue",
        _repayment_not_overdue,
    ),
    "entered_as_target_would": (
        "the event that brought the order into its state is one the target version accepts "
        "from the mapped state before it",
        _entered_as_target_would,
    ),
}
"""What a plan may require of an order per state, by name: what it checks, and the check
(the reason it does not hold, or ``None``)."""


# --------------------------------------------------------------------------------------------
# Plans


@attrs.frozen
class Plan:
    """A migration plan: from ``source`` to ``target`` (registered definitions' keys), each
    unfinished state of the source mapped to an unfinished state of the target (``states``),
    what becomes of each running clock (``clocks``: ``keep``, ``recount`` or ``later``) and
    what must hold of an order per state (``preconditions``: names of
    :data:`PRECONDITIONS`). Make one with :meth:`load` or :meth:`parse`, which check it."""

    name: str
    source: str
    target: str
    states: Mapping[str, str]
    clocks: Mapping[str, Treatment]
    preconditions: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    doc: str = ""

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        """The plan in the TOML file ``path``, checked; :class:`InvalidInput` names what is
        wrong (every problem, one per line)."""
        file = Path(path)
        try:
            with file.open("rb") as stream:
                raw = stream.read(MAX_PLAN_BYTES + 1)
            if len(raw) > MAX_PLAN_BYTES:
                raise InvalidInput(
                    f"plan {file}: is larger than {MAX_PLAN_BYTES // 1024} KiB; a plan maps a "
                    "few states",
                    field="plan",
                )
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"plan {file}: cannot be read: {exc}", field="plan") from None
        return cls.parse(text, where=str(file))

    @classmethod
    def parse(cls, text: str, *, where: str = "plan") -> Plan:
        """The plan TOML ``text`` describes, checked against the registered definitions."""
        if len(text) > MAX_PLAN_BYTES:
            raise InvalidInput(
                f"{where}: is larger than {MAX_PLAN_BYTES // 1024} KiB; a plan maps a few states",
                field="plan",
            )
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"{where}: is not TOML: {exc}", field="plan") from None
        except RecursionError:
            raise InvalidInput(f"{where}: is nested too deep to be a plan", field="plan") from None
        return cls.from_data(data, where=where)

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, where: str = "plan") -> Plan:
        """The plan ``data`` (parsed TOML) describes, checked."""
        problems: list[str] = []
        known = {"plan", "from", "to", "doc", "states", "clocks", "preconditions"}
        for key in sorted(set(data) - known):
            problems.append(f"{key}: is not a part of a plan ({', '.join(sorted(known))})")

        def text(key: str) -> str:
            value = data.get(key)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{key}: must be text, got {value!r}")
                return ""
            return value.strip()

        def table(key: str) -> Mapping[str, Any]:
            value = data.get(key, {})
            if not isinstance(value, Mapping):
                problems.append(f"[{key}]: must be a table, got {value!r}")
                return {}
            return value

        name = text("plan")
        if name and not _NAME.fullmatch(name):
            problems.append(f"plan: {name!r} is not a name (letters, digits, . _ -; 80 at most)")
        source, target = text("from"), text("to")
        doc = data.get("doc", "")
        if not isinstance(doc, str):
            problems.append(f"doc: must be text, got {doc!r}")
            doc = ""
        states = {str(k): v for k, v in table("states").items()}
        clocks = {str(k): v for k, v in table("clocks").items()}
        preconditions: dict[str, tuple[str, ...]] = {}
        for state, names in table("preconditions").items():
            if isinstance(names, str):
                names = [names]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                problems.append(f"preconditions.{state}: must be a list of names, got {names!r}")
                continue
            preconditions[str(state)] = tuple(names)
        if problems:
            raise _plan_error(where, problems)
        plan = cls(name, source, target, states, clocks, preconditions, doc)
        plan.check(where=where)
        return plan

    def check(self, *, where: str = "plan") -> None:
        """Raise :class:`InvalidInput` listing every way the plan does not fit the registered
        definitions: unknown versions, a source state not mapped or mapped to a state the
        target does not have unfinished, a clock not named or named wrong, a precondition
        unknown."""
        problems: list[str] = []
        try:
            source: Definition | None = resolve(self.source, "from")
        except InvalidInput as exc:
            problems.append(f"from: {exc.message}")
            source = None
        try:
            target: Definition | None = resolve(self.target, "to")
        except InvalidInput as exc:
            problems.append(f"to: {exc.message}")
            target = None
        if source is not None and target is not None and source.key == target.key:
            problems.append(f"to: is {target.key}, the version it moves from")
        if source is not None:
            unfinished = _unfinished(source.table)
            for state in unfinished:
                if state not in self.states:
                    problems.append(
                        f"states.{state}: is not mapped; every unfinished state of "
                        f"{source.key} must be"
                    )
            for state in self.states:
                if state not in unfinished:
                    what = "a final" if state in source.table.state_names else "no"
                    problems.append(
                        f"states.{state}: is {what} state of {source.key}; map its unfinished "
                        f"states ({', '.join(unfinished)})"
                    )
            for state in self.preconditions:
                if state not in unfinished:
                    problems.append(
                        f"preconditions.{state}: is no unfinished state of {source.key}"
                    )
        if target is not None:
            open_states = _unfinished(target.table)
            for state, mapped in self.states.items():
                if mapped not in open_states:
                    problems.append(
                        f"states.{state}: maps to {mapped!r}, which is no unfinished state of "
                        f"{target.key} ({', '.join(open_states)})"
                    )
        for clock in CLOCKS:
            if clock not in self.clocks:
                problems.append(
                    f"clocks.{clock}: is not named; say keep, recount or later ({CLOCKS[clock]})"
                )
        for clock, treatment in self.clocks.items():
            if clock not in CLOCKS:
                problems.append(f"clocks.{clock}: is no clock ({', '.join(CLOCKS)})")
            elif treatment not in TREATMENTS:
                problems.append(f"clocks.{clock}: is {treatment!r}; say keep, recount or later")
        for state, names in self.preconditions.items():
            for name in names:
                if name not in PRECONDITIONS:
                    problems.append(
                        f"preconditions.{state}: {name!r} is no precondition "
                        f"({', '.join(PRECONDITIONS)})"
                    )
        if problems:
            raise _plan_error(where, problems)


def _plan_error(where: str, problems: Sequence[str]) -> InvalidInput:
    lines = "; ".join(problems[:_MOST_PROBLEMS])
    more = len(problems) - _MOST_PROBLEMS
    if more > 0:
        lines += f"; and {more} more"
    return InvalidInput(f"{where}: {len(problems)} problem(s): {lines}", field="plan")


def _unfinished(table: Table) -> tuple[str, ...]:
    return tuple(s for s in table.state_names if s not in table.final_states)


Shape = tuple[str, bool, bool, bool, tuple[str, ...]]


def _shape(order: Order) -> Shape:
    """What of an order a version's table must have produced: its state, whether a refund is
    pending, whether it was dispatched and delivered, and which of the state's selectors hold
    (a cancellation refund or a claim refund pending)."""
    from .testing.paths import _selectors  # the paths explore the table the same way

    return (
        order.state,
        order.pending_refund is not None,
        order.dispatched_at is not None,
        order.delivered_at is not None,
        _selectors(order),
    )


@lru_cache(maxsize=32)
def _shapes(key: str, policy: Policy) -> frozenset[Shape]:
    """Every shape an order of the version ``key`` under ``policy`` takes on some path: the
    test kit's exploration of the table (each distinct situation once)."""
    from .testing.paths import Start, _explore, _root

    start = Start(policy=policy, definition=key)
    return frozenset(_shape(node.order) for node, _ in _explore(_root(start)))


# --------------------------------------------------------------------------------------------
# One order


Status = Literal["migrates", "migrated", "already", "blocked"]


@attrs.frozen
class Outcome:
    """What a plan does to one order: it ``migrates`` (a dry run), was ``migrated`` (applied),
    runs under the target ``already`` (another run moved it meanwhile) or is ``blocked``,
    with the ``reason`` (a short key, counted) and its ``detail``."""

    order_id: str
    status: Status
    source_state: str
    target_state: str | None = None
    reason: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return attrs.asdict(self)


def _choose(treatment: Treatment, kept: Any, counted: Any) -> Any:
    if treatment == "keep":
        return kept
    if treatment == "recount":
        return counted
    return max(kept, counted)


def deadlines(order: Order, plan: Plan) -> dict[str, dt.datetime | dt.date]:
    """The deadlines ``order`` runs on after ``plan``: each running clock kept, recounted
    (from the moment its window opened, by the order's policy and the calendar installed
    now) or the later of the two, as the plan says."""
    policy = order.policy
    cal = policy.business_calendar
    out: dict[str, dt.datetime | dt.date] = {}
    out["dispatch_deadline"] = _choose(
        plan.clocks["dispatch"],
        order.dispatch_deadline,
        cal.business_deadline(order.paid_at, policy.dispatch_business_days),
    )
    if order.claim_deadline is not None and order.delivered_at is not None:
        out["claim_deadline"] = _choose(
            plan.clocks["claim"],
            order.claim_deadline,
            cal.calendar_deadline(order.delivered_at, policy.claim_window_days),
        )
    pending = order.pending_refund
    if pending is not None and pending.repayment_deadline is not None:
        first, last = policy.repayment_business_days
        kept = (pending.repayment_deadline, pending.repayment_earliest)
        counted = (
            cal.business_deadline(pending.opened_at, last),
            cal.business_deadline(pending.opened_at, first).date(),
        )
        deadline, earliest = _choose(plan.clocks["repayment"], kept, counted)
        out["repayment_deadline"] = deadline
        if earliest is not None:
            out["repayment_earliest"] = earliest
    return out


def migrate(order: Order, plan: Plan, now: dt.datetime) -> tuple[Order | None, Outcome]:
    """``order`` moved by ``plan`` at ``now``, in memory (``order`` itself is left as it
    was), and checked; ``(None, blocked outcome)`` when a precondition fails or the result
    is not an order the target could run."""
    now = require_aware(now, "now")
    oid, state = order.order_id, order.state

    def blocked(reason: str, detail: str) -> tuple[None, Outcome]:
        return None, Outcome(oid, "blocked", state, plan.states.get(state), reason, detail)

    if order.definition == plan.target:
        return None, Outcome(
            oid, "already", state, state, "already", f"it runs under {plan.target}"
        )
    if order.definition != plan.source:
        return blocked("not_source", f"it runs under {order.definition}, not {plan.source}")
    if order.is_final:
        return blocked("finished", f"it is {state}, a final state: finished orders stay")
    for name in plan.preconditions.get(state, ()):
        _, check = PRECONDITIONS[name]
        failed = check(order, plan, now)
        if failed is not None:
            return blocked(name, failed)
    try:
        promised = deadlines(order, plan)
    except InvalidInput as exc:
        return blocked("deadline", f"a deadline cannot be counted again: {exc.message}")
    moved = attrs.evolve(order)
    try:
        switch(
            moved, now, state, plan.states[state], None,
            migration_data(order, plan.target, plan.name, promised),
        )  # fmt: skip
    except InvalidInput as exc:
        return blocked(exc.field or "refused", exc.message)
    problem = _not_runnable(order, moved, promised, now)
    if problem is not None:
        return blocked(*problem)
    return moved, Outcome(oid, "migrates", state, moved.state)


def _not_runnable(
    order: Order, moved: Order, promised: Mapping[str, object], now: dt.datetime
) -> tuple[str, str] | None:
    """Why ``moved`` (``order`` after the migration record) is not an order its new version
    could run, as (reason, detail); ``None`` when it is."""
    try:
        again = Order.from_dict(moved.to_dict())
    except InvalidInput as exc:
        return "replay", f"it does not read back: {exc.message}"
    if again != moved or again.table is not moved.table:
        return "replay", "it reads back as another order"  # pragma: no cover - a replay bug
    for name in ("refunds", "customer_refunds", "notifications", "incidents"):
        if getattr(moved, name) != getattr(order, name):  # pragma: no cover - switch keeps them
            return "ledger", f"its {name} changed"
    ids = {r.event_id for r in order.history if r.event_id is not None}
    if {r.event_id for r in moved.history if r.event_id is not None} != ids:
        return "inbox", "its event ids changed"  # pragma: no cover - switch adds none
    pending = moved.pending_refund
    found = {
        "dispatch_deadline": moved.dispatch_deadline,
        "claim_deadline": moved.claim_deadline,
        "repayment_deadline": None if pending is None else pending.repayment_deadline,
        "repayment_earliest": None if pending is None else pending.repayment_earliest,
    }
    for key, value in promised.items():
        if found[key] != value:  # pragma: no cover - switch sets what it is given
            return "deadline", f"its {key} is {found[key]}, not the {value} promised"
    version = moved.definition
    shapes = frozenset() if version is None else _shapes(version, moved.policy)
    if version is not None and not any(shape[0] == moved.state for shape in shapes):
        return "unreachable", f"{version} can never bring an order to {moved.state}"
    if version is not None and _shape(moved) not in shapes:
        state, owed, dispatched, delivered, selectors = _shape(moved)
        facts = [
            "a refund pending" if owed else "no refund pending",
            "shipped" if dispatched else "never shipped",
            "its delivery confirmed" if delivered else "no delivery confirmed",
            *selectors,
        ]
        return (
            "shape",
            f"{version} never has an order in {state} with {', '.join(facts)}: no path of its "
            "table gives one",
        )
    try:
        moved.refusals(now)
        moved.runtime.clock_due_at(moved)
    except Exception as exc:  # a guard of the target that cannot judge this order
        return (
            "cannot_judge",
            f"{moved.definition} cannot judge an order in {moved.state} like it: "
            f"{type(exc).__name__}: {exc}",
        )
    return None


# --------------------------------------------------------------------------------------------
# A whole store


@attrs.define
class Report:
    """What a plan did (or would do) to a store: ``counts`` per outcome (``migrates``,
    ``migrated``, ``blocked``, and the orders left alone: ``finished``, ``other_versions``),
    blocked orders per ``reason`` with up to ``sample`` ids each (``samples``), and every
    outcome (``outcomes``)."""

    plan: str
    source: str
    target: str
    dry_run: bool
    counts: Counter[str] = attrs.field(factory=Counter)
    reasons: Counter[str] = attrs.field(factory=Counter)
    samples: dict[str, list[str]] = attrs.field(factory=dict)
    outcomes: list[Outcome] = attrs.field(factory=list)
    sample: int = 5

    @property
    def blocked(self) -> int:
        """How many orders are blocked."""
        return self.counts["blocked"]

    def add(self, outcome: Outcome) -> None:
        """Count ``outcome``."""
        self.outcomes.append(outcome)
        self.counts[outcome.status] += 1
        key = outcome.reason if outcome.status == "blocked" else outcome.status
        if outcome.status == "blocked":
            self.reasons[key or "blocked"] += 1
        found = self.samples.setdefault(key or outcome.status, [])
        if len(found) < self.sample:
            found.append(outcome.order_id)

    def to_dict(self, *, every: bool = True) -> dict[str, Any]:
        """Plain JSON types: the plan, counts, reasons with their samples, and every outcome
        (``every``), or those of the blocked orders only, the first 1,000."""
        outcomes = self.outcomes if every else [o for o in self.outcomes if o.status == "blocked"]
        if not every:
            outcomes = outcomes[:1000]
        return {
            "plan": self.plan,
            "from": self.source,
            "to": self.target,
            "dry_run": self.dry_run,
            "counts": dict(self.counts),
            "reasons": dict(self.reasons),
            "samples": self.samples,
            "outcomes": [o.to_dict() for o in outcomes],
        }


def _each(store: OrderStore, plan: Plan, page: int) -> Iterator[str]:
    """The ids of the unfinished orders of the plan's source version, page by page."""
    finals = resolve(plan.source).table.final_states
    after: str | None = None
    while True:
        ids = store.unfinished_ids(plan.source, finals, after=after, limit=page)
        yield from ids
        if len(ids) < page:
            return
        after = ids[-1]


def _count_others(store: OrderStore, plan: Plan, report: Report) -> None:
    """Count the orders the plan leaves alone: the finished ones, those of other versions."""
    per = store.unfinished_by_definition(resolve(plan.source).table.final_states)
    total = sum(store.state_counts().values())
    report.counts["other_versions"] = sum(n for key, n in per.items() if key != plan.source)
    report.counts["finished"] = total - sum(per.values())


def dry_run(
    store: OrderStore, plan: Plan, now: dt.datetime, *, sample: int = 5, page: int = 500
) -> Report:
    """Run ``plan`` at ``now`` on every unfinished order of the source version in ``store``,
    in memory, and report each outcome; nothing is written. An order that cannot be read is
    blocked (reason ``unreadable``)."""
    now = require_aware(now, "now")
    plan.check()
    report = Report(plan.name, plan.source, plan.target, True, sample=sample)
    _count_others(store, plan, report)
    for order_id in _each(store, plan, page):
        try:
            order = store.get(order_id)
        except CorruptOrder as exc:
            report.add(Outcome(order_id, "blocked", "?", None, "unreadable", exc.message))
            continue
        report.add(migrate(order, plan, now)[1])
    return report


def apply(
    store: OrderStore,
    plan: Plan,
    now: dt.datetime,
    *,
    actor: str | None = None,
    sample: int = 5,
    page: int = 500,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Report:
    """Run ``plan`` at ``now`` on every unfinished order of the source version in ``store``
    and write each order that passes, one transaction per order (compare-and-swap on its
    row version, tried again on fresh data when another writer got there first): a
    ``definition_migrated`` log entry from the source to the target version naming the plan,
    logged with ``actor``. Blocked orders are left as they were. Stopped half-way, run it
    again: the orders moved already run under the target and are not listed again."""
    now = require_aware(now, "now")
    if actor is not None:
        actor = require_text(actor, "actor", limit=MAX_ID_LENGTH)
    plan.check()
    report = Report(plan.name, plan.source, plan.target, False, sample=sample)
    _count_others(store, plan, report)
    for order_id in _each(store, plan, page):
        found: list[Outcome] = []

        def move(order: Order, found: list[Outcome] = found) -> bool:
            found.clear()  # tried again on fresh data after a lost swap: judged again
            moved, outcome = migrate(order, plan, now)
            found.append(outcome)
            if moved is None:
                return False
            order.restore(moved.snapshot())
            order.table = moved.table
            return True

        try:  # a store that fails otherwise stops the run: what was written stays
            store.rewrite(order_id, move, source="migration", actor=actor)
        except CorruptOrder as exc:
            found[:] = [Outcome(order_id, "blocked", "?", None, "unreadable", exc.message)]
        except InvalidInput as exc:
            found[:] = [Outcome(order_id, "blocked", "?", None, "refused", exc.message)]
        outcome = found[0]
        if outcome.status == "migrates":
            outcome = attrs.evolve(outcome, status="migrated")
        report.add(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return report
