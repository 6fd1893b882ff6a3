"""Text written where a person reads it: a terminal, a diagram, a page."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["UNSEEN", "look_alike", "printable", "printable_lines", "seen"]

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


_LATIN_LOOKS: Final = str.maketrans(
    "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0430\u0435"
    "\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u04ae"
    "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5"
    "\u03a7\u03bf\u03bd",
    "ABEKMHOPCTXaeopcyxijsYABEZHIKMNOPTYXov",
)
"""Cyrillic and Greek letters drawn as Latin ones (the common confusables of Unicode's
list): an id made of them reads as a Latin id."""


def look_alike(text: str) -> str | None:
    """Why ``text`` could pass for other text, as an id: a compatibility form (fullwidth
    letters and digits, which Unicode's NFKC writes as the plain ones), letters of two scripts
    together (a Cyrillic letter in a Latin id), or Cyrillic or Greek letters that are all
    drawn as Latin ones (a Cyrillic id that reads as ``A1``). ``None`` when it reads as
    itself."""
    if text.isascii():
        return None
    if unicodedata.normalize("NFKC", text) != text:
        return "it holds compatibility characters (fullwidth or styled forms of others)"
    scripts = {unicodedata.name(char, "?").split(" ")[0] for char in text if char.isalpha()}
    if len(scripts) > 1:
        return f"it mixes the letters of {len(scripts)} scripts ({', '.join(sorted(scripts))})"
    latin = text.translate(_LATIN_LOOKS)
    if latin.isascii():
        return f"its letters are drawn as the Latin ones of {latin!r}"
    return None
