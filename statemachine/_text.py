"""Text written where a person reads it: a terminal, a diagram, a page."""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: str) -> str:
    """``text`` as it can be shown without steering what shows it: each control, invisible or
    direction-changing character (an ESC sequence, a right-to-left override, a zero-width
    space, a line break inside an id) written as its escape, ``\\u202e``; other text as is.

    >>> printable("AE-1")
    'AE-1'
    >>> print(printable("AE-\\x1b[31m1\\u202e"))
    AE-\\u001b[31m1\\u202e
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
