"""The window behind the tray icon: what waits for approval, the activity log, servers and tools.

Where the desktop has no system tray this window is the application; elsewhere the tray opens it on
the page the user asked for.
"""

from __future__ import annotations

import shlex
from collections import Counter

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
from mcpguard.gui.bridge import StoreBridge
from mcpguard.gui.icons import app_icon
from mcpguard.pinning.store import Store


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
        per_server = Counter(server.id for server, _ in waiting)
        servers = {server.id: server for server, _ in waiting}
        self.list.clear()
        for server_id, count in per_server.items():
            server = servers[server_id]
            command = next((v for s, v in waiting if s.id == server_id and v.kind == "command"), None)
            kind = "new server" if command is not None and command.approved is None else "changes"
            text = f"{server.name}  ({server.client})  —  {count} waiting, {kind}"
            if command is not None and command.live is not None:
                text += f"\n    {shlex.join(command.live.definition.get('argv', []))}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, server_id)
            self.list.addItem(item)
        if per_server:
            self.summary.setText(
                f"<b>{len(waiting)} definition{'s' if len(waiting) != 1 else ''} from {len(per_server)} "
                "server(s) wait for your decision.</b> Until you approve them, the AI client does not see them."
            )
            self.list.setCurrentRow(0)
        else:
            self.summary.setText("Nothing waits for approval. New and changed tools will appear here.")
        self.review.setEnabled(bool(per_server))

    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        self.review_requested.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    def _on_review_clicked(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._on_list_item_activated(item)


class MainWindow(QMainWindow):
    """Three pages over one store; closing hides the window when a tray icon stays behind."""

    PAGES = ("approvals", "activity", "servers")

    def __init__(self, store: Store, bridge: StoreBridge, *, quit_on_close: bool = False) -> None:
        super().__init__()
        from mcpguard.gui.activity_view import ActivityView
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
        self.tabs.addTab(self.waiting, "&Approvals")
        self.tabs.addTab(self.activity, "A&ctivity")
        self.tabs.addTab(self.servers, "&Servers and tools")
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
        self._update_title()

    def show_page(self, page: str) -> None:
        """Bring the window forward on ``approvals``, ``activity`` or ``servers``."""
        self.tabs.setCurrentIndex(self.PAGES.index(page))
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

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
