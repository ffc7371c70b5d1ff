"""Remote entries: wrapped as ``mcpguard remote URL``, secret headers moved to the keyring, unwrapped exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcpguard.cli import _parser
from mcpguard.clients.discovery import discover
from mcpguard.clients.operations import apply, make_plan
from mcpguard.clients.records import WrapRecords
from mcpguard.paths import AppPaths
from mcpguard.remote.endpoint import parse_headers, resolve_keyring_headers
from mcpguard.secrets.base import SecretsUnavailable
from mcpguard.secrets.memory import MemoryStore
from tests.clients.conftest import Machine

LAUNCHER = ["/opt/mcpguard/bin/mcpguard"]
PLACEHOLDER = "<linear-api-key>"
"""In remote_mcp.json instead of a key (the fixture corpus holds no secret); tests put one in, as TOKEN."""
TOKEN = "Bearer test-token-0123456789abcdef"
API_KEY = "lin_api_9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e"

# fixture, where, platform, the remote servers it has that get wrapped
REMOTE_CASES = [
    ("claude.json", "home:.claude.json", "linux", {"sentry"}),  # "type": "http", "url"
    ("cursor_mcp.json", "home:.cursor/mcp.json", "linux", {"remote-docs"}),  # "url" (+ a secret-named header)
    ("vscode_mcp.json", "xdg:Code/User/mcp.json", "linux", {"github"}),  # "type": "http"
    ("windsurf_mcp_config.json", "home:.codeium/windsurf/mcp_config.json", "win32", {"figma"}),  # serverUrl
    ("gemini_settings.json", "home:.gemini/settings.json", "linux", {"httpServer", "sseServer"}),  # httpUrl
    ("claude_desktop_config.json", "home:Library/Application Support/Claude/claude_desktop_config.json", "darwin",
     {"linear"}),  # npx -y mcp-remote URL
    ("remote_mcp.json", "project:.mcp.json", "linux", {"sentry", "events", "linear", "legacy"}),
    # YAML and TOML: the entry becomes the client's own stdio shape
    ("remote_continue.yaml", "home:.continue/config.yaml", "linux", {"Sentry", "Linear (SSE)", "Docs", "Bridge"}),
    ("remote_goose.yaml", "xdg:goose/config.yaml", "linux", {"tavily", "context7", "github-remote"}),
    ("remote_codex.toml", "home:.codex/config.toml", "linux", {"docs", "figma", "linear", "bridge"}),
    ("continue_config.yaml", "home:.continue/config.yaml", "linux", {"Remote search"}),
    ("goose_config.yaml", "home:.config/goose/config.yaml", "darwin", {"tavily"}),  # headers: {}
    ("codex_config.toml", "home:.codex/config.toml", "linux", set()),  # bearer_token_env_var: left alone
]  # fmt: skip
SECRETS = {
    PLACEHOLDER: API_KEY,
    "<sentry-authorization>": TOKEN,
    "<figma-token>": "figd_Q2hhbmdlTWVQbGVhc2UxMjM0NTY3ODkw",
    "<tavily-key>": "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",
    "<linear-authorization>": "Bearer lin_oauth_7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c",
}


def _place(machine: Machine, fixture: str, where: str) -> Path:
    target = machine.place(fixture, where)
    text = target.read_text(encoding="utf-8")
    for placeholder, value in SECRETS.items():
        text = text.replace(placeholder, value)
    target.write_bytes(text.encode("utf-8"))
    return target


@pytest.mark.parametrize(("fixture", "where", "platform", "names"), REMOTE_CASES, ids=[c[0] for c in REMOTE_CASES])
def test_remote_entries_round_trip_byte_for_byte(
    machine: Machine, app_paths: AppPaths, fixture: str, where: str, platform: str, names: set[str] | None
) -> None:
    target = _place(machine, fixture, where)
    original = target.read_bytes()
    secrets = MemoryStore()
    plan = make_plan("wrap", discover(machine.env, platform, [machine.project]), launcher=LAUNCHER,
                     records=WrapRecords(app_paths), secrets=secrets, remote=True)  # fmt: skip
    remote = {a.server.name for a in plan.actions if a.server.transport == "remote"}
    if names is not None:
        assert remote == names
    else:
        assert remote
    shown = "".join(f.diff() for f in plan.files)
    assert all(value not in shown for value in SECRETS.values())  # a diff shows where a secret goes, not it
    assert all(r.error is None for r in apply(plan, app_paths))
    wrapped = target.read_text(encoding="utf-8")
    assert wrapped.encode() != original
    for value in secrets._values.values():
        assert value not in wrapped
        assert value not in (app_paths.home / "wraps.json").read_text(encoding="utf-8")
    after = discover(machine.env, platform, [machine.project])
    guarded = {s.name for c in after for s in c.servers if s.guarded}
    assert remote <= guarded
    again = make_plan("wrap", after, launcher=LAUNCHER, records=WrapRecords(app_paths), secrets=secrets, remote=True)
    assert not {a.server.name for a in again.actions} & remote
    back = make_plan("unwrap", after, records=WrapRecords(app_paths), secrets=secrets, remote=True)
    shown = "".join(f.diff() for f in back.files)
    assert all(value not in shown for value in SECRETS.values())
    assert all(r.error is None for r in apply(back, app_paths))
    assert target.read_bytes() == original


def test_wrapped_remote_entries_parse_with_the_real_command_line(machine: Machine, app_paths: AppPaths) -> None:
    target = _place(machine, "remote_mcp.json", "project:.mcp.json")
    secrets = MemoryStore()
    plan = make_plan("wrap", discover(machine.env, "linux", [machine.project]), launcher=LAUNCHER,
                     records=WrapRecords(app_paths), secrets=secrets, remote=True)  # fmt: skip
    apply(plan, app_paths)
    servers = json.loads(target.read_text(encoding="utf-8"))["mcpServers"]
    sentry = servers["sentry"]
    assert sentry["type"] == "stdio"
    assert "url" not in sentry and "headers" not in sentry
    assert sentry["command"] == LAUNCHER[0]
    args = _parser().parse_args(sentry["args"])
    assert args.handler.__name__ == "_cmd_remote"
    assert (args.url, args.name, args.client) == ("https://mcp.sentry.dev/mcp", "sentry", "claude-code")
    headers = parse_headers(args.header)
    assert headers == {"Authorization": "@keyring:remote/sentry/HEADER_Authorization", "X-Team": "platform"}
    assert secrets.get("remote/sentry/HEADER_Authorization") == TOKEN
    assert resolve_keyring_headers(headers, secrets.get)["Authorization"] == TOKEN

    linear = _parser().parse_args(servers["linear"]["args"])
    assert linear.url == "https://mcp.linear.app/sse"
    assert parse_headers(linear.header) == {"X-Api-Key": "@keyring:remote/linear/HEADER_X_Api_Key"}
    assert secrets.get("remote/linear/HEADER_X_Api_Key") == API_KEY
    assert servers["linear"]["env"] == {}

    events = _parser().parse_args(servers["events"]["args"])
    assert parse_headers(events.header) == {"X-Region": "eu"}
    assert servers["local"]["command"] == LAUNCHER[0]


def test_plain_http_to_another_machine_is_flagged(machine: Machine, app_paths: AppPaths) -> None:
    _place(machine, "remote_mcp.json", "project:.mcp.json")
    plan = make_plan("wrap", discover(machine.env, "linux", [machine.project]), launcher=LAUNCHER,
                     secrets=MemoryStore(), remote=True)  # fmt: skip
    flags = {a.server.name: a.flags for a in plan.actions}
    assert any("plain http" in f.reason for f in flags["legacy"])
    assert not flags["sentry"]


def test_without_a_keyring_a_secret_header_is_refused(machine: Machine, app_paths: AppPaths) -> None:
    target = _place(machine, "remote_mcp.json", "project:.mcp.json")
    original = target.read_bytes()
    locked = MemoryStore()
    locked.unavailable = SecretsUnavailable("the keyring is locked")
    plan = make_plan("wrap", discover(machine.env, "linux", [machine.project]), launcher=LAUNCHER,
                     records=WrapRecords(app_paths), secrets=locked, remote=True)  # fmt: skip
    reasons = {s.server.name: s.reason for s in plan.skipped}
    assert "holds a secret and no keyring is usable" in reasons["sentry"]
    assert "never writes a secret on a command line" in reasons["linear"]
    assert {a.server.name for a in plan.actions} == {"events", "legacy", "local"}
    apply(plan, app_paths)
    text = target.read_text(encoding="utf-8")
    assert TOKEN in text and API_KEY in text  # left where they were, never on a command line
    assert text.count("@keyring:") == 0
    assert target.read_bytes() != original


def test_the_default_keyring_in_tests_is_unusable_so_secrets_are_refused(machine: Machine, app_paths: AppPaths) -> None:
    _place(machine, "remote_mcp.json", "project:.mcp.json")
    plan = make_plan("wrap", discover(machine.env, "linux", [machine.project]), launcher=LAUNCHER, remote=True)
    reasons = {s.server.name: s.reason for s in plan.skipped}
    assert "no keyring is usable" in reasons["sentry"]


def test_a_wrapped_remote_entry_is_recognised_in_both_launcher_forms() -> None:
    from mcpguard.clients.entries import parse_wrapped, remote_wrapped_argv

    command, args = remote_wrapped_argv(["/usr/bin/python3", "-m", "mcpguard"], "cursor", "docs", "https://x/mcp", [])
    wrapped = parse_wrapped(command, args)
    assert wrapped is not None and wrapped.remote
    assert (wrapped.server, wrapped.client, wrapped.command) == ("docs", "cursor", "https://x/mcp")
    assert parse_wrapped("/opt/mcpguard", ["remote", "https://x/mcp", "--name", "d"]) is not None


def test_cli_wraps_remote_entries_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mcpguard wrap --all` leaves remote entries alone; `--remote` turns them into `mcpguard remote`."""
    from mcpguard.cli import main

    home = tmp_path / "home"
    config = home / ".cursor" / "mcp.json"
    config.parent.mkdir(parents=True)
    original = b'{\n  "mcpServers": {\n    "linear": { "url": "https://mcp.linear.app/mcp" }\n  }\n}\n'
    config.write_bytes(original)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    main(["wrap", "--all", "--yes"])
    assert config.read_bytes() == original
    assert main(["wrap", "--all", "--remote", "--yes"]) == 0
    wrapped = json.loads(config.read_bytes())["mcpServers"]["linear"]
    assert wrapped["args"][:2] == ["remote", "https://mcp.linear.app/mcp"]
    assert "url" not in wrapped
    assert main(["unwrap", "--all", "--yes"]) == 0
    assert config.read_bytes() == original
    capsys.readouterr()


# -- YAML and TOML ----------------------------------------------------------------------------------


def _wrap_all(machine: Machine, app_paths: AppPaths, secrets: MemoryStore, platform: str = "linux") -> None:
    plan = make_plan("wrap", discover(machine.env, platform), launcher=LAUNCHER, records=WrapRecords(app_paths),
                     secrets=secrets, remote=True)  # fmt: skip
    assert all(r.error is None for r in apply(plan, app_paths))


def _unwrap_all(machine: Machine, app_paths: AppPaths, secrets: MemoryStore, platform: str = "linux") -> list[str]:
    plan = make_plan("unwrap", discover(machine.env, platform), records=WrapRecords(app_paths), secrets=secrets)
    return [r.error for r in apply(plan, app_paths) if r.error is not None]


def _yaml(path: Path) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def test_continue_entries_become_stdio_entries_the_bridge_can_parse(machine: Machine, app_paths: AppPaths) -> None:
    target = _place(machine, "remote_continue.yaml", "home:.continue/config.yaml")
    secrets = MemoryStore()
    plan = make_plan("wrap", discover(machine.env, "linux"), launcher=LAUNCHER, secrets=secrets, remote=True)
    reasons = {s.server.name: s.reason for s in plan.skipped}
    assert "refers to a variable (${...})" in reasons["Templated"]
    assert "'requestOptions' also sets proxy" in reasons["Behind a proxy"]
    assert "websocket" in reasons["Socket"]
    sentry = next(a for a in plan.actions if a.server.name == "Sentry")
    assert sentry.remote is not None
    assert (sentry.remote.url, sentry.remote.keyring_headers, sentry.remote.plain_headers) == (
        "https://mcp.sentry.dev/mcp",
        ("Authorization",),
        ("X-Team",),
    )
    assert sentry.argv[:3] == (LAUNCHER[0], "remote", "https://mcp.sentry.dev/mcp")
    assert TOKEN not in " ".join(sentry.argv)

    _wrap_all(machine, app_paths, secrets)
    servers = {s["name"]: s for s in _yaml(target)["mcpServers"]}
    entry = servers["Sentry"]
    assert entry["type"] == "stdio" and "url" not in entry and "requestOptions" not in entry
    args = _parser().parse_args(entry["args"])
    assert (args.handler.__name__, args.url, args.name, args.client) == (
        "_cmd_remote",
        "https://mcp.sentry.dev/mcp",
        "Sentry",
        "continue",
    )
    assert parse_headers(args.header) == {
        "Authorization": "@keyring:remote/Sentry/HEADER_Authorization",
        "X-Team": "platform",
    }
    assert secrets.get("remote/Sentry/HEADER_Authorization") == TOKEN
    assert servers["Docs"]["connectionTimeout"] == 30 and "type" not in servers["Docs"]
    bridge = _parser().parse_args(servers["Bridge"]["args"])
    assert parse_headers(bridge.header) == {"X-Api-Key": "@keyring:remote/Bridge/HEADER_X_Api_Key"}
    assert servers["Templated"]["url"] == "https://api.example.com/mcp"  # left alone


def test_goose_entries_get_cmd_and_type_stdio(machine: Machine, app_paths: AppPaths) -> None:
    target = _place(machine, "remote_goose.yaml", "xdg:goose/config.yaml")
    secrets = MemoryStore()
    _wrap_all(machine, app_paths, secrets)
    extensions = _yaml(target)["extensions"]
    tavily = extensions["tavily"]
    assert (tavily["type"], tavily["cmd"]) == ("stdio", LAUNCHER[0])
    assert "uri" not in tavily and "headers" not in tavily
    assert tavily["envs"] == {} and tavily["timeout"] == 300
    assert secrets.get("remote/tavily/HEADER_Authorization") == "Bearer " + SECRETS["<tavily-key>"]
    github = _parser().parse_args(extensions["github-remote"]["args"])
    assert github.url == "https://api.githubcopilot.com/mcp/" and not github.header  # --transport dropped
    assert extensions["developer"]["type"] == "builtin"


def test_codex_tables_inline_tables_and_header_sub_tables(machine: Machine, app_paths: AppPaths) -> None:
    import tomllib

    target = _place(machine, "remote_codex.toml", "home:.codex/config.toml")
    secrets = MemoryStore()
    plan = make_plan("wrap", discover(machine.env, "linux"), launcher=LAUNCHER, secrets=secrets, remote=True)
    assert "'bearer_token_env_var'" in {s.server.name: s.reason for s in plan.skipped}["github"]
    _wrap_all(machine, app_paths, secrets)
    text = target.read_text(encoding="utf-8")
    servers = tomllib.loads(text)["mcp_servers"]
    linear = servers["linear"]
    assert "url" not in linear and "http_headers" not in linear
    assert linear["enabled_tools"] == ["list_issues", "get_issue"]
    assert parse_headers(_parser().parse_args(linear["args"]).header) == {
        "Authorization": "@keyring:remote/linear/HEADER_Authorization"
    }
    assert secrets.get("remote/linear/HEADER_Authorization") == SECRETS["<linear-authorization>"]
    assert "# the desktop app serves" in text.split("[mcp_servers.figma]")[1].splitlines()[1]  # the comment stays
    assert servers["docs"]["startup_timeout_sec"] == 15
    assert _parser().parse_args(servers["docs"]["args"]).url == "https://docs.example.com/mcp"
    for value in SECRETS.values():
        assert value not in text


def test_an_edit_elsewhere_in_a_wrapped_entry_survives_unwrap(machine: Machine, app_paths: AppPaths) -> None:
    target = _place(machine, "remote_goose.yaml", "xdg:goose/config.yaml")
    original = target.read_text(encoding="utf-8")
    secrets = MemoryStore()
    _wrap_all(machine, app_paths, secrets)
    wrapped = target.read_text(encoding="utf-8")
    edited = wrapped.replace("    description: ''\n    timeout: 300\n", "    description: ''\n    timeout: 600\n", 1)
    assert edited != wrapped
    target.write_text(edited, encoding="utf-8")
    assert _unwrap_all(machine, app_paths, secrets) == []
    expected = original.replace("    description: ''\n    timeout: 300\n", "    description: ''\n    timeout: 600\n", 1)
    assert target.read_text(encoding="utf-8") == expected


def test_an_edit_inside_the_wrapped_lines_is_never_overwritten(machine: Machine, app_paths: AppPaths) -> None:
    target = _place(machine, "remote_codex.toml", "home:.codex/config.toml")
    secrets = MemoryStore()
    _wrap_all(machine, app_paths, secrets)
    text = target.read_text(encoding="utf-8")
    edited = text.replace('"--name", "figma"', '"--name", "figma", "--timeout", "30"', 1)
    # linear's header sub-table went, so its wrapped lines run through the keys it had in between
    edited = edited.replace("tool_timeout_sec = 30", "tool_timeout_sec = 45", 1)
    target.write_text(edited, encoding="utf-8")
    plan = make_plan("unwrap", discover(machine.env, "linux"), records=WrapRecords(app_paths), secrets=secrets)
    reasons = {s.server.name: s.reason for s in plan.skipped}
    assert "edited since mcpguard wrapped it" in reasons["figma"] and "edited since" in reasons["linear"]
    assert all(r.error is None for r in apply(plan, app_paths))
    text = target.read_text(encoding="utf-8")
    assert '"--name", "figma", "--timeout", "30"' in text and "tool_timeout_sec = 45" in text  # as the user made them
    assert 'docs = { url = "https://docs.example.com/mcp"' in text  # the others are back


def test_without_a_keyring_a_yaml_secret_header_stays_where_it_is(machine: Machine, app_paths: AppPaths) -> None:
    target = _place(machine, "remote_goose.yaml", "xdg:goose/config.yaml")
    locked = MemoryStore()
    locked.unavailable = SecretsUnavailable("the keyring is locked")
    plan = make_plan("wrap", discover(machine.env, "linux"), launcher=LAUNCHER, secrets=locked, remote=True)
    assert "no keyring is usable" in {s.server.name: s.reason for s in plan.skipped}["tavily"]
    apply(plan, app_paths)
    assert SECRETS["<tavily-key>"] in target.read_text(encoding="utf-8")
    assert _yaml(target)["extensions"]["tavily"]["uri"] == "https://mcp.tavily.com/mcp/"


def test_a_yaml_flow_mapping_entry_is_left_alone_with_the_reason(machine: Machine, app_paths: AppPaths) -> None:
    config = machine.home / ".continue" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("mcpServers:\n  - {name: Flow, type: sse, url: 'https://flow.example.com/sse'}\n")
    plan = make_plan("wrap", discover(machine.env, "linux"), launcher=LAUNCHER, secrets=MemoryStore(), remote=True)
    (skipped,) = plan.skipped
    assert "flow style" in skipped.reason and not plan.errors and not plan.actions


def test_an_entry_with_both_a_url_and_a_command_is_left_alone(machine: Machine, app_paths: AppPaths) -> None:
    config = machine.home / ".continue" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("mcpServers:\n  - name: Both\n    command: npx\n    url: https://both.example.com/mcp\n")
    plan = make_plan("wrap", discover(machine.env, "linux"), launcher=LAUNCHER, secrets=MemoryStore(), remote=True)
    (skipped,) = plan.skipped
    assert "both 'url' and 'command'" in skipped.reason and not plan.errors


def test_a_record_that_would_not_rewrap_to_the_file_is_refused(machine: Machine, app_paths: AppPaths) -> None:
    """The restored lines must wrap again to the very text in the file, or nothing is written."""
    target = _place(machine, "remote_goose.yaml", "xdg:goose/config.yaml")
    secrets = MemoryStore()
    _wrap_all(machine, app_paths, secrets)
    wrapped = target.read_bytes()
    records = app_paths.home / "wraps.json"
    doc = json.loads(records.read_text(encoding="utf-8"))
    for record in doc["wraps"]:
        if record["name"] == "context7":  # the record now says another URL than the wrapped entry runs
            record["snapshot"]["entry_raw"] = record["snapshot"]["entry_raw"].replace("context7.com", "evil.example")
    records.write_text(json.dumps(doc), encoding="utf-8")
    plan = make_plan("unwrap", discover(machine.env, "linux"), records=WrapRecords(app_paths), secrets=secrets)
    assert any("would not read back as intended" in e for e in plan.errors)
    apply(plan, app_paths)
    assert target.read_bytes() == wrapped
