"""The machine's table against RULES.md: every (state, event) pair, the rule ids, the queries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from statemachine import EVENTS, EventRejected, Order, Policy
from statemachine.declaration._rules import RULES
from statemachine.declaration._table import PROHIBITIONS, TABLE, TRANSITIONS

from .helpers import VARIANTS, reach, t

DATA: dict[str, dict[str, Any]] = {
    "dispatch": {"tracking_number": "LP9"},
    "open_claim": {"reason": "damaged_in_transit", "amount": "10.00"},
    "offer_goodwill_refund": {"amount": "10.00"},
    "reimburse_customer": {"amount": "10.00"},
}

# The events table of RULES.md, written out independently of machine.py: for each variant and
# event, the state after firing at t(5) (before the R1 deadline), or "!" and the rule id that
# refuses it ("!-" where no rule speaks).
EXPECTED = """
event                          paid              cancel_requested  rp:cancel         rp:claim   cancelled  dispatched delivered      refunded
request_cancellation           cancel_requested  !-                !-                !R2        !R14       !R2        !R2            !R14
withdraw_cancellation          !-                paid              !-                !-         !R14       !-         !-             !R14
supplier_declines_cancellation !-                paid              !-                !-         !R14       !-         !-             !R14
supplier_accepts_cancellation  !-                refund_pending    !-                !-         !R14       !-         !-             !R14
dispatch                       dispatched        dispatched        refund_pending    !-         cancelled  !-         !-             !R14
dispatch_deadline_expired      !R12              !R12              !-                !-         !R14       !-         !-             !R14
confirm_delivery               !-                !-                !-                !-         !R14       delivered  !-             !R14
open_claim                     !R8               !R8               !-                !-         !R14       !R8        refund_pending !R14
offer_goodwill_refund          !R10              !R10              !-                !-         !R14       !R10       refund_pending !R14
decline_claim                  !-                !-                !R5               delivered  !R14       !-         !-             !R14
settle_refund                  !-                !-                cancelled         refunded   !R14       !-         !-             !R14
repayment_overdue              !-                !-                !R4               !-         !R14       !-         !-             !R14
reimburse_customer             !R7               !R7               refund_pending    !R7        cancelled  !R7        !R7            refunded
"""


def _expected() -> dict[tuple[str, str], str]:
    lines = [line.split() for line in EXPECTED.strip().splitlines()]
    header = lines[0][1:]
    columns = [
        {"rp:cancel": "refund_pending:cancellation", "rp:claim": "refund_pending:claim"}.get(c, c)
        for c in header
    ]
    return {
        (col, row[0]): cell for row in lines[1:] for col, cell in zip(columns, row[1:], strict=True)
    }


PAIRS = sorted(_expected().items())


def test_expected_matrix_covers_every_event_and_state() -> None:
    """The RULES.md matrix names every event of the table in every state variant."""
    assert {e for (_, e) in _expected()} == set(EVENTS)
    assert {v for (v, _) in _expected()} == set(VARIANTS)


@pytest.mark.parametrize(("pair", "expected"), PAIRS, ids=[f"{v}-{e}" for (v, e), _ in PAIRS])
def test_every_state_event_pair_transitions_or_is_rejected(
    pair: tuple[str, str], expected: str
) -> None:
    """R2 R4 R5 R7 R8 R10 R12 R14: each pair moves as RULES.md says or is refused by its rule,
    and a refusal leaves to_dict() identical."""
    variant, event = pair
    order = reach(variant)
    before = json.dumps(order.to_dict(), sort_keys=True)
    if expected.startswith("!"):
        rule = expected[1:] or None
        with pytest.raises(EventRejected) as info:
            order.fire(event, at=t(5), **DATA.get(event, {}))
        assert info.value.rule == (None if rule == "-" else rule)
        assert info.value.event == event
        assert info.value.state == order.state
        assert info.value.order_id == "AE-1"
        assert order.state in str(info.value)
        assert json.dumps(order.to_dict(), sort_keys=True) == before
    else:
        result = order.fire(event, at=t(5), **DATA.get(event, {}))
        assert order.state == expected == result.dest
        assert order.history[-1].event == event
        assert order.history[-1].dest == expected


def test_r12_switch_removes_auto_close_row() -> None:
    """R12: with auto_close_unshipped off, the policy's machine has no auto-close row and the
    refusal names R12."""
    off = Policy(auto_close_unshipped=False)
    assert all(r.event != "dispatch_deadline_expired" for r in TABLE.rows_for(off))
    order = reach("paid", policy=off)
    with pytest.raises(EventRejected) as info:
        order.fire("dispatch_deadline_expired", at=t(30))
    assert info.value.rule == "R12"
    assert order.tick(t(30)) == []


def test_every_rule_is_enforced_by_the_table_or_the_engine() -> None:
    """R1-R16: every rule id is tied to a guard, effect or refusal, except the engine's own
    R14 (final states), R15 (idempotency) and R16 (time), which Order.fire enforces."""
    enforced = {rid for rid, where in TABLE.rules_enforced().items() if where}
    assert enforced | {"R14", "R15", "R16"} == set(RULES)


def test_guards_and_effects_name_known_rules() -> None:
    """Every guard, effect and refusal names a rule of the rules module."""
    for row in TRANSITIONS:
        assert all(g.rule in RULES for g in row.guards)
        assert all(e.rule is None or e.rule in RULES for e in row.effects)
    assert all(r.rule in RULES for r in PROHIBITIONS)


def test_typed_methods_match_the_events_table() -> None:
    """Each event has a typed method of the same name taking exactly its keyword data."""
    import inspect

    for name, spec in EVENTS.items():
        method = getattr(Order, name)
        params = set(inspect.signature(method).parameters) - {"self", "at", "event_id"}
        assert params == {p.name for p in spec.params}, name
