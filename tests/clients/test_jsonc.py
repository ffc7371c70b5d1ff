"""The span-aware JSONC scanner: values, spans, comments, errors with line and column."""

from __future__ import annotations

import json

import pytest

from mcpguard.clients import jsonc
from mcpguard.clients.errors import ConfigParseError, UnsupportedEntry


def test_values_match_the_json_module() -> None:
    text = '{"a": [1, -2.5e3, true, false, null], "b": {"c": "d\\n\\u00e9\\ud83d\\ude00\\"\\\\/"}, "e": ""}'
    assert jsonc.parse(text, comments=False).value == json.loads(text)


def test_spans_cover_exactly_the_value_text() -> None:
    text = '{ "cmd" : "npx", "args": [ "-y",\n "pkg" ] }'
    root = jsonc.parse(text)
    cmd = root.member("cmd")
    assert cmd is not None
    assert text[cmd.key_start : cmd.key_end] == '"cmd"'
    assert text[cmd.value.start : cmd.value.end] == '"npx"'
    args = root.member("args")
    assert args is not None
    assert text[args.value.start : args.value.end] == '[ "-y",\n "pkg" ]'
    assert [text[i.start : i.end] for i in args.value.items] == ['"-y"', '"pkg"']
    assert (root.start, root.end) == (0, len(text))


def test_comments_and_trailing_commas_in_jsonc() -> None:
    text = '// head\n{\n  /* block */ "a": [1, 2,], // tail\n  "b": "//not a comment",\n}\n'
    assert jsonc.parse(text).value == {"a": [1, 2], "b": "//not a comment"}


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ('{"a": 1 // c\n}', "line 1, column 9", "comments are not allowed"),
        ('{"a": [1,]}', "line 1, column 9", "trailing comma"),
        ('{"a": 1,}', "line 1, column 8", "trailing comma"),
    ],
)
def test_strict_json_refuses_jsonc(text: str, where: str, problem: str) -> None:
    with pytest.raises(ConfigParseError, match=f"{where}: .*{problem}"):
        jsonc.parse(text, comments=False, source="x.json")


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{\n  "a": 1\n  "b": 2\n}', 3, 3),
        ('{"a": "unterminated}', 1, 7),
        ('{"a": tru}', 1, 7),
        ("{\n  /* never closed", 2, 3),
        ('{"a": "tab\there"}', 1, 11),
        ('{"a": "\\x"}', 1, 8),
        ('{"a": 1} x', 1, 10),
        ("", 1, 1),
        ('{"a": 01.2.3}', 1, 7),
    ],
)
def test_errors_name_line_and_column(text: str, line: int, column: int) -> None:
    with pytest.raises(ConfigParseError) as info:
        jsonc.parse(text, source="c.json")
    assert (info.value.line, info.value.column) == (line, column)
    assert str(info.value).startswith(f"c.json does not parse at line {line}, column {column}: ")


def test_a_byte_order_mark_is_whitespace() -> None:
    assert jsonc.parse('\ufeff{"a": 1}').value == {"a": 1}


def test_duplicate_keys_are_not_guessed_at() -> None:
    root = jsonc.parse('{"a": 1, "a": 2}')
    assert root.value == {"a": 2}
    with pytest.raises(UnsupportedEntry):
        root.member("a")


def test_line_col() -> None:
    assert jsonc.line_col("ab\ncd", 4) == (2, 2)
