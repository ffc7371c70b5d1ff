"""The SSE decoder, as the HTML standard's event-stream rules read, fed in every possible way."""

from __future__ import annotations

import pytest

from mcpguard.proxy.jsonrpc import Oversized
from mcpguard.remote.sse import Event, SSEDecoder

BIG = 1 << 20


def decode(*chunks: bytes, max_event: int = BIG) -> tuple[list[Event | Oversized], SSEDecoder]:
    decoder = SSEDecoder(max_event)
    out: list[Event | Oversized] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out, decoder


def summary(items: list[Event | Oversized]) -> list[tuple[str, bytes, str] | tuple[str, int]]:
    return [
        ("oversized", item.size) if isinstance(item, Oversized) else (item.event, bytes(item.data), item.id)
        for item in items
    ]


def test_events_with_types_ids_and_multi_line_data() -> None:
    stream = b'event: message\nid: 1\ndata: {"a":1}\n\ndata: line one\ndata: line two\n\nevent: endpoint\ndata: /m\n\n'
    items, decoder = decode(stream)
    assert summary(items) == [
        ("message", b'{"a":1}', "1"),
        ("message", b"line one\nline two", "1"),
        ("endpoint", b"/m", "1"),
    ]
    assert decoder.last_event_id == "1"


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(eol: bytes) -> None:
    stream = eol.join([b"id: 7", b"data: x", b"", b"data: y", b"", b""])
    items, _ = decode(stream)
    assert summary(items) == [("message", b"x", "7"), ("message", b"y", "7")]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_split_at_every_byte(eol: bytes) -> None:
    stream = eol.join([b": ping", b"event: message", b"id: ab", b"retry: 250", b'data: {"k": "v"}', b"", b""])
    whole, _ = decode(stream)
    for cut in range(1, len(stream)):
        items, decoder = decode(stream[:cut], stream[cut:])
        assert summary(items) == summary(whole), cut
        assert decoder.retry == 250
    one_by_one, _ = decode(*(stream[i : i + 1] for i in range(len(stream))))
    assert summary(one_by_one) == [("message", b'{"k": "v"}', "ab")]


def test_a_cr_ending_a_chunk_and_an_lf_opening_the_next_make_one_line_break() -> None:
    items, _ = decode(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n")
    assert summary(items) == [("message", b"a", ""), ("message", b"b", "")]


def test_priming_event_sets_the_id_and_carries_no_data() -> None:
    items, decoder = decode(b"id: prime-1\nretry: 3000\ndata:\n\n")
    assert summary(items) == [("message", b"", "prime-1")]  # dispatched, as browsers do; the transport skips it
    assert decoder.last_event_id == "prime-1"
    assert decoder.retry == 3000


def test_comments_unknown_fields_and_bad_values_are_ignored() -> None:
    stream = b": keep-alive\nfoo: bar\nretry: soon\nid: bad\x00id\ndata\n\n"
    items, decoder = decode(stream)
    assert summary(items) == [("message", b"", "")]  # "data" with no colon is an empty data line
    assert decoder.retry is None
    assert decoder.last_event_id == ""


def test_one_space_after_the_colon_is_dropped_not_more() -> None:
    items, _ = decode(b"data:  two spaces\n\ndata:none\n\n")
    assert summary(items) == [("message", b" two spaces", ""), ("message", b"none", "")]


def test_a_block_without_data_dispatches_nothing_but_its_id() -> None:
    items, decoder = decode(b"id: 9\nevent: x\n\n")
    assert items == []
    assert decoder.last_event_id == "9"


def test_an_id_persists_across_events_until_changed() -> None:
    items, _ = decode(b"id: 1\ndata: a\n\ndata: b\n\nid:\ndata: c\n\n")
    assert [item.id for item in items if isinstance(item, Event)] == ["1", "1", ""]


def test_a_leading_bom_is_skipped_once() -> None:
    items, _ = decode(b"\xef\xbb", b"\xbfdata: x\n\n")
    assert summary(items) == [("message", b"x", "")]
    items, _ = decode(b"\xef\xbb\xbfdata: x\n\n")
    assert summary(items) == [("message", b"x", "")]


def test_an_unfinished_event_is_not_dispatched() -> None:
    items, _ = decode(b"data: half")
    assert items == []
    items, _ = decode(b"data: whole\n")  # no blank line yet
    assert items == []


def test_data_bytes_pass_untouched() -> None:
    payload = '{"text":"grüße \\u2713 ✓","n":1.50}'.encode()
    items, _ = decode(b"data: " + payload[:9], payload[9:] + b"\n\n")
    assert isinstance(items[0], Event) and bytes(items[0].data) == payload


def test_an_oversized_event_in_one_chunk_keeps_its_head_and_the_stream_goes_on() -> None:
    big = b'{"jsonrpc":"2.0","id":42,"result":"' + b"x" * 200 + b'"}'
    items, _ = decode(b"id: 5\ndata: " + big + b"\n\ndata: small\n\n", max_event=100)
    assert isinstance(items[0], Oversized)
    assert items[0].size >= len(big)
    assert items[0].message_id() == 42
    assert summary(items[1:]) == [("message", b"small", "5")]


def test_an_oversized_line_across_chunks_is_never_held_whole() -> None:
    decoder = SSEDecoder(1000)
    items = decoder.feed(b'data: {"id":"abc","result":"')
    for _ in range(50):
        items += decoder.feed(b"y" * 100)
        assert len(decoder._line) <= 1100  # the line is dropped once it is too long
    items += decoder.feed(b'"}\n\ndata: next\n\n')
    assert isinstance(items[0], Oversized) and items[0].message_id() == "abc"
    assert items[0].size > 5000
    assert summary(items[1:]) == [("message", b"next", "")]


def test_many_data_lines_adding_up_past_the_limit() -> None:
    stream = b"".join(b"data: " + b"z" * 40 + b"\n" for _ in range(10)) + b"\n" + b"data: ok\n\n"
    items, _ = decode(stream, max_event=100)
    assert isinstance(items[0], Oversized)
    assert summary(items[1:]) == [("message", b"ok", "")]
