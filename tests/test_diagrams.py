"""Tests for statemachine.diagrams: drawn from the table, deterministic, rendered by real dot."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statemachine import EVENTS, FINAL_STATES, RULES, STATES, Order, OrderError, Policy
from statemachine.declaration._records import HistoryRecord
from statemachine.diagrams import (
    GraphvizMissing,
    edges,
    example_journey,
    journey_dot,
    journey_mermaid,
    journey_steps,
    lifecycle_dot,
    lifecycle_markdown,
    lifecycle_mermaid,
    render,
    texts,
)

ROOT = Path(__file__).resolve().parents[1]
DIAGRAMS = ROOT / "diagrams"
README_SECTION = ROOT / "docs" / "diagrams-readme-section.md"
SHANGHAI = ZoneInfo("Asia/Shanghai")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REGENERATE = "run `make diagrams` and commit the result"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC, "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _node_line(dot: str, state: str) -> str:
    match = re.search(rf"^\t{state} \[label=.*$", dot, re.MULTILINE)
    assert match, f"no node for {state}"
    return match.group(0)


def _edge_lines(dot: str, source: str, dest: str) -> list[str]:
    return re.findall(rf"^\t{source} -> {dest} \[.*$", dot, re.MULTILINE)


def _text(dot_fragment: str) -> str:
    """The words of an HTML-like label, one space between them (lines joined)."""
    words = re.sub(r"<[^>]*>", " ", dot_fragment).replace("&amp;", "&")
    return " ".join(words.split())


# --------------------------------------------------------------------------------------------
# The committed files are what the code generates


@pytest.mark.parametrize("name", sorted(texts()))
def test_committed_text_diagrams_match_the_table_byte_for_byte(name: str) -> None:
    """diagrams/*.dot and *.mmd are exactly what the table generates today (never stale)."""
    committed = (DIAGRAMS / name).read_bytes()
    assert committed == texts()[name].encode("utf-8"), f"diagrams/{name} is stale: {REGENERATE}"


def test_committed_readme_section_matches_the_table() -> None:
    """docs/diagrams-readme-section.md is exactly lifecycle_markdown() (Mermaid and rule table,
    R15 and R16 included), and the README carries it verbatim."""
    assert README_SECTION.read_text(encoding="utf-8") == lifecycle_markdown(), REGENERATE
    assert lifecycle_markdown().rstrip("\n") in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "| R15 |" in lifecycle_markdown() and "| R16 |" in lifecycle_markdown()


def test_every_lifecycle_mermaid_block_in_the_docs_is_the_generated_one() -> None:
    """Any ```mermaid block titled "Order lifecycle" in README.md or docs/*.md is the generated
    diagram, not a copy that drifted."""
    blocks = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if path.exists():
            text = path.read_text(encoding="utf-8")
            blocks += [(path.name, b) for b in re.findall(r"```mermaid\n(.*?)```", text, re.S)]
    lifecycle = [(name, b) for name, b in blocks if "title: Order lifecycle\n" in b]
    assert lifecycle, "no lifecycle Mermaid block found in README.md or docs/"
    for name, block in lifecycle:
        assert block == lifecycle_mermaid(), f"the Mermaid diagram in {name} is stale: {REGENERATE}"


def test_output_is_deterministic_without_addresses_or_versions() -> None:
    """Two generations are identical and carry no memory address or package version."""
    first, second = texts(), texts()
    assert first == second
    versions = {
        importlib.metadata.version(dist)
        for dist in ("transitions", "graphviz", "order-statemachine", "attrs")
    }
    for name, text in first.items():
        assert not re.search(r"0x[0-9a-fA-F]{4,}|object at", text), name
        assert not re.search(r"\b\d+\.\d+\.\d+\b", text), name
        for version in versions:
            assert f" {version}" not in text, f"{name} contains version {version}"


# --------------------------------------------------------------------------------------------
# What the lifecycle picture shows


def test_dot_draws_every_state_marking_initial_and_final_r14() -> None:
    """Every state is a node; paid is marked initial with a start dot; final states (R14) have
    a double border."""
    dot = lifecycle_dot()
    for state in STATES:
        line = _node_line(dot, state)
        assert f"<B>{state}</B>" in line
        assert ("peripheries=2" in line) == (state in FINAL_STATES)
        assert ("(final)" in line) == (state in FINAL_STATES)
    assert "<B>paid</B> (initial)" in dot
    assert "\t__start__ -> paid" in dot


def test_dot_labels_every_transition_with_its_event_and_guard_rules() -> None:
    """Each (row, source) of the table is drawn with its event and its guards' rule ids, in
    check order (request_cancellation [R2], open_claim [R8, R13, R11])."""
    dot = lifecycle_dot()
    for edge in edges():
        if edge.internal:
            where = _node_line(dot, edge.source)
        else:
            where = " ".join(_edge_lines(dot, edge.source, edge.dest))
        assert edge.title in _text(where), f"{edge.title} from {edge.source} is not drawn"
        if edge.guard_rules:
            assert f"{edge.event} [{', '.join(edge.guard_rules)}]" in _text(where), edge
    paid_cancel = _text(" ".join(_edge_lines(dot, "paid", "cancel_requested")))
    assert "request_cancellation [R2] / R6" in paid_cancel
    claim = _text(" ".join(_edge_lines(dot, "delivered", "refund_pending")))
    assert "open_claim [R8, R13, R11] / R9" in claim


def test_clock_events_are_drawn_dashed_and_others_are_not_r12_r4() -> None:
    """dispatch_deadline_expired (R12) edges are dashed, repayment_overdue (R4) is marked
    (clock); no event sent by a person or supplier is drawn dashed."""
    dot = lifecycle_dot()
    for edge in edges():
        if edge.internal:
            continue
        lines = [ln for ln in _edge_lines(dot, edge.source, edge.dest) if edge.event in ln]
        assert len(lines) == 1, edge
        assert ("style=dashed" in lines[0]) == edge.clock, lines[0]
    assert "repayment_overdue [R4] / R4 (clock)" in _text(_node_line(dot, "refund_pending"))
    assert {e.event for e in edges() if e.clock} == {
        "dispatch_deadline_expired",
        "repayment_overdue",
    }


def test_r7_dispatch_after_cancellation_is_drawn_in_the_risk_colour() -> None:
    """The R7 internal transitions (dispatch in refund_pending and cancelled) are listed in
    their states in red, and as self-transitions in Mermaid."""
    dot = lifecycle_dot()
    for state in ("refund_pending", "cancelled"):
        line = _node_line(dot, state)
        assert re.search(r'COLOR="#c0262d"><B>dispatch / R7', line), line
    risky = {(e.source, e.event) for e in edges() if e.risk}
    assert risky == {("refund_pending", "dispatch"), ("cancelled", "dispatch")}
    mermaid = lifecycle_mermaid()
    assert "refund_pending --> refund_pending : dispatch / R7 if cancellation_refund" in mermaid
    assert "cancelled --> cancelled : dispatch / R7" in mermaid


def test_legend_gives_the_title_of_every_rule_id_shown() -> None:
    """Every rule id on a label appears in the legend with its title from RULES."""
    dot = lifecycle_dot()
    legend = _node_line(dot, "legend")
    shown = {r for e in edges() for r in (*e.guard_rules, *e.effect_rules)}
    assert {"R2", "R7", "R12"} <= shown
    for rid in shown | {"R14"}:
        title = RULES[rid].title.replace("&", "&amp;")
        assert f'<TD ALIGN="LEFT">{rid}</TD><TD ALIGN="LEFT">{title}</TD>' in legend, rid


def test_policy_view_drops_rows_switched_off_r12() -> None:
    """Under a policy with auto_close_unshipped off, the R12 auto-close edges are not drawn;
    the full view says which switch they need."""
    full = lifecycle_dot()
    assert "if policy.auto_close_unshipped" in full
    off = lifecycle_dot(Policy(auto_close_unshipped=False))
    assert "dispatch_deadline_expired" not in off
    on = lifecycle_mermaid(Policy())
    assert "dispatch_deadline_expired [R12] / R12 (clock)" in on
    assert "if policy." not in on


def test_mermaid_has_every_state_and_transition() -> None:
    """The Mermaid text has the initial arrow, every (row, source) transition with its rule
    ids, and final states leading to [*] with the final style."""
    mermaid = lifecycle_mermaid()
    assert mermaid.startswith("---\ntitle: Order lifecycle\n---\nstateDiagram-v2\n")
    assert "    [*] --> paid\n" in mermaid
    for state in STATES:
        assert f'    state "{state}" as {state}\n' in mermaid
        assert (f"    {state} --> [*]\n" in mermaid) == (state in FINAL_STATES)
    for edge in edges():
        assert f"    {edge.source} --> {edge.dest} : {edge.title}" in mermaid, edge
    assert "    class cancelled, refunded finalState\n" in mermaid
    labels = re.findall(r" --> \S+ : (.*)", mermaid)
    assert all(":" not in label for label in labels)


def test_markdown_section_has_mermaid_svg_link_and_rule_table() -> None:
    """The README section embeds the Mermaid diagram, links the SVG and lists each rule id on
    the diagram with its title and events, and a journey example (doctested where it lands)."""
    md = lifecycle_markdown()
    assert f"```mermaid\n{lifecycle_mermaid()}```" in md
    assert "(diagrams/lifecycle.svg)" in md
    assert "| R2 | No cancellation after dispatch | `request_cancellation` |" in md
    assert "```python\n>>> " in md


# --------------------------------------------------------------------------------------------
# An order's journey


def test_journey_of_a_lapsed_cancellation_numbers_its_steps_r3() -> None:
    """The example journey (R3: a cancellation that lapsed because the supplier dispatched)
    numbers its two steps in order and shows dispatched as the current state."""
    order = example_journey()
    assert order.state == "dispatched"
    assert [n.kind for n in order.notifications][-1] == "cancellation_lapsed"
    steps = journey_steps(order)
    assert [(s.number, s.edge.event, s.edge.source, s.edge.dest) for s in steps] == [
        (1, "request_cancellation", "paid", "cancel_requested"),
        (2, "dispatch", "cancel_requested", "dispatched"),
    ]
    dot = journey_dot(order)
    taken = _text(" ".join(_edge_lines(dot, "paid", "cancel_requested")))
    assert "1: request_cancellation [R2] / R6" in taken
    assert "2: dispatch / R1, R3" in _text(
        " ".join(_edge_lines(dot, "cancel_requested", "dispatched"))
    )
    assert "<I>current state</I>" in _node_line(dot, "dispatched")
    assert "current state" not in _node_line(dot, "paid")
    mermaid = journey_mermaid(order)
    assert "paid --> cancel_requested : (1) request_cancellation [R2] / R6" in mermaid
    assert "cancel_requested --> dispatched : (2) dispatch / R1, R3" in mermaid
    assert mermaid.endswith(
        "    class paid, cancel_requested visited\n    class dispatched current\n"
    )


def test_journey_refuses_a_history_the_table_cannot_explain() -> None:
    """A history record that matches no transition is a ValueError naming the record."""
    order = example_journey()
    order.history = (
        *order.history,
        HistoryRecord("confirm_delivery", "paid", "refunded", order.history[-1].at),
    )
    with pytest.raises(ValueError, match=r"record 3 .*confirm_delivery from paid to refunded"):
        journey_steps(order)


_DATA: dict[str, dict[str, object]] = {
    "dispatch": {"tracking_number": "LP1"},
    "open_claim": {"reason": "damaged_in_transit", "amount": "5.00"},
    "offer_goodwill_refund": {"amount": "1.00"},
    "reimburse_customer": {"amount": "1.00"},
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(sorted(EVENTS)), max_size=14), st.integers(1, 5))
def test_any_journey_numbers_every_history_step_once_in_order(
    events: list[str], gap_days: int
) -> None:
    """For any sequence of events an order accepted, the journey numbers each history record
    once, in order, along the edge it took, and highlights the order's state."""
    paid = dt.datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
    order = Order.create("AE-P", "40.00", "USD", paid)
    for i, name in enumerate(events, start=1):
        with contextlib.suppress(OrderError):
            order.fire(name, at=paid + dt.timedelta(days=gap_days * i), **_DATA.get(name, {}))
    steps = journey_steps(order)
    assert [s.number for s in steps] == list(range(1, len(order.history) + 1))
    for step, record in zip(steps, order.history, strict=True):
        assert (step.edge.event, step.edge.source, step.edge.dest) == (
            record.event,
            record.source,
            record.dest,
        )
    mermaid = journey_mermaid(order)
    assert f"    class {order.state} current\n" in mermaid
    numbered = [
        int(n) for group in re.findall(r" : \(([\d, ]+)\)", mermaid) for n in group.split(", ")
    ]
    assert sorted(numbered) == list(range(1, len(steps) + 1))
    dot = journey_dot(order)
    assert "<I>current state</I>" in _node_line(dot, order.state)


# --------------------------------------------------------------------------------------------
# Rendering with the real dot program


@pytest.mark.parametrize("name", ["lifecycle", "journey-lapsed-cancellation"])
@pytest.mark.usefixtures("dot_program")
def test_rendered_and_committed_svg_list_every_state(name: str) -> None:
    """dot renders SVG that names every state, with no Graphviz version in it; the committed
    SVG names every state too."""
    fresh = render(texts()[f"{name}.dot"], "svg").decode("utf-8")
    committed = (DIAGRAMS / f"{name}.svg").read_text(encoding="utf-8")
    for svg in (fresh, committed):
        assert svg.lstrip().startswith("<?xml")
        for state in STATES:
            assert f"<title>{state}</title>" in svg, state
            assert f">{state}</text>" in svg, state
        assert "Generated by graphviz" not in svg


@pytest.mark.usefixtures("dot_program")
def test_rendered_and_committed_png_are_images() -> None:
    """dot renders a PNG; the committed lifecycle PNG is a PNG of a similar size."""
    fresh = _png_size(render(lifecycle_dot(), "png"))
    committed = _png_size((DIAGRAMS / "lifecycle.png").read_bytes())
    assert all(400 < side < 4000 for side in (*fresh, *committed))
    assert abs(fresh[0] - committed[0]) < fresh[0] / 4


@pytest.mark.usefixtures("dot_program")
def test_render_reports_dot_errors_and_unknown_formats() -> None:
    """Broken DOT is a RuntimeError carrying dot's message; an unknown format a ValueError."""
    with pytest.raises(RuntimeError, match=r"dot failed.*syntax error"):
        render("digraph { a -> }", "svg")
    with pytest.raises(ValueError, match="'svg' or 'png'"):
        render(lifecycle_dot(), "pdf")  # type: ignore[arg-type]


def _path_without_dot(tmp_path: Path) -> str:
    empty = tmp_path / "bin-without-dot"
    empty.mkdir()
    return str(empty)


def test_without_dot_text_works_and_rendering_names_the_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a PATH lacking dot, DOT and Mermaid still come out; rendering raises
    GraphvizMissing naming `dot` and the apt and brew install commands."""
    monkeypatch.setenv("PATH", _path_without_dot(tmp_path))
    assert lifecycle_dot() == texts()["lifecycle.dot"]
    assert lifecycle_mermaid().startswith("---")
    with pytest.raises(GraphvizMissing) as caught:
        render(lifecycle_dot(), "png")
    err = caught.value
    assert err.program == "dot"
    message = str(err)
    for needed in ("`dot`", "PNG", "apt install graphviz", "brew install graphviz"):
        assert needed in message


def test_cli_without_dot_writes_text_and_fails_clearly(tmp_path: Path) -> None:
    """`python -m statemachine.diagrams` with a PATH lacking dot writes the DOT and Mermaid
    files, then exits 2 naming the missing program and how to install it."""
    out = tmp_path / "out"
    env = {**os.environ, "PATH": _path_without_dot(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "statemachine.diagrams", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    for needed in ("`dot`", "apt install graphviz", "brew install graphviz"):
        assert needed in done.stderr
    assert "Traceback" not in done.stderr
    for name, text in texts().items():
        assert (out / name).read_text(encoding="utf-8") == text
    assert not list(out.glob("*.svg"))


@pytest.mark.usefixtures("dot_program")
def test_cli_writes_every_diagram(tmp_path: Path) -> None:
    """The CLI (what `make diagrams` runs) writes the text files as committed, the SVG and
    PNG of each DOT file, and the README section."""
    out, section = tmp_path / "diagrams", tmp_path / "section.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "statemachine.diagrams",
            "--out",
            str(out),
            "--readme-section",
            str(section),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in texts():
        assert (out / name).read_bytes() == (DIAGRAMS / name).read_bytes()
        if name.endswith(".dot"):
            stem = name.removesuffix(".dot")
            assert (out / f"{stem}.svg").read_text().count("<title>paid</title>") == 1
            _png_size((out / f"{stem}.png").read_bytes())
    assert section.read_text(encoding="utf-8") == README_SECTION.read_text(encoding="utf-8")


HOSTILE_ID = 'AE-\x1b[2J\u202e\n: #1 "q"'
"""An id an older release or a direct library call may have stored: an ESC sequence, a
right-to-left override, a line break, a colon, a hash and quotes."""


def test_a_hostile_order_id_cannot_add_lines_to_a_mermaid_journey() -> None:
    """R1: the journey of an order whose id holds control and direction-changing characters
    has the same lines as any journey: the id is written in its title as escapes, quoted for
    the front matter, and nothing of it reaches the diagram raw."""
    import datetime as dt

    from statemachine import Order
    from statemachine.diagrams import journey_mermaid

    paid = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    plain = journey_mermaid(Order.create("AE-1", "25.00", "USD", paid))
    hostile = journey_mermaid(Order.create(HOSTILE_ID, "25.00", "USD", paid))
    assert hostile.count("\n") == plain.count("\n")
    assert not any(c in hostile for c in "\x1b\u202e")
    title = hostile.splitlines()[1]
    assert title.startswith('title: "') and "\\u001b" in title and "\\u202e" in title


def test_a_hostile_order_id_leaves_the_journey_svg_well_formed(dot_program: str) -> None:
    """R1: rendered by Graphviz, the journey of such an order is well-formed XML (a control
    character is not allowed even escaped in XML 1.0) and shows the id as escapes."""
    import datetime as dt
    import xml.etree.ElementTree as ET

    from statemachine import Order
    from statemachine.diagrams import journey_dot, render

    paid = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    svg = render(journey_dot(Order.create(HOSTILE_ID, "25.00", "USD", paid)), "svg").decode()
    ET.fromstring(svg)  # raises on a document that is not well-formed
    assert "\x1b" not in svg and "\\u001b" in svg
