"""The activity page: every tool call, live, with a filter bar, the selected call in full, and exports.

The table is an :class:`~mcpguard.gui.activity_model.ActivityModel`; everything that scales with the
log's length (filtering, paging, exports) happens in SQL there. This module is the widgets around it:
the filter bar, the details pane, the export buttons, and the timer that polls for calls other
processes (the shims) have logged.
"""

from __future__ import annotations

import html
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFontDatabase, QHideEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from mcpguard.audit import OUTCOMES, AuditLog, CallFilter, CallRow
from mcpguard.gui.activity_model import (
    AMBER,
    BLUE_GREY,
    GREEN,
    OUTCOME_LABELS,
    RED,
    ActivityModel,
    Column,
    format_duration,
    format_time,
    pretty_arguments,
    write_export,
)
from mcpguard.scanner import reveal

__all__ = ["ActivityView", "SavePathAsker", "details_html"]

log = logging.getLogger(__name__)

SavePathAsker = Callable[[str, str], str | None]
"""``(format, suggested_path) -> chosen path or None``; ``format`` is ``jsonl`` or ``csv``."""

SEARCH_DEBOUNCE_MS: Final = 250
"""Typing pauses this long before the search runs: one query per word, not per keystroke."""

_FORMATS: Final = {
    "jsonl": ("Export the calls as JSON Lines", "JSON Lines (*.jsonl);;All files (*)"),
    "csv": ("Export the calls as CSV", "CSV (*.csv);;All files (*)"),
}
_SEVERITY_COLORS: Final = {"critical": RED, "warning": AMBER, "info": BLUE_GREY}
_OUTCOME_COLORS: Final = {"ok": GREEN, "tool-error": AMBER, "protocol-error": AMBER, "blocked": RED}
_MUTED: Final = "#667085"

PLACEHOLDER: Final = "Select a call to see its arguments, its result and what the scanner found in it."


class ActivityView(QWidget):
    """The tool-call log as a live table with filters, a details pane and exports.

    Args:
        audit: The log to show.
        parent: The usual Qt parent.
        poll_ms: How often, while the page is visible, to look for calls logged by other processes.
            A look costs one ``max(id)`` read.
        ask_save_path: Asks where to export; a file dialog unless given (tests pass a function).
    """

    exported = Signal(str, int)
    """An export finished: the file and how many calls it holds."""
    export_failed = Signal(str)
    """An export failed: a sentence for the user."""
    _export_finished = Signal(str, int, str)

    def __init__(
        self,
        audit: AuditLog,
        parent: QWidget | None = None,
        *,
        poll_ms: int = 500,
        ask_save_path: SavePathAsker | None = None,
    ) -> None:
        super().__init__(parent)
        self.audit = audit
        self.ask_save_path: SavePathAsker = ask_save_path or self._ask_save_path_with_dialog
        self.model = ActivityModel(audit, self)
        self._pairs: set[tuple[str, str]] = set()
        self._reselect: int | None = None
        self._scroll_before = 0
        self._exporting = False

        self.server_combo = QComboBox()
        self.server_combo.setToolTip("Show the calls to one server only")
        self.tool_combo = QComboBox()
        self.tool_combo.setToolTip("Show the calls of one tool only")
        self.outcome_combo = QComboBox()
        self.outcome_combo.setToolTip("Show only calls that ended one way")
        self.outcome_combo.addItem("All outcomes", None)
        for outcome in OUTCOMES:
            self.outcome_combo.addItem(OUTCOME_LABELS[outcome], outcome)
        for combo in (self.server_combo, self.tool_combo, self.outcome_combo):
            # A fixed width: the bar does not jump when the choices change (long names are elided).
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(14)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search tools, servers, arguments and details…")
        self.search.setClearButtonEnabled(True)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._apply_filter)
        self._learn_pairs(audit.servers_and_tools())

        bar = QHBoxLayout()
        bar.addWidget(self.server_combo)
        bar.addWidget(self.tool_combo)
        bar.addWidget(self.outcome_combo)
        bar.addWidget(self.search, 1)

        self.table = QTableView()
        self.table.setModel(self.model)
        self._setup_table()

        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.details.setPlaceholderText(PLACEHOLDER)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 4)
        self.splitter.setChildrenCollapsible(False)

        self.status = QLabel()
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.export_jsonl_button = QPushButton("Export JSON &Lines…")
        self.export_jsonl_button.setToolTip("Write every call that matches the filter to a .jsonl file")
        self.export_csv_button = QPushButton("Export &CSV…")
        self.export_csv_button.setToolTip("Write every call that matches the filter to a .csv file")
        footer = QHBoxLayout()
        footer.addWidget(self.status, 1)
        footer.addWidget(self.export_jsonl_button)
        footer.addWidget(self.export_csv_button)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(footer)

        self.server_combo.currentIndexChanged.connect(self._on_server_combo_changed)
        self.tool_combo.currentIndexChanged.connect(self._apply_filter)
        self.outcome_combo.currentIndexChanged.connect(self._apply_filter)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.search.returnPressed.connect(self._apply_filter)
        self.export_jsonl_button.clicked.connect(lambda: self.export("jsonl"))
        self.export_csv_button.clicked.connect(lambda: self.export("csv"))
        self._export_finished.connect(self._on_export_finished)
        find = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        find.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.activated.connect(self._on_find_shortcut_activated)

        self.model.modelAboutToBeReset.connect(self._on_model_about_to_be_reset)
        self.model.modelReset.connect(self._on_model_reset)
        self.model.rowsAboutToBeInserted.connect(self._on_model_rows_about_to_be_inserted)
        self.model.rowsInserted.connect(self._on_model_rows_inserted)
        selection = self.table.selectionModel()
        selection.currentRowChanged.connect(self._on_current_row_changed)

        self.poll = QTimer(self)
        self.poll.setInterval(poll_ms)
        self.poll.timeout.connect(self.refresh)
        self._update_status()

    def _setup_table(self) -> None:
        table = self.table
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        metrics = table.fontMetrics()
        # Every row is one line high and fixed: Qt then never measures rows, which keeps scrolling
        # through tens of thousands of them cheap (QTableView's equivalent of uniformRowHeights).
        rows = table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(metrics.height() + 8)
        rows.hide()
        header = table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(True)
        samples = {
            Column.TIME: "2026-12-31 23:59:59",
            Column.CLIENT: "claude-desktop",
            Column.SERVER: "filesystem-x",
            Column.TOOL: "search_repositories",
            Column.DURATION: "99999.9 ms",
            Column.OUTCOME: "Protocol error",
        }
        for column, sample in samples.items():
            extra = 40 if column == Column.OUTCOME else 24  # the outcome's dot
            table.setColumnWidth(column, metrics.horizontalAdvance(sample) + extra)

    # -- live updates ----------------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        """Show calls logged since the last look (the poll timer and the store bridge call this)."""
        before = self.model.newest_id
        self.model.refresh()
        after = self.model.newest_id
        if after > before:
            self._learn_pairs(self.audit.servers_and_tools(after_id=before))
        elif after < before:
            self._pairs.clear()
            self._learn_pairs(self.audit.servers_and_tools())
        self._update_status()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        """Poll only while visible: a hidden page need not grow; it catches up when shown."""
        super().showEvent(event)
        self.refresh()
        self.poll.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 (Qt's name)
        super().hideEvent(event)
        self.poll.stop()

    def _on_model_rows_about_to_be_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        self._scroll_before = self.table.verticalScrollBar().value()

    def _on_model_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if first == 0 and self._scroll_before > 0:
            # Someone reading further down keeps their place; at the very top, new calls come into view.
            height = self.table.verticalHeader().defaultSectionSize()
            bar = self.table.verticalScrollBar()
            bar.setValue(self._scroll_before + (last - first + 1) * height)
        self._update_status()

    # -- filters ---------------------------------------------------------------------------------

    def _learn_pairs(self, pairs: list[tuple[str, str]]) -> None:
        """Add servers and tools seen in the log to the filter's choices, keeping what is chosen."""
        new = set(pairs) - self._pairs
        if not new and self.server_combo.count():
            return
        self._pairs |= new
        _fill_combo(self.server_combo, "All servers", sorted({s for s, _ in self._pairs}))
        self._fill_tools()

    def _fill_tools(self) -> None:
        server = self.server_combo.currentData()
        tools = sorted({t for s, t in self._pairs if server is None or s == server})
        _fill_combo(self.tool_combo, "All tools", tools)

    def _on_find_shortcut_activated(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _on_server_combo_changed(self) -> None:
        self._fill_tools()
        self._apply_filter()

    @Slot()
    def _apply_filter(self) -> None:
        self._debounce.stop()
        self.model.set_filter(
            self.server_combo.currentData(),
            self.tool_combo.currentData(),
            self.outcome_combo.currentData(),
            self.search.text().strip() or None,
        )
        self._update_status()

    def set_filter(
        self,
        server: str | None = None,
        tool: str | None = None,
        outcome: str | None = None,
        text: str | None = None,
    ) -> None:
        """Set the filter bar (and so the table) as a user would; names not seen yet are added as choices."""
        _choose(self.server_combo, server)
        self._fill_tools()
        _choose(self.tool_combo, tool)
        _choose(self.outcome_combo, outcome)
        self.search.setText(text or "")
        self._apply_filter()

    # -- selection and details -------------------------------------------------------------------

    def selected_call(self) -> CallRow | None:
        """The call whose row is current, read in full."""
        index = self.table.currentIndex()
        return self.model.call_at(index.row()) if index.isValid() else None

    def select_call(self, call_id: int) -> bool:
        """Make the call with this id current, if it is loaded; returns whether it was."""
        row = self.model.row_of(call_id)
        if row is None:
            return False
        index = self.model.index(row, 0)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().setCurrentIndex(index, flags)
        self.table.scrollTo(index)
        return True

    def _on_current_row_changed(
        self, current: QModelIndex | QPersistentModelIndex, previous: QModelIndex | QPersistentModelIndex
    ) -> None:
        call = self.model.call_at(current.row()) if current.isValid() else None
        if call is None:
            self.details.clear()
        else:
            self.details.setHtml(details_html(call, _fixed_family()))

    def _on_model_about_to_be_reset(self) -> None:
        call = self.selected_call()
        self._reselect = call.id if call is not None else None

    def _on_model_reset(self) -> None:
        if self._reselect is None or not self.select_call(self._reselect):
            self.details.clear()
        self._reselect = None
        self._update_status()

    def _update_status(self) -> None:
        if self._exporting:
            return
        shown = self.model.rowCount()
        more = self.model.canFetchMore(QModelIndex())
        filtered = self.model.filter != CallFilter()
        if shown == 0:
            text = "No calls match the filter." if filtered else "No tool calls logged yet. They appear here live."
        elif more:
            noun = "matching calls" if filtered else "calls"
            text = f"The newest {shown:,} {noun}; scroll down for older ones."
        else:
            text = f"{shown:,} {'matching ' if filtered else ''}call{'s' if shown != 1 else ''}."
        self.status.setText(text)

    # -- export ----------------------------------------------------------------------------------

    def export(self, fmt: str) -> None:
        """Ask where, then write every call that matches the filter there, on a worker thread.

        ``exported`` or ``export_failed`` tells how it went. Writing 100,000 rows takes seconds; the
        window stays live meanwhile.
        """
        if fmt not in _FORMATS:
            raise ValueError(f"unknown export format {fmt!r}")
        if self._exporting:
            return
        suggested = str(Path.home() / f"mcpguard-calls-{time.strftime('%Y%m%d-%H%M%S')}.{fmt}")
        chosen = self.ask_save_path(fmt, suggested)
        if not chosen:
            return
        path = Path(chosen)
        if not path.suffix:
            path = path.with_suffix(f".{fmt}")
        self._exporting = True
        self.export_jsonl_button.setEnabled(False)
        self.export_csv_button.setEnabled(False)
        self.status.setText(f"Exporting to {path}…")
        where, upto = self.model.filter, self.model.newest_id
        worker = threading.Thread(
            target=self._export_worker, args=(where, upto, path, fmt), name="mcpguard-export", daemon=True
        )
        worker.start()

    def _export_worker(self, where: CallFilter, upto: int, path: Path, fmt: str) -> None:
        try:
            count = write_export(self.audit, where, upto, path, fmt)
            error = ""
        except OSError as exc:
            count, error = 0, f"Could not write {path}: {exc.strerror or exc}"
        try:
            self._export_finished.emit(str(path), count, error)
        except RuntimeError:  # the window was closed meanwhile: nobody is left to tell
            pass

    @Slot(str, int, str)
    def _on_export_finished(self, path: str, count: int, error: str) -> None:
        self._exporting = False
        self.export_jsonl_button.setEnabled(True)
        self.export_csv_button.setEnabled(True)
        if error:
            log.warning("%s", error)
            self.status.setText(error)
            self.export_failed.emit(error)
        else:
            self.status.setText(f"Exported {count:,} call{'s' if count != 1 else ''} to {path}.")
            self.exported.emit(path, count)

    def _ask_save_path_with_dialog(self, fmt: str, suggested: str) -> str | None:
        title, name_filter = _FORMATS[fmt]
        path, _ = QFileDialog.getSaveFileName(self, title, suggested, name_filter)
        return path or None


def _fill_combo(combo: QComboBox, everything: str, values: list[str]) -> None:
    """Replace a combo's choices, keeping the chosen value (or "All" when it is gone), without signals."""
    current = combo.currentData()
    combo.blockSignals(True)
    try:
        combo.clear()
        combo.addItem(everything, None)
        for value in values:
            combo.addItem(reveal(value), value)
        index = combo.findData(current) if current is not None else 0
        combo.setCurrentIndex(max(index, 0))
    finally:
        combo.blockSignals(False)


def _choose(combo: QComboBox, value: str | None) -> None:
    """Choose ``value`` (None: the "All" entry), adding it when missing, without signals."""
    combo.blockSignals(True)
    try:
        if value is None:
            combo.setCurrentIndex(0)
            return
        if combo.findData(value) < 0:
            combo.addItem(reveal(value), value)
        combo.setCurrentIndex(combo.findData(value))
    finally:
        combo.blockSignals(False)


def _fixed_family() -> str:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family()


def _text(value: str) -> str:
    """Untrusted text for rich text: hidden characters shown, markup escaped."""
    return html.escape(reveal(value))


def details_html(call: CallRow, fixed_family: str = "monospace") -> str:
    """The details pane for one call, as the rich text QTextBrowser draws.

    Everything in a row came from a server or a client (names, arguments, error messages, excerpts),
    so all of it is escaped and its hidden characters are made visible.
    """
    color = _OUTCOME_COLORS.get(call.outcome, AMBER)
    outcome = html.escape(OUTCOME_LABELS.get(call.outcome, call.outcome))
    pre = f"style=\"font-family: '{html.escape(fixed_family)}'; white-space: pre-wrap; margin: 4px 0 10px 12px\""
    blocked = call.outcome == "blocked"
    facts = [format_time(call.at)]
    if blocked:
        facts.append("never reached the server")
    else:
        facts.append(f"took {format_duration(call.duration_ms)}" if call.duration_ms is not None else "no duration")
        facts.append(f"{call.result_size:,} bytes of result")
    facts.append(f"call #{call.id}")
    parts = [
        f'<p style="margin-bottom: 2px"><span style="font-size: large; font-weight: 600">{_text(call.tool)}</span>'
        f'<span style="color: {_MUTED}"> on </span><b>{_text(call.server)}</b>'
        f'<span style="color: {_MUTED}"> for {_text(call.client)}</span>'
        f'&nbsp;&nbsp;<span style="color: {color}; font-weight: 600">● {outcome}</span></p>',
        f'<p style="color: {_MUTED}; margin-top: 0">{" · ".join(html.escape(f) for f in facts)}</p>',
    ]
    if call.detail:
        parts.append(f'<p><span style="color: {color}; font-weight: 600">Why: </span>{_text(call.detail)}</p>')
    if call.findings:
        # What the scanner found matters more than the arguments: it comes first.
        parts.append(f"<h4>Findings ({len(call.findings)})</h4>")
        parts.extend(_finding_html(finding, pre) for finding in call.findings)
        parts.append('<p style="margin: 0; font-size: 4px">&nbsp;</p>')  # Qt ignores a table's own margin
    result = {"outcome": call.outcome, "duration_ms": call.duration_ms, "result_size": call.result_size}
    arguments = html.escape(pretty_arguments(call.arguments))
    parts.append(
        '<table width="100%" cellspacing="0" cellpadding="0" style="margin-top: 6px"><tr>'
        f'<td width="70%" valign="top"><h4>Arguments</h4><pre {pre}>{arguments}</pre></td>'
        f'<td valign="top"><h4>Result</h4><pre {pre}>{html.escape(json.dumps(result, indent=2))}</pre></td>'
        "</tr></table>"
    )
    if not call.findings and not blocked:
        parts.append(f'<p style="color: {_MUTED}">The scanner found nothing in the result.</p>')
    parts.append(f'<p style="color: {_MUTED}; font-size: small">Log hash {html.escape(call.hash)}</p>')
    return "\n".join(parts)


def _finding_html(finding: dict[str, Any], pre: str) -> str:
    severity = str(finding.get("severity", "info"))
    color = _SEVERITY_COLORS.get(severity, BLUE_GREY)
    badge = (
        f'<span style="background-color: {color}; color: white; font-weight: 600">'
        f"&nbsp;{html.escape(severity.upper())}&nbsp;</span>"
    )
    where = str(finding.get("where", ""))
    text = (
        f'<p style="margin-bottom: 0">{badge} <b>{_text(str(finding.get("kind", "")))}</b>'
        f"{f' in {_text(where)}' if where else ''}: {_text(str(finding.get('explanation', '')))}</p>"
    )
    excerpt = str(finding.get("excerpt", ""))
    if excerpt:
        text += f"<pre {pre}>{_text(excerpt)}</pre>"
    return text
