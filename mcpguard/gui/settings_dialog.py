"""The settings dialog: how trusting mcpguard is, how long it waits, what it tells you, AI clients, start-up.

Settings live in the store (``mcpguard settings`` edits the same values), so every shim reads them
on its next connection. Cancel changes nothing; OK writes only what the user changed, so a setting
left alone keeps following its default and a value edited by hand (``12.5`` seconds) stays exact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mcpguard import autostart
from mcpguard.errors import McpGuardError
from mcpguard.gui.style import mute
from mcpguard.pinning.store import Store
from mcpguard.settings import DEFAULTS

__all__ = ["DEFAULTS", "SettingsDialog"]

log = logging.getLogger(__name__)

"""The settings this dialog edits and their defaults (the same as the shims' and the CLI's)."""

_ON = ("on", "true", "1", "yes")


class SettingsDialog(QDialog):
    """Edit the profile's settings and whether the tray starts at login.

    Args:
        store: The profile whose settings are edited.
        parent: The Qt parent (the main window), so the dialog is centred on it.
        autostart_home: Home directory for the login entry; None uses the real one. Tests pass a
            temporary directory.
        tray_command: What the login entry runs; :func:`mcpguard.autostart.tray_command` by default.
    """

    def __init__(
        self,
        store: Store,
        parent: QWidget | None = None,
        *,
        autostart_home: Path | None = None,
        tray_command: Callable[[], list[str]] = autostart.tray_command,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self._autostart_home = autostart_home
        self._tray_command = tray_command
        self.setWindowTitle("mcpguard settings")
        self._loaded = {key: store.setting(key, default) or default for key, default in DEFAULTS.items()}

        # -- approvals --
        self.trust_on_first_use = QCheckBox("&Trust on first use")
        self.trust_on_first_use.setChecked(self._loaded["trust_on_first_use"] in _ON)
        trust_note = _note(
            "Approves only what a never-seen server shows on its first start. Anything a known server adds "
            "or changes later still waits for you. Leave it off to review every server yourself."
        )
        self.first_list_hold = QSpinBox()
        self.first_list_hold.setRange(0, 600)
        self.first_list_hold.setSuffix(" s")
        self.first_list_hold.setSpecialValueText("off")
        self.first_list_hold.setValue(_seconds(self._loaded["first_list_hold"], 25))
        hold_note = _note(
            "How long a never-seen server's first tool list waits for you while the tray runs, so the client "
            "starts with the tools you approve. 0 turns the wait off."
        )
        approvals = QGroupBox("Approvals")
        form = _form(approvals)
        form.addRow(self.trust_on_first_use)
        form.addRow(trust_note)
        form.addRow("&First list waits up to:", self.first_list_hold)
        form.addRow(hold_note)

        # -- calls --
        self.verify_timeout = QSpinBox()
        self.verify_timeout.setRange(1, 600)
        self.verify_timeout.setSuffix(" s")
        self.verify_timeout.setValue(_seconds(self._loaded["verify_timeout"], 30, minimum=1))
        verify_note = _note(
            "A call to a tool the client has not listed is held while mcpguard lists the server's tools "
            "itself; when the server takes longer than this, the call is refused."
        )
        calls = QGroupBox("Calls")
        form = _form(calls)
        form.addRow("&Verify calls for up to:", self.verify_timeout)
        form.addRow(verify_note)

        # -- notifications --
        self.notify_new = QCheckBox("Notify me when a &new or changed tool waits for approval")
        self.notify_new.setChecked(self._loaded["notify_new"] in _ON)
        self.notify_findings = QCheckBox("Notify me when the scanner &flags a definition or a tool's answer")
        self.notify_findings.setChecked(self._loaded["notify_findings"] in _ON)
        notifications = QGroupBox("Notifications")
        box = QVBoxLayout(notifications)
        box.addWidget(self.notify_new)
        box.addWidget(self.notify_findings)

        # -- AI clients --
        self.auto_wrap = QCheckBox("Wrap new servers in AI client configs &automatically")
        self.auto_wrap.setChecked(self._loaded["auto_wrap"] in _ON)
        auto_wrap_note = _note(
            "A local server added to a client's config gets mcpguard in front of it at once, instead of a "
            "notification asking you to. Its tools still wait for your approval."
        )
        clients = QGroupBox("AI clients")
        box = QVBoxLayout(clients)
        box.addWidget(self.auto_wrap)
        box.addWidget(auto_wrap_note)

        # -- start-up --
        self.start_at_login = QCheckBox("&Start mcpguard at login")
        self._autostart_was = False
        startup = QGroupBox("Start-up")
        box = QVBoxLayout(startup)
        box.addWidget(self.start_at_login)
        if autostart.is_supported():
            self._autostart_was = autostart.is_enabled(self._autostart_home)
            self.start_at_login.setChecked(self._autostart_was)
            box.addWidget(_note("So that a server started by a client after login can ask you."))
        else:
            self.start_at_login.setEnabled(False)
            box.addWidget(_note("Not available on this system yet: add `mcpguard tray` to your start-up programs."))

        self.error = QLabel()
        """Why OK could not save everything (shown instead of closing)."""
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setStyleSheet("QLabel { color: #c53030; }")
        self.error.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        for group in (approvals, calls, notifications, clients, startup):
            layout.addWidget(group)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(520)
        # Qt sizes a new window to at most 2/3 of the screen, and wrapped notes then get squeezed until
        # they are cut off: ask for the height the notes need at this width (the desktop still caps it).
        self.resize(520, layout.totalHeightForWidth(520))

    def values(self) -> dict[str, str]:
        """The settings as the dialog shows them now, in the store's spelling."""
        return {
            "trust_on_first_use": _on_off(self.trust_on_first_use.isChecked()),
            "first_list_hold": str(self.first_list_hold.value()),
            "verify_timeout": str(self.verify_timeout.value()),
            "notify_new": _on_off(self.notify_new.isChecked()),
            "notify_findings": _on_off(self.notify_findings.isChecked()),
            "auto_wrap": _on_off(self.auto_wrap.isChecked()),
        }

    def accept(self) -> None:
        """Write what changed and close; if the login entry cannot be written, say why and stay open."""
        for key, value in self.values().items():
            if value != self._canonical(key):
                self.store.set_setting(key, value)
        self._loaded.update(self.values())
        wanted = self.start_at_login.isChecked()
        if self.start_at_login.isEnabled() and wanted != self._autostart_was:
            try:
                if wanted:
                    autostart.enable(self._tray_command(), self._autostart_home)
                else:
                    autostart.disable(self._autostart_home)
            except McpGuardError as exc:
                log.info("start at login: %s", exc)
                self.error.setText(f"The other settings are saved, but {exc}.")
                self.error.show()
                return
            self._autostart_was = wanted
        super().accept()

    def _canonical(self, key: str) -> str:
        """The loaded value in the form :meth:`values` would write it, to tell a real change apart."""
        loaded = self._loaded[key]
        if key in ("trust_on_first_use", "notify_new", "notify_findings", "auto_wrap"):
            return _on_off(loaded in _ON)
        if key == "first_list_hold":
            return str(_seconds(loaded, 25))
        return str(_seconds(loaded, 30, minimum=1))


def _form(box: QGroupBox) -> QFormLayout:
    form = QFormLayout(box)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
    return form


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setContentsMargins(22, 0, 0, 4)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.92)
    label.setFont(font)
    mute(label)
    return label


def _on_off(flag: bool) -> str:
    return "on" if flag else "off"


def _seconds(text: str, default: int, *, minimum: int = 0) -> int:
    """A stored number of seconds for a spin box; nonsense edited in by hand shows the default."""
    try:
        value = round(float(text))
    except ValueError:
        return default
    return max(minimum, min(600, value))
