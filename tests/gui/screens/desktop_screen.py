"""The real tray on a real X desktop: ``python -m tests.gui.screens.desktop_screen``.

Starts Xvfb and trayer (a system tray host) when no display is set, runs the actual tray application
over a realistic profile, opens its menu and grabs the whole screen: the icon with its badge, the
menu, the main window and Qt's notification balloon, as a user would see them.
Needs the Debian packages xvfb and trayer (``bash .ci/setup`` installs them).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

OUT = pathlib.Path(__file__).resolve().parents[3] / "docs" / "screenshots" / "tray-desktop.png"
DISPLAY = ":91"


def _start_display() -> list[subprocess.Popen[bytes]]:
    """A virtual screen with a tray host at its top right; returns the processes to stop later."""
    if os.environ.get("DISPLAY"):
        return []
    for tool in ("Xvfb", "trayer"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: bash .ci/setup installs it")
    xvfb = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
    os.environ["DISPLAY"] = DISPLAY
    time.sleep(1.0)
    trayer = subprocess.Popen(
        [
            "trayer",
            "--edge",
            "top",
            "--align",
            "right",
            "--widthtype",
            "request",
            "--height",
            "28",
            "--transparent",
            "true",
            "--alpha",
            "0",
            "--tint",
            "0x2d3748",
            "--SetDockType",
            "true",
        ]  # fmt: skip
    )
    time.sleep(1.0)
    return [trayer, xvfb]


def render(path: pathlib.Path) -> None:
    helpers = _start_display()
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    home = tempfile.mkdtemp(prefix="mcpguard-desktop-")
    os.environ["MCPGUARD_HOME"] = home
    try:
        _render(path, home)
    finally:
        for proc in helpers:
            proc.terminate()
            proc.wait(timeout=5)
        shutil.rmtree(home, ignore_errors=True)


def _render(path: pathlib.Path, home: str) -> None:
    from PySide6.QtCore import QPoint, QTimer
    from PySide6.QtWidgets import QApplication

    from mcpguard.gui.app import TrayApp
    from mcpguard.paths import AppPaths
    from mcpguard.pinning.store import Store
    from tests.gui.screens.activity_view_screen import build_log
    from tests.gui.screens.servers_view_screen import build_profile

    paths = AppPaths.under(home).ensure()
    store = Store.open(paths)
    build_profile(store)
    build_log(store)
    store.close()

    app = QApplication(sys.argv[:1])
    tray_app = TrayApp(paths, no_demo=True)
    tray_app.start(show=True)
    window = tray_app.window
    window.resize(1060, 640)
    window.move(24, 60)
    assert tray_app.tray is not None, "no system tray: is trayer running?"
    tray = tray_app.tray

    def open_menu() -> None:
        geometry = tray.icon.geometry()
        tray.menu.popup(QPoint(geometry.right() - 260, geometry.bottom() + 4))

    def grab() -> None:
        screen = app.primaryScreen()
        screen.grabWindow(0).save(str(path))
        app.quit()

    QTimer.singleShot(1500, open_menu)
    QTimer.singleShot(3000, grab)
    app.exec()
    tray_app.shutdown()


if __name__ == "__main__":
    render(OUT)
    print(f"saved {OUT}")
