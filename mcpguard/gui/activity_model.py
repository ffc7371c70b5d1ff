"""The activity window's table: the tool-call log as a Qt model that pages in from SQLite as it scrolls.

How it loads, and why
---------------------
The log only grows (every tool call of every guarded server, forever), so nothing here may cost in
proportion to its length:

* **Keyset pages through ``canFetchMore``/``fetchMore``.** Opening reads the newest :data:`PAGE_SIZE`
  rows that match the filter; when the view scrolls to the end, Qt asks for more and the model reads
  the next page *below the oldest id it holds* (``id < ?  ORDER BY id DESC LIMIT 500``). Every page
  is an index range read, so page 200 costs what page 1 costs. A window cache addressed by row number
  was the alternative; it needs ``OFFSET`` (which re-reads every skipped row) or the full id list, and a
  scrollbar sized to the total needs a ``count(*)`` of the filter, which for a text search is a scan of
  the whole log on every keystroke.
* **Small rows in memory.** A loaded row is a slotted :class:`_Entry`: what the columns show, no
  arguments, no hashes (about 250 bytes: 100,000 scrolled-in rows add some 25 MB). The full
  :class:`~mcpguard.audit.CallRow` (arguments of up to 64 KiB) is read by id when a tooltip, the details
  pane or :data:`CALL_ROLE` asks for it, and a few are kept in a small LRU cache.
* **New rows arrive at the top.** :meth:`ActivityModel.refresh` reads ``max(id)``, a single index
  lookup, and returns when it did not move. Otherwise it reads only the rows above the newest id it
  has seen and inserts them at row 0 with ``beginInsertRows``, so Qt's persistent indexes (the
  selection, the current row) stay on the calls they were on.
* **Filters are SQL.** :meth:`ActivityModel.set_filter` turns into a ``WHERE`` clause
  (:class:`~mcpguard.audit.CallFilter`) and reloads the first page; a proxy model over the loaded rows
  could not filter the rows that are not loaded, and would have to hold them all to do so.
* **Exports stream from SQL** in batches (:func:`write_export`): every row that matches, loaded or not,
  written as it is read.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import IO, Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap

from mcpguard.audit import AuditLog, CallFilter, CallRow
from mcpguard.scanner import reveal

__all__ = [
    "CALL_ROLE",
    "COLUMNS",
    "EXPORT_FIELDS",
    "OUTCOME_LABELS",
    "PAGE_SIZE",
    "ActivityModel",
    "Column",
    "format_duration",
    "format_time",
    "pretty_arguments",
    "write_export",
]

PAGE_SIZE: Final = 500
"""Rows read per page: a screenful many times over, yet a read of a few milliseconds."""

MAX_INSERT: Final = 10_000
"""More new rows than this since the last refresh (a burst while the window slept) reload the model
instead: inserting them all would load rows nobody scrolls to, without bound."""

CALL_ROLE: Final = Qt.ItemDataRole.UserRole
"""``data(index, CALL_ROLE)`` is the row's full :class:`~mcpguard.audit.CallRow`."""

_INDEX = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    """The table's columns, in order."""

    TIME = 0
    CLIENT = 1
    SERVER = 2
    TOOL = 3
    DURATION = 4
    OUTCOME = 5
    FINDINGS = 6


COLUMNS: Final = ("Time", "Client", "Server", "Tool", "Duration", "Outcome", "Findings")

OUTCOME_LABELS: Final[dict[str, str]] = {
    "ok": "OK",
    "tool-error": "Tool error",
    "protocol-error": "Protocol error",
    "blocked": "Blocked",
}
"""What the table and the filter show for each stored outcome (:data:`mcpguard.audit.OUTCOMES`)."""

EXPORT_FIELDS: Final = (
    "id",
    "time",
    "client",
    "server",
    "tool",
    "arguments",
    "duration_ms",
    "outcome",
    "result_size",
    "findings",
    "detail",
    "hash",
)
"""The keys of :meth:`CallRow.to_json` (the documented ``mcpguard log --json`` shape): the CSV header."""

_SEVERITY_RANK: Final = {"info": 1, "warning": 2, "critical": 3}
_SEVERITY_NAMES: Final = {rank: name for name, rank in _SEVERITY_RANK.items()}

RED: Final = "#b42318"
"""Blocked calls and critical findings (the same red as the approval dialog's loud badges)."""
AMBER: Final = "#b54708"
"""Calls that failed, and warnings."""
GREEN: Final = "#079455"
BLUE_GREY: Final = "#475467"
"""Informational findings: worth a look, not alarming."""

_OUTCOME_COLORS: Final = {"ok": GREEN, "tool-error": AMBER, "protocol-error": AMBER, "blocked": RED}
_SEVERITY_COLORS: Final = {1: BLUE_GREY, 2: AMBER, 3: RED}

TOOLTIP_CHARS: Final = 2000
"""Tooltips show the arguments up to this length; the details pane shows all of them."""


class _Entry:
    """What a table row shows, without the arguments: the model holds one of these per loaded row."""

    __slots__ = ("id", "at", "client", "server", "tool", "duration_ms", "outcome", "findings", "worst")

    def __init__(self, row: CallRow) -> None:
        self.id = row.id
        self.at = row.at
        # Names repeat on almost every row: interning makes them one string each. They come from the
        # server and the client config, so hidden characters are shown, never drawn.
        self.client = sys.intern(reveal(row.client))
        self.server = sys.intern(reveal(row.server))
        self.tool = sys.intern(reveal(row.tool))
        self.duration_ms = row.duration_ms
        self.outcome = sys.intern(row.outcome)
        self.findings = len(row.findings)
        self.worst = max((_SEVERITY_RANK.get(str(f.get("severity")), 1) for f in row.findings), default=0)


def format_time(at: float) -> str:
    """Local time to the second: precise enough to line a call up with the client's own log."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def format_duration(duration_ms: float | None) -> str:
    """Milliseconds below a second, seconds above; a dash for calls that never ran (blocked)."""
    if duration_ms is None:
        return "—"
    if duration_ms < 1000:
        return f"{duration_ms:.1f} ms"
    return f"{duration_ms / 1000:.2f} s"


def pretty_arguments(text: str) -> str:
    """The stored arguments (JSON text) indented for reading, with hidden characters made visible.

    Arguments longer than the log keeps are cut (``… [N more characters]``) and are no longer JSON;
    those, and anything else that does not parse, are shown exactly as stored.
    """
    try:
        value = json.loads(text)
    except ValueError:
        return reveal(text)
    return reveal(json.dumps(value, indent=2, ensure_ascii=False))


def _findings_text(entry: _Entry) -> str:
    if not entry.findings:
        return ""
    return f"{entry.findings} ({_SEVERITY_NAMES[entry.worst]})"


def _dot(color: str) -> QIcon:
    """A small filled circle: the outcome and the worst finding at a glance, also for colour-blind eyes
    when read with the text next to it."""
    icon = _DOTS.get(color)
    if icon is None:
        pixmap = QPixmap(12, 12)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(color))
        painter.drawEllipse(2, 2, 8, 8)
        painter.end()
        icon = _DOTS[color] = QIcon(pixmap)
    return icon


_DOTS: dict[str, QIcon] = {}


class ActivityModel(QAbstractTableModel):
    """The tool-call log, newest first, filtered in SQL, paged in as the view scrolls.

    See the module docstring for how it loads. Rows are read-only.

    Args:
        audit: The log to show.
        parent: The usual Qt parent.
    """

    def __init__(self, audit: AuditLog, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._audit = audit
        self._filter = CallFilter()
        self._entries: list[_Entry] = []
        self._top = 0
        """The newest id in the log when it was last read; every matching row up to it is loaded or pageable."""
        self._cursor = 1
        """Pages continue below this id."""
        self._exhausted = True
        self._calls: OrderedDict[int, CallRow] = OrderedDict()
        self._brushes = {color: QBrush(QColor(color)) for color in (RED, AMBER, GREEN, BLUE_GREY)}
        self.reload()

    # -- what the model holds --------------------------------------------------------------------

    @property
    def filter(self) -> CallFilter:
        """The filter in force."""
        return self._filter

    @property
    def newest_id(self) -> int:
        """The newest id of the whole log (filtered or not) as of the last load or refresh."""
        return self._top

    def call_at(self, row: int) -> CallRow | None:
        """The full row shown at ``row`` (read by id, cached), or None outside the loaded rows."""
        if not 0 <= row < len(self._entries):
            return None
        call_id = self._entries[row].id
        call = self._calls.get(call_id)
        if call is not None:
            self._calls.move_to_end(call_id)
            return call
        call = self._audit.row(call_id)
        if call is not None:
            self._calls[call_id] = call
            if len(self._calls) > 64:
                self._calls.popitem(last=False)
        return call

    def row_of(self, call_id: int) -> int | None:
        """The row that shows the call with this id, if it is loaded (the view reselects it after a reload)."""
        pos = bisect_left(self._entries, -call_id, key=lambda e: -e.id)
        if pos < len(self._entries) and self._entries[pos].id == call_id:
            return pos
        return None

    # -- loading ---------------------------------------------------------------------------------

    def set_filter(
        self,
        server: str | None = None,
        tool: str | None = None,
        outcome: str | None = None,
        text: str | None = None,
    ) -> None:
        """Show only calls that match every given value; None (or an empty text) matches everything.

        Args:
            server: A server name, exactly.
            tool: A tool name, exactly.
            outcome: One of ``ok``, ``tool-error``, ``protocol-error``, ``blocked``.
            text: Found anywhere in the tool, the server, the arguments or the detail (ASCII letters
                match either case).
        """
        wanted = CallFilter(server, tool, outcome, text or None)
        if wanted != self._filter:
            self._filter = wanted
            self.reload()

    def reload(self) -> None:
        """Start over from the newest page (a model reset: views drop their selection)."""
        self.beginResetModel()
        self._entries = []
        self._calls.clear()
        self._top = self._audit.last_id()
        self._cursor = self._top + 1
        rows = self._audit.matching(self._filter, before_id=self._cursor, limit=PAGE_SIZE)
        self._exhausted = len(rows) < PAGE_SIZE
        if rows:
            self._cursor = rows[-1].id
        self._entries = [_Entry(r) for r in rows]
        self.endResetModel()

    def canFetchMore(self, parent: _INDEX = QModelIndex()) -> bool:  # noqa: B008  (Qt's own default)
        """True while older matching rows may be left to read."""
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: _INDEX = QModelIndex()) -> None:  # noqa: B008
        """Read the next page of older rows (Qt calls this when the view reaches the end)."""
        if parent.isValid() or self._exhausted:
            return
        rows = self._audit.matching(self._filter, before_id=self._cursor, limit=PAGE_SIZE)
        self._exhausted = len(rows) < PAGE_SIZE
        if not rows:
            return
        self._cursor = rows[-1].id
        first = len(self._entries)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._entries.extend(_Entry(r) for r in rows)
        self.endInsertRows()

    def refresh(self) -> int:
        """Pick up rows that other processes appended since the last look; they go in at the top.

        Costs one ``max(id)`` lookup when nothing changed. Rows are inserted (not reset), so the
        selection stays on the call it was on.

        Returns:
            How many rows were inserted.
        """
        newest = self._audit.last_id()
        if newest == self._top:
            return 0
        if newest < self._top:
            # The log lost rows at its end (a restored backup, or tampering): what we hold is stale.
            self.reload()
            return 0
        rows = self._audit.matching(self._filter, after_id=self._top, before_id=newest + 1, limit=MAX_INSERT + 1)
        if len(rows) > MAX_INSERT:
            self.reload()
            return 0
        self._top = newest
        if not rows:
            return 0
        self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
        self._entries[0:0] = [_Entry(r) for r in rows]
        self.endInsertRows()
        return len(rows)

    # -- Qt's model interface --------------------------------------------------------------------

    def rowCount(self, parent: _INDEX = QModelIndex()) -> int:  # noqa: B008
        """Rows loaded so far (more arrive through fetchMore)."""
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: _INDEX = QModelIndex()) -> int:  # noqa: B008
        """The seven columns of :class:`Column`."""
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Column titles; the findings column explains itself in a tooltip."""
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and section == Column.FINDINGS:
            return "How many warnings the scanner raised about the result, and the worst of them"
        return None

    def data(self, index: _INDEX, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text, colours, dots, tooltips, and the full row under :data:`CALL_ROLE`."""
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(entry, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == Column.OUTCOME and entry.outcome != "ok":
                return self._brushes.get(_OUTCOME_COLORS.get(entry.outcome, AMBER))
            if column == Column.FINDINGS and entry.worst:
                return self._brushes[_SEVERITY_COLORS[entry.worst]]
            return None
        if role == Qt.ItemDataRole.DecorationRole:
            if column == Column.OUTCOME:
                return _dot(_OUTCOME_COLORS.get(entry.outcome, AMBER))
            if column == Column.FINDINGS and entry.worst:
                return _dot(_SEVERITY_COLORS[entry.worst])
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and column == Column.DURATION:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            call = self.call_at(index.row())
            return _tooltip(call) if call is not None else None
        if role == CALL_ROLE:
            return self.call_at(index.row())
        return None

    @staticmethod
    def _display(entry: _Entry, column: int) -> str | None:
        if column == Column.TIME:
            return format_time(entry.at)
        if column == Column.CLIENT:
            return entry.client
        if column == Column.SERVER:
            return entry.server
        if column == Column.TOOL:
            return entry.tool
        if column == Column.DURATION:
            return format_duration(entry.duration_ms)
        if column == Column.OUTCOME:
            return OUTCOME_LABELS.get(entry.outcome, entry.outcome)
        if column == Column.FINDINGS:
            return _findings_text(entry)
        return None

    # -- export ----------------------------------------------------------------------------------

    def export_jsonl(self, path: str | os.PathLike[str]) -> int:
        """Write every row that matches the filter (loaded or not) as JSON Lines; see :func:`write_export`."""
        return write_export(self._audit, self._filter, self._top, Path(path), "jsonl")

    def export_csv(self, path: str | os.PathLike[str]) -> int:
        """Write every row that matches the filter (loaded or not) as CSV; see :func:`write_export`."""
        return write_export(self._audit, self._filter, self._top, Path(path), "csv")


def _tooltip(call: CallRow) -> str:
    # The first line is a plain label, so Qt never takes arguments that contain "<b>" for rich text.
    text = pretty_arguments(call.arguments)
    if len(text) > TOOLTIP_CHARS:
        text = text[:TOOLTIP_CHARS] + "\n… (the details pane shows all of it)"
    tip = "Arguments:\n" + text
    if call.detail:
        tip += "\n\n" + reveal(call.detail)
    return tip


def write_export(audit: AuditLog, where: CallFilter, upto_id: int, path: Path, fmt: str) -> int:
    """Stream the rows that match ``where`` (ids up to ``upto_id``) to ``path``, oldest first.

    Qt-free and given plain values, so the view can run it on a worker thread. Both formats carry the
    fields of :meth:`CallRow.to_json` (:data:`EXPORT_FIELDS`), oldest first like ``mcpguard log``:

    * ``jsonl``: one object per line, exactly the ``mcpguard log --json`` shape.
    * ``csv``: a header, then one record per call; ``findings`` is JSON text, a missing duration is
      empty. Text that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
      tab or carriage return) gets a leading ``'``: a server chooses its error messages and tool
      results, and must not get to run formulas on the user's machine. JSON Lines is the faithful one.

    The file is created private to the user (it holds tool arguments) and appears complete or not at
    all: rows go to a temporary file beside it that is renamed at the end.

    Returns:
        How many rows were written.

    Raises:
        OSError: The file cannot be written.
        ValueError: ``fmt`` is neither ``jsonl`` nor ``csv``.
    """
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown export format {fmt!r}")
    partial = path.with_name(path.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    count = 0
    try:
        with open(fd, "w", encoding="utf-8", newline="") as out:
            write = _jsonl_writer(out) if fmt == "jsonl" else _csv_writer(out)
            for row in audit.iter_matching(where, upto_id=upto_id):
                write(row)
                count += 1
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count


def _jsonl_writer(out: IO[str]) -> Callable[[CallRow], None]:
    def write(row: CallRow) -> None:
        out.write(json.dumps(row.to_json(), ensure_ascii=False))
        out.write("\n")

    return write


_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_writer(out: IO[str]) -> Callable[[CallRow], None]:
    writer = csv.writer(out)
    writer.writerow(EXPORT_FIELDS)

    def write(row: CallRow) -> None:
        record = row.to_json()
        record["findings"] = json.dumps(record["findings"], ensure_ascii=False)
        writer.writerow([_csv_cell(record[name]) for name in EXPORT_FIELDS])

    return write
