"""``mcpguard tray``: the application object, one instance per user and profile.

The tray is never in the data path: shims keep guarding, fail closed, whether or not it runs. It only
reads and writes the store, so on start it simply shows whatever happened while it was away.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from mcpguard import logs
from mcpguard.paths import HOME_ENV, AppPaths

if TYPE_CHECKING:
    from mcpguard.demo.scripted import ScriptedDemo
    from mcpguard.gui.config_watch import ConfigWatch
    from mcpguard.gui.tray import Tray
    from mcpguard.secrets.base import SecretStore

log = logging.getLogger(__name__)


def instance_name(paths: AppPaths) -> str:
    """One tray per user and profile: the local socket's name says both."""
    digest = hashlib.sha256(str(paths.home).encode()).hexdigest()[:12]
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "user"
    return f"mcpguard-{user}-{digest}"


def ask_running_instance(name: str, message: str = "show", timeout_ms: int = 500) -> bool:
    """Hand ``message`` to a tray that already runs; False when there is none."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return False
    socket.write(message.encode() + b"\n")
    socket.waitForBytesWritten(timeout_ms)
    socket.disconnectFromServer()
    return True


class SingleInstance:
    """Listens for later starts and passes their request (``show``) on."""

    def __init__(self, name: str, on_message: object) -> None:
        self.server = QLocalServer()
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not self.server.listen(name):
            QLocalServer.removeServer(name)  # a stale socket left by a crash
            self.server.listen(name)
        self._on_message = on_message
        self.server.newConnection.connect(self._on_server_new_connection)

    def _on_server_new_connection(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._read(s))

    def _read(self, socket: QLocalSocket) -> None:
        message = bytes(socket.readAll().data()).decode(errors="replace").strip()
        if callable(self._on_message):
            self._on_message(message)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcpguard tray", description="The mcpguard tray application.")
    parser.add_argument("--demo", action="store_true", help="run the bundled demo server and a scripted client")
    parser.add_argument("--no-demo", action="store_true", help="never start the demo on its own")
    parser.add_argument("--show", action="store_true", help="open the window at start")
    return parser


def no_display_reason() -> str | None:
    """Why Qt could not open a window here, in words that say how to fix it (Qt itself would abort)."""
    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "there is no display to show the tray on (neither DISPLAY nor WAYLAND_DISPLAY is set). Run it in "
        "your desktop session, or on a headless machine under a virtual screen: xvfb-run mcpguard tray"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    reason = no_display_reason()
    if reason is not None:
        print(f"mcpguard: {reason}", file=sys.stderr)
        return 1
    paths = AppPaths.from_env().ensure()
    logs.setup(paths, prefix="tray")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("mcpguard")
    app.setQuitOnLastWindowClosed(False)
    name = instance_name(paths)
    if ask_running_instance(name):
        print("mcpguard: the tray is already running; its window was brought forward.", file=sys.stderr)
        return 0
    tray_app = TrayApp(paths, demo=args.demo, no_demo=args.no_demo)
    tray_app.single = SingleInstance(name, tray_app.on_message)
    tray_app.start(show=args.show)
    code = app.exec()
    tray_app.shutdown()
    return code


class TrayApp:
    """Wires store, bridge, window, tray icon, the clients' config watch and the optional demo together."""

    def __init__(self, paths: AppPaths, *, demo: bool = False, no_demo: bool = False) -> None:
        from mcpguard.gui.bridge import StoreBridge
        from mcpguard.gui.config_watch import ConfigWatch
        from mcpguard.gui.crash_dialog import install_excepthook
        from mcpguard.gui.main_window import MainWindow
        from mcpguard.pinning.store import Store

        install_excepthook()
        self.paths = paths
        self.store = Store.open(paths)
        from mcpguard.secrets.integrity import BackgroundKey

        integrity = BackgroundKey(paths.root, self._keyring)  # no key in the profile: done at once, no keyring
        integrity.start()
        self.store.set_integrity_key(integrity.wait)  # the tray signs what it decides and shows forged pins
        self.bridge = StoreBridge(self.store)
        self.has_tray = QSystemTrayIcon.isSystemTrayAvailable()
        self.window = MainWindow(self.store, self.bridge, quit_on_close=not self.has_tray, paths=paths)
        self.tray: Tray | None = None
        if self.has_tray:
            from mcpguard.gui.tray import Tray

            self.tray = Tray(self.store, self.window)
        self.config_watch: ConfigWatch = ConfigWatch(self.store, paths)
        """Watches the AI clients' configs (HOME, XDG_CONFIG_HOME and APPDATA as the environment says)."""
        self.window.watch_clients(self.config_watch)
        if self.tray is not None:
            self.config_watch.events.connect(self.tray.on_client_events)
        self.single: SingleInstance | None = None
        self.protect_thread: threading.Thread | None = None
        """Creates the integrity key on the first start (see :meth:`start_protect`)."""
        self.want_demo = demo or (not no_demo and not self._has_real_servers())
        self.demo: ScriptedDemo | None = None

    def _keyring(self) -> SecretStore:
        """The profile's keyring store, as the CLI opens it (tests replace ``keyring_store.open_store``)."""
        from mcpguard.secrets import keyring_store

        return keyring_store.open_store(self.paths)

    def _has_real_servers(self) -> bool:
        """A server some shim has reported, or any server in an AI client's config: then no demo."""
        if any(s.client != "demo-client" for s in self.store.servers()):
            return True
        from mcpguard.clients.discovery import discover, servers

        try:
            return bool(servers(discover()))
        except Exception:
            log.exception("could not look for AI client configs")
            return False

    def start(self, *, show: bool = False) -> None:
        self.bridge.start()
        self.start_protect()
        self.config_watch.start()
        if self.tray is not None:
            self.tray.show()
        if show or self.tray is None:
            self.window.show_page("approvals")
        if self.want_demo:
            QTimer.singleShot(300, self.start_demo)

    def start_protect(self) -> None:
        """On the first start, create the integrity key in the background (when a keyring is usable).

        The key signs the decisions made so far and every later one, and chains the log. Without a
        keyring (none installed, locked, refused) the tray keeps working unprotected and says so at
        INFO; the next start tries again. Never blocks the window: importing ``keyring`` and asking
        the Secret Service takes 100-200 ms, and an unlock prompt can take as long as the user.
        """
        from mcpguard.secrets.integrity import key_exists

        if key_exists(self.paths.root):
            return
        self.protect_thread = threading.Thread(target=self._protect, name="integrity-key-create", daemon=True)
        self.protect_thread.start()

    def _protect(self) -> None:
        from mcpguard.errors import McpGuardError
        from mcpguard.secrets.integrity import protect

        try:
            key = protect(self.paths, self._keyring())
        except McpGuardError as exc:
            log.info("no integrity key was created, approvals and the log stay unprotected (%s)", exc)
            return
        except Exception:
            log.exception("could not create the integrity key")
            return
        self.store.set_integrity_key(key)
        log.info("created the integrity key: approvals are signed and the tool-call log is chained")

    def start_demo(self) -> None:
        from mcpguard.demo.scripted import ScriptedDemo

        os.environ.setdefault(HOME_ENV, str(self.paths.home))
        self.demo = ScriptedDemo(self.paths)
        self.demo.start()

    def on_message(self, message: str) -> None:
        if message == "show":
            self.window.show_page("approvals" if self.store.waiting() else "activity")

    def shutdown(self) -> None:
        if self.demo is not None:
            self.demo.stop()
            self.demo.join(timeout=5)
        if self.protect_thread is not None:
            self.protect_thread.join(timeout=2)  # never long: it may wait on a keyring's unlock prompt
        self.bridge.stop()
        self.config_watch.stop()
        if self.tray is not None:
            self.tray.icon.hide()
