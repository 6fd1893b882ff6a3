"""What the commands print: a Rich console sized for a terminal or a pipe, JSON documents and
lines, and the house style of text (wrapped paragraphs, listings, tables, local times)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import textwrap
from typing import Final
from zoneinfo import ZoneInfo

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._text import printable

__all__ = ["emit", "item", "local", "make_console", "say", "table", "wrap"]

_PIPE_WIDTH: Final = 100
"""Rich's width when the output is not a terminal and ``COLUMNS`` is not set."""


def make_console(*, stderr: bool = False) -> Console:
    """A Rich console on standard output (or error): colours and the terminal's width on a
    terminal, plain text 100 columns wide (or ``COLUMNS``) elsewhere."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and not os.environ.get("COLUMNS", "").isdigit():
        width = _PIPE_WIDTH
    return Console(stderr=stderr, highlight=False, markup=False, emoji=False, width=width)


def emit(document: object) -> None:
    """One JSON document (or one line of a JSON-lines stream) on standard output."""
    text = json.dumps(document, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate of some input: escaped, not a crash
        text = json.dumps(document, ensure_ascii=True)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def local(moment: dt.datetime | None, zone: str, *, seconds: bool = False) -> str:
    """``moment`` in the supplier's time zone, to the minute."""
    if moment is None:
        return "-"
    shown = moment.astimezone(ZoneInfo(zone))
    return f"{shown:%Y-%m-%d %H:%M:%S}" if seconds else f"{shown:%Y-%m-%d %H:%M}"


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` (never splitting a path or a word)."""
    lines = textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False)
    return lines or [""]


def say(console: Console, text: str, *, style: str = "", indent: int = 0, hang: int = 0) -> None:
    """``text`` wrapped to the console's width (no trailing spaces), each line indented, the
    lines after the first by ``hang`` more; what it holds that could steer a terminal is
    written as escapes (:func:`~statemachine._text.printable`)."""
    first = max(console.width - indent, 20)
    lines = wrap(printable(text), first)
    if hang and len(lines) > 1:
        lines = [lines[0], *wrap(" ".join(lines[1:]), max(first - hang, 20))]
    for i, part in enumerate(lines):
        pad = indent + (hang if i else 0)
        console.print(Text(" " * pad + part, style=style))


def item(console: Console, when: str, head: str, body: str, style: str = "") -> None:
    """One item of a listing: its time and head on a line, its text wrapped below."""
    console.print(Text.assemble(f"  {when}  ", (printable(head), style or "bold")))
    for part in wrap(printable(body), max(console.width - 4, 30)):
        console.print(Text(f"    {part}"))


def table(title: str | None = None) -> Table:
    """A table in the house style: a rule under the header, no boxes to spend width on."""
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
