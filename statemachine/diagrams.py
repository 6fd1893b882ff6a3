"""Diagrams of the order lifecycle, drawn from the machine's own table.

Everything here is derived from the machine's table (:data:`~statemachine.declaration.TABLE`: its
states, events and rows) and :data:`~statemachine.declaration.RULES`; nothing restates a transition
by hand.

- :func:`lifecycle_dot` and :func:`lifecycle_mermaid` return text and need no program.
- :func:`journey_dot` and :func:`journey_mermaid` draw one order's path: its current state
  highlighted and the transitions it took numbered in order (from ``order.history``).
- :func:`lifecycle_markdown` is the Mermaid diagram with a companion table of the rule ids.
- :func:`render` turns DOT text into SVG or PNG with Graphviz's ``dot`` program; without it,
  :class:`GraphvizMissing` says how to install it.

How a transition reads (UML style): ``event [R8, R13, R11] / R9`` is the event, the rule ids
of its guards in the order they are checked, then the rule ids its effects carry out. A second
line says which rows of the same event apply (``if cancellation_refund``) and which policy
switch the row needs. Clock events are dashed; the R7 late-cancellation edges are red; an
internal transition (the state does not change) is a loop on its state.

The output is deterministic (table order, no memory addresses, no versions), so the committed
files in ``diagrams/`` are checked byte for byte by the tests. Regenerate them with
``make diagrams`` (``python -m statemachine.diagrams``).

This module builds DOT with the ``graphviz`` package directly rather than ``transitions``'
``GraphMachine``: the latter merges the rows between two states into one label, has no
per-edge style (clock, R7) and would print guard function objects instead of rule ids.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from ._text import printable
from .declaration._checks import ENGINE_RULES
from .declaration._definition import event_spec, resolve
from .declaration._records import StateName
from .declaration._rules import RULES
from .declaration._spec import Table, TransitionSpec
from .declaration._table import FINAL_STATES, STATES, TABLE
from .errors import GraphvizMissing
from .runtime._migration import MIGRATED, start_table

if TYPE_CHECKING:
    from .declaration._policy import Policy
    from .runtime._order import Order

__all__ = [
    "Edge",
    "GraphvizMissing",
    "JourneyStep",
    "edges",
    "example_journey",
    "journey_dot",
    "journey_mermaid",
    "journey_steps",
    "lifecycle_dot",
    "lifecycle_markdown",
    "lifecycle_mermaid",
    "render",
    "texts",
    "write_diagrams",
]

Format = Literal["svg", "png"]

RISK_RULE: Final = "R7"
"""Edges whose effects carry this rule (a dispatch after cancellation) are drawn as risks."""
FINAL_RULE: Final = "R14"
"""The rule that makes final states final (drawn with a double border)."""


# Colours and fonts, in one place.
_FONT: Final = "Helvetica"
_INK: Final = "#1f2933"
_CLOCK: Final = "#1d4ed8"
_RISK: Final = "#c0262d"
_FINAL_FILL: Final = "#e5e7eb"
_STATE_FILL: Final = "#ffffff"
_VISITED_FILL: Final = "#fef3c7"
_CURRENT_FILL: Final = "#f59e0b"
_TAKEN: Final = "#b45309"
_FADED: Final = "#9ca3af"


# --------------------------------------------------------------------------------------------
# Edges: one per (row, source state) of the table


@attrs.frozen
class Edge:
    """One drawn transition: a row of the table taken from one of its source states."""

    row: TransitionSpec
    source: StateName

    @property
    def dest(self) -> StateName:
        """Where the edge ends (the source itself for an internal transition)."""
        return self.row.dest_from(self.source)

    @property
    def event(self) -> str:
        """The event's name."""
        return self.row.event

    @property
    def clock(self) -> bool:
        """Whether the clock sends this event (not the customer, merchant or supplier)."""
        spec = event_spec(self.row.event)
        return spec is not None and spec.clock

    @property
    def internal(self) -> bool:
        """Whether the state stays as it was (the row's ``dest`` is ``None``)."""
        return self.row.dest is None

    @property
    def guard_rules(self) -> tuple[str, ...]:
        """Rule ids of the guards, in the order they are checked, each once."""
        return _unique(self.row.rules)

    @property
    def effect_rules(self) -> tuple[str, ...]:
        """Rule ids the effects carry out, in order, each once."""
        return _unique(e.rule for e in self.row.effects if e.rule is not None)

    @property
    def risk(self) -> bool:
        """Whether an effect carries the late-cancellation risk rule (R7 incident)."""
        return RISK_RULE in self.effect_rules

    @property
    def title(self) -> str:
        """``event [guard rules] / effect rules``: the first line of the label."""
        text = self.event
        if self.guard_rules:
            text += f" [{', '.join(self.guard_rules)}]"
        if self.effect_rules:
            text += f" / {', '.join(self.effect_rules)}"
        return text

    def conditions(self, *, show_switch: bool = True) -> tuple[str, ...]:
        """The row's selector and policy switch, as ``if ...`` phrases."""
        out = []
        if self.row.when is not None:
            out.append(f"if {self.row.when.name}")
        if show_switch and self.row.policy_switch is not None:
            out.append(f"if policy.{self.row.policy_switch}")
        return tuple(out)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def edges(policy: Policy | None = None, table: Table | None = None) -> tuple[Edge, ...]:
    """Every edge of ``table`` (the shipped one by default), in table order. With
    ``policy``, only the rows that exist under it."""
    table = TABLE if table is None else table
    rows = table.rows if policy is None else table.rows_for(policy)
    return tuple(Edge(row, source) for row in rows for source in row.sources)


# --------------------------------------------------------------------------------------------
# An order's journey


@attrs.frozen
class JourneyStep:
    """One applied event of an order's history, numbered from 1, and the edge it took."""

    number: int
    edge: Edge
    at: dt.datetime


def journey_steps(order: Order) -> tuple[JourneyStep, ...]:
    """The edges ``order`` took, in order, from its history, each in the table of the version
    that decided it (a ``definition_migrated`` record is no edge: it is left out, its number
    kept).

    ``ValueError`` if a history record matches no row of the table (the order was not made by
    this machine).
    """
    steps = []
    table = start_table(order.history, order.table)
    for number, record in enumerate(order.history, start=1):
        if record.event == MIGRATED:
            table = resolve(record.data.get("to"), "to").table
            continue
        row = table.row_taken(record.event, record.source, record.dest, order.policy)
        if row is None:
            raise ValueError(
                f"history record {number} of order {order.order_id} ({record.event} from "
                f"{record.source} to {record.dest}) matches no transition of the table"
            )
        steps.append(JourneyStep(number, Edge(row, record.source), record.at))
    return tuple(steps)


# --------------------------------------------------------------------------------------------
# DOT


def _state_label(
    table: Table,
    state: StateName,
    internal: Sequence[tuple[Sequence[str], str, bool]],
    *,
    current: bool,
) -> str:
    """A state box: name, meaning, and below a rule the internal transitions (UML style), each
    given as (text, colour, taken)."""
    head = f"<B>{_html(state)}</B>"
    if state == table.initial_state:
        head += " (initial)"
    elif state in table.final_states:
        head += " (final)"
    rows = [f"<TR><TD>{head}</TD></TR>"]
    if current:
        rows.append("<TR><TD><I>current state</I></TD></TR>")
    doc = "<BR/>".join(_html(line) for line in textwrap.wrap(table.state(state).doc, 28))
    rows.append(f'<TR><TD><FONT POINT-SIZE="10">{doc}</FONT></TD></TR>')
    if internal:
        rows.append("<HR/>")
        for lines, color, taken in internal:
            body = '<BR ALIGN="LEFT"/>    '.join(_html(line) for line in lines)
            if taken or color == _RISK:
                body = f"<B>{body}</B>"
            rows.append(
                f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="11" COLOR="{color}">{body}</FONT>'
                '<BR ALIGN="LEFT"/></TD></TR>'
            )
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
        + "".join(rows)
        + "</TABLE>>"
    )


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str, color: str | None = None, *, bold: bool = False) -> str:
    body = _html(text)
    if bold:
        body = f"<B>{body}</B>"
    if color is not None:
        body = f'<FONT COLOR="{color}">{body}</FONT>'
    return f'<TD ALIGN="LEFT">{body}</TD>'


def _block(title: str, rows: Sequence[tuple[str, str, str | None]]) -> str:
    """A two-column HTML table with a title row; each row is (key, text, key colour)."""
    out = [f'<TR><TD COLSPAN="2" ALIGN="LEFT"><B>{_html(title)}</B></TD></TR>']
    out.extend(f"<TR>{_cell(k, c)}{_cell(v)}</TR>" for k, v, c in rows)
    return (
        '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">'
        + "".join(out)
        + "</TABLE>"
    )


_STEP_COLUMNS: Final = ("step", "at", "event", "from -> to", "rules")


def _legend(shown: Sequence[Edge], steps: Sequence[JourneyStep] = ()) -> str:
    """The key to the picture, the titles of the rule ids it shows, and a journey's steps."""
    key: list[tuple[str, str, str | None]] = [
        (
            "event [R2] / R6",
            "guard rules, in the order checked / rules the effects carry out",
            None,
        ),
        ("if ...", "which row of the event applies, or the policy switch it needs", None),
        ("dashed / (clock)", "clock event, fired by tick(now)", _CLOCK),
        ("red", f"{RISK_RULE} incident: dispatch after cancellation", _RISK),
        ("below the line", "internal transitions: the state does not change", None),
        ("double border", f"final state: only the late facts of {RISK_RULE} ({FINAL_RULE})", None),
    ]
    if steps:
        key += [
            ("bold, numbered", "transitions this order took, in order (see the steps)", _TAKEN),
            ("filled", "the order's current state; shaded: states it passed through", None),
        ]
    rules = _rules_shown(shown)
    half = (len(rules) + 1) // 2
    blocks = [_block("How to read", key)]
    for part in (rules[:half], rules[half:]):
        blocks.append(_block("Rules", [(rid, RULES[rid].title, None) for rid in part]))
    cells = "".join(f'<TD VALIGN="TOP">{b}</TD>' for b in blocks)
    table = f"<TR>{cells}</TR>"
    if steps:
        head = "".join(f'<TD ALIGN="LEFT"><B>{_html(h)}</B></TD>' for h in _STEP_COLUMNS)
        body = "".join(
            "<TR>"
            + "".join(
                _cell(text, _TAKEN if i == 0 else None)
                for i, text in enumerate(
                    (
                        str(s.number),
                        s.at.isoformat(" ", "minutes"),
                        s.edge.event,
                        f"{s.edge.source} -> {s.edge.dest}",
                        s.edge.title[len(s.edge.event) :].strip() or "-",
                    )
                )
            )
            + "</TR>"
            for s in steps
        )
        journey = (
            '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">'
            f"<TR>{head}</TR>{body}</TABLE>"
        )
        table += f'<TR><TD COLSPAN="{len(blocks)}" ALIGN="LEFT">{journey}</TD></TR>'
    return f'<<TABLE BORDER="0" CELLSPACING="8" CELLPADDING="0">{table}</TABLE>>'


def _rules_shown(shown: Sequence[Edge]) -> tuple[str, ...]:
    used = {r for e in shown for r in (*e.guard_rules, *e.effect_rules)}
    if any(s in FINAL_STATES for s in STATES):
        used |= {FINAL_RULE}
    return tuple(r for r in RULES if r in used)


def _digraph(name: str, title: str) -> Any:
    import graphviz

    g = graphviz.Digraph(name)
    g.attr(
        "graph",
        label=title,
        labelloc="t",
        fontname=_FONT,
        fontsize="18",
        rankdir="TB",
        nodesep="0.35",
        ranksep="0.6",
        newrank="true",
        pad="0.2",
    )
    g.attr(
        "node",
        shape="box",
        style="rounded,filled",
        fillcolor=_STATE_FILL,
        color=_INK,
        fontname=_FONT,
        fontsize="13",
        margin="0.12,0.06",
    )
    g.attr("edge", fontname=_FONT, fontsize="11", color=_INK, fontcolor=_INK, arrowsize="0.8")
    return g


_SHORT: Final = 24
"""Edge titles longer than this break after the event name, to keep the picture narrow."""


def _edge_text(edge: Edge, *, show_switch: bool, numbers: Sequence[int] = ()) -> list[str]:
    prefix = f"{', '.join(map(str, numbers))}: " if numbers else ""
    title = prefix + edge.title
    lines = [title]
    if len(title) > _SHORT and title != prefix + edge.event:
        lines = [prefix + edge.event, title[len(prefix + edge.event) + 1 :]]
    return [*lines, *edge.conditions(show_switch=show_switch)]


def _edge_label(lines: Sequence[str], bold: bool) -> str:
    """An edge label as an HTML table: a blank cell on the left keeps the text clear of the
    edge it labels, and one row per line leaves room for underscores."""
    rows = []
    for line in lines:
        body = f"<B>{_html(line)}</B>" if bold else _html(line)
        rows.append(f'<TR><TD WIDTH="8"></TD><TD ALIGN="LEFT">{body}</TD></TR>')
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
        + "".join(rows)
        + "</TABLE>>"
    )


def _build_dot(
    name: str,
    title: str,
    shown: Sequence[Edge],
    *,
    show_switch: bool,
    steps: Sequence[JourneyStep] | None = None,
    current: str | None = None,
    table: Table = TABLE,
) -> str:
    """DOT for the lifecycle of ``table``; with ``steps``, a journey over it."""
    journey = steps is not None
    numbers: dict[Edge, list[int]] = {}
    for step in steps or ():
        numbers.setdefault(step.edge, []).append(step.number)
    visited = {table.initial_state, *(s.edge.dest for s in steps or ())}

    internal: dict[str, list[tuple[Sequence[str], str, bool]]] = {}
    for edge in shown:
        if not edge.internal:
            continue
        taken = numbers.get(edge, [])
        color = _CLOCK if edge.clock else _RISK if edge.risk else _INK
        if journey:
            color = _TAKEN if taken else _FADED
        prefix = f"{', '.join(map(str, taken))}: " if taken else ""
        clock = " (clock)" if edge.clock else ""
        lines = (prefix + edge.title + clock, *edge.conditions(show_switch=show_switch))
        internal.setdefault(edge.source, []).append((lines, color, bool(taken)))

    g = _digraph(name, title)
    g.node("__start__", "", shape="circle", style="filled", fillcolor=_INK, width="0.2")
    for state in table.state_names:
        node: dict[str, str] = {}
        if state in table.final_states:
            node.update(peripheries="2", fillcolor=_FINAL_FILL)
        if journey and state in visited:
            node["fillcolor"] = _VISITED_FILL
        if state == current:
            node.update(fillcolor=_CURRENT_FILL, penwidth="3")
        label = _state_label(table, state, internal.get(state, ()), current=state == current)
        g.node(state, label, **node)
    g.edge("__start__", table.initial_state)

    for edge in shown:
        if edge.internal:
            continue
        taken = numbers.get(edge, [])
        attrs_: dict[str, str] = {}
        if edge.clock:
            attrs_.update(style="dashed", color=_CLOCK, fontcolor=_CLOCK)
        if edge.risk:
            attrs_.update(style="bold", color=_RISK, fontcolor=_RISK, penwidth="2")
        if journey:
            if taken:
                attrs_.update(color=_TAKEN, fontcolor=_TAKEN, penwidth="3")
            else:
                attrs_.update(color=_FADED, fontcolor=_FADED)
        label = _edge_label(_edge_text(edge, show_switch=show_switch, numbers=taken), bool(taken))
        g.edge(edge.source, edge.dest, label, **attrs_)

    finals = [s for s in table.state_names if s in table.final_states]
    with g.subgraph(name="final_states") as same:
        same.attr(rank="same")
        for state in finals:
            same.node(state)
    g.node("legend", _legend(shown, steps or ()), shape="plaintext", style="", fontsize="11")
    for state in finals:
        g.edge(state, "legend", style="invis")
    return str(g.source)


def lifecycle_dot(policy: Policy | None = None, table: Table | None = None) -> str:
    """The lifecycle as DOT text: every state and every transition of ``table`` (the
    shipped one, ``orders@1``, by default).

    Without ``policy``, every row is drawn and a row behind a policy switch says so; with one,
    only the rows that exist under it.
    """
    table = TABLE if table is None else table
    return _build_dot(
        "order_lifecycle",
        "Order lifecycle",
        edges(policy, table),
        show_switch=policy is None,
        table=table,
    )


def _dot_text(text: str) -> str:
    """``text`` for a DOT label: :func:`printable`, its backslashes doubled (Graphviz reads
    ``\\`` as one and drops a lone one before a letter it does not know)."""
    return printable(text).replace("\\", "\\\\")


def journey_dot(order: Order) -> str:
    """One order's journey as DOT: the lifecycle with its steps numbered and its state shown.

    Edges it took are bold and carry their step numbers (``1, 3: request_cancellation [R2]``);
    states it passed through are shaded, the current one filled; the legend lists each step.
    """
    steps = journey_steps(order)
    return _build_dot(
        "order_journey",
        f"Journey of order {_dot_text(order.order_id)}: {order.state} after {len(steps)} events",
        edges(table=order.table),
        show_switch=True,
        steps=steps,
        current=order.state,
        table=order.table,
    )


# --------------------------------------------------------------------------------------------
# Mermaid


def _mermaid_label(edge: Edge, *, prefix: str = "", show_switch: bool = True) -> str:
    parts = [prefix + edge.title, *edge.conditions(show_switch=show_switch)]
    if edge.clock:
        parts.append("(clock)")
    text = " ".join(parts)
    # A colon would end the label early in some renderers; the table never needs one.
    return text.replace(":", " -")


_PLAIN_YAML: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.,()/+-]*")


def _yaml_text(text: str) -> str:
    """``text`` as a YAML scalar of Mermaid's front matter: as it is when plain, else quoted
    (an order id may hold a colon, a quote or a hash, which would end or break it)."""
    return text if _PLAIN_YAML.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def _mermaid(
    title: str,
    shown: Sequence[Edge],
    *,
    show_switch: bool,
    numbers: dict[Edge, list[int]] | None = None,
    visited: frozenset[str] = frozenset(),
    current: str | None = None,
    table: Table = TABLE,
) -> str:
    states, finals = table.state_names, [s for s in table.state_names if s in table.final_states]
    lines = [
        "---",
        f"title: {_yaml_text(title)}",
        "---",
        "stateDiagram-v2",
        "    direction TB",
        f"    classDef finalState fill:{_FINAL_FILL},stroke:{_INK},stroke-width:3px",
    ]
    if numbers is not None:
        lines += [
            f"    classDef visited fill:{_VISITED_FILL},stroke:{_INK}",
            f"    classDef current fill:{_CURRENT_FILL},stroke:{_INK},stroke-width:3px",
        ]
    for state in states:
        doc = table.state(state).doc
        lines.append(f'    state "{state}" as {state}')
        lines.append(f"    %% {state} - {doc}")
    lines.append(f"    [*] --> {table.initial_state}")
    for edge in shown:
        prefix = ""
        if numbers is not None and edge in numbers:
            prefix = f"({', '.join(map(str, numbers[edge]))}) "
        label = _mermaid_label(edge, prefix=prefix, show_switch=show_switch)
        lines.append(f"    {edge.source} --> {edge.dest} : {label}")
    lines.extend(f"    {state} --> [*]" for state in finals)
    lines.append(f"    class {', '.join(finals)} finalState")
    if numbers is not None:
        others = [s for s in states if s in visited and s != current]
        if others:
            lines.append(f"    class {', '.join(others)} visited")
        if current is not None:
            lines.append(f"    class {current} current")
    return "\n".join(lines) + "\n"


def lifecycle_mermaid(policy: Policy | None = None, table: Table | None = None) -> str:
    """The lifecycle of ``table`` (the shipped one by default) as Mermaid
    ``stateDiagram-v2`` text (renders on code hosts).

    Edge styles do not exist in Mermaid state diagrams, so clock events say ``(clock)``; final
    states are drawn with a thick border and lead to ``[*]``.
    """
    table = TABLE if table is None else table
    return _mermaid(
        "Order lifecycle", edges(policy, table), show_switch=policy is None, table=table
    )


def journey_mermaid(order: Order) -> str:
    """One order's journey as Mermaid: step numbers on the edges taken, its state filled."""
    steps = journey_steps(order)
    numbers: dict[Edge, list[int]] = {}
    for step in steps:
        numbers.setdefault(step.edge, []).append(step.number)
    table = order.table
    visited = frozenset({table.initial_state, *(s.edge.dest for s in steps)})
    return _mermaid(
        f"Journey of order {printable(order.order_id)} - {order.state} after {len(steps)} events",
        edges(table=table),
        show_switch=True,
        numbers=numbers,
        visited=visited,
        current=order.state,
        table=table,
    )


def lifecycle_markdown(
    svg_link: str = "diagrams/lifecycle.svg",
    journey_link: str = "diagrams/journey-lapsed-cancellation.svg",
) -> str:
    """A Markdown section for the README: the Mermaid diagram, links to the SVG pictures, the
    rule ids with their titles and where they act, and a runnable journey example."""
    shown = edges()
    used = _rules_shown(shown)
    where: dict[str, list[str]] = {rid: [] for rid in used}
    for edge in shown:
        for rid in (*edge.guard_rules, *edge.effect_rules):
            if f"`{edge.event}`" not in where[rid]:
                where[rid].append(f"`{edge.event}`")
    where[FINAL_RULE] = [f"`{s}` (final)" for s in STATES if s in FINAL_STATES]
    lines = [
        "## The lifecycle",
        "",
        "Drawn from the machine's own table by `make diagrams` (`statemachine.diagrams`); a test",
        "fails if this picture and the code disagree. A transition reads",
        "`event [guard rules] / effect rules`: the rules that can refuse it, in the order they",
        "are checked, then the rules its effects carry out. `if ...` names the row of the event",
        "that applies, or the policy switch it needs; `(clock)` marks the events that",
        "`order.tick(now)` fires. A transition from a state to itself leaves the state as it was.",
        "",
        "```mermaid",
        lifecycle_mermaid().rstrip("\n"),
        "```",
        "",
        f"The full picture, with a legend and the {RISK_RULE} late-cancellation transitions in "
        f"red, is [{Path(svg_link).name}]({svg_link}).",
        "",
        "| rule | title | where it acts |",
        "|---|---|---|",
    ]
    lines.extend(f"| {rid} | {RULES[rid].title} | {', '.join(where[rid])} |" for rid in used)
    lines.extend(
        f"| {rid} | {RULES[rid].title} | every event (`Order.fire`) |"
        for rid in ENGINE_RULES
        if rid not in used
    )
    lines += [
        "",
        "An order's journey is the same picture with its current state filled and the",
        "transitions it took numbered in order: `journey_mermaid(order)`, or",
        '`render(journey_dot(order), "svg")` for a support agent. This one is a late',
        "cancellation that lapsed because the supplier dispatched first (R3):",
        f"[{Path(journey_link).name}]({journey_link}).",
        "",
        "```python",
        ">>> import datetime as dt",
        ">>> from zoneinfo import ZoneInfo",
        ">>> from statemachine import Order",
        ">>> from statemachine.diagrams import journey_mermaid, journey_steps",
        '>>> paid_at = dt.datetime(2026, 3, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai"))',
        '>>> lapsed = Order.create("AE-1042", "39.90", "USD", paid_at)',
        ">>> _ = lapsed.request_cancellation(at=paid_at + dt.timedelta(days=7))",
        '>>> _ = lapsed.dispatch(at=paid_at + dt.timedelta(days=8), tracking_number="LP0042CN")',
        ">>> [(step.number, step.edge.event, step.edge.dest) for step in journey_steps(lapsed)]",
        "[(1, 'request_cancellation', 'cancel_requested'), (2, 'dispatch', 'dispatched')]",
        '>>> "(2) dispatch / R1, R3" in journey_mermaid(lapsed)',
        "True",
        "",
        "```",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Rendering with the dot program

_GENERATOR_COMMENT: Final = re.compile(rb"<!-- Generated by graphviz version [^>]*-->\n")


def render(dot_source: str, fmt: Format = "svg", *, dpi: int = 96) -> bytes:
    """Render DOT text to SVG or PNG bytes with Graphviz's ``dot`` program.

    ``dpi`` sets the PNG's resolution (96: the picture at its natural size on screen).
    The SVG carries no Graphviz version. Raises :class:`GraphvizMissing` (naming ``dot`` and
    how to install it) when the program is not on ``PATH``, and ``RuntimeError`` with dot's
    message when it refuses the input.
    """
    if fmt not in ("svg", "png"):
        raise ValueError(f"format must be 'svg' or 'png', got {fmt!r}")
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing("dot", fmt)
    try:
        done = subprocess.run(
            [program, f"-T{fmt}", *([f"-Gdpi={dpi}"] if fmt == "png" else [])],
            input=dot_source.encode("utf-8"),
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise GraphvizMissing("dot", fmt) from None
    if done.returncode != 0:
        raise RuntimeError(
            f"dot failed (exit {done.returncode}) rendering {fmt}: "
            f"{done.stderr.decode('utf-8', 'replace').strip()}"
        )
    out = done.stdout
    if fmt == "svg":
        out = _GENERATOR_COMMENT.sub(b"", out)
    return out


# --------------------------------------------------------------------------------------------
# Writing the diagrams/ directory


def example_journey() -> Order:
    """A late cancellation that lapsed: the customer asked to cancel a day before the dispatch
    deadline, and the supplier dispatched before answering (R3). The order drawn in
    ``diagrams/journey-lapsed-cancellation.*``."""
    from zoneinfo import ZoneInfo

    from .runtime._order import Order

    shanghai = ZoneInfo("Asia/Shanghai")
    order = Order.create("AE-1042", "39.90", "USD", dt.datetime(2026, 3, 2, 10, tzinfo=shanghai))
    order.request_cancellation(at=dt.datetime(2026, 3, 9, 20, tzinfo=shanghai))
    order.dispatch(at=dt.datetime(2026, 3, 10, 9, tzinfo=shanghai), tracking_number="LP0042CN")
    return order


def texts() -> dict[str, str]:
    """The text files of ``diagrams/``, by file name (no program needed)."""
    journey = example_journey()
    return {
        "lifecycle.dot": lifecycle_dot(),
        "lifecycle.mmd": lifecycle_mermaid(),
        "journey-lapsed-cancellation.dot": journey_dot(journey),
        "journey-lapsed-cancellation.mmd": journey_mermaid(journey),
    }


def write_diagrams(directory: Path, *, readme_section: Path | None = None) -> list[Path]:
    """Write the DOT, Mermaid, SVG and PNG files into ``directory``; the paths written.

    The text files are written first, so they are there even when rendering then raises
    :class:`GraphvizMissing`. With ``readme_section``, also write :func:`lifecycle_markdown`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    sources = texts()
    written = []
    for name, text in sources.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    if readme_section is not None:
        readme_section.parent.mkdir(parents=True, exist_ok=True)
        readme_section.write_text(lifecycle_markdown(), encoding="utf-8")
        written.append(readme_section)
    formats: tuple[Format, ...] = ("svg", "png")
    for name, text in sources.items():
        if name.endswith(".dot"):
            for fmt in formats:
                image = (directory / name).with_suffix(f".{fmt}")
                image.write_bytes(render(text, fmt))
                written.append(image)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m statemachine.diagrams [--out DIR] [--readme-section FILE]``."""
    parser = argparse.ArgumentParser(
        prog="python -m statemachine.diagrams",
        description="Write the order lifecycle diagrams (DOT, Mermaid, SVG, PNG).",
    )
    parser.add_argument("--out", type=Path, default=Path("diagrams"), help="directory")
    parser.add_argument("--readme-section", type=Path, default=None, help="Markdown file")
    args = parser.parse_args(argv)
    try:
        written = write_diagrams(args.out, readme_section=args.readme_section)
    except GraphvizMissing as err:
        print(f"error: {err}", file=sys.stderr)
        print(f"the DOT and Mermaid files in {args.out} were written.", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
