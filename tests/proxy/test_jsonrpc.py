"""Framing and classification of JSON-RPC lines."""

from __future__ import annotations

import json

import pytest

from mcpguard.proxy.jsonrpc import (
    LineBuffer,
    Oversized,
    encode,
    id_key,
    is_notification,
    is_request,
    is_response,
    parse,
)


def test_lines_split_across_reads() -> None:
    buf = LineBuffer()
    assert buf.feed(b'{"a":') == []
    assert buf.feed(b'1}\n{"b":2}\r\n{"c"') == [b'{"a":1}', b'{"b":2}']
    assert buf.pending == 4
    assert buf.flush() == b'{"c"'
    assert buf.flush() is None


def test_a_line_far_longer_than_a_read_is_whole() -> None:
    buf = LineBuffer()
    chunk = b"x" * 65536
    lines: list[bytes | Oversized] = []
    for _ in range(200):
        lines += buf.feed(chunk)
    lines += buf.feed(b"\n")
    assert lines == [chunk * 200]


def test_oversized_line_is_dropped_and_the_stream_resynchronises() -> None:
    buf = LineBuffer(max_line=10)
    assert buf.feed(b"0123456789ABCDEF") == []
    assert buf.feed(b"GH\nok\n") == [Oversized(18, b"0123456789ABCDEF"), b"ok"]


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'{"jsonrpc":"2.0","id":17,"result":{"content":', 17),
        (b'{"jsonrpc": "2.0", "id": "req-1", "method": "tools/call"', "req-1"),
        (b'{"id":-3', -3),
        (b'{"result":{"id":5}', None),
        (b"not json", None),
    ],
)
def test_id_of_an_oversized_message_comes_from_its_head(head: bytes, expected: object) -> None:
    assert Oversized(10**9, head).message_id() == expected


def test_classification() -> None:
    assert is_request({"jsonrpc": "2.0", "id": 1, "method": "x"})
    assert is_notification({"jsonrpc": "2.0", "method": "x"})
    assert is_response({"jsonrpc": "2.0", "id": 1, "result": {}})
    assert is_response({"jsonrpc": "2.0", "id": None, "error": {"code": 1, "message": "m"}})
    assert not is_response({"jsonrpc": "2.0", "id": 1})
    assert not is_request([1])


def test_id_keys_keep_types_apart() -> None:
    assert id_key(1) != id_key("1")
    assert id_key("a") == id_key("a")


def test_encode_keeps_utf8_and_is_compact() -> None:
    assert encode({"t": "é\U000e0041"}) == '{"t":"é\U000e0041"}'.encode()


def test_whole_lines_inside_one_read_come_out_as_they_would_from_the_buffer() -> None:
    buf = LineBuffer(max_line=8)
    assert buf.feed(b'{"a":1}\r\n\n\r\n{"b":2}\n0123456789\n') == [
        b'{"a":1}',
        b"",
        b"",
        b'{"b":2}',
        Oversized(10, b"0123456789"),
    ]
    assert buf.feed(b"x\r") == []
    assert buf.feed(b"\n") == [b"x"]


@pytest.mark.parametrize(
    "data",
    [
        b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"t":"\\u00e9\\ud800 \xc3\xa9"}}',
        b'{"a":1}',
        b"{}",
        b"[1,2]",
        b'  {"a": 1}  ',
        b'\xef\xbb\xbf{"bom": 1}',
        '{"utf16": 1}'.encode("utf-16"),
        '{"utf16le": 1}'.encode("utf-16-le"),
        b'{"bad": "\xff"}',
        b'{"surrogate": "\xed\xa0\x80"}',
        b"{not json",
        b'{"a":1} trailing',
    ],
)
def test_parse_is_json_loads(data: bytes) -> None:
    def outcome(parse: object, value: bytes | bytearray | str) -> object:
        try:
            return ("ok", parse(value))  # type: ignore[operator]
        except ValueError as exc:
            return ("error", type(exc))

    assert outcome(parse, data) == outcome(json.loads, data)
    assert outcome(parse, bytearray(data)) == outcome(json.loads, bytearray(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    assert outcome(parse, text) == outcome(json.loads, text)
