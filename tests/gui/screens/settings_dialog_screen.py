"""Screenshot of the settings dialog: ``python -m tests.gui.screens.settings_dialog_screen``."""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from mcpguard.gui.settings_dialog import SettingsDialog  # noqa: E402
from mcpguard.paths import HOME_ENV, AppPaths  # noqa: E402
from mcpguard.pinning.store import Store  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[3] / "docs" / "screenshots" / "settings.png"


def render(path: pathlib.Path) -> None:
    """Save a screenshot of the settings dialog over a profile with a few settings changed to ``path``."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    with tempfile.TemporaryDirectory(prefix="mcpguard-screen-") as tmp:
        before = os.environ.get(HOME_ENV)
        os.environ[HOME_ENV] = tmp
        store = Store.open(AppPaths.under(pathlib.Path(tmp) / "profile"))
        try:
            store.set_setting("first_list_hold", "20")
            home = pathlib.Path(tmp) / "home"  # the login entry is looked up here, never in the real home
            dialog = SettingsDialog(store, autostart_home=home)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            dialog.show()
            dialog.start_at_login.setChecked(True)  # shown as the user is about to switch it on; never saved
            app.processEvents()
            path.parent.mkdir(parents=True, exist_ok=True)
            if not dialog.grab().save(str(path)):
                raise OSError(f"could not save {path}")
            dialog.reject()
            dialog.deleteLater()
            app.processEvents()
        finally:
            store.close()
            if before is None:
                os.environ.pop(HOME_ENV, None)
            else:
                os.environ[HOME_ENV] = before


if __name__ == "__main__":
    target = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    render(target)
    print(target)
