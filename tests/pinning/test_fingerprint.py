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
