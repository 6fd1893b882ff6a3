"""Static checks of the machine's table, run when a machine is built.

:func:`check_table` looks at the rows of :data:`~statemachine.declaration.TRANSITIONS` (as a policy
sees them) and the :data:`~statemachine.declaration.PROHIBITIONS`, without firing anything, and
raises :class:`~statemachine.errors.TableError` listing every problem it finds:

* a row names a state or an event that does not exist, or a rule that is not in
  :data:`~statemachine.declaration.RULES`;
* a row leaves a final state (R14: final states only record the late facts of R7);
* a state cannot be reached from the initial state ``paid``;
* a non-final state cannot reach any final state (an order could be stuck for ever);
* a rule is enforced by no guard, no effect and no prohibition, and is not one of the rules the
  engine itself enforces (:data:`ENGINE_RULES`);
* a (state, event) pair is ambiguous: two rows of one event from one state whose selectors can
  both hold (rows with different ``when`` selectors are taken to exclude each other);
* a prohibition can never apply because an unconditional row always takes its event there.

>>> from statemachine.declaration._table import PROHIBITIONS, TRANSITIONS
>>> check_table(TRANSITIONS, prohibitions=PROHIBITIONS)  # the shipped table is sound
>>> check_table(TRANSITIONS[:1], prohibitions=PROHIBITIONS)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
statemachine.errors.TableError: the machine's table is broken (... problems):
  - state 'refund_pending' cannot be reached from 'paid'
...
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping
from typing import Final

from ..errors import TableError
from ._rules import RULES
from ._spec import EventSpec, Prohibition, TransitionSpec
from ._table import EVENTS, FINAL_STATES, INITIAL_STATE, STATES

__all__ = ["ENGINE_RULES", "INITIAL_STATE", "TableError", "check_table", "graph"]

ENGINE_RULES: Final[Mapping[str, str]] = {
    "R14": "Table.prohibition_for: a final state refuses every event the table gives it no row "
    "for, and Order.tick fires no clock event there",
    "R15": "Order.fire: an event_id already applied is a duplicate (checked before anything else)",
    "R16": "Order.fire: naive timestamps, events before payment or before the last record",
}
"""Rules that the runtime (:mod:`statemachine.runtime._machine`) and the table's queries enforce for
every event, so no row of the table carries them. This is the one place that says so:
:func:`check_table` accepts a rule without a guard, effect or prohibition only if it is listed
here."""


def graph(transitions: Iterable[TransitionSpec]) -> dict[str, set[str]]:
    """Each state with the states one row takes it to (internal rows point back to it)."""
    edges: dict[str, set[str]] = {}
    for t in transitions:
        for source in t.sources:
            edges.setdefault(source, set()).add(t.dest_from(source))
    return edges


def _reachable(edges: Mapping[str, Collection[str]], start: str) -> set[str]:
    seen, todo = {start}, deque([start])
    while todo:
        for nxt in edges.get(todo.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def check_table(
    transitions: Iterable[TransitionSpec],
    *,
    prohibitions: Iterable[Prohibition] = (),
    events: Mapping[str, EventSpec] = EVENTS,
    states: Collection[str] = STATES,
    final_states: Collection[str] = FINAL_STATES,
    initial: str = INITIAL_STATE,
    rules: Collection[str] = tuple(RULES),
    engine_rules: Collection[str] = tuple(ENGINE_RULES),
) -> None:
    """Raise :class:`TableError` naming every problem of the table; return ``None`` if sound.

    ``prohibitions`` are the table's; the other arguments default to the shipped
    table's. See the module docstring for the checks.
    """
    rows = tuple(transitions)
    prohibitions = tuple(prohibitions)
    problems: list[str] = []

    # Names: states, events, rules.
    for t in rows:
        if t.event not in events:
            problems.append(f"row {t.label()!r} names the unknown event {t.event!r}")
        for state in (*t.sources, *(() if t.dest is None else (t.dest,))):
            if state not in states:
                problems.append(f"row {t.label()!r} names the unknown state {state!r}")
        for g in t.guards:
            if g.rule not in rules:
                problems.append(f"guard {g.name} of row {t.label()!r} names unknown rule {g.rule}")
        for e in t.effects:
            if e.rule is not None and e.rule not in rules:
                problems.append(f"effect {e.name} of row {t.label()!r} names unknown rule {e.rule}")
        for source in t.sources:
            if source in final_states and t.dest_from(source) != source:
                problems.append(
                    f"row {t.label()!r} leaves the final state {source!r} (R14: a final state "
                    "only records the late facts of R7)"
                )
    for r in prohibitions:
        if r.rule not in rules:
            problems.append(f"the prohibition of {r.event} names unknown rule {r.rule}")
        for state in r.states:
            if state not in states:
                problems.append(f"the prohibition of {r.event} names the unknown state {state!r}")
    for rid in engine_rules:
        if rid not in rules:
            problems.append(f"engine rule {rid} is not a rule")
    for spec in events.values():
        if spec.party is None:
            problems.append(
                f"event {spec.name!r} declares no party (who sends it: customer, supplier, "
                "carrier, merchant, funder or clock); roles are checked against it"
            )

    # Reachability from the initial state, and a way out to a final state from everywhere.
    edges = graph(rows)
    reached = _reachable(edges, initial)
    for state in states:
        if state not in reached:
            problems.append(f"state {state!r} cannot be reached from {initial!r}")
    finals = set(final_states)
    for state in states:
        if state in finals or state not in reached:
            continue
        if not _reachable(edges, state) & finals:
            problems.append(
                f"state {state!r} is not final and cannot reach a final state "
                f"({', '.join(sorted(finals))})"
            )

    # Every rule is enforced somewhere.
    enforced = {g.rule for t in rows for g in t.guards}
    enforced |= {e.rule for t in rows for e in t.effects if e.rule is not None}
    enforced |= {r.rule for r in prohibitions}
    enforced |= set(engine_rules)
    for rid in rules:
        if rid not in enforced:
            problems.append(
                f"rule {rid} is enforced by no guard, effect or prohibition of the table, and is "
                "not an engine rule (statemachine.declaration.ENGINE_RULES)"
            )

    # Ambiguity: two rows of one event from one state whose selectors can both hold.
    by_pair: dict[tuple[str, str], list[TransitionSpec]] = {}
    for t in rows:
        for source in t.sources:
            by_pair.setdefault((source, t.event), []).append(t)
    for (state_name, event), pair_rows in by_pair.items():
        for i, a in enumerate(pair_rows):
            for b in pair_rows[i + 1 :]:
                if a.when is None or b.when is None or a.when.name == b.when.name:
                    problems.append(
                        f"({state_name}, {event}) is ambiguous: rows {a.label()!r} and "
                        f"{b.label()!r} can both apply; give them different `when` selectors"
                    )
    # A prohibition shadowed by an unconditional row never applies.
    for r in prohibitions:
        if r.when is not None or r.event is None:  # conditional: maybe for another policy
            continue
        for state in r.states:
            for t in by_pair.get((state, r.event), ()):
                if t.when is None:
                    problems.append(
                        f"the {r.rule} prohibition of {r.event} in {state!r} can never apply: "
                        f"row {t.label()!r} always takes that event there"
                    )
                    break

    if problems:
        raise TableError(problems)
