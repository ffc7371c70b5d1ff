"""The servers page: every guarded server, its pinned items, every version they had and every decision.

The approval dialog answers "what waits now?"; this page answers "what have I trusted, since when, and
what did it look like before?". From here the user revokes an approval, denies a definition, goes back
to an earlier version (a server that rug-pulled a tool can be pinned to what it was), or forgets a
server altogether. Everything is read from and written to the store; the tray calls :meth:`refresh`
when another process changed it.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from PySide6.QtCore import QModelIndex, QPointF, QRectF, QSignalBlocker, Qt, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QIcon,
    QPainter,
    QPen,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QToolBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mcpguard.clients.display import shown_command
from mcpguard.errors import McpGuardError, UnknownItem, UnknownServer
from mcpguard.gui.hidden_text import to_html
from mcpguard.gui.icons import paint_warning
from mcpguard.gui.style import mute
from mcpguard.pinning.fingerprint import short
from mcpguard.pinning.store import IDENTITY_KINDS, Decision, ItemView, ServerRecord, Store, Version
from mcpguard.policy import Status
from mcpguard.scanner import reveal

__all__ = ["Confirm", "ServersView", "status_colour", "status_icon"]

Confirm = Callable[[str, str], bool]
"""``(title, question) -> yes?``; a test passes ``lambda *_: True`` instead of a modal message box."""

_STATUS_COLOURS = {
    Status.APPROVED: "#2f855a",
    Status.PENDING: "#b7791f",
    Status.CHANGED: "#c05621",
    Status.DENIED: "#c53030",
}
_SEVERITY_COLOURS = {"critical": "#c53030", "warning": "#c05621", "info": "#2b6cb0"}
_SEVERITY_ORDER = ("info", "warning", "critical")
# Worst first: a group of items shows the status that needs the user most.
_STATUS_URGENCY = (Status.DENIED, Status.CHANGED, Status.PENDING, Status.APPROVED)

_KIND_LABELS = {
    "command": "command line",
    "server_info": "server info",
    "instructions": "instructions",
    "tool": "tool",
    "prompt": "prompt",
    "resource_template": "template",
}
_DECISION_LABELS = {"approve": "approved", "deny": "denied", "revoke": "revoked"}

_NAME, _KIND, _STATUS, _FINGERPRINT, _FINDINGS = range(5)
_KEY_ROLE = Qt.ItemDataRole.UserRole
_IDENTITY_GROUP = "identity"


@dataclass(frozen=True)
class _Key:
    """What a tree row stands for; survives a rebuild of the tree, unlike the row itself."""

    server_id: int
    kind: str | None = None
    """None for the server row, ``"identity"`` for its identity group, else an item kind."""
    name: str = ""


def status_colour(status: Status) -> QColor:
    """The colour of a status everywhere in the tray (tree, chips, history), so it reads at a glance."""
    return QColor(_STATUS_COLOURS[status])


@cache
def status_icon(status: Status) -> QIcon:
    """A status as a shape as well as a colour, for users who do not tell amber from green.

    Approved is a ticked disc, pending a hollow ring, changed a warning triangle and denied a crossed
    disc. Drawn in code at twice the size, so it stays sharp on high-density screens.
    """
    size = 32
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = status_colour(status)
    white = QPen(QColor("white"), 3.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    if status is Status.PENDING:
        painter.setPen(QPen(colour, 4.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(QRectF(5, 5, 22, 22))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(QPointF(16, 16), 3.5, 3.5)
    elif status is Status.CHANGED:
        paint_warning(painter, colour)
    else:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(QRectF(2, 2, 28, 28))
        painter.setPen(white)
        if status is Status.APPROVED:
            painter.drawPolyline([QPointF(9.5, 16.5), QPointF(14, 21), QPointF(22.5, 11.5)])
        else:
            painter.drawLine(QPointF(11, 11), QPointF(21, 21))
            painter.drawLine(QPointF(21, 11), QPointF(11, 21))
    painter.end()
    pixmap.setDevicePixelRatio(2.0)
    return QIcon(pixmap)


class ServersView(QWidget):
    """Servers and their items in a tree; the selected one in full on the right, with its history.

    Args:
        store: The profile's store; every action is a :meth:`Store.decide` or :meth:`Store.forget`.
        parent: The Qt parent.
        actor: Recorded with every decision made here, so the history says where it came from.
        confirm: Asks before an action that cannot be undone (forgetting a server); by default a
            :class:`QMessageBox` question. Tests pass a function that answers at once.

    ``toolbar`` carries a summary on its left; actions added to it later (per-client Wrap/Unwrap)
    land on its right, after an expanding spacer.
    """

    decided = Signal()
    """Something was approved, denied, revoked or forgotten here (the store has changed)."""

    def __init__(
        self,
        store: Store,
        parent: QWidget | None = None,
        *,
        actor: str = "tray",
        confirm: Confirm | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.actor = actor
        self.confirm: Confirm = confirm if confirm is not None else self._ask
        self._current: _Key | None = None
        self._server: ServerRecord | None = None
        self._view: ItemView | None = None
        self._versions: list[Version] = []
        self._expanded: dict[_Key, bool] = {}
        self._mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.toolbar = QToolBar("Servers")
        self.toolbar.setMovable(False)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setContentsMargins(4, 0, 12, 0)
        self.toolbar.addWidget(self.summary)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(spacer)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(["Name", "Kind / client", "Status", "Fingerprint", "Findings"])
        self.tree.setUniformRowHeights(True)
        self.tree.setIndentation(16)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(_NAME, QHeaderView.ResizeMode.Stretch)
        for column in (_KIND, _STATUS, _FINGERPRINT, _FINDINGS):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(self._on_tree_current_item_changed)

        self.details = QStackedWidget()
        self._empty_page = QLabel("Select a server or one of its tools to see its versions and decisions.")
        self._empty_page.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty_page.setWordWrap(True)
        mute(self._empty_page)
        self.details.addWidget(self._empty_page)
        self.details.addWidget(self._build_server_page())
        self.details.addWidget(self._build_item_page())

        self.message = QLabel()
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # it quotes names a server chose
        """One line of feedback after an action (or why it failed); never a modal box."""
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(8, 0, 0, 0)
        right_layout.addWidget(self.details, 1)
        right_layout.addWidget(self.message)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.tree)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self._fitted = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.splitter, 1)
        self.refresh()

    # -- building the pages -------------------------------------------------------------------------

    def _build_server_page(self) -> QWidget:
        page = QWidget()
        self._server_title = QLabel()
        self._server_title.setTextFormat(Qt.TextFormat.PlainText)
        self._server_title.setFont(_scaled(self.font(), 1.45, bold=True))
        self._server_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._server_subtitle = QLabel()
        self._server_subtitle.setTextFormat(Qt.TextFormat.RichText)
        self._server_subtitle.setWordWrap(True)

        self._identity_form = QFormLayout()
        self._identity_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._identity_labels: dict[str, QLabel] = {}
        for kind in IDENTITY_KINDS:
            label = QLabel()
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._identity_labels[kind] = label
            self._identity_form.addRow(f"{_KIND_LABELS[kind].capitalize()}:", label)
        identity_box = _section("Identity")
        identity_box.layout().addLayout(self._identity_form)  # type: ignore[union-attr]

        self._server_counts = QLabel()
        self._server_counts.setTextFormat(Qt.TextFormat.RichText)
        self._server_counts.setWordWrap(True)

        self.forget_button = QPushButton("&Forget server…")
        self.forget_button.setToolTip("Drop every pin and decision of this server; its next start is a first start.")
        self.forget_button.clicked.connect(self._on_forget_button_clicked)
        forget_note = QLabel(
            "Forgetting drops every pin, version and decision of this server. The next time its client starts "
            "it, it is a never-seen server again and everything it shows waits for you. The tool-call log keeps "
            "its rows."
        )
        forget_note.setWordWrap(True)
        mute(forget_note)
        buttons = QHBoxLayout()
        buttons.addWidget(self.forget_button)
        buttons.addStretch(1)

        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._server_title)
        layout.addWidget(self._server_subtitle)
        layout.addSpacing(6)
        layout.addWidget(identity_box)
        layout.addWidget(self._server_counts)
        layout.addStretch(1)
        layout.addLayout(buttons)
        layout.addWidget(forget_note)
        return page

    def _build_item_page(self) -> QWidget:
        page = QWidget()
        self._item_title = QLabel()
        self._item_title.setTextFormat(Qt.TextFormat.PlainText)
        self._item_title.setFont(_scaled(self.font(), 1.45, bold=True))
        self._item_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_chip = QLabel()
        self.status_chip.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title_row = QHBoxLayout()
        title_row.addWidget(self._item_title, 1)
        title_row.addWidget(self.status_chip)
        self._item_subtitle = QLabel()
        self._item_subtitle.setTextFormat(Qt.TextFormat.RichText)
        self._item_subtitle.setWordWrap(True)
        self._status_note = QLabel()
        self._status_note.setWordWrap(True)

        self.live_fingerprint = _fingerprint_field(self._mono)
        self.approved_fingerprint = _fingerprint_field(self._mono)
        self.approved_fingerprint.setPlaceholderText("never approved")
        self._last_shown = QLabel()
        facts = QFormLayout()
        facts.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        facts.addRow("Live fingerprint:", self.live_fingerprint)
        facts.addRow("Approved fingerprint:", self.approved_fingerprint)
        facts.addRow("Last shown:", self._last_shown)

        self.approve_button = QPushButton("&Approve")
        self.approve_button.setToolTip("Approve the definition the server shows now.")
        self.approve_button.clicked.connect(self._on_approve_button_clicked)
        self.deny_button = QPushButton("&Deny")
        self.deny_button.setToolTip("Refuse the definition the server shows now; calls to it are refused.")
        self.deny_button.clicked.connect(self._on_deny_button_clicked)
        self.revoke_button = QPushButton("&Revoke approval")
        self.revoke_button.setToolTip("Withdraw the approval: the item waits for you again and the client loses it.")
        self.revoke_button.clicked.connect(self._on_revoke_button_clicked)
        actions = QHBoxLayout()
        actions.addWidget(self.approve_button)
        actions.addWidget(self.deny_button)
        actions.addWidget(self.revoke_button)
        actions.addStretch(1)

        self.tabs = QTabWidget()
        self.definition = QTextBrowser()
        self.definition.setOpenLinks(False)
        self.definition.setFont(self._mono)
        self.definition.setLineWrapMode(QTextBrowser.LineWrapMode.WidgetWidth)
        self.findings = QTextBrowser()
        self.findings.setOpenLinks(False)
        self.tabs.addTab(self.definition, "Definition")
        self.tabs.addTab(self.findings, "Findings")
        self.tabs.addTab(self._build_history_tab(), "History")

        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(title_row)
        layout.addWidget(self._item_subtitle)
        layout.addWidget(self._status_note)
        layout.addLayout(facts)
        layout.addLayout(actions)
        layout.addWidget(self.tabs, 1)
        return page

    def _build_history_tab(self) -> QWidget:
        tab = QWidget()
        self.versions_table = _table(["Version", "Fingerprint", "First seen", "Last seen", "Findings"])
        self.versions_table.itemSelectionChanged.connect(self._on_versions_table_item_selection_changed)
        self.approve_version_button = QPushButton("Approve &this version")
        self.approve_version_button.setToolTip(
            "Make the selected version the approved one. When the server shows a different one, the client "
            "keeps being served the approved version and calls are refused until you decide."
        )
        self.approve_version_button.clicked.connect(self._on_approve_version_button_clicked)
        self._version_note = QLabel()
        self._version_note.setWordWrap(True)
        mute(self._version_note)
        version_row = QHBoxLayout()
        version_row.addWidget(self.approve_version_button)
        version_row.addWidget(self._version_note, 1)
        self.decisions_table = _table(["When", "Decision", "By", "Version", "Note"])
        self.decisions_table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)

        layout = QVBoxLayout(tab)
        layout.addWidget(_heading("Versions"))
        layout.addWidget(self.versions_table, 3)
        layout.addLayout(version_row)
        layout.addSpacing(4)
        layout.addWidget(_heading("Decisions"))
        layout.addWidget(self.decisions_table, 2)
        return tab

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        """On first show, give the tree the width its columns need; the details take the rest."""
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            self._fit_tree()

    def _fit_tree(self) -> None:
        header = self.tree.header()
        needed = self.tree.sizeHintForColumn(_NAME) + sum(header.sectionSize(c) for c in range(_KIND, _FINDINGS + 1))
        needed += 2 * self.tree.frameWidth() + self.tree.verticalScrollBar().sizeHint().width() + 4
        total = sum(self.splitter.sizes()) or self.width()
        left = max(int(total * 0.35), min(needed, int(total * 0.55)))
        self.splitter.setSizes([left, total - left])

    # -- public slots -------------------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        """Rebuild everything from the store, keeping the selection, expanded rows and scroll position."""
        keep = self._current
        scroll = self.tree.verticalScrollBar().value()
        self._remember_expanded()
        with QSignalBlocker(self.tree):
            self.tree.clear()
            servers = self.store.servers()
            waiting_total = 0
            for server in servers:
                waiting_total += self._add_server(server)
        self.tree.verticalScrollBar().setValue(scroll)
        found = self._row(keep) if keep is not None else None
        if found is None and keep is not None and keep.kind is not None:
            found = self._row(_Key(keep.server_id))
        with QSignalBlocker(self.tree):
            if found is not None:
                self.tree.setCurrentItem(found)
            else:
                self.tree.setCurrentIndex(QModelIndex())
        self._show(self._key_of(found) if found is not None else None)
        self.summary.setText(_summary(len(servers), waiting_total))

    def select_server(self, server_id: int) -> bool:
        """Select a server's row (the tray opens the page on one); False if it is not known."""
        return self._select(_Key(server_id))

    def select_item(self, server_id: int, kind: str, name: str) -> bool:
        """Select an item's row, e.g. the tool a notification was about; False if it is not known."""
        return self._select(_Key(server_id, kind, name))

    # -- the tree -----------------------------------------------------------------------------------

    def _add_server(self, server: ServerRecord) -> int:
        """Add one server's rows; returns how many of its items wait for a decision."""
        views = self.store.items(server.id)
        waiting = sum(1 for v in views if v.live is not None and v.status in (Status.PENDING, Status.CHANGED))
        command = next((v for v in views if v.kind == "command"), None)

        row = QTreeWidgetItem(self.tree)
        key = _Key(server.id)
        row.setData(_NAME, _KEY_ROLE, key)
        name = reveal(server.name)
        row.setText(_NAME, f"{name}  ({waiting} waiting)" if waiting else name)
        row.setFont(_NAME, _scaled(self.tree.font(), 1.0, bold=True))
        row.setToolTip(_NAME, f"{name}, started by {reveal(server.client)}")
        row.setText(_KIND, reveal(server.client))
        row.setToolTip(_KIND, "the AI client that starts this server")
        if command is not None:
            self._set_status(row, command.status, "identity ")
            if command.live is not None:
                row.setText(_FINGERPRINT, short(command.live.fingerprint))
                row.setFont(_FINGERPRINT, self._mono)
        else:
            row.setText(_STATUS, "unknown")
        self._set_findings(row, [f for v in views if v.live is not None for f in v.live.findings])

        identity = [v for v in views if v.kind in IDENTITY_KINDS]
        if identity:
            group = QTreeWidgetItem(row)
            group_key = _Key(server.id, _IDENTITY_GROUP)
            group.setData(_NAME, _KEY_ROLE, group_key)
            group.setText(_NAME, "identity")
            group.setToolTip(_NAME, "who the server is: the command line, its serverInfo and its instructions")
            italic = QFont(self.tree.font())
            italic.setItalic(True)
            group.setFont(_NAME, italic)
            group.setText(_KIND, f"{len(identity)} item{'s' if len(identity) != 1 else ''}")
            self._set_status(group, _worst(v.status for v in identity))
            self._set_findings(group, [f for v in identity if v.live is not None for f in v.live.findings])
            for view in identity:
                self._add_item(group, view)
            settled = all(v.status is Status.APPROVED for v in identity)
            group.setExpanded(self._expanded.get(group_key, not settled))
        for view in views:
            if view.kind not in IDENTITY_KINDS:
                self._add_item(row, view)
        row.setExpanded(self._expanded.get(key, True))
        return waiting

    def _add_item(self, parent: QTreeWidgetItem, view: ItemView) -> None:
        row = QTreeWidgetItem(parent)
        row.setData(_NAME, _KEY_ROLE, _Key(view.server_id, view.kind, view.name))
        row.setText(_NAME, reveal(view.name) if view.name else _KIND_LABELS[view.kind])
        row.setText(_KIND, _KIND_LABELS[view.kind])
        self._set_status(row, view.status)
        if view.live is not None:
            row.setText(_FINGERPRINT, short(view.live.fingerprint))
            row.setToolTip(_FINGERPRINT, view.live.fingerprint)
            row.setFont(_FINGERPRINT, self._mono)
            self._set_findings(row, view.live.findings)

    @staticmethod
    def _set_status(row: QTreeWidgetItem, status: Status, prefix: str = "") -> None:
        row.setText(_STATUS, status.value)
        row.setIcon(_STATUS, status_icon(status))
        row.setForeground(_STATUS, status_colour(status))
        row.setToolTip(_STATUS, f"{prefix}{status.value}".capitalize())
        row.setData(_STATUS, _KEY_ROLE, status)

    @staticmethod
    def _set_findings(row: QTreeWidgetItem, findings: Sequence[dict[str, str]]) -> None:
        count = len(findings)
        if not count:
            return
        worst = _worst_severity(findings)
        row.setText(_FINDINGS, str(count))
        row.setTextAlignment(_FINDINGS, Qt.AlignmentFlag.AlignCenter)
        row.setForeground(_FINDINGS, QColor(_SEVERITY_COLOURS.get(worst, "#2b6cb0")))
        font = row.font(_FINDINGS)
        font.setBold(True)
        row.setFont(_FINDINGS, font)
        row.setToolTip(_FINDINGS, f"{count} finding{'s' if count != 1 else ''}, the worst {worst}")

    def _remember_expanded(self) -> None:
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            row = stack.pop()
            if row is None:
                continue
            if row.childCount():
                self._expanded[self._key_of(row)] = row.isExpanded()
                stack.extend(row.child(i) for i in range(row.childCount()))

    def _row(self, key: _Key) -> QTreeWidgetItem | None:
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            row = stack.pop()
            if row is None:
                continue
            if self._key_of(row) == key:
                return row
            stack.extend(row.child(i) for i in range(row.childCount()))
        return None

    @staticmethod
    def _key_of(row: QTreeWidgetItem) -> _Key:
        key = row.data(_NAME, _KEY_ROLE)
        assert isinstance(key, _Key)
        return key

    def _select(self, key: _Key) -> bool:
        row = self._row(key)
        if row is None:
            return False
        parent = row.parent()
        while parent is not None:
            parent.setExpanded(True)
            parent = parent.parent()
        self.tree.setCurrentItem(row)
        self.tree.scrollToItem(row)
        return True

    def _on_tree_current_item_changed(self, current: QTreeWidgetItem | None, _previous: object) -> None:
        self.message.clear()
        self._show(self._key_of(current) if current is not None else None)

    # -- the details pane ---------------------------------------------------------------------------

    def _show(self, key: _Key | None) -> None:
        """Fill the details pane for ``key``; an item gone meanwhile shows its server, a server gone nothing."""
        self._current = key
        self._server = None
        self._view = None
        if key is None:
            self.details.setCurrentWidget(self._empty_page)
            return
        try:
            self._server = self.store.server_by_id(key.server_id)
        except UnknownServer:
            self._current = None
            self.details.setCurrentWidget(self._empty_page)
            return
        if key.kind is not None and key.kind != _IDENTITY_GROUP:
            try:
                self._view = self.store.item(key.server_id, key.kind, key.name)
            except UnknownItem:
                self._current = _Key(key.server_id)
            else:
                self._show_item(self._server, self._view)
                return
        self._show_server(self._server)

    def _show_server(self, server: ServerRecord) -> None:
        views = self.store.items(server.id)
        self._server_title.setText(reveal(server.name))
        self._server_subtitle.setText(
            f"Started by <b>{to_html(server.client)}</b> · first seen {_when(server.first_seen, long=True)} · "
            f"last started {_when(server.last_seen, long=True)}"
        )
        by_kind = {v.kind: v for v in views}
        for kind, label in self._identity_labels.items():
            view = by_kind.get(kind)
            if view is None:
                label.setText("<i>not shown by this server</i>")
                continue
            label.setText(f"{_status_html(view.status)}&nbsp;&nbsp;{_identity_summary(view)}")
        counts: list[str] = []
        for kind in ("tool", "prompt", "resource_template"):
            n = sum(1 for v in views if v.kind == kind)
            if n:
                counts.append(f"{n} {_KIND_LABELS[kind]}{'s' if n != 1 else ''}")
        statuses = [v.status for v in views if v.live is not None]
        waiting = sum(1 for s in statuses if s in (Status.PENDING, Status.CHANGED))
        denied = statuses.count(Status.DENIED)
        text = ", ".join(counts) or "No tools, prompts or templates seen yet"
        text += f". <b>{waiting} waiting</b> for a decision" if waiting else ". Nothing waits for a decision"
        text += f", {denied} denied." if denied else "."
        self._server_counts.setText(text)
        self.details.setCurrentIndex(1)

    def _show_item(self, server: ServerRecord, view: ItemView) -> None:
        status = view.status
        self._item_title.setText(reveal(view.name) if view.name else _KIND_LABELS[view.kind].capitalize())
        self._item_subtitle.setText(
            f"{_KIND_LABELS[view.kind].capitalize()} of <b>{to_html(server.name)}</b> "
            f"(started by {to_html(server.client)})"
        )
        colour = _STATUS_COLOURS[status]
        self.status_chip.setText(status.value.upper())
        self.status_chip.setStyleSheet(
            f"QLabel {{ background: {colour}; color: white; font-weight: bold; border-radius: 4px; "
            "padding: 3px 10px; }"
        )
        self._status_note.setText(_status_note(view))
        self.live_fingerprint.setText(view.live.fingerprint if view.live else "—")
        self.approved_fingerprint.setText(view.approved.fingerprint if view.approved else "")
        self.live_fingerprint.setCursorPosition(0)
        self.approved_fingerprint.setCursorPosition(0)
        self._last_shown.setText(_when(view.live_seen, long=True) if view.live_seen else "—")

        live = view.live is not None
        self.approve_button.setEnabled(live and status is not Status.APPROVED)
        self.deny_button.setEnabled(live and status is not Status.DENIED)
        self.revoke_button.setEnabled(view.approved is not None)

        if view.live is not None:
            self.definition.setHtml(_definition_html(view.kind, view.live.definition))
            findings = view.live.findings
        else:
            self.definition.setHtml("<i>The server no longer shows this item.</i>")
            findings = []
        self.findings.setHtml(_findings_html(findings))
        self.tabs.setTabText(1, f"Findings ({len(findings)})" if findings else "Findings")

        self._fill_history(view)
        self.details.setCurrentIndex(2)

    def _fill_history(self, view: ItemView) -> None:
        selected = self._selected_version()
        keep = selected.fingerprint if selected is not None else None
        self._versions = self.store.versions(view.id)
        history = self.store.history(view.id)
        numbers = {v.fingerprint: i for i, v in enumerate(self._versions, 1)}
        last_decision: dict[int, str] = {}
        for decision in history:
            last_decision[decision.version_id] = decision.decision

        table = self.versions_table
        with QSignalBlocker(table):
            table.setRowCount(len(self._versions))
            for row, version in enumerate(self._versions):
                state = _version_state(version, view, last_decision.get(version.id))
                cells = [
                    f"#{row + 1}  {state}".rstrip(),
                    short(version.fingerprint),
                    _when(version.first_seen),
                    _when(version.last_seen),
                    str(len(version.findings)) if version.findings else "",
                ]
                for column, text in enumerate(cells):
                    cell = QTableWidgetItem(text)
                    if column == 0 and view.approved is not None and version.id == view.approved.id:
                        cell.setForeground(status_colour(Status.APPROVED))
                    if column == 1:
                        cell.setFont(self._mono)
                        cell.setToolTip(version.fingerprint)
                    if column in (2, 3):
                        cell.setToolTip(_exact(version.first_seen if column == 2 else version.last_seen))
                    if column == 4 and version.findings:
                        cell.setForeground(QColor(_SEVERITY_COLOURS[_worst_severity(version.findings)]))
                    table.setItem(row, column, cell)
            target = next((i for i, v in enumerate(self._versions) if v.fingerprint == keep), None)
            if target is None and view.live is not None:
                target = next((i for i, v in enumerate(self._versions) if v.id == view.live.id), None)
            if target is not None:
                table.selectRow(target)
            else:
                table.clearSelection()
        table.resizeColumnsToContents()
        self._on_versions_table_item_selection_changed()

        table = self.decisions_table
        table.setRowCount(len(history))
        for row, decision in enumerate(reversed(history)):
            number = numbers.get(decision.fingerprint)
            cells = [
                _when(decision.at),
                _DECISION_LABELS.get(decision.decision, decision.decision),
                decision.actor,
                f"#{number}  {short(decision.fingerprint)}" if number else short(decision.fingerprint),
                decision.note or "",
            ]
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if column == 0:
                    cell.setToolTip(_exact(decision.at))
                if column == 1:
                    cell.setForeground(_decision_colour(decision))
                if column == 3:
                    cell.setFont(self._mono)
                    cell.setToolTip(decision.fingerprint)
                table.setItem(row, column, cell)
        table.resizeColumnsToContents()
        table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.tabs.setTabText(2, f"History ({len(self._versions)} version{'s' if len(self._versions) != 1 else ''})")

    def _selected_version(self) -> Version | None:
        rows = self.versions_table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._versions):
            return None
        return self._versions[rows[0].row()]

    def _on_versions_table_item_selection_changed(self) -> None:
        version = self._selected_version()
        view = self._view
        approved = view.approved if view is not None else None
        can = version is not None and (approved is None or approved.id != version.id)
        self.approve_version_button.setEnabled(can)
        if version is None:
            self._version_note.setText("Select a version to approve it.")
        elif not can:
            self._version_note.setText("This is the approved version.")
        elif view is not None and view.live is not None and version.id == view.live.id:
            self._version_note.setText("This is what the server shows now.")
        else:
            self._version_note.setText("An earlier version: approved, it is served to the client; calls stay refused.")

    # -- actions ------------------------------------------------------------------------------------

    def _on_approve_button_clicked(self) -> None:
        self._decide("approve")

    def _on_deny_button_clicked(self) -> None:
        self._decide("deny")

    def _on_revoke_button_clicked(self) -> None:
        self._decide("revoke")

    def _on_approve_version_button_clicked(self) -> None:
        version = self._selected_version()
        if version is not None:
            self._decide("approve", version)

    def _decide(self, decision: str, version: Version | None = None) -> None:
        view = self._view
        if view is None:
            return
        label = f"{_KIND_LABELS[view.kind]} {reveal(view.name)!r}" if view.name else _KIND_LABELS[view.kind]
        try:
            after = self.store.decide(
                view.server_id,
                view.kind,
                view.name,
                decision,
                actor=self.actor,
                fingerprint=version.fingerprint if version is not None else None,
            )
        except McpGuardError as exc:
            self.refresh()
            self._say(f"Could not {decision} {label}: {exc}", error=True)
            return
        self.refresh()
        which = f" (version {short(version.fingerprint)})" if version is not None else ""
        self._say(f"{label.capitalize()}{which}: {_DECISION_LABELS[decision]}; it is now {after.status.value}.")
        self.decided.emit()

    def _on_forget_button_clicked(self) -> None:
        server = self._server
        if server is None:
            return
        question = (
            f"Forget {reveal(server.name)} (started by {reveal(server.client)})?\n\n"
            "Every pin, version and decision of this server is dropped. The next time it starts, everything "
            "it shows waits for your approval again."
        )
        if not self.confirm("Forget server", question):
            self._say(f"{reveal(server.name)} was kept.")
            return
        try:
            self.store.forget(server.id)
        except McpGuardError as exc:
            self.refresh()
            self._say(f"Could not forget {reveal(server.name)}: {exc}", error=True)
            return
        self.refresh()
        self._say(f"Forgot {reveal(server.name)} ({reveal(server.client)}); its next start is a first start.")
        self.decided.emit()

    def _ask(self, title: str, question: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, title, question, parent=self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # names in the question are not markup
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Yes

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = _STATUS_COLOURS[Status.DENIED] if error else self.palette().windowText().color().name()
        self.message.setStyleSheet(f"QLabel {{ color: {colour}; }}")
        self.message.setText(text)


# -- helpers ----------------------------------------------------------------------------------------


def _scaled(font: QFont, factor: float, *, bold: bool = False) -> QFont:
    out = QFont(font)
    if factor != 1.0:
        out.setPointSizeF(font.pointSizeF() * factor)
    out.setBold(bold)
    return out


def _fingerprint_field(font: QFont) -> QLineEdit:
    """A read-only, frameless line: a full fingerprint fits any width by scrolling, and copies whole."""
    field = QLineEdit()
    field.setReadOnly(True)
    field.setFrame(False)
    field.setFont(font)
    field.setStyleSheet("QLineEdit { background: transparent; }")
    return field


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def _section(title: str) -> QFrame:
    frame = QFrame()
    frame.setFrameShape(QFrame.Shape.StyledPanel)
    layout = QVBoxLayout(frame)
    layout.addWidget(_heading(title))
    return frame


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    table.horizontalHeader().setDefaultSectionSize(40)
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return table


def _when(at: float | None, *, long: bool = False) -> str:
    """A compact local time for tables: ``today 20:05``, ``16 Oct`` this year, ``16 Oct 2024`` before.

    The exact time is in each cell's tooltip; ``long`` always gives date and time (headers).
    """
    if at is None:
        return "—"
    local = time.localtime(at)
    now = time.localtime()
    if long:
        return time.strftime("%d %b %Y %H:%M", local)
    if local[:3] == now[:3]:
        return time.strftime("today %H:%M", local)
    if local.tm_year == now.tm_year:
        return time.strftime("%d %b", local)
    return time.strftime("%d %b %Y", local)


def _exact(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _summary(servers: int, waiting: int) -> str:
    if not servers:
        return "No servers seen yet. A server appears here the first time a client starts it through mcpguard."
    text = f"{servers} server{'s' if servers != 1 else ''}"
    return text + (f" · <b>{waiting} waiting</b> for a decision" if waiting else " · nothing waits for a decision")


def _worst(statuses: Any) -> Status:
    found = set(statuses)
    return next((s for s in _STATUS_URGENCY if s in found), Status.APPROVED)


def _worst_severity(findings: Sequence[dict[str, str]]) -> str:
    ranks = [_SEVERITY_ORDER.index(f.get("severity", "info")) for f in findings if f.get("severity") in _SEVERITY_ORDER]
    return _SEVERITY_ORDER[max(ranks)] if ranks else "info"


def _status_html(status: Status) -> str:
    return f'<span style="color:{_STATUS_COLOURS[status]}; font-weight:bold;">{status.value}</span>'


def _identity_summary(view: ItemView) -> str:
    """One line of what an identity item says: the argv, ``name version``, or the start of the text."""
    definition = view.live.definition if view.live is not None else None
    if not isinstance(definition, dict):
        return ""
    if view.kind == "command":
        argv = definition.get("argv")
        text = shown_command([str(a) for a in argv]) if isinstance(argv, list) else json.dumps(definition)
        return f"<code>{to_html(text)}</code>"
    if view.kind == "server_info":
        parts = [str(definition.get(k, "")) for k in ("name", "version") if definition.get(k)]
        return to_html(" ".join(parts) or json.dumps(definition, ensure_ascii=False))
    text = str(definition.get("text", ""))
    first = text.strip().splitlines()[0] if text.strip() else "(empty)"
    return to_html(first if len(first) <= 120 else first[:117] + "…")


def _status_note(view: ItemView) -> str:
    """What the status means for the client, in one or two sentences."""
    status = view.status
    if view.kind == "command":
        return {
            Status.APPROVED: "The client may use this server's approved tools.",
            Status.PENDING: "This command line has never been approved: every tool of the server stays hidden.",
            Status.CHANGED: "The client now starts the server differently: its tools are held until you decide.",
            Status.DENIED: "You refused this command line: the server's tools are held.",
        }[status]
    if view.kind == "server_info":
        return {
            Status.APPROVED: "The server introduces itself as approved.",
            Status.PENDING: "Not approved yet. It holds nothing by itself: each tool is pinned on its own.",
            Status.CHANGED: "The server introduces itself differently (often just a new version number).",
            Status.DENIED: "You refused this server info.",
        }[status]
    return {
        Status.APPROVED: "The client sees this definition and may use it.",
        Status.PENDING: "Never approved: the client does not see it, and calls to it are refused.",
        Status.CHANGED: "The server shows a definition you have not approved. The client is served the approved "
        "version; calls are refused until you decide.",
        Status.DENIED: "You refused this definition. The client is served the last approved version if there is "
        "one; calls are refused.",
    }[status]


def _version_state(version: Version, view: ItemView, last_decision: str | None) -> str:
    parts: list[str] = []
    if view.live is not None and version.id == view.live.id:
        parts.append("live")
    if view.approved is not None and version.id == view.approved.id:
        parts.append("approved")
    elif last_decision == "deny":
        parts.append("denied")
    elif last_decision == "revoke":
        parts.append("revoked")
    return ", ".join(parts)


def _decision_colour(decision: Decision) -> QColor:
    if decision.decision == "approve":
        return status_colour(Status.APPROVED)
    if decision.decision == "deny":
        return status_colour(Status.DENIED)
    return status_colour(Status.PENDING)


def _pretty(definition: Any) -> str:
    """JSON with name, title and description first: the order a person reads a tool in."""
    if isinstance(definition, dict):
        first = [k for k in ("name", "title", "description") if k in definition]
        ordered = {k: definition[k] for k in first}
        ordered.update((k, definition[k]) for k in sorted(definition) if k not in ordered)
        definition = ordered
    return json.dumps(definition, indent=2, ensure_ascii=False)


def _definition_html(kind: str, definition: Any) -> str:
    """The live definition with every hidden character as a visible badge; instructions as their text."""
    if kind == "instructions" and isinstance(definition, dict) and isinstance(definition.get("text"), str):
        text = definition["text"]
    else:
        text = _pretty(definition)
    return f'<pre style="white-space: pre-wrap;">{to_html(text)}</pre>'


def _findings_html(findings: Sequence[dict[str, str]]) -> str:
    if not findings:
        return "<p><i>No findings: the scanner found nothing suspicious in this definition.</i></p>"
    ordered = sorted(findings, key=lambda f: -_SEVERITY_ORDER.index(f.get("severity", "info")))
    parts: list[str] = []
    for f in ordered:
        severity = f.get("severity", "info")
        colour = _SEVERITY_COLOURS.get(severity, "#2b6cb0")
        excerpt = f.get("excerpt", "")
        parts.append(
            f'<p><span style="background-color:{colour}; color:#ffffff; font-weight:bold;">&nbsp;'
            f"{html.escape(severity.upper())}&nbsp;</span>&nbsp; <b>{html.escape(f.get('kind', '?'))}</b>"
            f" in <code>{to_html(f.get('where', '?'))}</code><br/>"
            f"{to_html(f.get('explanation', ''))}"
            + (f'<br/><code style="white-space: pre-wrap;">{to_html(excerpt)}</code>' if excerpt else "")
            + "</p>"
        )
    return "".join(parts)
