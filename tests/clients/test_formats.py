"""Edits of one entry in JSON, YAML and TOML text: only the launch values change."""

from __future__ import annotations

import pytest

from mcpguard.clients import formats
from mcpguard.clients.errors import ConfigParseError, UnsupportedEntry, VerifyFailed
from mcpguard.clients.table import EntryShape

SHAPE = EntryShape()
PREFIX = ["run", "--", "npx"]


def _round_trip(text: str, fmt: formats.Format, at: formats.KeyPath, shape: EntryShape = SHAPE) -> str:
    doc = formats.load(text, fmt, "t")
    snap = doc.snapshot(at, shape)
    original = formats.get_at(doc.data, at)
    wrapped = doc.wrap(at, shape, "/m", PREFIX)
    new = formats.load(wrapped, fmt, "t")
    entry = formats.get_at(new.data, at)
    assert entry[shape.command] == "/m"
    assert entry[shape.args] == PREFIX + original.get(shape.args, [])
    restored = new.restore(at, shape, snap)
    assert restored == text
    return wrapped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"s": {"command": "npx", "args": ["a"]}}', '{"s": {"command": "/m", "args": ["run", "--", "npx", "a"]}}'),
        ('{"s": {"command": "npx","args": ["a","b"]}}', '{"s": {"command": "/m","args": ["run","--","npx","a","b"]}}'),
        ('{"s": {"command": "npx"}}', '{"s": {"command": "/m", "args": ["run", "--", "npx"]}}'),
        ('{"s": {"command":"npx", "env": {}}}', '{"s": {"command":"/m", "args":["run", "--", "npx"], "env": {}}}'),
        ('{"s": {"command": "npx", "args": []}}', '{"s": {"command": "/m", "args": ["run", "--", "npx"]}}'),
        (
            '{"s": {\n\t"command": "npx"\n}}',
            '{"s": {\n\t"command": "/m",\n\t"args": ["run", "--", "npx"]\n}}',
        ),
        (
            '{"s": {\r\n  "command": "npx",\r\n  "args": [\r\n    "a"\r\n  ]\r\n}}',
            '{"s": {\r\n  "command": "/m",\r\n  "args": [\r\n    "run",\r\n    "--",\r\n'
            '    "npx",\r\n    "a"\r\n  ]\r\n}}',
        ),
    ],
)
def test_json_edits_imitate_the_surrounding_style(text: str, expected: str) -> None:
    assert _round_trip(text, "jsonc", ("s",)) == expected


def test_json_removal_of_an_inserted_args_member_in_every_position() -> None:
    shape = SHAPE
    for text in ('{"s": {"env": {}, "command": "x"}}', '{"s": {"command": "x"}}', '{"s": {"command": "x", "e": 1}}'):
        _round_trip(text, "json", ("s",), shape)


def test_json_unprefix_without_a_snapshot() -> None:
    doc = formats.load('{"s": {"command": "/m", "args": ["run", "--", "npx", "a"]}}', "json", "t")
    assert doc.unprefix(("s",), SHAPE, "npx", 3) == '{"s": {"command": "npx", "args": ["a"]}}'
    assert doc.unprefix(("s",), SHAPE, "npx", 4) == '{"s": {"command": "npx", "args": []}}'


@pytest.mark.parametrize(
    "text",
    [
        '{"s": {"command": ["npx"]}}',
        '{"s": {"command": "npx", "args": "a b"}}',
        '{"s": {"command": "npx", "args": [1]}}',
        '{"s": {"command": "npx", "command": "x"}}',
        '{"s": []}',
    ],
)
def test_json_shapes_that_are_not_edited(text: str) -> None:
    doc = formats.load(text, "json", "t")
    with pytest.raises(UnsupportedEntry):
        doc.wrap(("s",), SHAPE, "/m", PREFIX)


YAML_CASES = [
    "s:\n  command: npx\n  args:\n    - a   # keep me\n    - 'b c'\nnext: 1\n",
    "s:\n  command: npx\n  args:\n  - a\n",
    's:\n  command: "npx"  # quoted\n  args: [a, "b"]\n',
    "s:\n  command: 'n''px'\n  args: []\n",
    "s:\n  command: npx\n  env: {}\n",
    "list:\n  - name: x\n    command: npx\n  - name: y\n    command: uvx\n    args:\n      - pkg\n",
    "s:\r\n  command: npx\r\n  args:\r\n    - a\r\n",
]


@pytest.mark.parametrize("text", YAML_CASES)
def test_yaml_edits_round_trip_byte_for_byte(text: str) -> None:
    at: formats.KeyPath = ("list", 1) if text.startswith("list") else ("s",)
    wrapped = _round_trip(text, "yaml", at)
    assert "# keep me" in wrapped or "keep me" not in text


def test_yaml_block_items_are_inserted_at_the_list_indent() -> None:
    doc = formats.load("s:\n  command: npx\n  args:\n  - a\n", "yaml", "t")
    assert doc.wrap(("s",), SHAPE, "/m", ["run", "@x", "true", "1.0"]) == (
        's:\n  command: /m\n  args:\n  - run\n  - "@x"\n  - "true"\n  - "1.0"\n  - a\n'
    )


def test_yaml_unprefix() -> None:
    doc = formats.load("s:\n  command: /m\n  args:\n    - run\n    - --\n    - npx\n    - a\n", "yaml", "t")
    assert doc.unprefix(("s",), SHAPE, "npx", 3) == "s:\n  command: npx\n  args:\n    - a\n"
    assert doc.unprefix(("s",), SHAPE, "npx", 4) == "s:\n  command: npx\n  args: []\n"
    doc = formats.load("s:\n  command: /m\n  args: [run, --, npx, a]\n", "yaml", "t")
    assert doc.unprefix(("s",), SHAPE, "npx", 3) == "s:\n  command: npx\n  args: [a]\n"


@pytest.mark.parametrize(
    "text",
    [
        "s: {command: npx}\n",
        "s:\n  command: |\n    npx\n",
        "s:\n  command: &c npx\n",
        "s:\n  command: npx\n  args: a\n",
    ],
)
def test_yaml_forms_that_are_not_edited(text: str) -> None:
    with pytest.raises(UnsupportedEntry):
        formats.load(text, "yaml", "t").wrap(("s",), SHAPE, "/m", PREFIX)


def test_yaml_parse_error_has_line_and_column() -> None:
    with pytest.raises(ConfigParseError) as info:
        formats.load("a: 1\nb: [1,\nc: 2\n", "yaml", "g.yaml")
    assert info.value.line >= 3


TOML_CASES = [
    ("[s]\ncommand = 'npx'  # c\nargs = [\n  \"a\",  # keep\n]\n", ("s",)),
    ('[s]\ncommand = "npx"\n[s.env]\nA = "1"\n', ("s",)),
    ('s = { command = "npx", env = {} }\n', ("s",)),
    ('s = { command = "npx", args = ["a"] }\n', ("s",)),
]


@pytest.mark.parametrize(("text", "at"), TOML_CASES)
def test_toml_edits_round_trip_byte_for_byte(text: str, at: formats.KeyPath) -> None:
    wrapped = _round_trip(text, "toml", at)
    if "# keep" in text:
        assert "# keep" in wrapped


def test_toml_dotted_key_entries_are_not_edited() -> None:
    doc = formats.load('[m]\nx.command = "npx"\nx.args = ["a"]\n', "toml", "t")
    with pytest.raises(UnsupportedEntry, match="dotted keys"):
        doc.wrap(("m", "x"), SHAPE, "/m", PREFIX)


def test_toml_parse_error_has_line_and_column() -> None:
    with pytest.raises(ConfigParseError) as info:
        formats.load('a = 1\n[s]\ncommand = "x\n', "toml", "c.toml")
    assert info.value.line == 3


def test_verify_refuses_edits_that_touch_anything_else() -> None:
    doc = formats.load('{"s": {"command": "a"}, "t": 1}', "json", "c.json")
    expected = {"command": "b"}
    formats.verify(doc, '{"s": {"command": "b"}, "t": 1}', "json", "c.json", ("s",), expected)
    with pytest.raises(VerifyFailed, match="more than the entry"):
        formats.verify(doc, '{"s": {"command": "b"}, "t": 2}', "json", "c.json", ("s",), expected)
    with pytest.raises(VerifyFailed, match="read back"):
        formats.verify(doc, '{"s": {"command": "c"}, "t": 1}', "json", "c.json", ("s",), expected)
    with pytest.raises(VerifyFailed, match="would not parse"):
        formats.verify(doc, '{"s": {"command": "b"} "t": 1}', "json", "c.json", ("s",), expected)


# -- remote entries in YAML and TOML: the changed lines are what unwrap puts back ----------------------


@pytest.mark.parametrize(
    ("before", "after", "old", "new"),
    [
        ("a\nb\nc\n", "a\nB\nc\n", "b\n", "B\n"),
        ("a\nbx\nc\n", "a\nby\nc\n", "bx\n", "by\n"),  # widened to whole lines
        ("a\nb\n", "a\nb\nc\n", "", "c\n"),  # an added line
        ("a\nb\nc\nd\n", "a\nd\n", "b\nc\n", ""),  # removed lines
        ("x = 1", "x = 2", "x = 1", "x = 2"),  # no final newline
        ("k: v\r\nurl: u\r\nz: 1\r\n", "k: v\r\ncommand: c\r\nz: 1\r\n", "url: u\r\n", "command: c\r\n"),
    ],
)
def test_changed_lines(before: str, after: str, old: str, new: str) -> None:
    assert formats.changed_lines(before, after) == (old, new)
    if new:
        assert after.replace(new, old, 1) == before


CONTINUE_CRLF = (
    "mcpServers:\r\n"
    "  - name: Remote  # hosted\r\n"
    "    type: streamable-http\r\n"
    "    url: 'https://r.example.com/mcp'\r\n"
    "    requestOptions:\r\n"
    "      headers:\r\n"
    "        X-Team: core\r\n"
    "    connectionTimeout: 5\r\n"
)


def test_yaml_remote_wrap_keeps_crlf_and_every_other_line() -> None:
    doc = formats.load(CONTINUE_CRLF, "yaml", "t")
    out = doc.wrap_remote(("mcpServers", 0), SHAPE, "url", "/m", ["remote", "https://r.example.com/mcp"],
                          ("requestOptions",))  # fmt: skip
    assert out == (
        "mcpServers:\r\n"
        "  - name: Remote  # hosted\r\n"
        "    type: stdio\r\n"
        "    command: /m\r\n"
        '    args: [remote, "https://r.example.com/mcp"]\r\n'
        "    connectionTimeout: 5\r\n"
    )
    old, new = formats.changed_lines(CONTINUE_CRLF, out)
    assert out.replace(new, old) == CONTINUE_CRLF


def test_yaml_remote_wrap_refuses_a_header_key_on_the_dash_line() -> None:
    text = "mcpServers:\n  - headers: {A: b}\n    name: x\n    url: https://x.example/mcp\n"
    doc = formats.load(text, "yaml", "t")
    with pytest.raises(UnsupportedEntry, match="list dash"):
        doc.wrap_remote(("mcpServers", 0), SHAPE, "url", "/m", ["remote"], ("headers",))


def test_toml_remote_wrap_takes_the_url_s_place_and_keeps_its_comment() -> None:
    text = (
        '[mcp_servers.a]\nurl = "https://a.example/mcp"  # prod\ntimeout = 3\n\n[mcp_servers.a.http_headers]\nX = "y"\n'
    )
    doc = formats.load(text, "toml", "t")
    out = doc.wrap_remote(("mcp_servers", "a"), SHAPE, "url", "/m", ["remote"], ("http_headers",))
    assert out == '[mcp_servers.a]\ncommand = "/m"  # prod\nargs = ["remote"]\ntimeout = 3\n\n'
