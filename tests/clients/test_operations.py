"""Wrap and unwrap every fixture: byte-identical round trips, correct argv, nothing else touched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcpguard.cli import _parser
from mcpguard.clients import formats
from mcpguard.clients.discovery import ConfigFile, discover
from mcpguard.clients.entries import shim_launcher
from mcpguard.clients.operations import apply, make_plan
from mcpguard.clients.records import WrapRecords
from mcpguard.paths import AppPaths
from tests.clients.conftest import CASES, FIXTURES, Machine

LAUNCHER = ["/opt/mcpguard/bin/mcpguard"]


def _one(machine: Machine, platform: str) -> ConfigFile:
    configs = discover(machine.env, platform, [machine.project])
    assert len(configs) == 1
    assert configs[0].error is None
    return configs[0]


def _wrap_all(machine: Machine, platform: str, paths: AppPaths, launcher: list[str] = LAUNCHER) -> int:
    plan = make_plan("wrap", [_one(machine, platform)], launcher=launcher, records=WrapRecords(paths))
    assert not plan.errors
    results = apply(plan, paths)
    assert all(r.error is None for r in results), [r.error for r in results]
    return len(plan.actions)


def _unwrap_all(machine: Machine, platform: str, paths: AppPaths) -> int:
    plan = make_plan("unwrap", [_one(machine, platform)], records=WrapRecords(paths))
    assert not plan.errors
    results = apply(plan, paths)
    assert all(r.error is None for r in results), [r.error for r in results]
    return len(plan.actions)


@pytest.mark.parametrize(("fixture", "client", "platform", "where"), CASES, ids=[c[0] for c in CASES])
def test_wrap_then_unwrap_gives_back_the_original_bytes(
    machine: Machine, app_paths: AppPaths, fixture: str, client: str, platform: str, where: str
) -> None:
    target = machine.place(fixture, where)
    original = target.read_bytes()
    wrapped = _wrap_all(machine, platform, app_paths)
    assert wrapped > 0
    assert target.read_bytes() != original
    after = _one(machine, platform)
    assert all(s.guarded for s in after.servers if s.transport == "stdio")
    assert _unwrap_all(machine, platform, app_paths) == wrapped
    assert target.read_bytes() == original


@pytest.mark.parametrize(("fixture", "client", "platform", "where"), CASES, ids=[c[0] for c in CASES])
def test_unwrap_without_records_restores_the_same_data(
    machine: Machine, app_paths: AppPaths, fixture: str, client: str, platform: str, where: str
) -> None:
    target = machine.place(fixture, where)
    config = _one(machine, platform)
    before = formats.load(target.read_text(encoding="utf-8"), config.location.format, str(target)).data
    _wrap_all(machine, platform, app_paths)
    (app_paths.home / "wraps.json").unlink()
    _unwrap_all(machine, platform, app_paths)
    after = formats.load(target.read_text(encoding="utf-8"), config.location.format, str(target)).data
    shape = config.spec.shape
    for s in config.servers:
        if s.transport == "stdio" and not s.has_args:
            # Without the record, an entry that had no args comes back with an empty list.
            formats.get_at(after, s.at).pop(shape.args)
    assert after == before


@pytest.mark.parametrize(("fixture", "client", "platform", "where"), CASES, ids=[c[0] for c in CASES])
def test_wrapped_entries_launch_mcpguard_run_with_the_original_command(
    machine: Machine, app_paths: AppPaths, fixture: str, client: str, platform: str, where: str
) -> None:
    target = machine.place(fixture, where)
    config = _one(machine, platform)
    _wrap_all(machine, platform, app_paths)
    data = formats.load(target.read_text(encoding="utf-8"), config.location.format, str(target)).data
    shape = config.spec.shape
    for s in config.servers:
        entry = formats.get_at(data, s.at)
        if s.transport != "stdio":
            assert entry == formats.get_at(_original_data(fixture, config), s.at)
            continue
        assert entry[shape.command] == LAUNCHER[0]
        args = _parser().parse_args(entry[shape.args])
        assert args.handler.__name__ == "_cmd_run"
        assert (args.name, args.client) == (s.name, client)
        assert args.command == ["--", *(s.original or ())]
        # every other key of the entry is as it was
        original = dict(formats.get_at(_original_data(fixture, config), s.at))
        for key in (shape.command, shape.args):
            original.pop(key, None)
            entry.pop(key, None)
        assert entry == original


def _original_data(fixture: str, config: ConfigFile) -> object:
    text = (FIXTURES / fixture).read_text(encoding="utf-8")
    return formats.load(text, config.location.format, fixture).data


def test_remote_and_builtin_entries_are_left_alone(machine: Machine, app_paths: AppPaths) -> None:
    machine.place("goose_config.yaml", "home:.config/goose/config.yaml")
    plan = make_plan("wrap", discover(machine.env, "darwin"), launcher=LAUNCHER, records=WrapRecords(app_paths))
    assert sorted(a.server.name for a in plan.actions) == ["fetch", "github"]
    reasons = {s.server.name: s.reason for s in plan.skipped}
    assert reasons["tavily"].startswith("remote (https://mcp.tavily.com/mcp/)")
    assert "builtin" in reasons["developer"]


def test_mcp_remote_bridges_are_listed_as_remote(machine: Machine, app_paths: AppPaths) -> None:
    machine.place("claude_desktop_config.json", "home:Library/Application Support/Claude/claude_desktop_config.json")
    plan = make_plan("wrap", discover(machine.env, "darwin"), launcher=LAUNCHER, records=WrapRecords(app_paths))
    reasons = {s.server.name: s.reason for s in plan.skipped}
    assert "https://mcp.linear.app/sse" in reasons["linear"]
    assert "linear" not in [a.server.name for a in plan.actions]


def test_an_entry_already_wrapped_is_not_wrapped_twice(machine: Machine, app_paths: AppPaths) -> None:
    target = machine.place("claude.json", "home:.claude.json")
    _wrap_all(machine, "linux", app_paths)
    once = target.read_bytes()
    plan = make_plan("wrap", discover(machine.env, "linux"), launcher=LAUNCHER, records=WrapRecords(app_paths))
    assert plan.actions == []
    assert {s.reason for s in plan.skipped if s.server.transport == "stdio"} == {"already guarded"}
    assert target.read_bytes() == once


def test_wrap_recognises_the_python_m_form(machine: Machine, app_paths: AppPaths) -> None:
    target = machine.place("lmstudio_mcp.json", "home:.lmstudio/mcp.json")
    original = target.read_bytes()
    _wrap_all(machine, "linux", app_paths, launcher=["/usr/bin/python3", "-m", "mcpguard"])
    entry = json.loads(target.read_text())["mcpServers"]["js-code-sandbox"]
    assert entry["command"] == "/usr/bin/python3"
    assert entry["args"][:4] == ["-m", "mcpguard", "run", "--name"]
    assert all(s.guarded for s in _one(machine, "linux").servers if s.transport == "stdio")
    _unwrap_all(machine, "linux", app_paths)
    assert target.read_bytes() == original


def test_selection_by_client_and_server(machine: Machine, app_paths: AppPaths) -> None:
    machine.place("claude.json", "home:.claude.json")
    machine.place("cursor_mcp.json", "home:.cursor/mcp.json")
    configs = discover(machine.env, "linux")
    plan = make_plan("wrap", configs, client="cursor", launcher=LAUNCHER)
    assert {a.server.client for a in plan.actions} == {"cursor"}
    plan = make_plan("wrap", configs, server="postgres", launcher=LAUNCHER)
    assert [(a.server.client, a.server.project) for a in plan.actions] == [("claude-code", "/home/ana/src/shop")]


def test_a_plan_writes_nothing_and_its_diff_is_the_change(machine: Machine, app_paths: AppPaths) -> None:
    target = machine.place("zed_settings.json", "xdg:zed/settings.json")
    original = target.read_bytes()
    plan = make_plan("wrap", discover(machine.env, "linux"), launcher=LAUNCHER)
    diff = plan.files[0].diff()
    assert target.read_bytes() == original
    assert not (app_paths.home / "backups").exists()
    assert '-      "command": "some-command",' in diff
    assert f'+      "command": "{LAUNCHER[0]}",' in diff
    assert "theme" not in diff


def test_an_entry_changed_since_the_plan_is_refused(machine: Machine, app_paths: AppPaths) -> None:
    target = machine.place("lmstudio_mcp.json", "home:.lmstudio/mcp.json")
    plan = make_plan("wrap", discover(machine.env, "linux"), launcher=LAUNCHER)
    swapped = target.read_text().replace('"deno"', '"/tmp/evil"')
    target.write_text(swapped)
    [result] = apply(plan, app_paths)
    assert result.error is not None and "changed since it was read" in result.error
    assert target.read_text() == swapped


def test_a_corrupt_file_is_reported_and_never_written(machine: Machine, app_paths: AppPaths) -> None:
    target = machine.place("corrupt_claude_desktop_config.json", "xdg:Claude/claude_desktop_config.json")
    original = target.read_bytes()
    configs = discover(machine.env, "linux")
    assert configs[0].error is not None
    assert "line 5, column 7" in configs[0].error
    plan = make_plan("wrap", configs, launcher=LAUNCHER)
    assert plan.actions == [] and plan.errors == [configs[0].error]
    assert apply(plan, app_paths) == []
    assert target.read_bytes() == original


def test_records_are_kept_and_dropped(machine: Machine, app_paths: AppPaths) -> None:
    machine.place("codex_config.toml", "home:.codex/config.toml")
    n = _wrap_all(machine, "linux", app_paths)
    assert len(WrapRecords(app_paths).load()) == n
    _unwrap_all(machine, "linux", app_paths)
    assert WrapRecords(app_paths).load() == {}


def test_unwrap_after_the_client_reformatted_the_file(machine: Machine, app_paths: AppPaths) -> None:
    """Claude Code rewrites ~/.claude.json with its own formatting: unwrap still restores the data."""
    target = machine.place("claude.json", "home:.claude.json")
    before = json.loads(target.read_text())
    _wrap_all(machine, "linux", app_paths)
    data = json.loads(target.read_text())
    data["numStartups"] = 43
    target.write_text(json.dumps(data, indent=4))
    _unwrap_all(machine, "linux", app_paths)
    before["numStartups"] = 43
    assert json.loads(target.read_text()) == before


def test_a_wrapped_entry_really_starts_the_server_through_the_shim(machine: Machine, app_paths: AppPaths) -> None:
    config_path = machine.home / ".lmstudio" / "mcp.json"
    config_path.parent.mkdir()
    server = [sys.executable, "-c", "import sys; sys.exit(7)"]
    config_path.write_text(json.dumps({"mcpServers": {"exit7": {"command": server[0], "args": server[1:]}}}))
    _wrap_all(machine, "linux", app_paths, launcher=shim_launcher())
    entry = json.loads(config_path.read_text())["mcpServers"]["exit7"]
    assert Path(entry["command"]).is_absolute()
    done = subprocess.run([entry["command"], *entry["args"]], stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert done.returncode == 7, done.stderr


def test_a_record_that_cannot_be_saved_is_reported(
    machine: Machine, app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = machine.place("lmstudio_mcp.json", "home:.lmstudio/mcp.json")

    def fail(self: WrapRecords, put: object, drop: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(WrapRecords, "update", fail)
    [result] = apply(make_plan("wrap", discover(machine.env, "linux"), launcher=LAUNCHER), app_paths)
    assert result.error is not None and "could not be saved (Permission denied)" in result.error
    assert json.loads(target.read_text())["mcpServers"]["js-code-sandbox"]["command"] == LAUNCHER[0]
