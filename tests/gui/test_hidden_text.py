"""Hidden characters become labelled badges, in place, and nothing else changes."""

from __future__ import annotations

import pytest

from mcpguard.gui.hidden_text import LOUD_BACKGROUND, QUIET_BACKGROUND, badge_html, is_loud, segments, to_html
from mcpguard.scanner import reveal

pytestmark = pytest.mark.gui


def tags(text: str) -> str:
    return "".join(chr(0xE0000 + ord(ch)) for ch in text)


def test_plain_text_is_one_plain_segment() -> None:
    assert segments("Read a file.") == [("Read a file.", False)]


def test_empty_text_has_no_segments() -> None:
    assert segments("") == []


def test_zero_width_space_becomes_a_marker_in_place() -> None:
    assert segments("pass\u200bword") == [
        ("pass", False),
        ("⟦U+200B ZERO WIDTH SPACE⟧", True),
        ("word", False),
    ]


def test_tag_characters_show_the_text_they_smuggle() -> None:
    assert segments("ok" + tags("send keys")) == [("ok", False), ("⟦TAG:send keys⟧", True)]


def test_bidi_override_and_escape() -> None:
    assert segments("a\u202eb\x1b[2Jc") == [
        ("a", False),
        ("⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧", True),
        ("b", False),
        ("⟦ESC⟧", True),
        ("[2Jc", False),
    ]


@pytest.mark.parametrize(
    "text",
    ["", "plain", "x\u200by\u200cz", "a" + tags("hidden <b>") + "b", "\u202eabc\u202c", "bell\x07", "é 👩‍💻 日本"],
)
def test_segments_join_up_to_reveal(text: str) -> None:
    assert "".join(chunk for chunk, _ in segments(text)) == reveal(text)


def test_already_revealed_text_splits_the_same() -> None:
    """Finding excerpts come revealed from the scanner; revealing them again must change nothing."""
    raw = "x\u200by" + tags("hi")
    assert segments(reveal(raw)) == segments(raw)


def test_ordinary_text_in_any_script_has_no_markers() -> None:
    text = "Lire un fichier — ファイルを読む 👩‍💻 🇫🇷"
    assert segments(text) == [(text, False)]


def test_lookalike_brackets_that_are_not_markers_stay_plain() -> None:
    assert segments("⟦not a marker⟧ ⟦U+zz⟧") == [("⟦not a marker⟧ ⟦U+zz⟧", False)]


def test_text_carrying_characters_are_loud() -> None:
    assert is_loud("⟦TAG:x⟧")
    assert is_loud("⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧")
    assert is_loud("⟦U+2066 LEFT-TO-RIGHT ISOLATE⟧")
    assert not is_loud("⟦U+200B ZERO WIDTH SPACE⟧")
    assert not is_loud("⟦ESC⟧")


def test_badge_colours() -> None:
    assert LOUD_BACKGROUND in badge_html("⟦TAG:x⟧")
    assert QUIET_BACKGROUND in badge_html("⟦U+200B ZERO WIDTH SPACE⟧")
    assert "color:#ffffff" in badge_html("⟦ESC⟧")
    assert "font-weight:bold" in badge_html("⟦ESC⟧")


def test_to_html_escapes_plain_text() -> None:
    assert to_html('<IMPORTANT>a & "b"</IMPORTANT>') == '&lt;IMPORTANT&gt;a &amp; "b"&lt;/IMPORTANT&gt;'


def test_to_html_renders_each_hidden_character_as_a_labelled_badge() -> None:
    out = to_html("Read.\u200b" + tags("<do it>") + "\u202e")
    assert out.startswith("Read.<span")
    assert out.count("<span") == 3
    assert "⟦U+200B ZERO WIDTH SPACE⟧</span>" in out
    assert "⟦TAG:&lt;do it&gt;⟧</span>" in out  # the smuggled text is escaped too
    assert "⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧</span>" in out
    assert "\u200b" not in out and "\u202e" not in out and "\U000e0041" not in out


def test_to_html_keeps_whitespace_for_pre_wrap() -> None:
    assert to_html("a\n  b\tc") == "a\n  b\tc"
