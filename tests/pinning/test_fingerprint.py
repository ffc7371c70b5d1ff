"""Fingerprints: stable across wire spelling, sensitive to any content, versioned."""

from __future__ import annotations

import json

import pytest

from mcpguard.pinning.canonical import canonical_bytes
from mcpguard.pinning.fingerprint import PREFIX, fingerprint, short
from tests.factories import make_tool


def test_key_order_and_whitespace_do_not_matter() -> None:
    tool = make_tool()
    respelled = json.loads(json.dumps(dict(reversed(list(tool.items()))), indent=4))
    assert fingerprint(tool) == fingerprint(respelled)


def test_number_spelling_does_not_matter() -> None:
    assert fingerprint(json.loads('{"x": 1.0}')) == fingerprint(json.loads('{"x": 1}'))


@pytest.mark.parametrize(
    "change",
    [
        {"description": "Read a file. "},
        {"title": "Read"},
        {"annotations": {"destructiveHint": True}},
        {"outputSchema": {"type": "object"}},
        {"x-future-field": "text the model may read"},
    ],
)
def test_any_field_changes_the_fingerprint(change: dict[str, object]) -> None:
    assert fingerprint(make_tool()) != fingerprint({**make_tool(), **change})


def test_hidden_character_changes_the_fingerprint() -> None:
    assert fingerprint(make_tool(description="Read a file.")) != fingerprint(
        make_tool(description="Read a file.\u200b")
    )


def test_fingerprint_is_versioned_sha256_of_jcs() -> None:
    import hashlib

    tool = make_tool()
    fp = fingerprint(tool)
    assert fp.startswith(PREFIX)
    assert fp == PREFIX + hashlib.sha256(canonical_bytes(tool)).hexdigest()
    assert short(fp) == fp[len(PREFIX) : len(PREFIX) + 12]


def test_jcs_output_matches_rfc8785_example() -> None:
    # RFC 8785 section 3.2.2: sorted keys, no white space, ES6 number form.
    assert canonical_bytes({"b": [1e1, 0.5], "a": "\u20ac"}) == '{"a":"€","b":[10,0.5]}'.encode()


def test_non_canonicalisable_value_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="canonical"):
        canonical_bytes({"x": float("nan")})


def _jcs_values() -> list[object]:
    """Values that take each branch of canonical_bytes: json's C encoder, or rfc8785."""
    import random

    rng = random.Random(8785)
    alphabet = [chr(c) for c in range(0x30)] + list('"\\/ aZé€\u2028\u2029\ufeff\U0001f600\U000e0041\ue000\uffff')
    values: list[object] = [
        None,
        True,
        False,
        0,
        -1,
        2**53 - 1,
        -(2**53 - 1),
        "",
        "\x00\x1f\x7f\b\f\n\r\t",
        [],
        {},
        {"b": 1, "a": [True, None, "x"], "A": {"": ""}},
        {"\ue000": 1, "\U0001f600": 2},  # UTF-16 order differs from code-point order: rfc8785 decides
        {"é": 1, "e": 2, "z": 3},
        {"n": 1.0, "m": 0.5, "big": 1e21},  # floats: rfc8785
        (1, 2),  # a tuple: rfc8785
        make_tool(),
    ]
    for _ in range(100):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
        key = "".join(rng.choice(alphabet) for _ in range(rng.randrange(4)))
        values.append({key: text, "k": [text, rng.randrange(-(2**53), 2**53)]})
        values.append(text)
    return values


@pytest.mark.parametrize("value", _jcs_values(), ids=lambda v: repr(v)[:40])
def test_canonical_bytes_are_rfc8785s(value: object) -> None:
    import rfc8785

    assert canonical_bytes(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [2**53, -(2**53), {"s": "\ud800"}, ["\udfff"], {"\ud800": 1}, float("inf")])
def test_what_rfc8785_refuses_is_still_refused(value: object) -> None:
    with pytest.raises(ValueError):  # for a lone surrogate in a key, rfc8785's own UnicodeEncodeError
        canonical_bytes(value)
