"""The activity page: filter bar, live rows from other processes, the details pane, export buttons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QComboBox
from pytestqt.qtbot import QtBot

from mcpguard.audit import AuditLog, CallRecord
from mcpguard.gui import activity_model
from mcpguard.gui.activity_model import Column
from mcpguard.gui.activity_view import ActivityView
from mcpguard.pinning.store import Store
from tests.gui.test_activity_model import FINDING, append_elsewhere, call, column

pytestmark = pytest.mark.gui

shown = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
"""Tests that show the page: the offscreen platform warns that it cannot pass size hints on."""


class SavePaths:
    """Stands in for the file dialog: answers with a path (or None, as Cancel does) and records the question."""

    def __init__(self, answer: Path | None) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str]] = []

    def __call__(self, fmt: str, suggested: str) -> str | None:
        self.asked.append((fmt, suggested))
        return str(self.answer) if self.answer is not None else None


@pytest.fixture
def audit(store: Store) -> AuditLog:
    log = AuditLog(store)
    log.append("claude-desktop", "filesystem", [call("read_file", arguments={"path": "/home/u/notes.md"})])
    log.append("cursor", "github", [call("create_issue", "tool-error", arguments={"title": "Rounding bug"})])
    log.append(
        "claude-desktop",
        "filesystem",
        [call("write_file", "blocked", duration_ms=None, detail="its definition changed since you approved it")],
    )
    log.append("cursor", "github", [call("search_issues", arguments={"q": "label:bug"}, findings=[FINDING])])
    return log


@pytest.fixture
def save_paths(tmp_path: Path) -> SavePaths:
    return SavePaths(tmp_path / "export")


@pytest.fixture
def view(qtbot: QtBot, audit: AuditLog, save_paths: SavePaths) -> Iterator[ActivityView]:
    v = ActivityView(audit, poll_ms=50, ask_save_path=save_paths)
    qtbot.add_widget(v)
    v.resize(1000, 700)
    yield v


def items(combo: QComboBox) -> list[tuple[str, str | None]]:
    return [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]


def select_row(view: ActivityView, row: int) -> None:
    view.table.setCurrentIndex(view.model.index(row, 0))


def test_filter_choices_come_from_the_log(view: ActivityView) -> None:
    assert items(view.server_combo) == [("All servers", None), ("filesystem", "filesystem"), ("github", "github")]
    assert [d for _, d in items(view.tool_combo)] == [None, "create_issue", "read_file", "search_issues", "write_file"]
    assert [t for t, _ in items(view.outcome_combo)] == [
        "All outcomes",
        "OK",
        "Tool error",
        "Protocol error",
        "Blocked",
    ]


def test_choosing_a_server_narrows_tools_and_rows(view: ActivityView) -> None:
    view.tool_combo.setCurrentIndex(view.tool_combo.findData("read_file"))
    assert column(view.model, Column.TOOL) == ["read_file"]
    view.server_combo.setCurrentIndex(view.server_combo.findData("github"))
    assert [d for _, d in items(view.tool_combo)] == [None, "create_issue", "search_issues"]
    assert view.tool_combo.currentData() is None  # read_file is not a github tool
    assert column(view.model, Column.TOOL) == ["search_issues", "create_issue"]
    view.outcome_combo.setCurrentIndex(view.outcome_combo.findData("tool-error"))
    assert column(view.model, Column.TOOL) == ["create_issue"]
    assert view.status.text() == "1 matching call."
    view.server_combo.setCurrentIndex(0)
    view.outcome_combo.setCurrentIndex(0)
    assert column(view.model, Column.TOOL) == ["search_issues", "write_file", "create_issue", "read_file"]
    assert view.status.text() == "4 calls."


def test_search_runs_after_a_pause_in_typing(qtbot: QtBot, view: ActivityView) -> None:
    qtbot.keyClicks(view.search, "bug")
    assert view.model.rowCount() == 4  # not yet: the search waits for typing to pause
    qtbot.wait_until(lambda: view.model.filter.text == "bug", timeout=2000)
    assert column(view.model, Column.TOOL) == ["search_issues", "create_issue"]
    qtbot.keyClicks(view.search, "zzz")
    qtbot.keyClick(view.search, Qt.Key.Key_Return)  # Return searches at once
    assert view.model.rowCount() == 0
    assert view.status.text() == "No calls match the filter."


def test_find_shortcut_focuses_the_search(view: ActivityView) -> None:
    # Offscreen windows do not reliably become active, so the shortcut is triggered, not typed.
    (find,) = view.findChildren(QShortcut)
    assert find.key() == QKeySequence(QKeySequence.StandardKey.Find)
    view.search.setText("old")
    view.table.setFocus()
    find.activated.emit()
    assert view.focusWidget() is view.search and view.search.selectedText() == "old"


def test_set_filter_sets_the_bar(view: ActivityView) -> None:
    view.set_filter(server="filesystem", tool="write_file", outcome="blocked", text="changed")
    assert view.server_combo.currentData() == "filesystem"
    assert view.tool_combo.currentData() == "write_file"
    assert view.outcome_combo.currentData() == "blocked"
    assert view.search.text() == "changed"
    assert column(view.model, Column.TOOL) == ["write_file"]
    view.set_filter()
    assert view.model.rowCount() == 4


def test_details_pane_shows_the_selected_call(view: ActivityView) -> None:
    assert view.details.toPlainText() == ""
    assert "Select a call" in view.details.placeholderText()
    select_row(view, 3)  # read_file, the oldest
    text = view.details.toPlainText()
    assert text.startswith("read_file on filesystem for claude-desktop")
    assert '{\n  "path": "/home/u/notes.md"\n}' in text  # pretty JSON of the arguments
    assert '"result_size": 0' in text and '"outcome": "ok"' in text
    assert "The scanner found nothing" in text
    select_row(view, 1)
    text = view.details.toPlainText()
    assert "Why: its definition changed since you approved it" in text
    assert "never reached the server" in text and "The scanner found nothing" not in text
    select_row(view, 0)
    text = " ".join(view.details.toPlainText().split())  # the severity badge is padded with no-break spaces
    assert "Findings (1)" in text
    assert "CRITICAL model-directive in content[0].text: The text tells the model" in text
    assert "Ignore previous instructions" in text


def test_details_pane_escapes_and_reveals(qtbot: QtBot, store: Store) -> None:
    log = AuditLog(store)
    log.append("c", "s", [call("t", arguments={"html": "<script>x</script>", "hidden": "a\u200bb"})])
    log.append("c", "s", [call("cut", arguments={"content": "x" * 70_000})])
    v = ActivityView(log)
    qtbot.add_widget(v)
    select_row(v, 1)
    text = v.details.toPlainText()
    assert '"html": "<script>x</script>"' in text
    assert "a⟦U+200B ZERO WIDTH SPACE⟧b" in text
    select_row(v, 0)
    # Arguments the log cut are no longer JSON: they are shown as stored.
    cut = v.selected_call()
    assert cut is not None and len(cut.arguments) < 70_000
    assert cut.arguments[:20] in v.details.toPlainText() and cut.arguments[-20:] in v.details.toPlainText()


@shown
def test_calls_from_another_process_appear_within_the_poll(qtbot: QtBot, view: ActivityView) -> None:
    view.show()
    qtbot.wait_exposed(view)
    select_row(view, 2)  # create_issue
    child = append_elsewhere("time", "get_current_time", count=2)
    try:
        qtbot.wait_until(lambda: view.model.rowCount() == 6, timeout=3000)
    finally:
        assert child.wait(timeout=30) == 0
    assert column(view.model, Column.TOOL)[:2] == ["get_current_time", "get_current_time"]
    selected = view.selected_call()
    assert selected is not None and selected.tool == "create_issue"
    assert "create_issue on github" in view.details.toPlainText()
    assert view.server_combo.findData("time") > 0  # a new server is a new choice
    assert view.tool_combo.findData("get_current_time") > 0


@shown
def test_refresh_slot_and_hidden_page(qtbot: QtBot, view: ActivityView, audit: AuditLog) -> None:
    assert not view.poll.isActive()  # not shown: no polling
    audit.append("c", "filesystem", [call("list_directory")])
    view.refresh()
    assert view.model.rowCount() == 5
    view.show()
    assert view.poll.isActive()
    view.hide()
    assert not view.poll.isActive()


@shown
def test_reading_further_down_keeps_its_place(qtbot: QtBot, store: Store) -> None:
    log = AuditLog(store)
    log.append("c", "s", [call(f"t{i}") for i in range(200)])
    v = ActivityView(log)
    qtbot.add_widget(v)
    v.resize(800, 600)
    v.show()
    qtbot.wait_exposed(v)
    bar = v.table.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    first_visible = v.table.rowAt(0)
    tool = v.model.data(v.model.index(first_visible, Column.TOOL))
    log.append("c", "s", [call("new1"), call("new2")])
    v.refresh()
    assert v.model.data(v.model.index(v.table.rowAt(0), Column.TOOL)) == tool


def test_filter_change_keeps_the_selected_call_when_it_still_matches(view: ActivityView) -> None:
    select_row(view, 2)  # create_issue on github
    view.set_filter(server="github")
    selected = view.selected_call()
    assert selected is not None and selected.tool == "create_issue"
    view.set_filter(server="filesystem")
    assert view.selected_call() is None
    assert view.details.toPlainText() == ""


@shown
def test_scrolling_to_the_end_loads_older_pages(qtbot: QtBot, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(activity_model, "PAGE_SIZE", 30)
    log = AuditLog(store)
    log.append("c", "s", [call(f"t{i}") for i in range(100)])
    v = ActivityView(log)
    qtbot.add_widget(v)
    v.show()
    qtbot.wait_exposed(v)
    assert v.model.rowCount() == 30
    assert v.status.text() == "The newest 30 calls; scroll down for older ones."
    v.table.scrollToBottom()
    qtbot.wait_until(lambda: v.model.rowCount() > 30, timeout=3000)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_buttons_write_the_filtered_calls(
    qtbot: QtBot, view: ActivityView, save_paths: SavePaths, audit: AuditLog, fmt: str
) -> None:
    view.set_filter(server="github")
    button = view.export_jsonl_button if fmt == "jsonl" else view.export_csv_button
    with qtbot.wait_signal(view.exported, timeout=5000) as done:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    path = Path(f"{save_paths.answer}.{fmt}")  # the suffix is added when the user typed none
    assert done.args == [str(path), 2]
    assert save_paths.asked[0][0] == fmt and save_paths.asked[0][1].endswith(f".{fmt}")
    text = path.read_text(encoding="utf-8")
    if fmt == "jsonl":
        expected = [r.to_json() for r in audit.rows() if r.server == "github"]
        assert [json.loads(line) for line in text.splitlines()] == expected
    else:
        assert text.splitlines()[0].startswith("id,time,client,server,tool,arguments,")
        assert len(text.splitlines()) == 3
    assert view.status.text() == f"Exported 2 calls to {path}."
    assert button.isEnabled()


def test_cancelled_export_writes_nothing(qtbot: QtBot, audit: AuditLog, tmp_path: Path) -> None:
    v = ActivityView(audit, ask_save_path=SavePaths(None))
    qtbot.add_widget(v)
    with qtbot.assert_not_emitted(v.exported), qtbot.assert_not_emitted(v.export_failed):
        qtbot.mouseClick(v.export_csv_button, Qt.MouseButton.LeftButton)
        qtbot.wait(50)
    assert list(tmp_path.glob("*.csv")) == []


def test_failed_export_says_why(qtbot: QtBot, audit: AuditLog, tmp_path: Path, expect_warnings: list[str]) -> None:
    v = ActivityView(audit, ask_save_path=SavePaths(tmp_path / "no-such-dir" / "calls.jsonl"))
    qtbot.add_widget(v)
    with qtbot.wait_signal(v.export_failed, timeout=5000) as failed:
        v.export("jsonl")
    assert failed.args is not None and failed.args[0].startswith("Could not write ")
    assert v.status.text() == failed.args[0]
    assert expect_warnings and "Could not write" in expect_warnings[0]
    assert v.export_jsonl_button.isEnabled()


def test_empty_log(qtbot: QtBot, store: Store) -> None:
    v = ActivityView(AuditLog(store))
    qtbot.add_widget(v)
    assert v.model.rowCount() == 0
    assert v.status.text() == "No tool calls logged yet. They appear here live."
    assert items(v.server_combo) == [("All servers", None)]
    assert not v.model.canFetchMore(QModelIndex())
    AuditLog(store).append("c", "fs", [CallRecord(at=1.0, tool="t", arguments=None, duration_ms=1.0, outcome="ok")])
    v.refresh()
    assert items(v.server_combo) == [("All servers", None), ("fs", "fs")]
    select_row(v, 0)
    assert "null" in v.details.toPlainText()
