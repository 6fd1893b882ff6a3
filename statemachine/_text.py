"""Text written where a person reads it: a terminal, a diagram, a page."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["UNSEEN", "printable", "printable_lines", "seen"]

UNSEEN: Final = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
"""Characters that show nothing though Python calls them printable: Unicode's default
ignorable code points (joiners, variation selectors, the Hangul fillers, tags), the
direction marks and the blank braille pattern."""


def seen(char: str) -> bool:
    """Whether ``char`` shows as itself: printable, and not one of :data:`UNSEEN`."""
    return char.isprintable() and not UNSEEN.match(char)


def printable(text: str) -> str:
    """``text`` as it can be shown without steering what shows it: each control, invisible or
    direction-changing character (an ESC sequence, a right-to-left override, a zero-width
    space, a line break inside an id) written as its escape, ``\\u202e``; other text as is.

    >>> printable("AE-1")
    'AE-1'
    >>> print(printable("AE-\\x1b[31m1\\u202e"))
    AE-\\u001b[31m1\\u202e
    """
    if text.isprintable() and not UNSEEN.search(text):
        return text
    return "".join(c if seen(c) else _escape(c) for c in text)


def printable_lines(text: str) -> str:
    """:func:`printable` for text of several lines: each line written out, the line breaks
    kept (a message that lists its problems one per line)."""
    return "\n".join(printable(line) for line in text.split("\n"))


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
