"""A remote server waits for a sign-in, as the tray offers it: ``python -m tests.gui.screens.signin_screen``.

Runs the real tray application under Xvfb with trayer as the tray host, over a fresh profile, and
records the sign-in request through the store's own API, as a running ``mcpguard remote`` bridge
does (``StoreBoard.post``) while the tray polls. Four pictures, because users must see where
their credentials go (the authorization server's host) wherever the offer appears:

- ``tray-signin-notification.png``: the notification Qt draws beside the icon under an XEmbed tray;
- ``tray-signin-menu.png``: the tray's menu with the "Sign in to NAME at HOST" entry;
- ``signin-window.png``: the same offer without a system tray (trayer stopped), where the window is
  the application and says it in its status bar;
- ``signin-window-menu.png``: that window's **Sign in** menu, open.

Pass a directory to render them there instead of ``docs/screenshots``.

Needs the Debian packages xvfb and trayer (``bash .ci/setup`` installs them). Nothing is signed in:
the authorization URL carries made-up ``state`` and PKCE challenge values and no browser is opened.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QApplication

    from mcpguard.paths import AppPaths

SCREENSHOTS = pathlib.Path(__file__).resolve().parents[3] / "docs" / "screenshots"
DISPLAY = ":92"
WIDTH, HEIGHT = 1280, 800

CLIENT = "claude-desktop"
SERVER = "linear"
HOST = "mcp.linear.app"
AUTHORIZATION_URL = (
    "https://mcp.linear.app/authorize?response_type=code&client_id=mcpguard-linear-demo"
    "&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fcallback&scope=read+write"
    "&state=screenshot-state&code_challenge=screenshot-challenge&code_challenge_method=S256"
)
"""Shaped like a real authorization URL; ``state`` and the challenge are placeholders, no secret."""
SIGNIN_TIMEOUT = 300.0


def _start_xvfb() -> subprocess.Popen[bytes]:
    """A virtual screen of its own, so the tray shown is never the user's."""
    for tool in ("Xvfb", "trayer"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: bash .ci/setup installs it")
    xvfb = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-nolisten", "tcp"])
    os.environ["DISPLAY"] = DISPLAY
    time.sleep(1.0)
    return xvfb


def _start_trayer() -> subprocess.Popen[bytes]:
    """An XEmbed tray host at the screen's top right, as in ``desktop_screen``."""
    trayer = subprocess.Popen(
        "trayer --edge top --align right --widthtype request --height 28 --transparent true --alpha 0 "
        "--tint 0x2d3748 --SetDockType true".split()
    )
    time.sleep(1.0)
    return trayer


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=5)


def render(out: pathlib.Path) -> list[pathlib.Path]:
    """Render the three pictures into ``out``; returns their paths.

    The environment is pointed at a temporary profile and home, so neither the user's store, AI
    client configs nor keyring are read or written.
    """
    home = tempfile.mkdtemp(prefix="mcpguard-signin-")
    os.environ.update(
        {
            "MCPGUARD_HOME": str(pathlib.Path(home) / "profile"),
            "HOME": home,
            "XDG_CONFIG_HOME": str(pathlib.Path(home) / ".config"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "QT_QPA_PLATFORM": "xcb",
        }
    )
    xvfb = _start_xvfb()
    trayer = _start_trayer()
    try:
        return _render(out, home, trayer)
    finally:
        if trayer.poll() is None:
            _stop(trayer)
        _stop(xvfb)
        shutil.rmtree(home, ignore_errors=True)


def _post_signin(paths: AppPaths) -> int:
    """What a bridge does when the tray runs and the server answers 401: one row in ``signins``.

    Through a store of its own, as the bridge's process has.
    """
    from mcpguard.pinning.store import Store

    store = Store.open(paths)
    try:
        return store.post_signin(CLIENT, SERVER, HOST, AUTHORIZATION_URL, time.time() + SIGNIN_TIMEOUT)
    finally:
        store.close()


def _render(out: pathlib.Path, home: str, trayer: subprocess.Popen[bytes]) -> list[pathlib.Path]:
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    from mcpguard.paths import AppPaths

    paths = AppPaths.under(pathlib.Path(home) / "profile").ensure()
    app = QApplication(sys.argv[:1])
    app.setApplicationName("mcpguard")
    app.setQuitOnLastWindowClosed(False)
    out.mkdir(parents=True, exist_ok=True)
    saved = _in_the_tray(app, paths, out)
    _stop(trayer)
    deadline = time.monotonic() + 5
    while QSystemTrayIcon.isSystemTrayAvailable() and time.monotonic() < deadline:
        app.processEvents()  # Qt learns from X events that the tray's window is gone
        time.sleep(0.05)
    return saved + _in_the_window(app, paths, out)


def _grab(app: QApplication, target: pathlib.Path, area: QRect) -> pathlib.Path:
    shot = app.primaryScreen().grabWindow(0, area.x(), area.y(), area.width(), area.height())
    if not shot.save(str(target)):
        raise OSError(f"could not save {target}")
    return target


def _run(app: QApplication, steps: list[tuple[int, Callable[[], object]]]) -> None:
    """Play ``steps`` (milliseconds after start, action) in the event loop; the last one quits."""
    from PySide6.QtCore import QTimer

    for delay, step in steps:
        QTimer.singleShot(delay, step)
    app.exec()


def _in_the_tray(app: QApplication, paths: AppPaths, out: pathlib.Path) -> list[pathlib.Path]:
    """The notification, then the menu: a bridge asks while the tray runs, as it does in use."""
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import QApplication

    from mcpguard.gui.app import TrayApp

    tray_app = TrayApp(paths, no_demo=True)
    tray_app.start()
    tray = tray_app.tray
    assert tray is not None, "no system tray: is trayer running?"
    saved: list[pathlib.Path] = []
    requests: list[int] = []

    def around_icon(popup: QRect) -> QRect:
        """The top right corner of the screen holding the icon and ``popup``, with a margin."""
        area = popup.united(tray.icon.geometry()).adjusted(-24, 0, 0, 24)
        return QRect(area.x(), 0, WIDTH - area.x(), area.bottom() + 1)

    def balloon() -> QRect:
        """Where Qt drew the notification: its own QBalloonTip window, under an XEmbed tray."""
        tips = [w for w in QApplication.topLevelWidgets() if w.isVisible() and w.inherits("QBalloonTip")]
        assert tips, "no notification was shown"
        return tips[0].frameGeometry()

    def open_menu() -> None:
        tray.icon.showMessage("", "")  # an empty message takes the balloon down, as its close box would
        geometry = tray.icon.geometry()
        tray.menu.popup(QPoint(geometry.right() - 300, geometry.bottom() + 4))

    _run(
        app,
        [
            (1000, lambda: requests.append(_post_signin(paths))),
            (2500, lambda: saved.append(_grab(app, out / "tray-signin-notification.png", around_icon(balloon())))),
            (3000, open_menu),
            (4000, lambda: saved.append(_grab(app, out / "tray-signin-menu.png", around_icon(tray.menu.geometry())))),
            (4200, tray.menu.close),
            (4400, app.quit),
        ],
    )
    tray_app.shutdown()
    tray_app.store.drop_signin(requests[0])  # as the bridge does when the sign-in ends
    tray_app.store.close()
    tray_app.window.deleteLater()
    app.processEvents()
    return saved


def _in_the_window(app: QApplication, paths: AppPaths, out: pathlib.Path) -> list[pathlib.Path]:
    """Without a system tray: the window comes forward, then its Sign in menu is opened.

    Two pictures, because opening a menu replaces the status bar's message, as Qt does with every
    temporary message.
    """
    from PySide6.QtCore import QRect

    from mcpguard.gui.app import TrayApp

    tray_app = TrayApp(paths, no_demo=True)
    assert tray_app.tray is None, "trayer was stopped, yet Qt still sees a system tray"
    window = tray_app.window
    tray_app.start()
    window.resize(760, 300)  # as small as its pages allow: the status bar is what matters here
    window.move(40, 40)
    saved: list[pathlib.Path] = []

    def around_window(height: int | None = None) -> QRect:
        """The window with a margin; only its top ``height`` pixels when given."""
        frame = window.frameGeometry().adjusted(-16, -16, 16, 16)
        return frame if height is None else QRect(frame.x(), frame.y(), 560, height)

    def open_signin_menu() -> None:
        window.menuBar().setActiveAction(window.signin_menu.menuAction())  # as a click on "Sign in"

    _run(
        app,
        [
            (1000, lambda: _post_signin(paths)),
            (2000, lambda: saved.append(_grab(app, out / "signin-window.png", around_window()))),
            (2200, open_signin_menu),
            (3000, lambda: saved.append(_grab(app, out / "signin-window-menu.png", around_window(140)))),
            (3200, app.quit),
        ],
    )
    tray_app.shutdown()
    tray_app.store.close()
    return saved


if __name__ == "__main__":
    target = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else SCREENSHOTS
    for saved_path in render(target):
        print(f"saved {saved_path}")
