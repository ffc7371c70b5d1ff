"""Screenshot of the settings dialog: ``python -m tests.gui.screens.settings_dialog_screen``."""

from __future__ import annotations

import os
import pathlib
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from mcpguard.gui.settings_dialog import SettingsDialog  # noqa: E402
from mcpguard.paths import HOME_ENV  # noqa: E402
from tests.gui.screens._common import save_grab, temporary_profile  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[3] / "docs" / "screenshots" / "settings.png"


def render(path: pathlib.Path) -> None:
    """Save a screenshot of the settings dialog over a profile with a few settings changed to ``path``."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    with temporary_profile() as store:
        store.set_setting("first_list_hold", "20")
        # the login entry is looked up in the throw-away profile, never in the real home
        home = pathlib.Path(os.environ[HOME_ENV]) / "home"
        dialog = SettingsDialog(store, autostart_home=home)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        dialog.show()
        dialog.start_at_login.setChecked(True)  # shown as the user is about to switch it on; never saved
        save_grab(app, dialog, path)  # closing a shown dialog rejects it: nothing is saved


if __name__ == "__main__":
    target = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    render(target)
    print(target)
