"""The rules module is the single source of rule ids R1-R16 and their texts."""

from __future__ import annotations

import pytest

from statemachine.declaration._rules import RULES, rule


def test_rule_ids_are_r1_to_r16_in_order() -> None:
    """R1-R16: the rules module holds exactly the specification's sixteen rules, in order."""
    assert list(RULES) == [f"R{i}" for i in range(1, 17)]
    assert all(r.text and r.title for r in RULES.values())


def test_unknown_rule_id_names_the_id() -> None:
    """Looking up an unknown rule id fails naming it."""
    with pytest.raises(KeyError, match="R99"):
        rule("R99")
