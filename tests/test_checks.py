"""The static checks of the table (statemachine.declaration._checks): a sound table passes,
broken ones fail."""

from __future__ import annotations

import attrs
import pytest

from statemachine import Policy
from statemachine.declaration._checks import ENGINE_RULES, TableError, check_table, graph
from statemachine.declaration._rules import RULES
from statemachine.declaration._spec import TransitionSpec, When
from statemachine.declaration._table import PROHIBITIONS, TABLE, TRANSITIONS
from statemachine.runtime._machine import build_machine, machine_for


def _without(pred: object) -> tuple[TransitionSpec, ...]:
    return tuple(t for t in TRANSITIONS if not pred(t))  # type: ignore[operator]


def _problems(rows: tuple[TransitionSpec, ...], **kwargs: object) -> tuple[str, ...]:
    with pytest.raises(TableError) as caught:
        check_table(rows, prohibitions=kwargs.pop("prohibitions", PROHIBITIONS), **kwargs)  # type: ignore[arg-type]
    return caught.value.problems


@pytest.mark.parametrize(
    "policy",
    [Policy(), Policy(auto_close_unshipped=False), Policy(dispatch_business_days=3)],
    ids=["default", "auto-close-off", "short-dispatch"],
)
def test_shipped_table_passes_under_each_policy(policy: Policy) -> None:
    """The shipped table is sound under every policy switch, so machine_for builds (R12 off too)."""
    check_table(TABLE.rows_for(policy), prohibitions=PROHIBITIONS)
    assert machine_for(policy) is machine_for(policy)


def test_engine_rules_are_exactly_r14_r15_r16() -> None:
    """R14, R15 and R16 are declared in one place as enforced by Order.fire, not by rows."""
    assert set(ENGINE_RULES) == {"R14", "R15", "R16"}
    assert set(ENGINE_RULES) <= set(RULES)


def test_every_other_rule_is_carried_by_the_table() -> None:
    """Every rule that is not an engine rule has a guard, effect or prohibition in the table."""
    carried = {g.rule for t in TRANSITIONS for g in t.guards}
    carried |= {e.rule for t in TRANSITIONS for e in t.effects if e.rule}
    carried |= {r.rule for r in PROHIBITIONS}
    assert set(RULES) - set(ENGINE_RULES) <= carried


def test_unreachable_state_is_named() -> None:
    """Without the rows into `delivered`, `delivered` (and `refunded`) cannot be reached."""
    problems = _problems(_without(lambda t: t.dest == "delivered"))
    assert "state 'delivered' cannot be reached from 'paid'" in problems


def test_dead_end_state_is_named() -> None:
    """A non-final state with no way to a final state is a problem (an order stuck for ever)."""
    rows = _without(lambda t: "refund_pending" in t.sources and t.dest is not None)
    problems = _problems(rows)
    assert any(
        p.startswith("state 'refund_pending' is not final and cannot reach") for p in problems
    )


def test_rule_without_guard_effect_or_prohibition_is_named() -> None:
    """R10 loses its only guard and prohibition: the table no longer enforces it."""
    rows = tuple(
        attrs.evolve(t, guards=tuple(g for g in t.guards if g.rule != "R10")) for t in TRANSITIONS
    )
    prohibitions = tuple(r for r in PROHIBITIONS if r.rule != "R10")
    problems = _problems(rows, prohibitions=prohibitions)
    assert any(p.startswith("rule R10 is enforced by no guard") for p in problems)


def test_engine_rule_must_be_declared() -> None:
    """If R16 were not declared an engine rule, the check would say nobody enforces it."""
    problems = _problems(TRANSITIONS, engine_rules=("R14", "R15"))
    assert any(p.startswith("rule R16 is enforced by no guard") for p in problems)


def test_ambiguous_pair_is_named() -> None:
    """Two unconditional rows of `dispatch` from `paid` make (paid, dispatch) ambiguous."""
    extra = TransitionSpec("dispatch", ("paid",), "delivered")
    problems = _problems((*TRANSITIONS, extra))
    assert any(p.startswith("(paid, dispatch) is ambiguous") for p in problems)


def test_same_selector_twice_is_ambiguous() -> None:
    """Two rows with the same `when` selector from one state can both hold."""
    settle = next(t for t in TRANSITIONS if t.event == "settle_refund" and t.dest == "refunded")
    twin = attrs.evolve(settle, when=next(t.when for t in TRANSITIONS if t.when is not None))
    clone = attrs.evolve(twin, dest="cancelled")
    problems = _problems((*_without(lambda t: t.event == "settle_refund"), twin, clone))
    assert any(p.startswith("(refund_pending, settle_refund) is ambiguous") for p in problems)


def test_different_selectors_are_not_ambiguous() -> None:
    """Rows told apart by different `when` selectors pass (settle_refund's two rows)."""
    rows = [t for t in TRANSITIONS if t.event == "settle_refund"]
    assert len(rows) == 2
    assert {t.when.name for t in rows if t.when} == {"cancellation_refund", "claim_refund"}
    check_table(TRANSITIONS, prohibitions=PROHIBITIONS)


def test_row_leaving_a_final_state_is_named() -> None:
    """R14: a row taking `cancelled` back to `paid` is refused by the check."""
    extra = TransitionSpec("withdraw_cancellation", ("cancelled",), "paid")
    problems = _problems((*TRANSITIONS, extra))
    assert any("leaves the final state 'cancelled'" in p for p in problems)


def test_unknown_names_are_named() -> None:
    """A row with an unknown state or event, or a guard naming an unknown rule, is named."""
    guard = attrs.evolve(TRANSITIONS[0].guards[0], rule="R99")
    rows = (
        *TRANSITIONS,
        TransitionSpec("teleport", ("paid",), "delivered"),
        TransitionSpec("confirm_delivery", ("lost",), None),
        attrs.evolve(TRANSITIONS[0], sources=("delivered",), guards=(guard,)),
    )
    problems = _problems(rows)
    assert any("unknown event 'teleport'" in p for p in problems)
    assert any("unknown state 'lost'" in p for p in problems)
    assert any("names unknown rule R99" in p for p in problems)


def test_shadowed_prohibition_is_named() -> None:
    """An unconditional prohibition for a pair a row always takes can never apply."""
    r2 = next(r for r in PROHIBITIONS if r.rule == "R2" and r.when is None)
    problems = _problems(
        TRANSITIONS, prohibitions=(*PROHIBITIONS, attrs.evolve(r2, states=("paid",)))
    )
    assert any(
        p.startswith("the R2 prohibition of request_cancellation in 'paid'") for p in problems
    )


def test_every_problem_is_listed_at_once() -> None:
    """The error lists every problem, one per line, so one run shows all that is wrong."""
    with pytest.raises(TableError) as caught:
        check_table(TRANSITIONS[:1], prohibitions=PROHIBITIONS)
    err = caught.value
    assert len(err.problems) > 3
    assert str(err).count("\n  - ") == len(err.problems)
    assert isinstance(err, ValueError)


def test_broken_table_fails_when_the_machine_is_built() -> None:
    """build_machine runs the checks: a table with an unreachable state fails at build time."""
    broken = attrs.evolve(TABLE, rows=_without(lambda t: t.dest == "delivered"))
    with pytest.raises(TableError, match="state 'delivered' cannot be reached"):
        build_machine(broken, Policy())


def test_graph_is_the_table() -> None:
    """graph() has an edge for each row from each source (internal rows loop back)."""
    edges = graph(TRANSITIONS)
    for t in TRANSITIONS:
        for source in t.sources:
            assert t.dest_from(source) in edges[source]
    assert "cancelled" in edges["cancelled"]  # the R7 dispatch after cancellation


def test_selector_objects_are_compared_by_name() -> None:
    """Two selector objects with the same name count as the same selector."""
    sel = When("cancellation_refund", lambda order: True, "copy")
    rows = [t for t in TRANSITIONS if t.event == "repayment_overdue"]
    twin = attrs.evolve(rows[0], when=sel, guards=())
    problems = _problems((*TRANSITIONS, twin))
    assert any(p.startswith("(refund_pending, repayment_overdue) is ambiguous") for p in problems)
