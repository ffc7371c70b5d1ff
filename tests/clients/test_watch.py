"""The config watcher (real watchdog, tmp dirs) and the comparison of two snapshots."""

from __future__ import annotations

import os
import queue
import time
from dataclasses import replace
from pathlib import Path

from mcpguard.clients.discovery import ServerEntry, discover, servers
from mcpguard.clients.operations import apply, make_plan
from mcpguard.clients.watch import ConfigWatcher, compare
from mcpguard.paths import AppPaths
from tests.clients.conftest import Machine


def _watch(targets: list[Path]) -> tuple[ConfigWatcher, queue.Queue[Path]]:
    seen: queue.Queue[Path] = queue.Queue()
    return ConfigWatcher(targets, seen.put, debounce=0.05), seen


def _next(seen: queue.Queue[Path], within: float = 1.0) -> Path:
    return seen.get(timeout=within)


def test_an_edit_is_seen_within_a_second(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text("{}")
    watcher, seen = _watch([config])
    with watcher:
        start = time.monotonic()
        config.write_text('{"mcpServers": {}}')
        assert _next(seen) == config
        assert time.monotonic() - start < 1.0


def test_an_atomic_save_arrives_as_a_move_and_is_seen(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text("{}")
    watcher, seen = _watch([config])
    with watcher:
        tmp = tmp_path / ".mcp.json.tmp"
        tmp.write_text('{"a": 1}')
        os.replace(tmp, config)
        assert _next(seen) == config


def test_bursts_are_debounced(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text("{}")
    watcher, seen = _watch([config])
    with watcher:
        for i in range(5):
            config.write_text("{}" + " " * i)
        assert _next(seen) == config
        time.sleep(0.3)
        assert seen.empty()


def test_other_files_are_ignored_and_globs_match(tmp_path: Path) -> None:
    folder = tmp_path / "mcpServers"
    folder.mkdir()
    watcher, seen = _watch([folder / "*.yaml"])
    with watcher:
        (folder / "notes.txt").write_text("x")
        (folder / "block.yaml").write_text("name: x\n")
        assert _next(seen) == folder / "block.yaml"


def test_a_config_in_a_directory_that_does_not_exist_yet(tmp_path: Path) -> None:
    config = tmp_path / ".cursor" / "mcp.json"
    watcher, seen = _watch([config])
    with watcher:
        config.parent.mkdir()
        time.sleep(0.2)  # the new directory's watch is being set up
        config.write_text("{}")
        assert _next(seen, 2.0) == config


def test_an_added_server_is_reported_by_compare(machine: Machine, tmp_path: Path) -> None:
    config = machine.place("cursor_mcp.json", "home:.cursor/mcp.json")
    before = servers(discover(machine.env, "linux"))
    watcher, seen = _watch([config])
    with watcher:
        start = time.monotonic()
        text = config.read_text().replace('"mcpServers": {', '"mcpServers": {\n        "new": {"command": "evil"},', 1)
        config.write_text(text)
        changed = _next(seen)
        after = servers(discover(machine.env, "linux"))
        elapsed = time.monotonic() - start
    assert changed == config
    assert [(c.kind, c.server.name) for c in compare(before, after)] == [("added-unguarded", "new")]
    assert elapsed < 1.0


def test_compare_reports_removed_wraps(machine: Machine, app_paths: AppPaths) -> None:
    config = machine.place("lmstudio_mcp.json", "home:.lmstudio/mcp.json")
    original = config.read_bytes()
    apply(make_plan("wrap", discover(machine.env, "linux"), launcher=["/x/mcpguard"]), app_paths)
    wrapped = servers(discover(machine.env, "linux"))
    assert compare([], wrapped) == []  # guarded servers are never "added unguarded"
    config.write_bytes(original)  # the client put its own entry back
    after = servers(discover(machine.env, "linux"))
    assert [(c.kind, c.server.name) for c in compare(wrapped, after)] == [("wrap-removed", "js-code-sandbox")]


def _entry(name: str, transport: str = "stdio", guarded: bool = False) -> ServerEntry:
    return ServerEntry("c", Path("/c.json"), ("mcpServers",), name, ("mcpServers", name), transport, "", "x", (),  # type: ignore[arg-type]
                       False, guarded, ("x",))  # fmt: skip


def test_compare_rules() -> None:
    a, b = _entry("a"), _entry("b", guarded=True)
    assert compare([a, b], [a, b]) == []
    assert compare([a, b], [a]) == []  # deleting a server leaves nothing unguarded
    assert [c.kind for c in compare([], [a, _entry("r", "remote")])] == ["added-unguarded"]
    assert [c.kind for c in compare([replace(a, transport="remote")], [a])] == ["added-unguarded"]
    assert [c.kind for c in compare([b], [replace(b, guarded=False)])] == ["wrap-removed"]
