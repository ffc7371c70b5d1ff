"""The tray icon: state at a glance, a menu rebuilt each time it opens, notifications that lead somewhere."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from mcpguard.audit import AuditLog
from mcpguard.gui import signin as offers
from mcpguard.gui.icons import TrayState, tray_icon
from mcpguard.gui.main_window import MainWindow
from mcpguard.pinning.store import ItemView, ServerRecord, Store
from mcpguard.settings import DEFAULTS

if TYPE_CHECKING:
    from mcpguard.gui.config_watch import ClientEvent, ServerKey

log = logging.getLogger(__name__)

CRITICAL = "critical"


def tray_state(waiting: list[tuple[ServerRecord, ItemView]]) -> tuple[TrayState, int]:
    """Red when a waiting definition has a critical finding, amber when anything waits, else fine."""
    if any(f.get("severity") == CRITICAL for _, v in waiting if v.live for f in v.live.findings):
        return TrayState.ALERT, len(waiting)
    if waiting:
        return TrayState.WAITING, len(waiting)
    return TrayState.OK, 0


class Tray(QObject):
    """Owns the QSystemTrayIcon; the window does the work."""

    notified = Signal(str, str)
    """A notification was shown (title, text); tests and the demo listen to it."""

    def __init__(self, store: Store, window: MainWindow, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.window = window
        self.paused = False
        self._notified: set[tuple[int, str, str, str]] = set()
        self._notify_server: int | None = None
        self._notify_client: ServerKey | None = None
        """The client config entry the last notification was about; a click opens it on the AI clients page."""
        self._notify_signin: int | None = None
        """The sign-in request the last notification offered; a click opens it in the browser."""
        self._signins_announced: set[int] = set()
        self.icon = QSystemTrayIcon(tray_icon(TrayState.OK))
        self.menu = QMenu()
        self.menu.aboutToShow.connect(self._rebuild_menu)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_icon_activated)
        self.icon.messageClicked.connect(self._on_icon_message_clicked)
        self.audit = AuditLog(store)
        self._last_call = self.audit.last_id()
        window.bridge.definitions_changed.connect(self.refresh)
        window.bridge.decisions_changed.connect(self.refresh)
        window.bridge.calls_added.connect(self.on_calls_added)
        window.bridge.signins_changed.connect(self.on_signins_changed)
        self._rebuild_menu()
        self._seed_notified()
        self.refresh()
        self.on_signins_changed()

    def show(self) -> None:
        self.icon.show()

    def _seed_notified(self) -> None:
        """What waited before the tray started is shown by the icon, not announced again one by one."""
        for server, view in self.store.waiting():
            self._notified.add(self._key(server, view))

    @staticmethod
    def _key(server: ServerRecord, view: ItemView) -> tuple[int, str, str, str]:
        return (server.id, view.kind, view.name, view.live.fingerprint if view.live else "")

    def refresh(self) -> None:
        """Update icon and tooltip; announce definitions that started waiting since the last look."""
        waiting = self.store.waiting()
        state, count = tray_state(waiting)
        self.icon.setIcon(tray_icon(state, count))
        if state is TrayState.OK:
            self.icon.setToolTip("mcpguard: all servers as approved")
        else:
            self.icon.setToolTip(f"mcpguard: {count} definition{'s' if count != 1 else ''} waiting for approval")
        fresh = [(s, v) for s, v in waiting if self._key(s, v) not in self._notified]
        for server, view in fresh:
            self._notified.add(self._key(server, view))
        if fresh:
            self._announce(fresh)

    def _wants(self, key: str) -> bool:
        return not self.paused and self.store.setting(key, DEFAULTS[key]) != "off"

    def _announce(self, fresh: list[tuple[ServerRecord, ItemView]]) -> None:
        critical = any(f.get("severity") == CRITICAL for _, v in fresh if v.live for f in v.live.findings)
        if not (self._wants("notify_new") or (critical and self._wants("notify_findings"))):
            return
        server = fresh[0][0]
        tools = [v.name for s, v in fresh if s.id == server.id and v.kind == "tool"]
        changed = any(v.approved is not None for _, v in fresh)
        title = f"{server.name}: {'changed' if changed else 'new'} tools wait for approval"
        if critical:
            title = f"{server.name}: a tool definition hides instructions"
        names = ", ".join(tools[:4]) + ("…" if len(tools) > 4 else "")
        effect = (
            "The AI client keeps seeing the version you approved, and calls are held."
            if changed
            else "The AI client does not see them until you approve."
        )
        text = (names + "\n" if names else "") + effect + " Click to review."
        self._notify_server = server.id
        icon = QSystemTrayIcon.MessageIcon.Critical if critical else QSystemTrayIcon.MessageIcon.Warning
        self._show_message(title, text, icon)

    def _show_message(
        self,
        title: str,
        text: str,
        icon: QSystemTrayIcon.MessageIcon,
        *,
        client: ServerKey | None = None,
        signin: int | None = None,
    ) -> None:
        self._notify_client = client
        self._notify_signin = signin
        if self.icon.isVisible():
            self.icon.showMessage(title, text, icon, 15000)
        self.notified.emit(title, text)

    def on_calls_added(self) -> None:
        """A tool's answer with a critical finding is worth a notification: it reached the model."""
        rows = self.audit.rows(after_id=self._last_call)
        if not rows:
            return
        self._last_call = rows[-1].id
        flagged = [r for r in rows if any(f.get("severity") == CRITICAL for f in r.findings)]
        if not flagged or not self._wants("notify_findings"):
            return
        row = flagged[-1]
        kinds = sorted({str(f.get("kind")) for f in row.findings if f.get("severity") == CRITICAL})
        self._notify_server = None
        self._show_message(
            f"{row.server}: {row.tool} answered with text aimed at the model",
            f"Findings: {', '.join(kinds)}. See the Activity page for the details.",
            QSystemTrayIcon.MessageIcon.Critical,
        )

    def on_signins_changed(self) -> None:
        """A remote bridge waits for the user to sign in: say so once, naming where credentials will go.

        Not subject to the notification settings: the AI client was told to use this notification,
        and nothing happens until the user acts on it. Pausing notifications still silences it (the
        menu keeps offering it).
        """
        requests = self.window.bridge.signins
        current = {r.id for r in requests}
        fresh = [r for r in requests if r.id not in self._signins_announced]
        self._signins_announced = (self._signins_announced & current) | {r.id for r in fresh}
        if not fresh or self.paused:
            return
        request = fresh[-1]
        title, text = offers.signin_notification(request)
        self._notify_server = None
        self._show_message(title, text, QSystemTrayIcon.MessageIcon.Information, signin=request.id)

    def open_signin(self, request_id: int) -> bool:
        """Open a sign-in request's authorization page in the browser; False when it no longer waits."""
        return offers.open_signin(self.store, request_id)

    @Slot(object)
    def on_client_events(self, events: list[ClientEvent]) -> None:
        """A client config changed: a server runs unguarded, was wrapped automatically, or lost its wrap.

        These follow ``notify_new`` (a new server is news of the same kind as a new tool) and the pause.
        """
        if not events or not self._wants("notify_new"):
            return
        from mcpguard.gui.config_watch import notification

        title, text = notification(events)
        quiet = all(e.kind == "auto-wrapped" for e in events)
        icon = QSystemTrayIcon.MessageIcon.Information if quiet else QSystemTrayIcon.MessageIcon.Warning
        self._show_message(title, text, icon, client=events[0].server.key)

    def _on_icon_message_clicked(self) -> None:
        if self._notify_signin is not None:
            if not self.open_signin(self._notify_signin):
                self.window.show_page("activity")
        elif self._notify_client is not None:
            self.window.show_client_server(self._notify_client)
        elif self._notify_server is not None:
            self.window.review(self._notify_server)
        else:
            self.window.show_page("activity")

    def _on_icon_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.window.show_page("approvals" if self.store.waiting() else "activity")

    def _rebuild_menu(self) -> None:
        """Rebuilt on every opening, so counts and names are never stale."""
        self.menu.clear()
        for request in self.store.signins():
            action = self.menu.addAction(offers.menu_text(request))
            action.triggered.connect(lambda _=False, rid=request.id: self.open_signin(rid))
        if not self.menu.isEmpty():
            self.menu.addSeparator()
        waiting = self.store.waiting()
        servers = sorted({(s.id, s.name) for s, _ in waiting}, key=lambda p: p[1])
        if waiting:
            head = self.menu.addAction(f"{len(waiting)} approval{'s' if len(waiting) != 1 else ''} waiting…")
            head.triggered.connect(lambda: self.window.show_page("approvals"))
            for server_id, name in servers[:8]:
                action = self.menu.addAction(f"    Review {name}…")
                action.triggered.connect(lambda _=False, sid=server_id: self.window.review(sid))
        else:
            none = self.menu.addAction("No approvals waiting")
            none.setEnabled(False)
        self.menu.addSeparator()
        self.menu.addAction("&Activity").triggered.connect(lambda: self.window.show_page("activity"))
        self.menu.addAction("&Servers and tools").triggered.connect(lambda: self.window.show_page("servers"))
        self.menu.addAction("AI &clients").triggered.connect(lambda: self.window.show_page("clients"))
        self.menu.addAction("S&ettings…").triggered.connect(self.window.open_settings)
        pause = QAction("&Pause notifications", self.menu)
        pause.setCheckable(True)
        pause.setChecked(self.paused)
        pause.toggled.connect(self._on_pause_toggled)
        self.menu.addAction(pause)
        self.menu.addSeparator()
        self.menu.addAction("&Quit mcpguard").triggered.connect(QApplication.quit)

    def _on_pause_toggled(self, checked: bool) -> None:
        self.paused = checked
