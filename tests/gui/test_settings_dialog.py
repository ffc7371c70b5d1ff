"""The settings dialog: it shows the store's settings, OK writes what changed, Cancel writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog, QDialogButtonBox
from pytestqt.qtbot import QtBot

from mcpguard import autostart
from mcpguard.errors import McpGuardError
from mcpguard.gui.settings_dialog import SettingsDialog
from mcpguard.pinning.store import Store
from mcpguard.proxy.session import Settings

pytestmark = pytest.mark.gui

TRAY = ["/venv/bin/python", "-m", "mcpguard", "tray"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The login entry goes to a temporary home, whatever the dialog is given."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


@pytest.fixture
def dialog(qtbot: QtBot, store: Store, home: Path) -> SettingsDialog:
    return _dialog(qtbot, store, home)


def _dialog(qtbot: QtBot, store: Store, home: Path) -> SettingsDialog:
    d = SettingsDialog(store, autostart_home=home, tray_command=lambda: TRAY)
    qtbot.addWidget(d)
    return d


def _ok(dialog: SettingsDialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def _cancel(dialog: SettingsDialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()


def _change_everything(dialog: SettingsDialog) -> None:
    dialog.trust_on_first_use.setChecked(True)
    dialog.first_list_hold.setValue(0)
    dialog.verify_timeout.setValue(45)
    dialog.notify_new.setChecked(False)
    dialog.notify_findings.setChecked(False)
    dialog.start_at_login.setChecked(True)


def test_defaults_are_shown(dialog: SettingsDialog) -> None:
    assert not dialog.trust_on_first_use.isChecked()
    assert dialog.first_list_hold.value() == 25
    assert dialog.verify_timeout.value() == 30
    assert dialog.notify_new.isChecked() and dialog.notify_findings.isChecked()
    assert dialog.start_at_login.isEnabled() and not dialog.start_at_login.isChecked()
    assert dialog.values() == {
        "trust_on_first_use": "off",
        "first_list_hold": "25",
        "verify_timeout": "30",
        "notify_new": "on",
        "notify_findings": "on",
        "auto_wrap": "off",
    }
    assert not dialog.auto_wrap.isChecked()


def test_ok_writes_every_change(qtbot: QtBot, dialog: SettingsDialog, store: Store, home: Path) -> None:
    _change_everything(dialog)
    assert dialog.first_list_hold.text() == "off"  # 0 turns the hold off, and says so
    with qtbot.waitSignal(dialog.accepted, timeout=1000):
        _ok(dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert store.settings() == {
        "trust_on_first_use": "on",
        "first_list_hold": "0",
        "verify_timeout": "45",
        "notify_new": "off",
        "notify_findings": "off",
    }
    assert autostart.is_enabled(home)
    entry = autostart.entry_path(home)
    assert f"Exec={' '.join(TRAY)}" in entry.read_text()
    # The shims read the same values.
    settings = Settings.from_store(store)
    assert (settings.trust_on_first_use, settings.first_list_hold, settings.verify_timeout) == (True, 0.0, 45.0)


def test_cancel_changes_nothing(qtbot: QtBot, dialog: SettingsDialog, store: Store, home: Path) -> None:
    _change_everything(dialog)
    with qtbot.waitSignal(dialog.rejected, timeout=1000):
        _cancel(dialog)
    assert store.settings() == {}
    assert not autostart.is_enabled(home)


def test_ok_without_changes_writes_nothing(dialog: SettingsDialog, store: Store, home: Path) -> None:
    """An untouched setting keeps following its default; nothing is installed at login."""
    _ok(dialog)
    assert store.settings() == {}
    assert not autostart.is_enabled(home)


def test_existing_values_are_loaded_and_hand_edits_kept(qtbot: QtBot, store: Store, home: Path) -> None:
    store.set_setting("trust_on_first_use", "on")
    store.set_setting("verify_timeout", "12.5")  # set with the CLI, which takes fractions
    store.set_setting("notify_findings", "off")
    dialog = _dialog(qtbot, store, home)
    assert dialog.trust_on_first_use.isChecked()
    assert dialog.verify_timeout.value() == 12
    assert not dialog.notify_findings.isChecked()
    dialog.notify_new.setChecked(False)
    _ok(dialog)
    assert store.settings() == {
        "trust_on_first_use": "on",
        "verify_timeout": "12.5",
        "notify_findings": "off",
        "notify_new": "off",
    }


def test_auto_wrap_is_saved_and_loaded(qtbot: QtBot, dialog: SettingsDialog, store: Store, home: Path) -> None:
    """The tray's config watch reads the same key the dialog writes, and the dialog shows it on reopening."""
    from mcpguard.settings import DEFAULTS, SETTINGS, validate

    assert DEFAULTS["auto_wrap"] == "off" and "AI client" in SETTINGS["auto_wrap"][1]
    assert validate("auto_wrap", "on") == "on"
    dialog.auto_wrap.setChecked(True)
    _ok(dialog)
    assert store.settings() == {"auto_wrap": "on"}
    again = _dialog(qtbot, store, home)
    assert again.auto_wrap.isChecked()
    again.auto_wrap.setChecked(False)
    _ok(again)
    assert store.setting("auto_wrap") == "off"


def test_start_at_login_can_be_switched_off(qtbot: QtBot, store: Store, home: Path) -> None:
    autostart.enable(TRAY, home)
    dialog = _dialog(qtbot, store, home)
    assert dialog.start_at_login.isChecked()
    dialog.start_at_login.setChecked(False)
    _ok(dialog)
    assert not autostart.is_enabled(home)


def test_a_failing_login_entry_keeps_the_dialog_open(
    qtbot: QtBot, dialog: SettingsDialog, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> Path:
        raise McpGuardError("could not write the login entry /x: Permission denied")

    monkeypatch.setattr(autostart, "enable", refuse)
    dialog.verify_timeout.setValue(40)
    dialog.start_at_login.setChecked(True)
    with qtbot.assertNotEmitted(dialog.accepted):
        _ok(dialog)
    assert "Permission denied" in dialog.error.text()
    assert dialog.error.isVisibleTo(dialog)
    assert store.setting("verify_timeout") == "40"  # the rest is saved


def test_unsupported_platform_disables_start_at_login(
    qtbot: QtBot, store: Store, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(autostart, "is_supported", lambda platform=None: False)
    dialog = _dialog(qtbot, store, home)
    assert not dialog.start_at_login.isEnabled()
    _ok(dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted


# WORKAROUND: the offscreen platform warns about any shown window with a layout; the screenshot must show one.
@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_screenshot_renders(qtbot: QtBot, tmp_path: Path, home: Path) -> None:
    from tests.gui.screens.settings_dialog_screen import render

    out = tmp_path / "settings.png"
    render(out)
    assert out.read_bytes().startswith(b"\x89PNG")
