"""Remote entries: wrapped as ``mcpguard remote URL``, secret headers moved to the keyring, unwrapped exactly."""

from __future__ import annotations

import json
from pathlib import Path

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
]  # fmt: skip


def _place(machine: Machine, fixture: str, where: str) -> Path:
    target = machine.place(fixture, where)
    text = target.read_text(encoding="utf-8")
    text = text.replace(PLACEHOLDER, API_KEY).replace("<sentry-authorization>", TOKEN)
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
