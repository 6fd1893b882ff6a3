"""The traceability table of ``orderfsm rules``: each rule, where the table enforces it, and the
tests that prove it.

Everything but the tests is read from the machine's table (:data:`~statemachine.declaration.TABLE`:
its rows, guards, effects and prohibitions) and :data:`~statemachine.declaration.RULES`. The tests
are found by reading the test suite, when it sits next to the package (a source checkout): a
test proves a rule when its docstring names the rule's id (``R13: a claim 16 days after
delivery is refused``) or its name carries it (``test_..._r14``). An installed wheel has no
tests; the table then says so.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import attrs

from ..declaration._checks import ENGINE_RULES
from ..declaration._rules import RULES, Rule
from ..declaration._table import TABLE
from ..diagrams import edges

__all__ = ["RuleTrace", "find_tests", "tests_by_rule", "trace"]

_IN_TEXT: Final = re.compile(r"\bR(\d{1,2})\b")
_IN_NAME: Final = re.compile(r"(?:^|_)r(\d{1,2})(?=_|$)")


@attrs.frozen
class RuleTrace:
    """One rule and what carries it out: the transitions whose guards check it or whose
    effects do it, the guards, effects and prohibitions by name, and the tests naming it."""

    rule: Rule
    transitions: tuple[str, ...]
    enforced_by: tuple[str, ...]
    tests: tuple[str, ...]

    @property
    def events(self) -> tuple[str, ...]:
        """The events of :attr:`transitions`, each once (or ``every event``)."""
        return tuple(dict.fromkeys(t.split(":", 1)[0].split(" (", 1)[0] for t in self.transitions))

    def to_dict(self) -> dict[str, object]:
        """Plain JSON types."""
        return {
            "rule": self.rule.id,
            "title": self.rule.title,
            "source": self.rule.source,
            "transitions": list(self.transitions),
            "enforced_by": list(self.enforced_by),
            "tests": list(self.tests),
        }


def find_tests(start: Path | None = None) -> Path | None:
    """The test suite next to the package, in a source checkout; ``None`` in an installed
    wheel. The folder must be ``tests`` beside a ``pyproject.toml`` naming this project, in
    ``start`` (by default the folder holding the package)."""
    root = Path(__file__).resolve().parents[2] if start is None else start
    project = root / "pyproject.toml"
    tests = root / "tests"
    if not (tests.is_dir() and project.is_file()):
        return None
    try:
        named = 'name = "order-statemachine"' in project.read_text(encoding="utf-8")
    except OSError:
        return None
    return tests if named else None


def _test_functions(tree: ast.Module) -> Iterator[tuple[str, str]]:
    """(test id within the file, text naming rules: the name and docstring) of each test."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            yield node.name, ast.get_docstring(node) or ""
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    item.name.startswith("test")
                ):
                    yield f"{node.name}::{item.name}", ast.get_docstring(item) or ""


def tests_by_rule(tests: Path) -> dict[str, list[str]]:
    """Each rule id with the tests under ``tests`` that name it (``path::test``, sorted)."""
    found: dict[str, list[str]] = {rid: [] for rid in RULES}
    base = tests.parent
    for path in sorted(tests.rglob("test_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        where = path.relative_to(base).as_posix()
        for name, doc in _test_functions(tree):
            ids = {f"R{n}" for n in _IN_TEXT.findall(doc)}
            ids |= {f"R{n}" for n in _IN_NAME.findall(name.rsplit("::", 1)[-1])}
            for rid in sorted(ids & set(found)):
                found[rid].append(f"{where}::{name}")
    return found


def trace(tests: Path | None) -> list[RuleTrace]:
    """The traceability of every rule, in rule order; ``tests`` empty when ``tests`` is None."""
    transitions: dict[str, list[str]] = {rid: [] for rid in RULES}
    for edge in edges():
        for rid in dict.fromkeys((*edge.guard_rules, *edge.effect_rules)):
            where = f"in {edge.source}" if edge.internal else f"{edge.source} -> {edge.dest}"
            text = f"{edge.event}: {where}"
            if text not in transitions[rid]:
                transitions[rid].append(text)
    for rid, where in ENGINE_RULES.items():
        transitions[rid].append(f"every event ({where.split(':', 1)[0]})")
    enforced = TABLE.rules_enforced()
    proved = tests_by_rule(tests) if tests is not None else {}
    return [
        RuleTrace(
            rule,
            tuple(transitions[rid]),
            tuple(enforced.get(rid, ())),
            tuple(proved.get(rid, ())),
        )
        for rid, rule in RULES.items()
    ]
