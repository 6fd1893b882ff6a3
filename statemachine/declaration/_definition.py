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
import importlib
import inspect
import json
import re
import textwrap
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Final

import attrs

from ..errors import InvalidInput
from ._policy import Policy
from ._records import CANCELLATION_REASONS, CLAIM_REASONS
from ._spec import EventSpec, Table
from ._table import TABLE

__all__ = [
    "DEFAULT_DEFINITION",
    "DEFINITIONS",
    "Definition",
    "caller_events",
    "clock_events",
    "definition_of",
    "event_spec",
    "known_events",
    "known_final_states",
    "known_states",
    "load_definitions",
    "recorded_fingerprints",
    "register",
    "resolve",
    "shipped",
]

LOCK_FILE: Final = "definitions.lock"
"""The file beside this module that records each shipped version's fingerprint."""


def _code(fn: Callable[..., Any] | None) -> str | None:
    """The syntax tree of a function without its docstrings, as text, with the trees of the
    functions of its own package it calls (all the way down: a guard's helpers decide too)
    and the values of the constants it reads; ``None`` for none."""
    if fn is None:
        return None
    seen: dict[str, Any] = {}
    _collect(inspect.unwrap(fn), seen)
    return json.dumps(seen, sort_keys=True, separators=(",", ":"))


def _collect(target: Any, seen: dict[str, Any]) -> None:
    """Put the tree of ``target`` in ``seen`` under its qualified name, then those of the
    functions and the values of the constants its code names, from its package."""
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"
    if name in seen:
        return
    try:
        source = textwrap.dedent(inspect.getsource(target))
    except (OSError, TypeError):  # a builtin or a function made at run time: its name
        seen[name] = f"<{name}>"
        return
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
    seen[name] = _tree(tree)
    package = str(getattr(target, "__module__", "")).split(".")[0]
    names = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)})
    scope = getattr(target, "__globals__", {})
    for used in names:
        value = scope.get(used)
        if value is None:
            continue
        inner = getattr(value, "fn", None)  # a Guard, an Effect, a When, a Deadline
        if inner is not None and callable(inner) and not isinstance(value, type):
            value = inner
        if inspect.isfunction(value) and value.__module__.split(".")[0] == package:
            _collect(value, seen)
        elif isinstance(value, str | int | float | bool | tuple | frozenset | Decimal):
            seen[f"{name}:{used}"] = _value(value)


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
    recorded: str | None = attrs.field(default=None, eq=False, repr=False)
    """The fingerprint recorded for this version where it is declared (a definition of your
    own); the package's versions are recorded in ``definitions.lock``. ``orderfsm definitions
    --check`` compares the fingerprint with it."""

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


def shipped() -> Definition:
    """The definition this package ships: ``orders@1``, the table of ``RULES.md``."""
    return Definition(
        "orders",
        1,
        TABLE,
        Policy(),
        {"CANCELLATION_REASONS": CANCELLATION_REASONS, "CLAIM_REASONS": CLAIM_REASONS},
        "The order lifecycle of RULES.md (R1 to R16).",
        recorded=recorded_fingerprints().get("orders@1"),
    )


DEFAULT_DEFINITION: Final = "orders@1"
"""The version new orders are created under unless a setting names another, and the one of
every order stored before versions existed."""

DEFINITIONS: Final[dict[str, Definition]] = {DEFAULT_DEFINITION: shipped()}
"""Every definition registered in this process, by key (:func:`register`); read it, do not
change it."""

_BY_TABLE: Final[dict[int, Definition]] = {
    id(DEFINITIONS[DEFAULT_DEFINITION].table): DEFINITIONS[DEFAULT_DEFINITION]
}
"""The registered definitions by the identity of their tables (an order knows its table)."""

_KEY: Final = re.compile(r"[a-z][a-z0-9_-]{0,39}@[1-9][0-9]{0,5}")


def register(definition: Definition) -> Definition:
    """Make ``definition`` known to this process: orders may then be created under it, read
    back, replayed and migrated to or from it. The table is checked first (a broken table is
    :class:`~statemachine.errors.TableError` listing every problem). Registering the same
    definition again does nothing; another definition under a key already taken, or a table
    already registered under another key, is :class:`InvalidInput`."""
    if not isinstance(definition, Definition):
        raise InvalidInput(
            f"register() takes a Definition, got {type(definition).__name__}", field="definition"
        )
    key = definition.key
    if not _KEY.fullmatch(key):
        raise InvalidInput(
            f"a definition's key is a lower-case name, '@' and a version from 1: got {key!r}",
            field="definition",
        )
    known = DEFINITIONS.get(key)
    if known is not None:
        if known.table is definition.table and known.fingerprint() == definition.fingerprint():
            return known
        raise InvalidInput(
            f"{key} is already registered with other rules; give the changed table a new version",
            field="definition",
        )
    other = _BY_TABLE.get(id(definition.table))
    if other is not None:
        raise InvalidInput(
            f"the table of {key} is already registered as {other.key}: a table is one version",
            field="definition",
        )
    from ..runtime._machine import runtime_for  # the runtime builds on the declaration

    runtime_for(definition.table, definition.policy)  # checks the table
    DEFINITIONS[key] = definition
    _BY_TABLE[id(definition.table)] = definition
    return definition


def known_events() -> tuple[str, ...]:
    """Every event of a registered definition, each once, in registration and table order."""
    return tuple(dict.fromkeys(e for d in DEFINITIONS.values() for e in d.table.events))


def event_spec(name: str) -> EventSpec | None:
    """The spec of the event ``name`` in the first registered definition that has it."""
    for definition in DEFINITIONS.values():
        found = definition.table.events.get(name)
        if found is not None:
            return found
    return None


def caller_events() -> tuple[str, ...]:
    """Every event a caller sends in some registered definition, each once."""
    return tuple(e for e in known_events() if not _is_clock(e))


def clock_events() -> tuple[str, ...]:
    """Every event the clock sends in some registered definition, each once."""
    return tuple(e for e in known_events() if _is_clock(e))


def _is_clock(name: str) -> bool:
    spec = event_spec(name)
    return spec is not None and spec.clock


def known_states() -> tuple[str, ...]:
    """Every state of a registered definition, each once, in registration and table order."""
    return tuple(dict.fromkeys(s for d in DEFINITIONS.values() for s in d.table.state_names))


def known_final_states() -> frozenset[str]:
    """Every state that is final in some registered definition."""
    return frozenset(s for d in DEFINITIONS.values() for s in d.table.final_states)


def definition_of(table: Table) -> Definition | None:
    """The registered definition whose table ``table`` is, or ``None``."""
    return _BY_TABLE.get(id(table))


def resolve(key: object, field: str = "definition") -> Definition:
    """The registered definition called ``key`` (``orders@1``); :class:`InvalidInput` naming
    ``field`` and the versions known when there is none."""
    if isinstance(key, Definition):
        return register(key)
    found = DEFINITIONS.get(key) if isinstance(key, str) else None
    if found is None:
        known = ", ".join(DEFINITIONS)
        raise InvalidInput(
            f"{field} {key!r} is not a registered definition (known here: {known}); register "
            "it in code, or name the module that does with --definitions MODULE or "
            "ORDERFSM_DEFINITIONS",
            field=field,
        )
    return found


def load_definitions(module: str) -> tuple[Definition, ...]:
    """Import ``module`` (a dotted name, like ``statemachine.examples.risk_hold``) and register
    the definitions it declares: its ``DEFINITIONS`` (a sequence of :class:`Definition`) or its
    ``DEFINITION``. Several modules may be named, separated by commas. What it registered is
    returned; a module that cannot be imported or declares none is :class:`InvalidInput`."""
    found: list[Definition] = []
    for name in (part.strip() for part in module.split(",")):
        if not name:
            continue
        try:
            loaded = importlib.import_module(name)
        except (Exception, SystemExit) as exc:  # an import runs the user's code: theirs
            raise InvalidInput(
                f"definitions module {name!r} cannot be imported: {type(exc).__name__}: {exc}",
                field="definitions",
            ) from None
        declared = getattr(loaded, "DEFINITIONS", None)
        if declared is None and hasattr(loaded, "DEFINITION"):
            declared = (loaded.DEFINITION,)
        if not isinstance(declared, list | tuple) or not declared:
            raise InvalidInput(
                f"definitions module {name!r} declares no DEFINITIONS (a list of Definition) "
                "nor a DEFINITION",
                field="definitions",
            )
        found.extend(register(d) for d in declared)
    return tuple(found)
