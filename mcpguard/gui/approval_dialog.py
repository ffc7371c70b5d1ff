"""The approval dialog: what one server wants the model to read, what changed, and why it may be dangerous.

Nothing a server shows reaches the model before the user approves it, so this dialog is where trust is
given. It therefore shows the exact text the model would read (hidden characters as badges, the command
line untruncated), the change against what was approved before, and every scanner finding; and it makes
the safe answer, "Decide later", the one that Enter and Escape choose.
"""

from __future__ import annotations

import difflib
import html
import json
import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from PySide6.QtCore import QSize, QSizeF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontDatabase, QFontMetrics, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from mcpguard.clients.display import shown_command
from mcpguard.errors import UnknownItem, UnknownServer
from mcpguard.gui.hidden_text import badge_html, segments, to_html
from mcpguard.pinning.store import IDENTITY_KINDS, ItemView, ServerRecord, Store
from mcpguard.policy import Status
from mcpguard.scanner import reveal

__all__ = ["ApprovalDialog", "definition_lines", "diff_html", "findings_html"]

KIND_LABELS: Final = {
    "command": "command line",
    "server_info": "server info",
    "instructions": "instructions",
    "tool": "tool",
    "prompt": "prompt",
    "resource_template": "resource template",
}

STATUS_LABELS: Final = {
    Status.PENDING: "new",
    Status.CHANGED: "changed",
    Status.APPROVED: "approved",
    Status.DENIED: "denied",
}

SEVERITY_RANK: Final = {"critical": 3, "warning": 2, "info": 1}
SEVERITY_COLOURS: Final = {"critical": "#b42318", "warning": "#b54708", "info": "#175cd3"}

WAITING: Final = (Status.PENDING, Status.CHANGED)

_INTRALINE_LIMIT: Final = 4000
"""Longer edited lines get no word shading, only the line colour: a character diff of huge lines costs seconds."""


@dataclass(frozen=True)
class DiffColours:
    """The colours of the diff and findings panes; one set for light and one for dark desktops."""

    text: str
    muted: str
    added: str
    added_strong: str
    removed: str
    removed_strong: str
    excerpt: str


LIGHT: Final = DiffColours("#1f2328", "#59636e", "#e6ffec", "#abf2bc", "#ffebe9", "#ffc1bc", "#f3f4f6")
DARK: Final = DiffColours("#e6edf3", "#9198a1", "#17361f", "#2b6a3a", "#3c1618", "#7a2a2d", "#262c36")


def item_title(kind: str, name: str) -> str:
    """How the user reads an item: identity items have no name of their own."""
    label = KIND_LABELS.get(kind, kind)
    return label[:1].upper() + label[1:] if not name else name


def _revealed(value: Any) -> Any:
    """The definition with every hidden character in every string (keys too) rewritten as a marker.

    Revealing before ``json.dumps`` keeps control characters as ``⟦ESC⟧`` badges instead of the
    ``\\u001b`` escapes JSON would write, so all hidden characters look alike to the user.
    """
    if isinstance(value, str):
        return reveal(value)
    if isinstance(value, dict):
        return {reveal(str(key)): _revealed(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_revealed(inner) for inner in value]
    return value


def definition_lines(definition: Any) -> list[str]:
    """A definition as pretty JSON lines (sorted keys, real characters, hidden ones as markers)."""
    text = json.dumps(_revealed(definition), indent=2, sort_keys=True, ensure_ascii=False)
    return text.splitlines()


def _line_html(
    line: str,
    sign: str,
    background: str | None,
    changed: Sequence[tuple[int, int]],
    strong: str,
    char_width: int,
) -> str:
    """One diff line: a sign gutter, then the text with hidden markers as badges and changed runs shaded.

    ``changed`` are character ranges of ``line`` (already revealed) that differ from the other side.
    """
    parts: list[str] = []
    pos = 0
    for chunk, is_marker in segments(line):
        end = pos + len(chunk)
        if is_marker:
            parts.append(badge_html(chunk))
        else:
            cursor = pos
            for start, stop in changed:
                start, stop = max(start, pos), min(stop, end)
                if start >= stop:
                    continue
                parts.append(html.escape(line[cursor:start], quote=False))
                parts.append(
                    f'<span style="background-color:{strong};">{html.escape(line[start:stop], quote=False)}</span>'
                )
                cursor = stop
            parts.append(html.escape(line[cursor:end], quote=False))
        pos = end
    style = "margin:0; white-space:pre-wrap;"
    if char_width:
        # A hanging indent: a wrapped long string continues under its own JSON indentation.
        hang = (2 + len(line) - len(line.lstrip(" "))) * char_width
        style += f" margin-left:{hang}px; text-indent:-{hang}px;"
    if background is not None:
        style += f" background-color:{background};"
    return f'<p style="{style}">{html.escape(sign)} {"".join(parts)}</p>'


def _intraline(old: str, new: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Character ranges that differ between a removed and an added line, on each side."""
    if len(old) > _INTRALINE_LIMIT or len(new) > _INTRALINE_LIMIT:
        return [], []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    removed: list[tuple[int, int]] = []
    added: list[tuple[int, int]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            removed.append((i1, i2))
        if j2 > j1:
            added.append((j1, j2))
    return removed, added


def diff_html(old: Any | None, new: Any, colours: DiffColours = LIGHT, *, char_width: int = 0) -> str:
    """The whole definition as a unified diff against the approved one, in Qt rich text.

    Every line is shown, not just the changed ones with some context: definitions are short, and the
    user approves the whole text, not a patch. Removed lines are red with ``−``, added ones green with
    ``+``, and the words that changed inside a line are shaded darker. With no approved version
    (``old`` is None) the definition is shown as is. ``char_width`` (pixels of one character of the
    monospace font) turns on hanging indents for wrapped lines.
    """
    new_lines = definition_lines(new)
    rows: list[str] = []
    if old is None:
        rows = [_line_html(line, " ", None, (), colours.added_strong, char_width) for line in new_lines]
    else:
        old_lines = definition_lines(old)
        matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                rows += [_line_html(line, " ", None, (), colours.added_strong, char_width) for line in new_lines[j1:j2]]
                continue
            # Whole removed or added lines carry the line colour only; the stronger shade marks what
            # changed inside a line that was edited.
            removed_ranges: list[list[tuple[int, int]]] = [[] for _ in old_lines[i1:i2]]
            added_ranges: list[list[tuple[int, int]]] = [[] for _ in new_lines[j1:j2]]
            if tag == "replace":
                for k in range(min(i2 - i1, j2 - j1)):
                    removed_ranges[k], added_ranges[k] = _intraline(old_lines[i1 + k], new_lines[j1 + k])
            for line, ranges in zip(old_lines[i1:i2], removed_ranges, strict=True):
                rows.append(_line_html(line, "−", colours.removed, ranges, colours.removed_strong, char_width))
            for line, ranges in zip(new_lines[j1:j2], added_ranges, strict=True):
                rows.append(_line_html(line, "+", colours.added, ranges, colours.added_strong, char_width))
    return f'<div style="color:{colours.text};">{"".join(rows)}</div>'


def findings_html(findings: Sequence[dict[str, str]], colours: DiffColours = LIGHT, *, mono: str = "monospace") -> str:
    """Every finding, worst first: severity, where in the definition, why it matters, and the excerpt."""
    if not findings:
        return (
            f'<p style="color:{colours.muted};">The scanner found nothing suspicious in this definition. '
            "It cannot prove a definition safe: read it before you approve it.</p>"
        )
    ordered = sorted(findings, key=lambda f: -SEVERITY_RANK.get(f.get("severity", ""), 0))
    blocks: list[str] = []
    for finding in ordered:
        severity = finding.get("severity", "info")
        colour = SEVERITY_COLOURS.get(severity, SEVERITY_COLOURS["info"])
        where = finding.get("where") or "the whole definition"
        blocks.append(
            '<p style="margin-top:10px; margin-bottom:2px;">'
            f'<span style="background-color:{colour}; color:#ffffff; font-weight:bold;">'
            f"&nbsp;{html.escape(severity.upper())}&nbsp;</span>&nbsp; "
            f"<b>{html.escape(finding.get('kind', ''))}</b>"
            f' <span style="color:{colours.muted};">in</span> '
            f'<span style="font-family:{mono};">{to_html(where)}</span></p>'
            f'<p style="margin:0 0 2px 0;">{html.escape(finding.get("explanation", ""))}</p>'
        )
        excerpt = finding.get("excerpt", "")
        if excerpt:
            blocks.append(
                f'<p style="margin:0 0 4px 0; white-space:pre-wrap; font-family:{mono}; '
                f'background-color:{colours.excerpt};">{to_html(excerpt)}</p>'
            )
    return f'<div style="color:{colours.text};">{"".join(blocks)}</div>'


def _worst(findings: Sequence[dict[str, str]]) -> str | None:
    ranked = [f.get("severity", "") for f in findings if f.get("severity") in SEVERITY_RANK]
    return max(ranked, key=SEVERITY_RANK.__getitem__) if ranked else None


def _count(findings: Sequence[dict[str, str]], severity: str) -> int:
    return sum(1 for f in findings if f.get("severity") == severity)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _severity_count(findings: Sequence[dict[str, str]], severity: str) -> str:
    """``3 critical``, ``1 warning``, ``2 notes``: how many findings of one severity, in words."""
    n = _count(findings, severity)
    return f"{n} critical" if severity == "critical" else _plural(n, "note" if severity == "info" else severity)


_ICONS: dict[str | None, QIcon] = {}


def _severity_icon(severity: str | None) -> QIcon:
    """A round badge: red "!", amber "!", blue "i", or a grey ring when the scanner found nothing."""
    icon = _ICONS.get(severity)
    if icon is not None:
        return icon
    pixmap = QPixmap(32, 32)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if severity is None:
        painter.setPen(QPen(QColor("#98a2b3"), 3))
        painter.drawEllipse(4, 4, 24, 24)
    else:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(SEVERITY_COLOURS[severity]))
        painter.drawEllipse(2, 2, 28, 28)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(20)
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "i" if severity == "info" else "!")
    painter.end()
    icon = QIcon(pixmap)
    _ICONS[severity] = icon
    return icon


class _FittedText(QTextBrowser):
    """Read-only rich text that grows to fit its content up to ``max_lines``, then scrolls.

    Used for the command line: unlike a QLabel it wraps inside long unbroken arguments instead of
    widening the window, and it never elides.
    """

    def __init__(self, max_lines: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._max_lines = max_lines
        self.setOpenLinks(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.document().setDocumentMargin(4)
        self.document().documentLayout().documentSizeChanged.connect(self._on_document_size_changed)

    @Slot(QSizeF)
    def _on_document_size_changed(self, size: QSizeF) -> None:
        cap = self._max_lines * self.fontMetrics().lineSpacing() + 2 * self.document().documentMargin()
        height = min(size.height(), cap) + 2 * self.frameWidth()
        self.setFixedHeight(math.ceil(height))


def _banner(background: str, foreground: str, border: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setStyleSheet(
        f"QLabel {{ background-color: {background}; color: {foreground}; border: 1px solid {border}; "
        "border-radius: 4px; padding: 6px 8px; }"
    )
    label.hide()
    return label


def _pill(status: Status) -> str:
    colour = {
        Status.APPROVED: "#067647",
        Status.PENDING: "#175cd3",
        Status.CHANGED: "#b54708",
        Status.DENIED: "#b42318",
    }[status]
    return (
        f'<span style="background-color:{colour}; color:#ffffff; font-weight:bold;">'
        f"&nbsp;{STATUS_LABELS[status]}&nbsp;</span>"
    )


class ApprovalDialog(QDialog):
    """Everything of one server that waits for the user's decision, one item at a time.

    Args:
        store: The state database; decisions are written to it directly.
        server_id: The server to review.
        parent: The usual Qt parent.
        actor: Recorded with each decision, so the history says where it was taken.

    The dialog accepts (closes) by itself once nothing of the server waits any more; "Decide later"
    and Escape reject it without recording anything. Call :meth:`refresh` when the store changed
    behind the dialog's back (another decision, a new definition).
    """

    decided = Signal(str, str, str)
    """``(decision, kind, name)`` for every decision written, ``decision`` being "approve" or "deny"."""

    def __init__(self, store: Store, server_id: int, parent: QWidget | None = None, *, actor: str = "tray") -> None:
        super().__init__(parent)
        self._store = store
        self._server_id = server_id
        self._actor = actor
        self._waiting: list[ItemView] = []
        self._identity: dict[str, ItemView] = {}
        self._loaded = False
        self._mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._colours = DARK if self.palette().color(QPalette.ColorRole.Base).lightness() < 128 else LIGHT

        self.setWindowTitle("mcpguard — review")
        self.setSizeGripEnabled(True)
        self.setMinimumSize(720, 480)
        self.resize(1000, 700)

        outer = QVBoxLayout(self)
        outer.setSpacing(8)
        outer.addLayout(self._build_header())
        self.command_note = _banner("#fffaeb", "#7a2e0e", "#fedf89")
        outer.addWidget(self.command_note)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self._build_list_pane())
        self.splitter.addWidget(self._build_detail_pane())
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([290, 710])
        outer.addWidget(self.splitter, 1)
        outer.addLayout(self._build_buttons())

        QWidget.setTabOrder(self.command_view, self.items_list)
        QWidget.setTabOrder(self.items_list, self.diff_view)
        QWidget.setTabOrder(self.diff_view, self.findings_view)
        QWidget.setTabOrder(self.findings_view, self.approve_button)
        QWidget.setTabOrder(self.approve_button, self.approve_all_button)
        QWidget.setTabOrder(self.approve_all_button, self.deny_button)
        QWidget.setTabOrder(self.deny_button, self.later_button)

        self.refresh()
        self._loaded = True
        self.items_list.setFocus()

    # -- building ----------------------------------------------------------------------------------

    def _build_header(self) -> QGridLayout:
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(4)
        self.title_label = QLabel()
        self.title_label.setTextFormat(Qt.TextFormat.RichText)
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid.addWidget(self.title_label, 0, 0, 1, 3)

        self.command_view = _FittedText(4)
        self.command_view.setFont(self._mono)
        self.command_view.setAccessibleName("Command line")
        self.command_status = QLabel()
        self.server_info_label = QLabel()
        self.server_info_status = QLabel()
        self.instructions_label = QLabel("The text the server gives the model about how to use it.")
        self.instructions_status = QLabel()
        self._instructions_caption = QLabel("Instructions:")
        for label in (self.server_info_label, self.instructions_label):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.server_info_label.setTextFormat(Qt.TextFormat.RichText)
        for label in (self.command_status, self.server_info_status, self.instructions_status):
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        rows: list[tuple[QLabel, QWidget, QLabel]] = [
            (QLabel("Command line:"), self.command_view, self.command_status),
            (QLabel("Server info:"), self.server_info_label, self.server_info_status),
            (self._instructions_caption, self.instructions_label, self.instructions_status),
        ]
        for row, (caption, value, status) in enumerate(rows, start=1):
            caption.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            grid.addWidget(caption, row, 0)
            grid.addWidget(value, row, 1)
            grid.addWidget(status, row, 2)
        grid.setColumnStretch(1, 1)
        return grid

    def _build_list_pane(self) -> QWidget:
        pane = QWidget()
        layout = QVBoxLayout(pane)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list_caption = QLabel()
        layout.addWidget(self.list_caption)
        self.items_list = QListWidget()
        self.items_list.setAccessibleName("Items waiting for a decision")
        self.items_list.setIconSize(QSize(20, 20))
        self.items_list.setWordWrap(True)
        self.items_list.setSpacing(2)
        self.items_list.currentItemChanged.connect(self._on_items_list_current_item_changed)
        layout.addWidget(self.items_list, 1)
        pane.setMinimumWidth(200)
        return pane

    def _build_detail_pane(self) -> QWidget:
        pane = QWidget()
        layout = QVBoxLayout(pane)
        layout.setContentsMargins(0, 0, 0, 0)
        self.item_label = QLabel()
        self.item_label.setTextFormat(Qt.TextFormat.RichText)
        self.item_label.setWordWrap(True)
        layout.addWidget(self.item_label)
        self.critical_banner = _banner("#b42318", "#ffffff", "#912018")
        layout.addWidget(self.critical_banner)
        self.legend_label = QLabel()
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.legend_label.setWordWrap(True)
        layout.addWidget(self.legend_label)

        self.diff_view = QTextBrowser()
        self.diff_view.setAccessibleName("Definition")
        self.diff_view.setOpenLinks(False)
        self.diff_view.document().setDefaultFont(self._mono)
        self.diff_view.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )

        findings_pane = QWidget()
        findings_layout = QVBoxLayout(findings_pane)
        findings_layout.setContentsMargins(0, 4, 0, 0)
        self.findings_caption = QLabel()
        self.findings_caption.setTextFormat(Qt.TextFormat.RichText)
        findings_layout.addWidget(self.findings_caption)
        self.findings_view = QTextBrowser()
        self.findings_view.setAccessibleName("Scanner findings")
        self.findings_view.setOpenLinks(False)
        self.findings_view.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        findings_layout.addWidget(self.findings_view, 1)

        self.detail_splitter = QSplitter(Qt.Orientation.Vertical)
        self.detail_splitter.setChildrenCollapsible(False)
        self.detail_splitter.addWidget(self.diff_view)
        self.detail_splitter.addWidget(findings_pane)
        self.detail_splitter.setSizes([330, 230])
        layout.addWidget(self.detail_splitter, 1)
        return pane

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.deny_button = QPushButton("&Deny")
        self.deny_button.setToolTip("Refuse this definition; the model will not see it.")
        self.later_button = QPushButton("Decide &later")
        self.later_button.setToolTip("Close without deciding; everything stays held until you decide.")
        self.approve_all_button = QPushButton("Approve a&ll")
        self.approve_all_button.setToolTip(
            "Approve every item in the list, including the command line and the server's identity."
        )
        self.approve_button = QPushButton("&Approve")
        self.approve_button.setToolTip("Approve the selected definition exactly as shown.")
        # Enter must never approve: only "Decide later" may be a default button. A focused approve
        # button still answers Space and its mnemonic, as every Qt button does.
        for button in (self.deny_button, self.approve_all_button, self.approve_button):
            button.setAutoDefault(False)
            button.setDefault(False)
        self.later_button.setAutoDefault(True)
        self.later_button.setDefault(True)
        self.deny_button.clicked.connect(self._on_deny_button_clicked)
        self.later_button.clicked.connect(self.reject)
        self.approve_all_button.clicked.connect(self._on_approve_all_button_clicked)
        self.approve_button.clicked.connect(self._on_approve_button_clicked)
        row.addWidget(self.deny_button)
        row.addStretch(1)
        row.addWidget(self.later_button)
        row.addWidget(self.approve_all_button)
        row.addWidget(self.approve_button)
        return row

    # -- state ---------------------------------------------------------------------------------------

    @property
    def waiting(self) -> list[ItemView]:
        """The items listed, in list order: every live definition of the server that waits for a decision."""
        return list(self._waiting)

    def current_item(self) -> ItemView | None:
        """The item whose definition is shown, if any."""
        row = self.items_list.currentRow()
        return self._waiting[row] if 0 <= row < len(self._waiting) else None

    def select(self, kind: str, name: str) -> bool:
        """Show one item (``name`` is ``""`` for the identity items); False when it does not wait."""
        for row, view in enumerate(self._waiting):
            if view.kind == kind and view.name == name:
                self.items_list.setCurrentRow(row)
                return True
        return False

    @Slot()
    def refresh(self) -> None:
        """Re-read the server from the store; closes the dialog (accepted) once nothing waits any more.

        Denied items are not listed: the user has decided them, and the dialog is about what still
        waits. A denial can be reversed with ``mcpguard pins approve``.
        """
        try:
            server = self._store.server_by_id(self._server_id)
        except UnknownServer:
            self.reject()
            return
        views = self._store.items(self._server_id)
        self._identity = {v.kind: v for v in views if v.kind in IDENTITY_KINDS}
        previous = self.current_item()
        previous_row = self.items_list.currentRow()
        self._waiting = [v for v in views if v.live is not None and v.status in WAITING]

        self.setWindowTitle(f"mcpguard — review {server.name}")
        self.title_label.setText(
            f'<span style="font-size:large;"><b>{to_html(server.name)}</b></span>'
            f"&nbsp;&nbsp;launched by <b>{to_html(server.client)}</b>"
        )
        self._show_identity(server)

        self.items_list.blockSignals(True)
        self.items_list.clear()
        for view in self._waiting:
            self.items_list.addItem(self._list_item(view))
        self.items_list.blockSignals(False)
        count = len(self._waiting)
        self.list_caption.setText(f"{_plural(count, 'item')} waiting for your decision" if count else "Nothing waits")
        self.approve_all_button.setEnabled(count > 0)

        if not self._waiting and self._loaded:
            self.accept()
            return
        row = 0
        if previous is not None:
            same = [i for i, v in enumerate(self._waiting) if (v.kind, v.name) == (previous.kind, previous.name)]
            row = same[0] if same else min(previous_row, count - 1)
        self.items_list.setCurrentRow(row if count else -1)
        self._show_current()

    def _show_identity(self, server: ServerRecord) -> None:
        command = self._identity.get("command")
        argv = command.live.definition.get("argv") if command is not None and command.live is not None else None
        if isinstance(argv, list):
            line = shown_command([str(arg) for arg in argv])  # literal tokens hidden
            self.command_view.setHtml(f'<p style="white-space:pre-wrap; margin:0;">{to_html(line)}</p>')
        else:
            self.command_view.setHtml("<i>not recorded yet</i>")
        self.command_status.setText(_pill(command.status) if command is not None else "")

        info = self._identity.get("server_info")
        if info is not None and info.live is not None and isinstance(info.live.definition, dict):
            fields = info.live.definition
            parts = [str(fields.get(key)) for key in ("name", "version") if fields.get(key) is not None]
            title = fields.get("title")
            text = " ".join(parts) + (f" ({title})" if isinstance(title, str) else "")
            self.server_info_label.setText(to_html(text or "(empty)"))
            self.server_info_status.setText(_pill(info.status))
        else:
            self.server_info_label.setText("<i>not seen yet: the server has not answered initialize</i>")
            self.server_info_status.setText("")

        instructions = self._identity.get("instructions")
        shown = instructions is not None and instructions.live is not None
        for widget in (self._instructions_caption, self.instructions_label, self.instructions_status):
            widget.setVisible(shown)
        if instructions is not None:
            self.instructions_label.setText(
                "The server's text for the model about how to use it; it waits for your decision (see the list)."
                if instructions.status in WAITING
                else "The server's text for the model about how to use it."
            )
            self.instructions_status.setText(_pill(instructions.status))

        note = ""
        held = (
            " Until it is approved, nothing from this server can be used, not even approved tools: approving"
            " tools alone is not enough."
        )
        if command is not None and command.status is Status.PENDING:
            note = "The command line that starts this server is <b>new</b> and not approved yet."
            note += held + " “Approve all” approves the command line too."
        elif command is not None and command.status is Status.CHANGED:
            note = "The command line that starts this server has <b>changed</b> since you approved it."
            note += held + " “Approve all” approves the command line too."
        elif command is not None and command.status is Status.DENIED:
            note = "You <b>denied</b> the command line that starts this server." + held
            fix = shlex.join(["mcpguard", "pins", "approve", server.name, "--client", server.client])
            note += f" To change your mind, run <tt>{to_html(fix)}</tt>."
        self.command_note.setText(note)
        self.command_note.setVisible(bool(note))

    def _list_item(self, view: ItemView) -> QListWidgetItem:
        findings = view.live.findings if view.live is not None else []
        worst = _worst(findings)
        details = [
            KIND_LABELS.get(view.kind, view.kind) if view.name else "server identity",
            STATUS_LABELS[view.status],
        ]
        if worst is not None:
            details.append(_severity_count(findings, worst))
        # The list shows names as the model reads them: hidden characters in a name appear as markers.
        item = QListWidgetItem(
            _severity_icon(worst), f"{reveal(item_title(view.kind, view.name))}\n{' · '.join(details)}"
        )
        item.setToolTip(f"{_plural(len(findings), 'finding')}" if findings else "The scanner found nothing.")
        return item

    def _show_current(self) -> None:
        view = self.current_item()
        self.approve_button.setEnabled(view is not None)
        self.deny_button.setEnabled(view is not None)
        if view is None or view.live is None:
            self.item_label.setText("<b>Nothing from this server waits for a decision.</b>")
            self.legend_label.setText("")
            self.critical_banner.hide()
            self.diff_view.clear()
            self.findings_view.clear()
            self.findings_caption.setText("")
            return
        c = self._colours
        kind = KIND_LABELS.get(view.kind, view.kind)
        title = f"<b>{to_html(item_title(view.kind, view.name))}</b>"
        if view.name:
            title += f' <span style="color:{c.muted};">{kind}</span>'
        if view.approved is None:
            self.item_label.setText(f"{title} — <b>new</b>: never approved before.")
            what = {
                "command": "The whole command line the client runs, one argument per line.",
                "server_info": "What the server says it is.",
            }.get(view.kind, "The whole definition, exactly as the model would read it.")
            self.legend_label.setText(f'<span style="color:{c.muted};">{what}</span>')
        else:
            self.item_label.setText(f"{title} — <b>changed</b> since you approved it.")
            self.legend_label.setText(
                f'<span style="background-color:{c.removed}; color:{c.text};">&nbsp;− the version you approved&nbsp;'
                f'</span>&nbsp;&nbsp;<span style="background-color:{c.added}; color:{c.text};">'
                "&nbsp;+ what the server shows now&nbsp;</span>"
            )
        old = view.approved.definition if view.approved is not None else None
        self.diff_view.setHtml(
            diff_html(old, view.live.definition, c, char_width=QFontMetrics(self._mono).horizontalAdvance(" "))
        )

        findings = view.live.findings
        critical = _count(findings, "critical")
        if critical:
            self.critical_banner.setText(
                "<b>⚠ This definition contains hidden characters or instructions aimed at the model</b> "
                f"({_plural(critical, 'critical finding')} below). Approve it only if you trust this server "
                "and understand every finding."
            )
        self.critical_banner.setVisible(critical > 0)
        if findings:
            counts = [
                f'<span style="color:{SEVERITY_COLOURS[s]};">{_severity_count(findings, s)}</span>'
                for s in ("critical", "warning", "info")
                if _count(findings, s)
            ]
            self.findings_caption.setText(f"<b>Scanner findings</b>: {', '.join(counts)}")
        else:
            self.findings_caption.setText("<b>Scanner findings</b>: none")
        self.findings_view.setHtml(findings_html(findings, c, mono=html.escape(self._mono.family())))

    # -- slots -----------------------------------------------------------------------------------------

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_items_list_current_item_changed(
        self, current: QListWidgetItem | None, previous: QListWidgetItem | None
    ) -> None:
        self._show_current()

    @Slot()
    def _on_approve_button_clicked(self) -> None:
        view = self.current_item()
        if view is not None:
            self._decide([view], "approve")

    @Slot()
    def _on_deny_button_clicked(self) -> None:
        view = self.current_item()
        if view is not None:
            self._decide([view], "deny")

    @Slot()
    def _on_approve_all_button_clicked(self) -> None:
        waiting = list(self._waiting)
        critical = [v for v in waiting if v.live is not None and _count(v.live.findings, "critical")]
        if critical:
            names = ", ".join(reveal(item_title(v.kind, v.name)) for v in critical[:5])
            more = f" and {len(critical) - 5} more" if len(critical) > 5 else ""
            answer = QMessageBox.question(
                self,
                "Approve everything?",
                f"{names}{more} {'has' if len(critical) == 1 else 'have'} critical findings: hidden characters or "
                "text aimed at the model. Approve everything anyway?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._decide(waiting, "approve")

    def _decide(self, views: Sequence[ItemView], decision: str) -> None:
        """Record ``decision`` for each item's version as shown (by fingerprint), then refresh.

        Pinning the fingerprint matters: if the server showed yet another definition since the dialog
        read the store, the user must not approve text they have not seen. That newer version stays
        waiting and appears after the refresh.
        """
        for view in views:
            if view.live is None:
                continue
            try:
                self._store.decide(
                    self._server_id,
                    view.kind,
                    view.name,
                    decision,
                    actor=self._actor,
                    fingerprint=view.live.fingerprint,
                )
            except UnknownItem:
                continue  # forgotten meanwhile; the refresh below drops it
            self.decided.emit(decision, view.kind, view.name)
        self.refresh()
