"""Redaction: known values by name, shapes as [redacted], the same object back when nothing matched."""

from __future__ import annotations

import json
import time
from typing import Any

from mcpguard.secrets.redact import Redactor
from tests.secrets.conftest import ANTHROPIC_KEY, GITHUB_TOKEN, OPENAI_KEY, PASSWORD


def test_known_values_are_replaced_by_their_names() -> None:
    r = Redactor({"db/PGPASSWORD": PASSWORD})
    assert r.text(f"login with {PASSWORD} now") == "login with [redacted:db/PGPASSWORD] now"
    assert r.known_names == ["db/PGPASSWORD"]


def test_longest_known_value_wins() -> None:
    r = Redactor({"a/SHORT": "abcdefgh", "a/LONG": "abcdefgh-and-more"})
    assert r.text("x abcdefgh-and-more y abcdefgh") == "x [redacted:a/LONG] y [redacted:a/SHORT]"


def test_short_values_are_not_scrubbed_by_value() -> None:
    r = Redactor({"a/PIN": "1234"}, shapes=False)
    text = "order 1234 shipped"
    assert r.text(text) is text


def test_values_with_regex_characters_are_literal() -> None:
    secret = "p@ss.*(word)+[x]"
    r = Redactor({"a/PASSWORD": secret}, shapes=False)
    assert r.text(f"is {secret}!") == "is [redacted:a/PASSWORD]!"
    assert r.text("is p@ssXXXXword") == "is p@ssXXXXword"


def test_json_escaped_forms_are_found_in_serialised_text() -> None:
    secret = 'quote"back\\slash-é'
    r = Redactor({"a/PASSWORD": secret}, shapes=False)
    for dumped in (json.dumps({"p": secret}), json.dumps({"p": secret}, ensure_ascii=False)):
        assert secret not in r.text(dumped)
        assert "[redacted:a/PASSWORD]" in r.text(dumped)


def test_shapes_are_replaced_even_when_unknown() -> None:
    r = Redactor()
    text = (
        f"gh {GITHUB_TOKEN}; openai {OPENAI_KEY}; anthropic {ANTHROPIC_KEY}; "
        "db postgresql://app:hunter22@db/app; header Authorization: Bearer abcdefghijklmnop1234"
    )
    out = r.text(text)
    for secret in (GITHUB_TOKEN, OPENAI_KEY, ANTHROPIC_KEY, "hunter22", "abcdefghijklmnop1234"):
        assert secret not in out
    assert "postgresql://app:[redacted]@db/app" in out
    assert "Bearer [redacted]" in out


def test_shapes_can_be_turned_off() -> None:
    text = f"gh {GITHUB_TOKEN}"
    assert Redactor(shapes=False).text(text) is text


def test_nothing_to_replace_returns_the_same_objects() -> None:
    r = Redactor({"a/TOKEN": "value-that-is-secret"})
    text = "an ordinary sentence about tokens, keys and https://example.com/x"
    doc = {"path": "/tmp/x", "items": [1, 2.5, None, True, {"k": "v"}], "t": ("a", "b")}
    assert r.text(text) is text
    assert r.value(doc) is doc
    assert r(text) is text


def test_nested_values_are_scrubbed_without_touching_the_original() -> None:
    r = Redactor({"a/TOKEN": "value-that-is-secret"})
    doc: dict[str, Any] = {
        "args": {"q": "value-that-is-secret", "n": 3},
        "list": ["ok", f"token {GITHUB_TOKEN}"],
        "same": ["x"],
    }
    out = r.value(doc)
    assert out == {"args": {"q": "[redacted:a/TOKEN]", "n": 3}, "list": ["ok", "token [redacted]"], "same": ["x"]}
    assert out["same"] is doc["same"]
    assert doc["args"]["q"] == "value-that-is-secret"
    assert r.value(("value-that-is-secret",)) == ("[redacted:a/TOKEN]",)


def test_keys_are_scrubbed_too() -> None:
    r = Redactor({"a/TOKEN": "value-that-is-secret"})
    assert r.value({"value-that-is-secret": 1}) == {"[redacted:a/TOKEN]": 1}


def test_for_server_labels_keyring_secrets_and_finds_plaintext_in_the_environment() -> None:
    r = Redactor.for_server(
        {"GITHUB_TOKEN": "keyring-value-123"}, {"PATH": "/usr/bin", "DB_PASSWORD": PASSWORD}, server="github"
    )
    out = r.text(f"keyring-value-123 {PASSWORD} /usr/bin")
    assert out == "[redacted:github/GITHUB_TOKEN] [redacted:DB_PASSWORD] /usr/bin"


def test_fast_when_there_is_nothing_to_find() -> None:
    """A kilobyte of ordinary text with ten known secrets: well under a millisecond per call."""
    r = Redactor({f"s/V{i}": f"secret-value-number-{i:03d}" for i in range(10)})
    text = "The quick brown fox jumps over the lazy dog; see https://example.com/a?b=c. " * 14
    start = time.perf_counter()
    for _ in range(200):
        assert r.text(text) is text
    per_call = (time.perf_counter() - start) / 200
    assert per_call < 0.001, f"{per_call * 1e6:.0f} µs per kilobyte"


def test_a_marker_replaces_values_and_shapes_alike_and_the_default_stays() -> None:
    marked = Redactor({"db/PGPASSWORD": PASSWORD}, marker="[hidden: token]")
    text = f"{PASSWORD} {GITHUB_TOKEN} postgresql://app:{PASSWORD}@db/app Bearer {OPENAI_KEY}"
    assert marked.text(text) == (
        "[hidden: token] [hidden: token] postgresql://app:[hidden: token]@db/app Bearer [hidden: token]"
    )
    assert Redactor().text(GITHUB_TOKEN) == "[redacted]"
    assert Redactor(marker="a\\1b").text(GITHUB_TOKEN) == "a\\1b"  # taken literally, not as a group reference
