"""The application: one instance per profile, a window where there is no tray, the demo's wiring."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from mcpguard.gui.app import SingleInstance, TrayApp, ask_running_instance, instance_name
from mcpguard.paths import AppPaths
from tests.gui.client_machine import CURSOR, Machine, make_machine

pytestmark = pytest.mark.gui


def test_second_start_hands_over_to_the_first(qtbot: QtBot, app_paths: AppPaths) -> None:
    name = instance_name(app_paths)
    received: list[str] = []
    single = SingleInstance(name, received.append)
    assert single.server.isListening()
    assert ask_running_instance(name)
    qtbot.waitUntil(lambda: received == ["show"], timeout=3000)
    single.server.close()
    assert not ask_running_instance(name)


def test_second_process_exits_and_brings_the_window_forward(qtbot: QtBot, app_paths: AppPaths) -> None:
    """A real second ``mcpguard tray`` process finds the first, says so and exits 0."""
    name = instance_name(app_paths)
    received: list[str] = []
    single = SingleInstance(name, received.append)
    done = subprocess.Popen([sys.executable, "-m", "mcpguard", "tray", "--no-demo"], stderr=subprocess.PIPE, text=True)
    qtbot.waitUntil(lambda: done.poll() is not None, timeout=20000)
    _, err = done.communicate()
    assert done.returncode == 0
    assert "already running" in err
    qtbot.waitUntil(lambda: received == ["show"], timeout=3000)
    single.server.close()


@pytest.fixture
def fake_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Machine:
    """The tray watches the AI clients' configs: here, those of a fake machine, never the real one."""
    return make_machine(tmp_path, monkeypatch)


# WORKAROUND: the offscreen platform warns that it cannot raise windows or propagate size hints.
@pytest.mark.qt_log_ignore("This plugin does not support")
def test_without_a_tray_the_window_is_the_application(qtbot: QtBot, app_paths: AppPaths, fake_home: Machine) -> None:
    app = TrayApp(app_paths, no_demo=True)
    assert not app.has_tray  # offscreen has no system tray
    app.start()
    qtbot.addWidget(app.window)
    assert app.window.isVisible()
    assert app.window.quit_on_close
    assert app.tray is None
    app.shutdown()


# WORKAROUND: without a tray (offscreen) the window is shown, and the platform warns about that.
@pytest.mark.qt_log_ignore("This plugin does not support")
def test_the_clients_config_watch_runs_with_the_tray(qtbot: QtBot, app_paths: AppPaths, fake_home: Machine) -> None:
    """Started with the tray, it feeds the AI clients page; shutdown stops and joins its threads."""
    fake_home.place("cursor_mcp.json", CURSOR)
    app = TrayApp(app_paths, no_demo=True)
    qtbot.addWidget(app.window)
    with qtbot.waitSignal(app.config_watch.scanned, timeout=3000):
        app.start()
    assert app.config_watch.running
    assert app.window.clients.tree.topLevelItem(0) is not None
    assert app.window.clients.configs[0].path == fake_home.path(CURSOR)
    app.shutdown()
    assert not app.config_watch.running


def test_demo_starts_when_no_server_is_known(app_paths: AppPaths) -> None:
    assert TrayApp(app_paths).want_demo
    assert not TrayApp(app_paths, no_demo=True).want_demo


def test_no_display_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from mcpguard.gui.app import no_display_reason

    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    reason = no_display_reason()
    assert reason is not None and "xvfb-run mcpguard tray" in reason
    monkeypatch.setenv("DISPLAY", ":0")
    assert no_display_reason() is None


def test_no_demo_when_an_ai_client_has_servers(
    app_paths: AppPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    config = home / ".cursor" / "mcp.json"
    config.parent.mkdir(parents=True)
    config.write_text('{"mcpServers": {"fs": {"command": "npx", "args": ["-y", "server-filesystem@1.0.0"]}}}')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    assert not TrayApp(app_paths).want_demo


# WORKAROUND: without a tray (offscreen) the window is shown, and the platform warns about that.
@pytest.mark.qt_log_ignore("This plugin does not support")
def test_first_start_creates_the_integrity_key_and_signs_approvals(
    qtbot: QtBot, app_paths: AppPaths, fake_home: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a usable keyring, the tray's first start makes the key (in the background) and adopts the pins."""
    from mcpguard.pinning.store import Store
    from mcpguard.secrets import keyring_store
    from mcpguard.secrets.integrity import INTEGRITY_KEY_NAME, key_exists
    from mcpguard.secrets.keyring_store import KeyringStore
    from tests.factories import make_tool
    from tests.secrets.conftest import FakeBackend

    backend = FakeBackend()
    monkeypatch.setattr(keyring_store, "open_store", lambda paths: KeyringStore(paths.root, backend=backend))
    before = Store.open(app_paths)
    server = before.server("claude", "fs")
    before.observe(server.id, "tool", {"t": make_tool("t")})
    before.decide(server.id, "tool", "t", "approve", actor="test")
    before.close()

    app = TrayApp(app_paths, no_demo=True)
    qtbot.addWidget(app.window)
    app.start()
    assert app.protect_thread is not None
    app.protect_thread.join(timeout=10)
    assert key_exists(app_paths.root)
    key = bytes.fromhex(backend.values[("mcpguard", INTEGRITY_KEY_NAME)])
    assert app.store.integrity_key() == key
    assert app.store.item(server.id, "tool", "t").approved is not None  # signed, so still approved
    app.shutdown()

    again = TrayApp(app_paths, no_demo=True)  # later starts use the key, never make another
    qtbot.addWidget(again.window)
    again.start()
    assert again.protect_thread is None
    assert again.store.integrity_key() == key
    again.shutdown()


# WORKAROUND: without a tray (offscreen) the window is shown, and the platform warns about that.
@pytest.mark.qt_log_ignore("This plugin does not support")
def test_without_a_keyring_the_tray_starts_unprotected(
    qtbot: QtBot, app_paths: AppPaths, fake_home: Machine, caplog: pytest.LogCaptureFixture
) -> None:
    """conftest.py gives every test keyring's ``fail`` backend: no key, an INFO line, a working window."""
    import logging

    from mcpguard.secrets.integrity import key_exists

    caplog.set_level(logging.INFO, logger="mcpguard.gui.app")
    app = TrayApp(app_paths, no_demo=True)
    qtbot.addWidget(app.window)
    app.start()
    assert app.window.isVisible()
    assert app.protect_thread is not None
    app.protect_thread.join(timeout=10)
    assert not key_exists(app_paths.root)
    assert app.store.integrity_key() is None
    infos = [r for r in caplog.records if r.name == "mcpguard.gui.app" and "no integrity key was created" in r.message]
    assert infos and all(r.levelno == logging.INFO for r in infos)
    app.shutdown()
