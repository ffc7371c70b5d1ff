"""The window behind the tray icon: approvals, the activity log, servers and tools, AI clients, secrets.

Where the desktop has no system tray this window is the application; elsewhere the tray opens it on
the page the user asked for.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mcpguard.audit import AuditLog
from mcpguard.clients.display import shown_command
from mcpguard.errors import UnknownItem
from mcpguard.gui.bridge import StoreBridge
from mcpguard.gui.icons import app_icon
from mcpguard.paths import AppPaths
from mcpguard.pinning.store import ItemView, ServerRecord, Store
from mcpguard.scanner import reveal

if TYPE_CHECKING:
    from collections.abc import Callable

    from mcpguard.gui.config_watch import ConfigWatch, ServerKey
    from mcpguard.secrets.base import SecretStore


class WaitingList(QWidget):
    """Servers with definitions waiting for a decision, each one click from its approval dialog."""

    review_requested = Signal(int)
    """The user asked to review the server with this id."""

    def __init__(self, store: Store, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        self.list.itemActivated.connect(self._on_list_item_activated)
        self.review = QPushButton("&Review…")
        self.review.clicked.connect(self._on_review_clicked)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.review)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self) -> None:
        waiting = self.store.waiting()
        per_server: dict[int, list[ItemView]] = {}
        servers: dict[int, ServerRecord] = {}
        for server, view in waiting:
            per_server.setdefault(server.id, []).append(view)
            servers[server.id] = server
        self.list.clear()
        for server_id, views in per_server.items():
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, server_id)
            label = QLabel(self._entry_html(servers[server_id], views))
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setContentsMargins(8, 6, 8, 6)
            item.setSizeHint(label.sizeHint())
            self.list.addItem(item)
            self.list.setItemWidget(item, label)
        if per_server:
            self.summary.setText(
                f"<b>{len(waiting)} definition{'s' if len(waiting) != 1 else ''} from {len(per_server)} "
                f"server{'s' if len(per_server) != 1 else ''} wait for your decision.</b> Until you approve them, "
                "the AI client does not see them."
            )
            self.list.setCurrentRow(0)
        else:
            self.summary.setText("Nothing waits for approval. New and changed tools will appear here.")
        self.review.setEnabled(bool(per_server))

    def _entry_html(self, server: ServerRecord, views: list[ItemView]) -> str:
        """One server: who launches it, what waits, and how bad the findings are."""
        parts: list[str] = []
        critical = 0
        for view in views:
            label = view.name or view.kind.replace("_", " ")
            state = "new" if view.approved is None else "changed"
            parts.append(f"{html.escape(reveal(label))} <i>({state})</i>")
            if view.live is not None:
                critical += sum(1 for f in view.live.findings if f.get("severity") == "critical")
        command = next((v for v in views if v.kind == "command"), None)
        if command is None:
            try:
                command = self.store.item(server.id, "command", "")
            except UnknownItem:
                command = None
        argv = command.live.definition.get("argv", []) if command is not None and command.live else []
        first = command is not None and command.approved is None and command in views
        badge = (
            f' &nbsp;<span style="background:#c53030;color:white;font-weight:bold">&nbsp;{critical} critical '
            f"finding{'s' if critical != 1 else ''}&nbsp;</span>"
            if critical
            else ""
        )
        kind = "new server" if first else f"{len(views)} waiting"
        return (
            f"<b>{html.escape(reveal(server.name))}</b> &nbsp;<span style='color:#666'>started by "
            f"{html.escape(server.client)} · {kind}</span>{badge}<br>"
            f"<span style='font-family:monospace;color:#444'>{html.escape(reveal(shown_command(argv)))}</span><br>"
            f"Waiting: {', '.join(parts)}"
        )

    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        self.review_requested.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    def _on_review_clicked(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._on_list_item_activated(item)


class MainWindow(QMainWindow):
    """Five pages over one store and the clients' configs; closing hides the window when a tray icon stays behind.

    ``paths`` is the profile the "AI clients" page backs configs up into (``$MCPGUARD_HOME`` or the
    platform's data directory when not given).
    """

    PAGES = ("approvals", "activity", "servers", "clients", "secrets")

    def __init__(
        self,
        store: Store,
        bridge: StoreBridge,
        *,
        quit_on_close: bool = False,
        paths: AppPaths | None = None,
        secrets: Callable[[], SecretStore] | None = None,
    ) -> None:
        super().__init__()
        from mcpguard.gui.activity_view import ActivityView
        from mcpguard.gui.clients_view import ClientsView
        from mcpguard.gui.secrets_view import SecretsView
        from mcpguard.gui.servers_view import ServersView

        self.store = store
        self.bridge = bridge
        self.quit_on_close = quit_on_close
        self.setWindowTitle("mcpguard")
        self.setWindowIcon(app_icon())
        self.resize(1100, 720)
        self.tabs = QTabWidget()
        self.waiting = WaitingList(store)
        self.activity = ActivityView(AuditLog(store))
        self.servers = ServersView(store)
        profile = paths if paths is not None else AppPaths.from_env()
        self.clients = ClientsView(profile)
        if secrets is None:

            def secrets() -> SecretStore:
                from mcpguard.secrets import keyring_store

                return keyring_store.open_store(profile)

        self.secrets = SecretsView(secrets)
        self.tabs.addTab(self.waiting, "&Approvals")
        self.tabs.addTab(self.activity, "A&ctivity")
        self.tabs.addTab(self.servers, "&Servers and tools")
        self.tabs.addTab(self.clients, "A&I clients")
        self.tabs.addTab(self.secrets, "S&ecrets")
        self.setCentralWidget(self.tabs)
        self.waiting.review_requested.connect(self.review)
        self.servers.decided.connect(self.waiting.refresh)
        bridge.decisions_changed.connect(self._on_bridge_changed)
        bridge.definitions_changed.connect(self._on_bridge_changed)
        bridge.calls_added.connect(self.activity.refresh)

        settings = QAction("Se&ttings…", self)
        settings.setShortcut(QKeySequence.StandardKey.Preferences)
        settings.triggered.connect(self.open_settings)
        menu = self.menuBar().addMenu("&mcpguard")
        menu.addAction(settings)
        close = QAction("&Close window", self)
        close.setShortcut(QKeySequence.StandardKey.Close)
        close.triggered.connect(self.close)
        menu.addAction(close)
        self.signin_menu = self.menuBar().addMenu("Sign &in")
        """Sign-ins remote bridges wait for; shown only while there are some (see :mod:`mcpguard.gui.signin`)."""
        self._signins_seen: set[int] = set()
        self._signins_said = False
        self.signin_note = QLabel()
        """Says which sign-in waits, in the status bar; a widget, so menus' status tips do not wipe it."""
        self.signin_note.setVisible(False)
        self.statusBar().addWidget(self.signin_note, 1)
        bridge.signins_changed.connect(self._on_signins_changed)
        self._on_signins_changed()
        self._update_title()

    def _on_signins_changed(self) -> None:
        """Offer each waiting sign-in in the menu bar; without a tray icon, also say so and come forward.

        Without a system tray the window is the application, and the only place the user can be
        told that an AI client's server waits for a sign-in.
        """
        from mcpguard.gui import signin as offers

        requests = self.bridge.signins
        self.signin_menu.clear()
        for request in requests:
            action = self.signin_menu.addAction(offers.menu_text(request))
            action.triggered.connect(lambda _=False, rid=request.id: offers.open_signin(self.store, rid))
        self.signin_menu.menuAction().setVisible(bool(requests))
        fresh = [r for r in requests if r.id not in self._signins_seen]
        self._signins_seen = {r.id for r in requests}
        if fresh and self.quit_on_close:
            title, text = offers.signin_notification(fresh[-1])
            self.signin_note.setText(f"{title}: {text.splitlines()[0]} Open it from the Sign in menu.")
            self.signin_note.setVisible(True)
            self.show()
            self.raise_()
        elif not requests and self._signins_said:
            self.signin_note.clear()
            self.signin_note.setVisible(False)
        self._signins_said = bool(requests) and (self._signins_said or bool(fresh and self.quit_on_close))

    def show_page(self, page: str) -> None:
        """Bring the window forward on ``approvals``, ``activity``, ``servers``, ``clients`` or ``secrets``."""
        self.tabs.setCurrentIndex(self.PAGES.index(page))
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def show_client_server(self, key: ServerKey) -> None:
        """Bring the window forward on the AI clients page with one server selected (a notification's target)."""
        self.show_page("clients")
        self.clients.select_server(key)

    def watch_clients(self, watch: ConfigWatch) -> None:
        """Let the AI clients page follow the configs on disk: readings, events, and its own unwraps."""
        watch.scanned.connect(self.clients.show_configs)
        watch.events.connect(self.clients.on_watch_events)
        self.clients.applied.connect(watch.on_applied)

    def review(self, server_id: int) -> None:
        """Open the approval dialog for one server; the store tells everyone what was decided."""
        from mcpguard.gui.approval_dialog import ApprovalDialog

        dialog = ApprovalDialog(self.store, server_id, self)
        dialog.decided.connect(self._on_bridge_changed)
        dialog.open()

    def open_settings(self) -> None:
        from mcpguard.gui.settings_dialog import SettingsDialog

        SettingsDialog(self.store, self).open()

    def _on_bridge_changed(self) -> None:
        self.waiting.refresh()
        self.servers.refresh()
        self._update_title()

    def _update_title(self) -> None:
        count = len(self.store.waiting())
        self.setWindowTitle(f"mcpguard — {count} waiting" if count else "mcpguard")
        self.tabs.setTabText(0, f"&Approvals ({count})" if count else "&Approvals")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if self.quit_on_close:
            event.accept()
            return
        event.ignore()
        self.hide()
