"""The tray's watch on the client configs: real watchdog threads, changes on disk, the page and the tray react."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from mcpguard.clients.discovery import discover
from mcpguard.gui.bridge import StoreBridge
from mcpguard.gui.config_watch import ClientEvent, ConfigWatch, notification
from mcpguard.gui.main_window import MainWindow
from mcpguard.gui.tray import Tray
from mcpguard.paths import AppPaths
from mcpguard.pinning.store import Store
from tests.gui.client_machine import CLAUDE_DESKTOP, CURSOR, WINDSURF, Machine, add_server, entry, make_machine

pytestmark = pytest.mark.gui

WITHIN = 3000
"""Milliseconds a change on disk may take to reach the page (debounce 0.05 s + a reading)."""


@dataclass
class Rig:
    """What ``mcpguard tray`` wires together, on a fake machine."""

    machine: Machine
    window: MainWindow
    tray: Tray
    watch: ConfigWatch

    def guarded(self, client: str, server: str) -> str | None:
        """The page's "Guarded" cell for a server, or None while the page does not show it."""
        for i in range(self.window.clients.tree.topLevelItemCount()):
            top = self.window.clients.tree.topLevelItem(i)
            if top is None or top.text(0) != client:
                continue
            for j in range(top.childCount()):
                row = top.child(j)
                if row is not None and row.text(0) == server:
                    return row.text(2)
        return None


@pytest.fixture
def rig(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: Store, app_paths: AppPaths
) -> Iterator[Rig]:
    machine = make_machine(tmp_path, monkeypatch)
    machine.place("claude_desktop_config.json", CLAUDE_DESKTOP)
    machine.place("cursor_mcp.json", CURSOR)
    bridge = StoreBridge(store, poll_ms=50)
    window = MainWindow(store, bridge, paths=app_paths)
    qtbot.addWidget(window)
    window.clients.platform = "linux"
    window.clients.confirm = lambda plan: True
    tray = Tray(store, window)
    watch = ConfigWatch(store, app_paths, platform="linux", debounce=0.05)
    window.watch_clients(watch)
    watch.events.connect(tray.on_client_events)
    with qtbot.waitSignal(watch.scanned, timeout=WITHIN):
        watch.start()
    yield Rig(machine, window, tray, watch)
    watch.stop()


def test_the_first_reading_fills_the_page_and_announces_nothing(qtbot: QtBot, rig: Rig) -> None:
    assert rig.guarded("Cursor", "stripe") == "no"
    assert rig.guarded("Claude Desktop", "sqlite") == "no"
    with qtbot.assertNotEmitted(rig.tray.notified, wait=300):
        rig.watch.rescan()  # nothing changed on disk


def test_an_added_server_shows_up_unguarded_and_the_tray_notifies(qtbot: QtBot, rig: Rig) -> None:
    with qtbot.waitSignal(rig.tray.notified, timeout=WITHIN) as blocker:
        add_server(rig.machine.path(CURSOR), "x", "npx", ["-y", "some-mcp-server"])
    title, text = blocker.args or ("", "")
    assert title == "Cursor: new MCP server 'x' is not guarded — click to review"
    assert "npx -y some-mcp-server" in text and "Warning: fetches the npm package some-mcp-server" in text
    qtbot.waitUntil(lambda: rig.guarded("Cursor", "x") == "no — new, not guarded", timeout=WITHIN)
    assert "Cursor: new MCP server 'x' is not guarded" in rig.window.clients.message.text()
    # Wrapping it from the page clears the mark.
    key = next(s.key for c in rig.window.clients.configs for s in c.servers if s.name == "x")
    assert rig.window.clients.act_on_server("wrap", key)
    assert rig.guarded("Cursor", "x") == "yes"


def test_a_new_config_file_is_seen_too(qtbot: QtBot, rig: Rig) -> None:
    """Windsurf's directory does not exist when the watch starts: its nearest ancestor is watched."""
    with qtbot.waitSignal(rig.tray.notified, timeout=WITHIN) as blocker:
        path = rig.machine.path(WINDSURF)
        path.parent.mkdir(parents=True)
        path.write_text('{"mcpServers": {"notes": {"command": "uvx", "args": ["notes-mcp==1.2.3"]}}}')
    assert blocker.args is not None and blocker.args[0].startswith("Windsurf: new MCP server 'notes'")
    qtbot.waitUntil(lambda: rig.guarded("Windsurf", "notes") == "no — new, not guarded", timeout=WITHIN)


# WORKAROUND: the offscreen platform warns about any shown window with a layout.
@pytest.mark.qt_log_ignore("This plugin does not support")
def test_clicking_the_notification_opens_the_server_on_the_page(qtbot: QtBot, rig: Rig) -> None:
    with qtbot.waitSignal(rig.tray.notified, timeout=WITHIN):
        add_server(rig.machine.path(CURSOR), "x", "node", ["/opt/x/server.js"])
    rig.tray.icon.messageClicked.emit()
    assert rig.window.isVisible() and rig.window.tabs.currentWidget() is rig.window.clients
    current = rig.window.clients.tree.currentItem()
    assert current is not None and current.text(0) == "x"
    assert "node /opt/x/server.js" in rig.window.clients.details.toPlainText()


def test_auto_wrap_wraps_a_new_server_and_says_so(qtbot: QtBot, rig: Rig, store: Store) -> None:
    store.set_setting("auto_wrap", "on")
    config = rig.machine.path(CURSOR)
    with qtbot.waitSignal(rig.tray.notified, timeout=WITHIN) as blocker:
        add_server(config, "x", "npx", ["-y", "some-mcp-server"])
    assert blocker.args is not None and blocker.args[0] == "Cursor: new MCP server 'x' was wrapped automatically"
    wrapped = entry(config, "x")
    assert Path(wrapped["command"]).name == "mcpguard"
    assert wrapped["args"] == [
        "run", "--name", "x", "--client", "cursor", "--env-keys", "", "--", "npx", "-y", "some-mcp-server",
    ]  # fmt: skip
    assert entry(config, "stripe")["command"] == "npx"  # only the new one
    assert rig.guarded("Cursor", "x") == "yes"
    with qtbot.assertNotEmitted(rig.tray.notified, wait=500):
        pass  # the wrap's own write is no news


def test_a_removed_wrap_is_reported(qtbot: QtBot, rig: Rig) -> None:
    config = rig.machine.path(CLAUDE_DESKTOP)
    original = config.read_bytes()
    key = next(s.key for c in rig.watch.configs for s in c.servers if s.name == "sqlite")
    with qtbot.assertNotEmitted(rig.tray.notified, wait=600):
        assert rig.window.clients.act_on_server("wrap", key)
    with qtbot.waitSignal(rig.tray.notified, timeout=WITHIN) as blocker:
        config.write_bytes(original)  # the client put its own copy of the file back
    assert blocker.args is not None
    title, text = blocker.args
    assert title == "Claude Desktop: 'sqlite' is no longer guarded"
    assert str(config) in text
    qtbot.waitUntil(lambda: rig.guarded("Claude Desktop", "sqlite") == "no — no longer guarded", timeout=WITHIN)


def test_an_unwrap_made_on_the_page_is_no_news(qtbot: QtBot, rig: Rig) -> None:
    config = rig.machine.path(CLAUDE_DESKTOP)
    original = config.read_bytes()
    key = next(s.key for c in rig.watch.configs for s in c.servers if s.name == "sqlite")
    rig.window.clients.act_on_server("wrap", key)
    qtbot.waitUntil(lambda: any(s.guarded for c in rig.watch.configs for s in c.servers), timeout=WITHIN)
    with qtbot.assertNotEmitted(rig.tray.notified, wait=800):
        assert rig.window.clients.act_on_server("unwrap", key)
    assert config.read_bytes() == original
    assert not any(s.guarded for c in rig.watch.configs for s in c.servers)


def test_pause_and_notify_new_silence_it_but_auto_wrap_still_guards(qtbot: QtBot, rig: Rig, store: Store) -> None:
    rig.tray._on_pause_toggled(True)
    store.set_setting("auto_wrap", "on")
    config = rig.machine.path(CURSOR)
    with qtbot.assertNotEmitted(rig.tray.notified, wait=300), qtbot.waitSignal(rig.watch.events, timeout=WITHIN):
        add_server(config, "x", "npx", ["-y", "some-mcp-server"])
    assert Path(entry(config, "x")["command"]).name == "mcpguard"
    rig.tray._on_pause_toggled(False)
    store.set_setting("notify_new", "off")
    store.set_setting("auto_wrap", "off")
    with qtbot.assertNotEmitted(rig.tray.notified, wait=300), qtbot.waitSignal(rig.watch.events, timeout=WITHIN):
        add_server(config, "y", "npx", ["-y", "other-mcp-server"])


def test_a_stale_reading_is_dropped(rig: Rig) -> None:
    """A background reading that started before the one applied last must not undo it."""
    before = list(rig.watch.configs)
    add_server(rig.machine.path(CURSOR), "x", "npx", ["-y", "some-mcp-server"])
    fresh = discover(platform="linux")
    rig.watch._apply(10_000, fresh)
    rig.watch._apply(9_999, before)
    assert rig.watch.configs == fresh


def test_stop_joins_every_thread(qtbot: QtBot, store: Store, app_paths: AppPaths, rig: Rig) -> None:
    watch = ConfigWatch(store, app_paths, platform="linux", debounce=0.05)
    with qtbot.waitSignal(watch.scanned, timeout=WITHIN):
        watch.start()
    assert watch.running
    watch.stop()
    assert not watch.running and watch._watcher is None and watch._first is None
    add_server(rig.machine.path(CURSOR), "x", "npx", ["-y", "some-mcp-server"])
    with qtbot.assertNotEmitted(watch.scanned, wait=300):
        pass
    assert not [t for t in threading.enumerate() if t.name == "mcpguard-config-read"]


def test_one_notification_for_many_changes(rig: Rig) -> None:
    servers = [s for c in rig.watch.configs for s in c.servers if s.transport == "stdio"]
    events = [ClientEvent("added-unguarded", s) for s in servers[:7]]
    title, text = notification(events)
    assert title == "7 changes to AI client configs — click to review"
    assert text.splitlines()[0] == "Claude Desktop: new server 'filesystem' is not guarded"
    assert text.splitlines()[-1] == "… and 2 more"
    failed = ClientEvent("auto-wrap-failed", servers[0], error="the file is read-only")
    assert notification([failed]) == (
        "Claude Desktop: new MCP server 'filesystem' is not guarded — click to review",
        "Wrapping it automatically failed: the file is read-only",
    )
