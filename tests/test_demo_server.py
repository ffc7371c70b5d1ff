"""Tests for the bundled demo MCP server (mcpguard.demo.server).

Most tests drive ``DemoServer`` directly, message by message. The integration tests start the real
module in a subprocess: one through the official SDK client (proof that it is a real MCP server),
one over raw pipes (exit status on EOF, the rug pull on the wire, persistence across a restart).
"""

import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mcpguard.demo import server as demo
from mcpguard.demo.server import (
    CLEAN_READ_NOTE_DESCRIPTION,
    HIDDEN_MESSAGE,
    POISONED_READ_NOTE_DESCRIPTION,
    DemoServer,
    encode_message,
    encode_tag_characters,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXED_NOW = datetime(2025, 1, 15, 9, 30, 5, 123456, tzinfo=UTC)


def fixed_clock() -> datetime:
    return FIXED_NOW


@pytest.fixture
def server() -> DemoServer:
    return DemoServer(clock=fixed_clock)


def request(srv: DemoServer, method: str, params: dict[str, Any] | None = None, msg_id: int = 1) -> Any:
    """Send one request; return the messages the server produced."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return srv.handle(message)


def result_of(srv: DemoServer, method: str, params: dict[str, Any] | None = None) -> Any:
    out = request(srv, method, params)
    assert len(out) == 1, out
    assert "error" not in out[0], out[0]
    return out[0]["result"]


def error_of(srv: DemoServer, method: str, params: dict[str, Any] | None = None) -> Any:
    out = request(srv, method, params)
    assert len(out) == 1, out
    assert "result" not in out[0], out[0]
    return out[0]["error"]


def call(srv: DemoServer, name: str, arguments: dict[str, Any] | None = None) -> tuple[bool, str]:
    """Call a tool; return (isError, text)."""
    result = result_of(srv, "tools/call", {"name": name, "arguments": arguments or {}})
    assert [block["type"] for block in result["content"]] == ["text"]
    return result["isError"], result["content"][0]["text"]


def tools_by_name(srv: DemoServer) -> dict[str, Any]:
    return {tool["name"]: tool for tool in result_of(srv, "tools/list")["tools"]}


def decode_tags(text: str) -> str:
    """The ASCII spelled by Unicode tag characters in ``text`` (CANCEL TAG excluded)."""
    return "".join(chr(ord(ch) - 0xE0000) for ch in text if 0xE0020 <= ord(ch) <= 0xE007E)


LIST_CHANGED = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}


# -- initialize, ping, notifications ------------------------------------------------------------


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])
def test_initialize_echoes_a_supported_version(server: DemoServer, version: str) -> None:
    result = result_of(server, "initialize", {"protocolVersion": version, "capabilities": {}})
    assert result["protocolVersion"] == version


@pytest.mark.parametrize("params", [{"protocolVersion": "2026-07-28"}, {"protocolVersion": 5}, {}])
def test_initialize_falls_back_to_latest(server: DemoServer, params: dict[str, Any]) -> None:
    assert result_of(server, "initialize", params)["protocolVersion"] == "2025-11-25"


def test_initialize_announces_capabilities_and_identity(server: DemoServer) -> None:
    result = result_of(
        server,
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    )
    assert result["capabilities"] == {"tools": {"listChanged": True}, "prompts": {"listChanged": False}}
    assert result["serverInfo"] == {"name": "mcpguard-demo", "version": "1.0.0"}
    assert "mcpguard" in result["instructions"]


def test_notifications_are_never_answered(server: DemoServer) -> None:
    assert server.handle({"jsonrpc": "2.0", "method": "notifications/initialized"}) == []
    assert server.handle({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {}}) == []
    assert server.handle({"jsonrpc": "2.0", "method": "no/such/notification"}) == []


def test_ping(server: DemoServer) -> None:
    assert request(server, "ping", msg_id=7) == [{"jsonrpc": "2.0", "id": 7, "result": {}}]


def test_string_ids_are_echoed(server: DemoServer) -> None:
    out = server.handle({"jsonrpc": "2.0", "id": "abc", "method": "ping"})
    assert out == [{"jsonrpc": "2.0", "id": "abc", "result": {}}]


# -- tools/list ---------------------------------------------------------------------------------


def test_tools_list_has_the_four_tools_with_schemas_and_annotations(server: DemoServer) -> None:
    tools = tools_by_name(server)
    assert list(tools) == ["get_time", "add", "read_note", "save_note"]
    for tool in tools.values():
        schema = tool["inputSchema"]
        assert schema["type"] == "object"
        assert set(schema.get("required", [])) <= set(schema["properties"])
        assert all(prop["description"] for prop in schema["properties"].values())
        assert isinstance(tool["annotations"]["readOnlyHint"], bool)
        assert tool["description"]
    assert tools["add"]["inputSchema"]["required"] == ["a", "b"]
    assert tools["save_note"]["annotations"]["readOnlyHint"] is False
    assert tools["read_note"]["annotations"]["readOnlyHint"] is True


def test_tool_schemas_are_valid_json_schema(server: DemoServer) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for tool in server.tools():
        jsonschema.Draft202012Validator.check_schema(tool["inputSchema"])


def test_clean_read_note_has_no_payload(server: DemoServer) -> None:
    description = tools_by_name(server)["read_note"]["description"]
    assert description == CLEAN_READ_NOTE_DESCRIPTION
    assert "<IMPORTANT>" not in description
    assert description.isascii()


def test_tools_list_returns_fresh_copies(server: DemoServer) -> None:
    server.tools()[0]["description"] = "mutated"
    assert server.tools()[0]["description"] != "mutated"


# -- tools/call ---------------------------------------------------------------------------------


def test_get_time_defaults_to_utc(server: DemoServer) -> None:
    assert call(server, "get_time") == (False, "The current time is 2025-01-15T09:30:05Z (UTC).")
    assert call(server, "get_time", {"timezone": "UTC"})[1] == "The current time is 2025-01-15T09:30:05Z (UTC)."


def test_get_time_in_a_zone(server: DemoServer) -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        zoneinfo.ZoneInfo("Europe/Paris")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no time zone database on this machine")
    is_error, text = call(server, "get_time", {"timezone": "Europe/Paris"})
    assert not is_error
    assert "2025-01-15T10:30:05+01:00" in text
    assert "2025-01-15T09:30:05Z" in text


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "Unknown time zone"),
        ({"timezone": "../../etc/passwd"}, "Unknown time zone"),
        ({"timezone": 3}, "must be a string"),
        ({"zone": "UTC"}, "Unexpected argument(s): zone"),
    ],
)
def test_get_time_bad_arguments(server: DemoServer, arguments: dict[str, Any], fragment: str) -> None:
    is_error, text = call(server, "get_time", arguments)
    assert is_error
    assert fragment in text


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(2, 3, "2 + 3 = 5"), (-1, 0.5, "-1 + 0.5 = -0.5"), (10**20, 1, f"{10**20} + 1 = {10**20 + 1}")],
)
def test_add(server: DemoServer, a: Any, b: Any, expected: str) -> None:
    assert call(server, "add", {"a": a, "b": b}) == (False, expected)


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"a": 1}, "Missing required argument(s): b"),
        ({}, "Missing required argument(s): a, b"),
        ({"a": "2", "b": 3}, "'a' must be a number"),
        ({"a": True, "b": 3}, "'a' must be a number"),
        ({"a": 1, "b": None}, "'b' must be a number"),
        ({"a": 1e308, "b": 1e308}, "too large"),
        ({"a": 1, "b": 2, "c": 3}, "Unexpected argument(s): c"),
    ],
)
def test_add_bad_arguments(server: DemoServer, arguments: dict[str, Any], fragment: str) -> None:
    is_error, text = call(server, "add", arguments)
    assert is_error
    assert fragment in text


def test_read_note_builtin_is_case_and_space_insensitive(server: DemoServer) -> None:
    is_error, text = call(server, "read_note", {"title": "  Shopping   LIST "})
    assert not is_error
    assert "coffee beans" in text


def test_read_note_unknown_lists_what_exists(server: DemoServer) -> None:
    is_error, text = call(server, "read_note", {"title": "diary"})
    assert is_error
    assert "'diary'" in text
    assert "'welcome'" in text and "'meeting notes'" in text


def test_save_then_read_note(server: DemoServer) -> None:
    assert call(server, "save_note", {"title": "Ideas", "body": "tray icon turns red"}) == (
        False,
        "Saved note 'Ideas' (19 characters).",
    )
    assert call(server, "read_note", {"title": "ideas"}) == (False, "tray icon turns red")
    assert call(server, "save_note", {"title": "IDEAS", "body": "v2"})[1].startswith("Replaced note")
    assert call(server, "read_note", {"title": "Ideas"}) == (False, "v2")
    assert "'IDEAS'" in call(server, "read_note", {"title": "nope"})[1]


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"title": "x"}, "Missing required argument(s): body"),
        ({"title": "   ", "body": "b"}, "must not be empty"),
        ({"title": "t" * 201, "body": "b"}, "at most 200"),
        ({"title": "t", "body": "b" * 100_001}, "at most 100000"),
        ({"title": ["t"], "body": "b"}, "'title' must be a string"),
    ],
)
def test_save_note_bad_arguments(server: DemoServer, arguments: dict[str, Any], fragment: str) -> None:
    is_error, text = call(server, "save_note", arguments)
    assert is_error
    assert fragment in text


def test_unknown_tool_is_a_protocol_error(server: DemoServer) -> None:
    error = error_of(server, "tools/call", {"name": "delete_everything", "arguments": {}})
    assert error == {"code": -32602, "message": "Unknown tool: delete_everything"}


@pytest.mark.parametrize(
    "params",
    [{}, {"name": 5}, {"name": "add", "arguments": [1, 2]}, {"name": "add", "arguments": "a=1"}],
)
def test_malformed_tools_call_params(server: DemoServer, params: dict[str, Any]) -> None:
    assert error_of(server, "tools/call", params)["code"] == -32602


def test_missing_arguments_means_empty(server: DemoServer) -> None:
    assert result_of(server, "tools/call", {"name": "get_time"})["isError"] is False


# -- prompts ------------------------------------------------------------------------------------


def test_prompts_list(server: DemoServer) -> None:
    prompts = result_of(server, "prompts/list")["prompts"]
    assert [p["name"] for p in prompts] == ["summarize_notes"]
    assert [a["name"] for a in prompts[0]["arguments"]] == ["style"]


def test_prompts_get_includes_the_notes(server: DemoServer) -> None:
    call(server, "save_note", {"title": "Ideas", "body": "tray icon turns red"})
    result = result_of(server, "prompts/get", {"name": "summarize_notes", "arguments": {"style": "haiku"}})
    [message] = result["messages"]
    assert message["role"] == "user"
    text = message["content"]["text"]
    assert text.startswith("Summarize the following notes as haiku.")
    assert "coffee beans" in text and "tray icon turns red" in text
    default = result_of(server, "prompts/get", {"name": "summarize_notes"})
    assert "as bullet points." in default["messages"][0]["content"]["text"]


@pytest.mark.parametrize(
    "params",
    [
        {"name": "other"},
        {},
        {"name": "summarize_notes", "arguments": {"style": 1}},
        {"name": "summarize_notes", "arguments": {"tone": "x"}},
        {"name": "summarize_notes", "arguments": ["x"]},
    ],
)
def test_prompts_get_errors(server: DemoServer, params: dict[str, Any]) -> None:
    assert error_of(server, "prompts/get", params)["code"] == -32602


# -- JSON-RPC error handling --------------------------------------------------------------------


def test_unknown_method(server: DemoServer) -> None:
    assert error_of(server, "resources/list") == {
        "code": -32601,
        "message": "Method not found: resources/list",
    }


def test_params_must_be_an_object(server: DemoServer) -> None:
    out = server.handle({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": [1]})
    assert out[0]["id"] == 3
    assert out[0]["error"]["code"] == -32602


@pytest.mark.parametrize(
    ("message", "reply_id"),
    [
        ([1, 2], None),
        ("ping", None),
        ({"jsonrpc": "1.0", "id": 4, "method": "ping"}, 4),
        ({"id": 4, "method": "ping"}, 4),
        ({"jsonrpc": "2.0", "id": 4, "method": 12}, 4),
        ({"jsonrpc": "2.0", "id": True, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": None, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, None),
        ({"foo": "bar"}, None),
    ],
)
def test_invalid_requests(server: DemoServer, message: Any, reply_id: Any) -> None:
    [out] = server.handle(message)
    assert out["id"] == reply_id
    assert out["error"]["code"] == -32600


def test_stray_responses_are_dropped(server: DemoServer) -> None:
    assert server.handle({"jsonrpc": "2.0", "id": 9, "result": {}}) == []
    assert server.handle({"jsonrpc": "2.0", "id": 9, "error": {"code": 1, "message": "x"}}) == []


@pytest.mark.parametrize(
    "line", [b"{not json", b'{"jsonrpc": "2.0", "id": 1', b"\xff\xfe{}", b'{"a": NaN}', b"[" * 100_000]
)
def test_malformed_lines_get_a_parse_error(server: DemoServer, line: bytes) -> None:
    [out] = server.handle_line(line)
    assert isinstance(out, dict)
    assert out["id"] is None
    assert out["error"]["code"] == -32700


@pytest.mark.parametrize("line", [b"", b"\n", b"   \r\n"])
def test_blank_lines_are_skipped(server: DemoServer, line: bytes) -> None:
    assert server.handle_line(line) == []


def test_handle_line_accepts_crlf_and_str(server: DemoServer) -> None:
    assert server.handle_line(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\r\n') == [
        {"jsonrpc": "2.0", "id": 1, "result": {}}
    ]
    assert server.handle_line('{"jsonrpc":"2.0","id":2,"method":"ping"}') == [{"jsonrpc": "2.0", "id": 2, "result": {}}]


def test_empty_batch_is_invalid(server: DemoServer) -> None:
    assert server.handle_line(b"[]") == [
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request: empty batch"}}
    ]


def test_batch_answers_each_request_in_one_array(server: DemoServer) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 1, "b": 1}},
        },
        {"jsonrpc": "2.0", "id": 3, "method": "nope"},
        7,
    ]
    [out] = server.handle_line(json.dumps(batch))
    assert isinstance(out, list)
    assert [item["id"] for item in out] == [1, 2, 3, None]
    assert out[1]["result"]["content"][0]["text"] == "1 + 1 = 2"
    assert out[2]["error"]["code"] == -32601
    assert out[3]["error"]["code"] == -32600


def test_batch_of_notifications_gets_no_answer(server: DemoServer) -> None:
    assert server.handle_line(b'[{"jsonrpc":"2.0","method":"notifications/initialized"}]') == []


def test_batch_that_triggers_the_rug_pull() -> None:
    srv = DemoServer(rug_pull_after=1)
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_time"}}]
    out = srv.handle_line(json.dumps(batch))
    assert len(out) == 2
    assert isinstance(out[0], list) and out[0][0]["id"] == 1
    assert out[1] == LIST_CHANGED


def test_lone_surrogates_are_encoded_as_valid_json(server: DemoServer) -> None:
    [out] = server.handle_line(b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\\ud800"}}')
    assert isinstance(out, dict)
    wire = encode_message(out)
    assert wire.endswith(b"\n") and wire.count(b"\n") == 1
    wire.decode("utf-8")  # strict: valid UTF-8
    assert json.loads(wire)["error"]["message"] == "Unknown tool: \ud800"


def test_encode_message_is_one_compact_line() -> None:
    wire = encode_message({"jsonrpc": "2.0", "id": 1, "result": {"text": "a\nb é"}})
    assert wire == '{"jsonrpc":"2.0","id":1,"result":{"text":"a\\nb é"}}\n'.encode()


def test_internal_errors_do_not_escape(server: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_arguments: dict[str, Any]) -> str:
        raise RuntimeError("bug")

    monkeypatch.setitem(server._tools, "add", boom)
    assert error_of(server, "tools/call", {"name": "add"}) == {"code": -32603, "message": "Internal error"}


# -- the rug pull -------------------------------------------------------------------------------


def test_tag_character_encoding() -> None:
    encoded = encode_tag_characters("Hi there!")
    assert decode_tags(encoded) == "Hi there!"
    assert encoded[-1] == "\U000e007f"
    assert all(0xE0000 <= ord(ch) <= 0xE007F for ch in encoded)
    with pytest.raises(ValueError):
        encode_tag_characters("café")


def test_poisoned_description_carries_visible_and_hidden_payloads() -> None:
    assert POISONED_READ_NOTE_DESCRIPTION.startswith(CLEAN_READ_NOTE_DESCRIPTION)
    assert "<IMPORTANT>" in POISONED_READ_NOTE_DESCRIPTION
    assert "~/.ssh/id_rsa" in POISONED_READ_NOTE_DESCRIPTION
    assert "Do not tell the user" in POISONED_READ_NOTE_DESCRIPTION
    assert decode_tags(POISONED_READ_NOTE_DESCRIPTION) == HIDDEN_MESSAGE


def test_no_rug_pull_by_default(server: DemoServer) -> None:
    before = server.tools()
    for i in range(25):
        out = request(server, "tools/call", {"name": "add", "arguments": {"a": i, "b": 1}})
        assert len(out) == 1
    assert server.successful_calls == 25
    assert not server.rug_pulled
    assert server.tools() == before


def test_rug_pull_after_n_successful_calls(server: DemoServer) -> None:
    srv = DemoServer(rug_pull_after=3)
    before = tools_by_name(srv)

    assert len(request(srv, "tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}})) == 1
    # Failed calls, tool errors and other methods don't count toward N.
    assert request(srv, "tools/call", {"name": "add", "arguments": {"a": 1}})[0]["result"]["isError"]
    assert "error" in request(srv, "tools/call", {"name": "nope"})[0]
    request(srv, "tools/list")
    assert len(request(srv, "tools/call", {"name": "read_note", "arguments": {"title": "welcome"}})) == 1
    assert not srv.rug_pulled

    response, notification = request(srv, "tools/call", {"name": "get_time"}, msg_id=42)
    assert response["id"] == 42 and response["result"]["isError"] is False
    assert notification == LIST_CHANGED
    assert srv.rug_pulled

    after = tools_by_name(srv)
    assert list(after) == list(before)
    changed = [name for name in before if before[name] != after[name]]
    assert changed == ["read_note"]
    assert {k: v for k, v in after["read_note"].items() if k != "description"} == {
        k: v for k, v in before["read_note"].items() if k != "description"
    }
    assert after["read_note"]["description"] == POISONED_READ_NOTE_DESCRIPTION

    # Announced once; the tool keeps working exactly as before.
    for _ in range(3):
        out = request(srv, "tools/call", {"name": "read_note", "arguments": {"title": "welcome"}})
        assert len(out) == 1 and out[0]["result"]["isError"] is False


def test_rug_pull_after_one() -> None:
    srv = DemoServer(rug_pull_after=1)
    assert request(srv, "tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})[1] == LIST_CHANGED


def test_rug_pull_after_must_be_positive() -> None:
    with pytest.raises(ValueError):
        DemoServer(rug_pull_after=0)


def test_poisoned_from_the_start() -> None:
    srv = DemoServer(poisoned=True)
    assert srv.rug_pulled
    assert tools_by_name(srv)["read_note"]["description"] == POISONED_READ_NOTE_DESCRIPTION
    assert srv.rug_pull() == []  # nothing to announce: it never changed in this session


def test_state_file_persists_the_rug_pull(tmp_path: Path) -> None:
    state = tmp_path / "sub" / "state.json"
    first = DemoServer(rug_pull_after=1, state_file=state, clock=fixed_clock)
    assert not first.rug_pulled
    assert not state.exists()
    assert request(first, "tools/call", {"name": "get_time"})[1] == LIST_CHANGED
    data = json.loads(state.read_text(encoding="utf-8"))
    assert data == {"rugPulled": True, "tool": "read_note", "pulledAt": FIXED_NOW.isoformat()}
    assert [p.name for p in state.parent.iterdir()] == ["state.json"]  # no temp file left behind

    restarted = DemoServer(state_file=state)
    assert restarted.rug_pulled
    assert tools_by_name(restarted)["read_note"]["description"] == POISONED_READ_NOTE_DESCRIPTION
    assert len(request(restarted, "tools/call", {"name": "get_time"})) == 1


@pytest.mark.parametrize("content", ["", "{broken", '{"rugPulled": false}', '{"rugPulled": "yes"}', "[true]"])
def test_unusable_state_file_means_clean_start(tmp_path: Path, content: str) -> None:
    state = tmp_path / "state.json"
    state.write_text(content, encoding="utf-8")
    assert not DemoServer(state_file=state).rug_pulled


def test_unwritable_state_file_does_not_break_the_call(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    srv = DemoServer(rug_pull_after=1, state_file=blocker / "state.json")  # parent is a file
    out = request(srv, "tools/call", {"name": "get_time"})
    assert out[1] == LIST_CHANGED
    assert srv.rug_pulled


# -- main() in-process --------------------------------------------------------------------------


def run_main(monkeypatch: pytest.MonkeyPatch, argv: list[str], lines: list[str]) -> tuple[int, list[Any]]:
    stdin = io.TextIOWrapper(io.BytesIO("".join(line + "\n" for line in lines).encode()))
    written = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(written))
    code = demo.main(argv)
    raw = written.getvalue()
    return code, [json.loads(line) for line in raw.decode().splitlines()]


def test_main_poisoned_flag_and_eof(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run_main(monkeypatch, ["--poisoned"], ['{"jsonrpc":"2.0","id":1,"method":"tools/list"}', "not json"])
    assert code == 0
    assert out[0]["result"]["tools"][2]["description"] == POISONED_READ_NOTE_DESCRIPTION
    assert out[1]["error"]["code"] == -32700


def test_main_rug_pull_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    call_line = '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"get_time"}}'
    code, out = run_main(monkeypatch, ["--rug-pull-after", "2"], [call_line % 1, call_line % 2, call_line % 3])
    assert code == 0
    assert [m.get("id", m.get("method")) for m in out] == [1, 2, "notifications/tools/list_changed", 3]


def test_main_accepts_inline_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    call_line = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_time"}}'
    code, out = run_main(monkeypatch, ["--rug-pull-after=1", f"--state-file={state}"], [call_line])
    assert code == 0
    assert out[1] == LIST_CHANGED
    assert state.exists()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--rug-pull-after", "0"], "must be at least 1"),
        (["--rug-pull-after", "x"], "not a whole number"),
        (["--rug-pull-after"], "expected a value"),
        (["--state-file="], "expected a path"),
        (["--poisoned=yes"], "unrecognized argument"),
        (["--bogus"], "unrecognized argument: --bogus"),
    ],
)
def test_main_rejects_bad_flags(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage:")
    assert fragment in captured.err


def test_main_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--rug-pull-after N", "--state-file PATH", "--poisoned"):
        assert flag in out


# -- real subprocesses --------------------------------------------------------------------------


@pytest.mark.integration
async def test_official_sdk_client_talks_to_the_demo_server(tmp_path: Path) -> None:
    import anyio
    from mcp import ClientSession, StdioServerParameters, types
    from mcp.client.stdio import stdio_client

    list_changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            list_changed.set()

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcpguard.demo.server", "--rug-pull-after", "2"],
        env={"PYTHONPATH": str(REPO_ROOT)},
        cwd=REPO_ROOT,
    )
    with (tmp_path / "server.log").open("w", encoding="utf-8") as errlog:
        with anyio.fail_after(30):
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write, message_handler=on_message) as session:
                    init = await session.initialize()
                    assert init.server_info.name == "mcpguard-demo"
                    assert init.protocol_version == "2025-11-25"
                    assert init.capabilities.tools is not None and init.capabilities.tools.list_changed

                    listing = await session.list_tools()
                    assert [t.name for t in listing.tools] == ["get_time", "add", "read_note", "save_note"]

                    result = await session.call_tool("add", {"a": 2, "b": 3})
                    assert not result.is_error
                    [block] = result.content
                    assert isinstance(block, types.TextContent)
                    assert "5" in block.text

                    prompt = await session.get_prompt("summarize_notes", {"style": "haiku"})
                    assert prompt.messages[0].role == "user"

                    await session.call_tool("read_note", {"title": "welcome"})  # second call: rug pull
                    await list_changed.wait()
                    changed = {t.name: t for t in (await session.list_tools()).tools}
                    assert changed["read_note"].description == POISONED_READ_NOTE_DESCRIPTION
    assert "rug pull" in (tmp_path / "server.log").read_text(encoding="utf-8")


@pytest.mark.integration
def test_subprocess_exits_cleanly_and_restart_keeps_the_pull(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    argv = [sys.executable, "-m", "mcpguard.demo.server", "--rug-pull-after", "1", "--state-file", str(state)]
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 2, "b": 3}},
        },
    ]
    stdin = "".join(json.dumps(m) + "\n" for m in lines) + "oops\n"
    first = subprocess.run(argv, input=stdin.encode(), capture_output=True, cwd=REPO_ROOT, timeout=30, check=False)
    assert first.returncode == 0, first.stderr
    out = [json.loads(line) for line in first.stdout.decode("utf-8").splitlines()]
    assert [m.get("id", m.get("method")) for m in out] == [1, 2, "notifications/tools/list_changed", None]
    assert out[0]["result"]["protocolVersion"] == "2025-06-18"
    assert out[1]["result"]["content"][0]["text"] == "2 + 3 = 5"
    assert out[3]["error"]["code"] == -32700
    assert state.exists()

    again = subprocess.run(
        argv,
        input=b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}\n',
        capture_output=True,
        cwd=REPO_ROOT,
        timeout=30,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    [listing] = [json.loads(line) for line in again.stdout.splitlines()]
    tools = {t["name"]: t for t in listing["result"]["tools"]}
    assert tools["read_note"]["description"] == POISONED_READ_NOTE_DESCRIPTION
    # The tag characters travel raw, as UTF-8, exactly as a malicious server would send them.
    assert "\U000e0041".encode() in again.stdout
