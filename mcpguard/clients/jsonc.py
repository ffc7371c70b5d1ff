"""A span-aware JSON / JSONC parser: every value knows the exact characters it came from.

Rewriting a client's config through ``json.loads`` and ``json.dumps`` would reformat the whole file
and drop its comments. With character spans, mcpguard replaces only the values it means to change
and every other byte of the file stays what the user (or the client) wrote.

JSONC is JSON plus ``//`` and ``/* */`` comments and trailing commas, as VS Code, Zed and Gemini
CLI read their settings. Strict JSON mode refuses both, as the clients that use ``JSON.parse`` do.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from mcpguard.clients.errors import ConfigParseError, UnsupportedEntry

_WS = " \t\r\n\ufeff"
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_NUMBER_CHARS = set("+-0123456789.eE")
_WS_RUN = re.compile("[ \t\r\n\ufeff]+")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]+|\\.)*"', re.DOTALL)


@dataclass(frozen=True)
class Member:
    """One ``"key": value`` pair of an object, with the spans of the key and of the value."""

    key: str
    key_start: int
    key_end: int
    value: Node


@dataclass(frozen=True)
class Node:
    """A JSON value and the half-open character span ``[start, end)`` it occupies in the text."""

    kind: str
    """``object``, ``array``, ``string``, ``number`` or ``literal`` (true, false, null)."""
    start: int
    end: int
    value: Any
    """The decoded Python value (for objects, the last of duplicate keys wins, as in JavaScript)."""
    members: tuple[Member, ...] = field(default=())
    items: tuple[Node, ...] = field(default=())

    def member(self, key: str) -> Member | None:
        """The member called ``key``; None when absent.

        Raises:
            UnsupportedEntry: The object has the key twice; editing one of them would be a guess.
        """
        found = [m for m in self.members if m.key == key]
        if len(found) > 1:
            raise UnsupportedEntry(f"the key {key!r} appears {len(found)} times in one object")
        return found[0] if found else None


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset, as editors show them."""
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def parse(text: str, *, comments: bool = True, source: str = "<text>") -> Node:
    """Parse ``text``; ``comments`` allows JSONC comments and trailing commas.

    Raises:
        ConfigParseError: The text is not valid JSON(C); the error names the line and column.
    """
    parser = _Parser(text, comments, source)
    parser.skip()
    node = parser.value()
    parser.skip()
    if parser.pos != len(text):
        parser.fail("unexpected text after the end of the document")
    return node


def skip_trivia(text: str, pos: int, *, comments: bool = True) -> int:
    """The offset of the first character at or after ``pos`` that is not whitespace or a comment."""
    parser = _Parser(text, comments, "<text>")
    parser.pos = pos
    parser.skip()
    return parser.pos


class _Parser:
    def __init__(self, text: str, comments: bool, source: str) -> None:
        self.text = text
        self.comments = comments
        self.source = source
        self.pos = 0

    def fail(self, message: str, at: int | None = None) -> None:
        line, col = line_col(self.text, self.pos if at is None else at)
        raise ConfigParseError(self.source, line, col, message)

    def skip(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            ch = text[self.pos]
            if ch in _WS:
                self.pos = _WS_RUN.match(text, self.pos).end()  # type: ignore[union-attr]
            elif ch == "/" and self.pos + 1 < n and text[self.pos + 1] in "/*":
                if not self.comments:
                    self.fail("comments are not allowed in this JSON file")
                if text[self.pos + 1] == "/":
                    end = text.find("\n", self.pos)
                    self.pos = n if end < 0 else end
                else:
                    end = text.find("*/", self.pos + 2)
                    if end < 0:
                        self.fail("a /* comment is never closed")
                    self.pos = end + 2
            else:
                return

    def value(self) -> Node:
        if self.pos >= len(self.text):
            self.fail("unexpected end of the file, a value was expected")
        ch = self.text[self.pos]
        if ch == "{":
            return self.object()
        if ch == "[":
            return self.array()
        if ch == '"':
            start = self.pos
            text = self.string()
            return Node("string", start, self.pos, text)
        if ch in _NUMBER_CHARS:
            return self.number()
        literal: tuple[str, Any]
        for literal in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(literal[0], self.pos):
                start = self.pos
                self.pos += len(literal[0])
                return Node("literal", start, self.pos, literal[1])
        self.fail(f"unexpected character {ch!r}, a value was expected")
        raise AssertionError  # pragma: no cover - fail() raised

    def object(self) -> Node:
        start = self.pos
        self.pos += 1
        members: list[Member] = []
        decoded: dict[str, Any] = {}
        self.skip()
        while True:
            if self.pos >= len(self.text):
                self.fail("unexpected end of the file inside an object, '}' was expected")
            if self.text[self.pos] == "}":
                if members and not self.comments and self.text[self.prev_token_end()] == ",":
                    self.fail("a trailing comma is not allowed in this JSON file", self.prev_token_end())
                self.pos += 1
                return Node("object", start, self.pos, decoded, members=tuple(members))
            if self.text[self.pos] != '"':
                self.fail("a key in double quotes was expected")
            key_start = self.pos
            key = self.string()
            key_end = self.pos
            self.skip()
            if self.pos >= len(self.text) or self.text[self.pos] != ":":
                self.fail("':' was expected after the key")
            self.pos += 1
            self.skip()
            node = self.value()
            members.append(Member(key, key_start, key_end, node))
            decoded[key] = node.value
            self.skip()
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
                self.skip()
            elif self.pos < len(self.text) and self.text[self.pos] != "}":
                self.fail("',' or '}' was expected")

    def array(self) -> Node:
        start = self.pos
        self.pos += 1
        items: list[Node] = []
        self.skip()
        while True:
            if self.pos >= len(self.text):
                self.fail("unexpected end of the file inside an array, ']' was expected")
            if self.text[self.pos] == "]":
                if items and not self.comments and self.text[self.prev_token_end()] == ",":
                    self.fail("a trailing comma is not allowed in this JSON file", self.prev_token_end())
                self.pos += 1
                return Node("array", start, self.pos, [i.value for i in items], items=tuple(items))
            items.append(self.value())
            self.skip()
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
                self.skip()
            elif self.pos < len(self.text) and self.text[self.pos] != "]":
                self.fail("',' or ']' was expected")

    def prev_token_end(self) -> int:
        """Offset of the last non-whitespace character before the current position."""
        i = self.pos - 1
        while i > 0 and self.text[i] in _WS:
            i -= 1
        return i

    def string(self) -> str:
        # Fast path: a regular expression finds the end, the json module decodes the escapes.
        found = _STRING.match(self.text, self.pos)
        if found is not None:
            raw = found.group()
            if "\\" not in raw:
                self.pos = found.end()
                return raw[1:-1]
            try:
                decoded: str = json.loads(raw)
            except ValueError:
                pass
            else:
                self.pos = found.end()
                return decoded
        return self.slow_string()

    def slow_string(self) -> str:
        """Character by character, to say exactly where a bad string goes wrong."""
        text, n = self.text, len(self.text)
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= n:
                self.fail("a string is never closed", start)
            ch = text[self.pos]
            if ch == '"':
                self.pos += 1
                return _join_surrogates("".join(out))
            if ch == "\\":
                if self.pos + 1 >= n:
                    self.fail("a string is never closed", start)
                esc = text[self.pos + 1]
                if esc in _ESCAPES:
                    out.append(_ESCAPES[esc])
                    self.pos += 2
                elif esc == "u":
                    digits = text[self.pos + 2 : self.pos + 6]
                    if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                        self.fail("a \\u escape needs four hexadecimal digits")
                    out.append(chr(int(digits, 16)))
                    self.pos += 6
                else:
                    self.fail(f"unknown escape \\{esc} in a string")
            elif ch in "\n\r" or ord(ch) < 0x20:
                self.fail("a control character or line break inside a string must be escaped")
            else:
                out.append(ch)
                self.pos += 1

    def number(self) -> Node:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _NUMBER_CHARS:
            self.pos += 1
        raw = self.text[start : self.pos]
        try:
            decoded = json.loads(raw)
        except ValueError:
            self.fail(f"{raw!r} is not a valid number", start)
        return Node("number", start, self.pos, decoded)


def _join_surrogates(s: str) -> str:
    """``\\ud83d\\ude00`` escapes decode to one character, as JavaScript reads them."""
    if not any("\ud800" <= c <= "\udfff" for c in s):
        return s
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
