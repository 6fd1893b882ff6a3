"""The users' rules document (statemachine._docgen) is generated from the code and kept fresh."""

from __future__ import annotations

from pathlib import Path

from statemachine._docgen import render_rules
from statemachine.declaration._rules import RULES
from statemachine.declaration._table import TABLE

DOC = Path(__file__).parent.parent / "docs" / "rules.md"


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


def test_rules_document_states_come_from_the_state_specs() -> None:
    """Each state's row in the document carries its spec's meaning, initial and final marks."""
    text = render_rules()
    for state in TABLE.states:
        label = f"`{state.name}` (initial)" if state.initial else f"`{state.name}`"
        assert f"| {label} | {state.doc} | {'yes' if state.final else 'no'} |" in text


def test_the_api_document_is_fresh_and_lists_every_public_name() -> None:
    """docs/api.md is what `make docs` generates: every public module with every name of its
    __all__, each name importable from it."""
    import importlib

    from statemachine._docgen import PUBLIC_MODULES, render_api

    text = render_api()
    assert (DOC.parent / "api.md").read_text(encoding="utf-8") == text, "run `make docs`"
    for name, _ in PUBLIC_MODULES:
        module = importlib.import_module(name)
        assert f"## `{name}`" in text
        for public in module.__all__:
            assert hasattr(module, public), (name, public)
            assert f"| `{public}` |" in text
