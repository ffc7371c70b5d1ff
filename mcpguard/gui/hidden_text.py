"""Hidden characters made visible in place, as labelled badges in Qt rich text.

The model reads every character of a definition, including the ones a screen does not draw: Unicode tag
characters that spell out a whole hidden sentence, zero-width spaces, bidi overrides that reorder what the
user reads, terminal escapes. :func:`mcpguard.scanner.reveal` rewrites each of them as a ``⟦...⟧`` marker;
this module splits that text into plain runs and markers and renders each marker as a coloured badge, so
the user reads the same text the model reads, with nothing left invisible.

Pure functions (no Qt import): the dialog renders the HTML, tests check it as text.

Known limit: a definition that *literally* contains ``⟦U+200B ZERO WIDTH SPACE⟧`` (typed, not hidden) is
shown as a badge too; the markers cannot be told apart from literal text after :func:`reveal`. That errs on
the loud side, and the model reads those literal characters anyway.
"""

from __future__ import annotations

import html
import re
from typing import Final

from mcpguard.scanner import reveal

__all__ = ["MARKER", "badge_html", "is_loud", "segments", "to_html"]

MARKER: Final = re.compile(r"⟦(?:ESC|TAG:[\x20-\x7e]*|U\+[0-9A-F]{4,6} [A-Z0-9][A-Z0-9 \-]*)⟧")
"""One marker as :func:`mcpguard.scanner.reveal` writes it (tag text is printable ASCII by construction)."""

_BIDI_CODEPOINTS: Final = frozenset(
    {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)},
)

LOUD_BACKGROUND: Final = "#b42318"
"""Red: the character carries or reorders text (tag characters, bidi controls)."""
QUIET_BACKGROUND: Final = "#b54708"
"""Amber: the character is invisible but carries no text of its own (zero-width, controls, escapes)."""


def segments(text: str) -> list[tuple[str, bool]]:
    """Split ``text`` into plain runs and hidden-character markers, in order.

    ``text`` may be raw (it is passed through :func:`reveal` first) or already revealed, such as a
    scanner finding's excerpt: revealing revealed text changes nothing.

    Returns:
        ``(chunk, is_marker)`` pairs whose chunks join up to ``reveal(text)``; empty chunks are omitted.
    """
    shown = reveal(text)
    out: list[tuple[str, bool]] = []
    pos = 0
    for match in MARKER.finditer(shown):
        if match.start() > pos:
            out.append((shown[pos : match.start()], False))
        out.append((match.group(), True))
        pos = match.end()
    if pos < len(shown):
        out.append((shown[pos:], False))
    return out


def is_loud(marker: str) -> bool:
    """True for markers of characters that smuggle or reorder text: those are shown in red."""
    if marker.startswith("⟦TAG:"):
        return True
    found = re.match(r"⟦U\+([0-9A-F]{4,6}) ", marker)
    return found is not None and int(found.group(1), 16) in _BIDI_CODEPOINTS


def badge_html(marker: str) -> str:
    """One marker as a badge: white bold text on red (text-carrying) or amber (invisible) ground.

    The ``⟦ ⟧`` brackets stay in the badge so that copied text reads exactly like ``mcpguard`` CLI output.
    """
    background = LOUD_BACKGROUND if is_loud(marker) else QUIET_BACKGROUND
    return (
        f'<span style="background-color:{background}; color:#ffffff; font-weight:bold;">'
        f"{html.escape(marker, quote=False)}</span>"
    )


def to_html(text: str) -> str:
    """Inline HTML for ``text``: plain runs escaped, every hidden character as a labelled badge.

    Whitespace is kept as is; put the result inside an element with ``white-space: pre-wrap`` where
    line breaks and runs of spaces matter.
    """
    return "".join(badge_html(chunk) if marker else html.escape(chunk, quote=False) for chunk, marker in segments(text))
