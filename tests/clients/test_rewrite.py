"""Backups, atomic writes, and no lost updates when a client rewrites its config under us."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from mcpguard.clients import rewrite
from mcpguard.clients.discovery import discover
from mcpguard.clients.errors import ConfigChanged, ConfigParseError
from mcpguard.clients.operations import apply, make_plan
from mcpguard.clients.records import WrapRecords
from mcpguard.paths import AppPaths
from tests.clients.conftest import Machine

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_backup_is_private_and_exact(tmp_path: Path, app_paths: AppPaths) -> None:
    config = tmp_path / "c.json"
    config.write_text('{"a": 1}\n')
    result = rewrite.update_file(config, lambda t: t.replace("1", "2"), paths=app_paths, label="test")
    assert result.backup.read_bytes() == b'{"a": 1}\n'
    assert _mode(result.backup) == 0o600
    assert _mode(result.backup.parent) == 0o700
    assert result.backup.parent == app_paths.home / "backups"
    index = (app_paths.home / "backups" / "index.tsv").read_text()
    assert f"\t{config}\t{result.backup}\n" in index
    assert _mode(app_paths.home / "backups" / "index.tsv") == 0o600


def test_two_backups_in_the_same_instant_do_not_collide(tmp_path: Path, app_paths: AppPaths) -> None:
    config = tmp_path / "c.json"
    made = {rewrite.backup(app_paths, config, str(i).encode(), "x") for i in range(5)}
    assert len(made) == 5


def test_write_keeps_the_original_mode_and_leaves_no_temp_file(tmp_path: Path, app_paths: AppPaths) -> None:
    config = tmp_path / "cfg" / "c.json"
    config.parent.mkdir()
    config.write_text("{}")
    os.chmod(config, 0o640)
    rewrite.update_file(config, lambda t: '{"x": 1}', paths=app_paths, label="test")
    assert config.read_text() == '{"x": 1}'
    assert _mode(config) == 0o640
    assert [p.name for p in config.parent.iterdir()] == ["c.json"]


def test_a_symlinked_config_stays_a_symlink(tmp_path: Path, app_paths: AppPaths) -> None:
    real = tmp_path / "dotfiles" / "c.json"
    real.parent.mkdir()
    real.write_text("{}")
    link = tmp_path / "c.json"
    link.symlink_to(real)
    rewrite.update_file(link, lambda t: '{"x": 1}', paths=app_paths, label="test")
    assert link.is_symlink()
    assert real.read_text() == '{"x": 1}'


def test_a_file_that_is_not_utf8_is_not_touched(tmp_path: Path, app_paths: AppPaths) -> None:
    config = tmp_path / "c.json"
    config.write_bytes(b'{\n  "a": "caf\xe9"\n}')
    with pytest.raises(ConfigParseError, match="line 2, column 12"):
        rewrite.update_file(config, lambda t: t, paths=app_paths, label="test")
    assert config.read_bytes() == b'{\n  "a": "caf\xe9"\n}'


def test_an_edit_that_raises_writes_nothing(tmp_path: Path, app_paths: AppPaths) -> None:
    config = tmp_path / "c.json"
    config.write_text("{}")

    def refuse(text: str) -> str:
        raise ConfigChanged("no")

    with pytest.raises(ConfigChanged):
        rewrite.update_file(config, refuse, paths=app_paths, label="test")
    assert config.read_text() == "{}"
    assert not (app_paths.home / "backups").exists()


def _claude_code(machine: Machine) -> Path:
    return machine.place("claude.json", "home:.claude.json")


def test_a_concurrent_writer_between_our_read_and_write_loses_nothing(
    machine: Machine, app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claude Code rewrites ~/.claude.json (here: from another thread) while we edit it."""
    target = _claude_code(machine)
    go, done = threading.Event(), threading.Event()
    calls = []

    def claude_code() -> None:
        go.wait(5)
        data = json.loads(target.read_text())
        data["numStartups"] += 1
        data["projects"]["/home/ana/src/new"] = {"mcpServers": {}, "history": []}
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, target)
        done.set()

    def between(path: Path) -> None:
        calls.append(path)
        if len(calls) == 1:
            go.set()
            assert done.wait(5)

    writer = threading.Thread(target=claude_code)
    writer.start()
    monkeypatch.setattr(rewrite, "_before_replace", between)
    plan = make_plan("wrap", discover(machine.env, "linux"), launcher=["/x/mcpguard"], records=WrapRecords(app_paths))
    [result] = apply(plan, app_paths)
    writer.join(5)
    assert result.error is None
    assert len(calls) == 2
    data = json.loads(target.read_text())
    assert data["numStartups"] == 43
    assert "/home/ana/src/new" in data["projects"]
    assert data["mcpServers"]["context7"]["command"] == "/x/mcpguard"
    assert data["projects"]["/home/ana/src/shop"]["mcpServers"]["postgres"]["command"] == "/x/mcpguard"


def test_a_file_that_never_stops_changing_is_given_up(
    machine: Machine, app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _claude_code(machine)
    counter = iter(range(1000))

    def always(path: Path) -> None:
        data = json.loads(path.read_text())
        data["numStartups"] = next(counter)
        path.write_text(json.dumps(data, indent=2))

    monkeypatch.setattr(rewrite, "_before_replace", always)
    plan = make_plan("wrap", discover(machine.env, "linux"), launcher=["/x/mcpguard"], records=WrapRecords(app_paths))
    [result] = apply(plan, app_paths)
    assert result.error is not None and "kept changing" in result.error
    data = json.loads(target.read_text())
    assert data["numStartups"] == rewrite.MAX_ATTEMPTS - 1
    assert data["mcpServers"]["context7"]["command"] == "npx"
    assert sorted(p.name for p in target.parent.iterdir()) == [".claude.json"]
    assert WrapRecords(app_paths).load() == {}
