"""The rules module is the single source: ids R1-R16, and the generated rules document."""

from __future__ import annotations

from pathlib import Path

import pytest

from statemachine.docgen import render_rules
from statemachine.rules import RULES, rule

DOC = Path(__file__).parent.parent / "docs" / "rules.md"


def test_rule_ids_are_r1_to_r16_in_order() -> None:
    """R1-R16: the rules module holds exactly the specification's sixteen rules, in order."""
    assert list(RULES) == [f"R{i}" for i in range(1, 17)]
    assert all(r.text and r.title for r in RULES.values())


def test_unknown_rule_id_names_the_id() -> None:
    """Looking up an unknown rule id fails naming it."""
    with pytest.raises(KeyError, match="R99"):
        rule("R99")


def test_rules_document_is_fresh() -> None:
    """docs/rules.md is exactly what `make docs` generates from the code (R1-R16 included)."""
    assert DOC.read_text(encoding="utf-8") == render_rules(), "run `make docs`"


def test_rules_document_lists_every_rule_and_event_row() -> None:
    """Every rule id and every event of the table appears in the generated document."""
    text = render_rules()
    for rid, r in RULES.items():
        assert f"| {rid} | **{r.title}.**" in text
    for event in ("request_cancellation", "dispatch_deadline_expired", "reimburse_customer"):
        assert f"| `{event}` |" in text
