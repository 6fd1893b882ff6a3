"""A definition: the machine's table, with everything that decides an event, as a named,
versioned and fingerprinted thing (``orders@1`` for the table this package ships).

An order lives for weeks and the rules change meanwhile. So what decides an event has a name
and a version, and a **fingerprint** computed from all of it: the table's data (states,
events with their data and parties, rows, prohibitions), the syntax tree of each guard,
effect, selector, deadline and prohibition it names (docstrings left out, so ``ruff format``
or another Python version does not change it), the :class:`~statemachine.declaration.Policy`
defaults, and the constants guards read (R8's :data:`~statemachine.declaration.CLAIM_REASONS`).
The holidays calendar is left out: the deadlines it counted are stored with the orders that
opened them. An order's own ``Policy`` is data stored with it, not a new version.

The fingerprint recorded for each version is in ``definitions.lock`` beside this module;
``orderfsm definitions --check`` fails when the code's differs from it, so a change to the
rules cannot ship without a new version (the project's own ``make test`` runs it).
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import textwrap
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from typing import Any, Final

import attrs

from ..errors import InvalidInput
from ._policy import Policy
from ._records import CLAIM_REASONS
from ._spec import Table
from ._table import TABLE

__all__ = ["DEFINITIONS", "Definition", "recorded_fingerprints", "shipped"]

LOCK_FILE: Final = "definitions.lock"
"""The file beside this module that records each shipped version's fingerprint."""


def _code(fn: Callable[..., Any] | None) -> str | None:
    """The syntax tree of a function without its docstrings, as text; ``None`` for none."""
    if fn is None:
        return None
    target = inspect.unwrap(fn)
    try:
        source = textwrap.dedent(inspect.getsource(target))
    except (OSError, TypeError):  # a builtin or a function made at run time: its name
        return f"<{getattr(target, '__qualname__', repr(target))}>"
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return json.dumps(_tree(tree), separators=(",", ":"))


_NOT_CODE: Final = frozenset({"ctx", "type_comment", "type_params", "kind"})
"""Fields of a syntax tree that say nothing of what the code does, or that some Python
versions have and others not (3.12's ``type_params``): left out, with empty ones."""


def _tree(node: Any) -> Any:
    """A syntax tree as plain data, the same on every supported Python version."""
    if isinstance(node, ast.AST):
        fields = {
            name: _tree(value)
            for name, value in ast.iter_fields(node)
            if name not in _NOT_CODE and value is not None and value != []
        }
        return [type(node).__name__, fields]
    if isinstance(node, list):
        return [_tree(item) for item in node]
    return repr(node)


def _value(value: Any) -> Any:
    """A policy's value as JSON: dates and other values as their text."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple | frozenset | set):
        items = [_value(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, frozenset | set) else items
    return repr(value)


def describe(table: Table, policy: Policy, constants: Mapping[str, Any]) -> dict[str, Any]:
    """Everything that decides an event, as plain JSON data (what the fingerprint hashes)."""
    return {
        "states": [[s.name, s.initial, s.final] for s in table.states],
        "events": [
            {
                "name": e.name,
                "params": [[p.name, p.kind, p.required, repr(p.default)] for p in e.params],
                "due": None
                if e.due is None
                else [e.due.name, e.due.rule, _code(e.due.fn)],
                "party": e.party,
            }
            for e in table.events.values()
        ],
        "rows": [
            {
                "event": r.event,
                "sources": list(r.sources),
                "dest": r.dest,
                "when": None if r.when is None else [r.when.name, _code(r.when.fn)],
                "guards": [
                    [g.rule, g.name, g.kind, g.needs_data, _code(g.fn),
                     None if g.deadline is None else g.deadline.name]
                    for g in r.guards
                ],
                "effects": [[e.rule, e.name, _code(e.fn)] for e in r.effects],
                "policy_switch": r.policy_switch,
            }
            for r in table.rows
        ],
        "prohibitions": [
            [p.event, list(p.states), p.rule, _code(p.explain), _code(p.when)]
            for p in (*table.prohibitions, table.final_prohibition)
        ],
        "policy": {
            field.name: _value(getattr(policy, field.name)) for field in attrs.fields(Policy)
        },
        "constants": {name: _value(value) for name, value in sorted(constants.items())},
    }  # fmt: skip


@attrs.frozen
class Definition:
    """A named, versioned definition of the order machine: its table, the defaults of its
    ``Policy`` and the constants its guards read."""

    id: str
    version: int
    table: Table = attrs.field(repr=False, eq=False)
    policy: Policy = attrs.field(factory=Policy, repr=False, eq=False)
    constants: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    doc: str = ""

    @property
    def key(self) -> str:
        """``id@version``: ``orders@1``."""
        return f"{self.id}@{self.version}"

    def fingerprint(self) -> str:
        """The SHA-256 of everything that decides an event (:func:`describe`), in hex."""
        text = json.dumps(
            describe(self.table, self.policy, self.constants),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
        )
        return hashlib.sha256(text.encode("ascii")).hexdigest()


def shipped() -> Definition:
    """The definition this package ships: ``orders@1``, the table of ``RULES.md``."""
    return Definition(
        "orders",
        1,
        TABLE,
        Policy(),
        {"CLAIM_REASONS": CLAIM_REASONS},
        "The order lifecycle of RULES.md (R1 to R16).",
    )


DEFINITIONS: Final[dict[str, Definition]] = {"orders@1": shipped()}
"""Every definition known, by key; orders stored before versions existed are ``orders@1``."""


@cache
def recorded_fingerprints() -> dict[str, str]:
    """The fingerprint recorded for each shipped version (``definitions.lock``)."""
    text = resources.files(__package__).joinpath(LOCK_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise InvalidInput(f"{LOCK_FILE} must map each version to its fingerprint", field="lock")
    return data
