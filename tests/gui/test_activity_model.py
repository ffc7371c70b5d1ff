"""The activity table model: newest first, SQL filters, pages, live rows from other processes, exports."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QIcon
from pytestqt.qtbot import QtBot

from mcpguard.audit import OUTCOMES, AuditLog, CallRecord, CallRow
from mcpguard.gui import activity_model
from mcpguard.gui.activity_model import (
    AMBER,
    CALL_ROLE,
    EXPORT_FIELDS,
    OUTCOME_LABELS,
    PAGE_SIZE,
    RED,
    ActivityModel,
    Column,
)
from mcpguard.paths import AppPaths
from mcpguard.pinning.store import Store

pytestmark = pytest.mark.gui

FINDING = {
    "kind": "model-directive",
    "severity": "critical",
    "where": "content[0].text",
    "explanation": "The text tells the model to ignore its earlier instructions.",
    "excerpt": "Ignore previous instructions",
}

APPEND_IN_ANOTHER_PROCESS = textwrap.dedent(
    """
    import sys, time
    from mcpguard.audit import AuditLog, CallRecord
    from mcpguard.paths import AppPaths
    from mcpguard.pinning.store import Store

    store = Store.open(AppPaths.from_env())
    records = [
        CallRecord(at=time.time(), tool=sys.argv[2], arguments={"n": n}, duration_ms=2.0, outcome="ok")
        for n in range(int(sys.argv[3]))
    ]
    AuditLog(store).append("claude-code", sys.argv[1], records)
    store.close()
    """
)


def append_elsewhere(server: str, tool: str, count: int = 1) -> subprocess.Popen[bytes]:
    """Start a process that appends ``count`` calls to this test's profile (MCPGUARD_HOME is inherited)."""
    return subprocess.Popen([sys.executable, "-c", APPEND_IN_ANOTHER_PROCESS, server, tool, str(count)])


def call(tool: str, outcome: str = "ok", **kw: Any) -> CallRecord:
    kw.setdefault("arguments", {"path": f"/tmp/{tool}.txt"})
    kw.setdefault("duration_ms", 3.25)
    return CallRecord(at=kw.pop("at", 1_800_000_000.0), tool=tool, outcome=outcome, **kw)


@pytest.fixture
def audit(store: Store) -> AuditLog:
    return AuditLog(store)


@pytest.fixture
def model(qtbot: QtBot, audit: AuditLog) -> Iterator[ActivityModel]:
    m = ActivityModel(audit)
    yield m
    m.deleteLater()


def column(m: ActivityModel, col: Column) -> list[str]:
    return [m.data(m.index(r, col)) for r in range(m.rowCount())]


def ids(m: ActivityModel) -> list[int]:
    return [m.data(m.index(r, 0), CALL_ROLE).id for r in range(m.rowCount())]


def test_rows_are_newest_first_with_every_column(qtbot: QtBot, audit: AuditLog) -> None:
    audit.append("claude-desktop", "filesystem", [call("read_file", at=1_800_000_000.0)])
    audit.append("cursor", "github", [call("create_issue", duration_ms=1530.0, at=1_800_000_060.0)])
    audit.append(
        "claude-desktop",
        "filesystem",
        [call("write_file", "blocked", duration_ms=None, detail="its definition changed since you approved it")],
    )
    m = ActivityModel(audit)
    assert [m.headerData(c, Qt.Orientation.Horizontal) for c in range(m.columnCount())] == [
        "Time",
        "Client",
        "Server",
        "Tool",
        "Duration",
        "Outcome",
        "Findings",
    ]
    assert column(m, Column.TOOL) == ["write_file", "create_issue", "read_file"]
    assert column(m, Column.CLIENT) == ["claude-desktop", "cursor", "claude-desktop"]
    assert column(m, Column.SERVER) == ["filesystem", "github", "filesystem"]
    assert column(m, Column.DURATION) == ["—", "1.53 s", "3.2 ms"]
    assert column(m, Column.OUTCOME) == ["Blocked", "OK", "OK"]
    assert column(m, Column.FINDINGS) == ["", "", ""]
    assert column(m, Column.TIME)[2] == activity_model.format_time(1_800_000_000.0)
    assert len(column(m, Column.TIME)[2]) == len("2027-01-15 08:00:00")
    row = m.data(m.index(0, Column.TOOL), CALL_ROLE)
    assert isinstance(row, CallRow)
    assert row.detail == "its definition changed since you approved it"
    assert m.canFetchMore(QModelIndex()) is False


def test_every_outcome_has_a_label_and_exports_have_the_documented_fields(audit: AuditLog) -> None:
    assert tuple(OUTCOME_LABELS) == OUTCOMES
    audit.append("c", "s", [call("t")])
    assert tuple(audit.rows()[0].to_json()) == EXPORT_FIELDS


def test_colours_dots_tooltips_and_findings(qtbot: QtBot, audit: AuditLog) -> None:
    warning = dict(FINDING, severity="warning")
    audit.append(
        "claude",
        "fs",
        [
            call("a", "blocked", duration_ms=None),
            call("b", "tool-error", arguments={"path": "/tmp/<b>bold</b>", "n": [1, 2]}),
            call("c", "ok", findings=[warning, FINDING]),
            call("d", "ok", findings=[warning]),
        ],
    )
    m = ActivityModel(audit)
    d, c, b, a = range(4)

    def brush(row: int, col: Column) -> str | None:
        value = m.data(m.index(row, col), Qt.ItemDataRole.ForegroundRole)
        return value.color().name() if isinstance(value, QBrush) else None

    assert brush(a, Column.OUTCOME) == RED
    assert brush(b, Column.OUTCOME) == AMBER
    assert brush(c, Column.OUTCOME) is None
    assert brush(c, Column.FINDINGS) == RED
    assert brush(d, Column.FINDINGS) == AMBER
    assert column(m, Column.FINDINGS) == ["1 (warning)", "2 (critical)", "", ""]
    assert isinstance(m.data(m.index(a, Column.OUTCOME), Qt.ItemDataRole.DecorationRole), QIcon)
    assert isinstance(m.data(m.index(c, Column.FINDINGS), Qt.ItemDataRole.DecorationRole), QIcon)
    assert m.data(m.index(b, Column.FINDINGS), Qt.ItemDataRole.DecorationRole) is None
    tip = m.data(m.index(b, Column.TOOL), Qt.ItemDataRole.ToolTipRole)
    # Pretty JSON under a plain first line, so Qt never renders the "<b>" in it as markup.
    assert tip.startswith("Arguments:\n{\n")
    assert '"path": "/tmp/<b>bold</b>"' in tip
    assert m.data(m.index(b, Column.DURATION), Qt.ItemDataRole.TextAlignmentRole) == int(
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    )


def test_long_arguments_tooltip_is_bounded(qtbot: QtBot, audit: AuditLog) -> None:
    audit.append("c", "s", [call("t", arguments={"content": "x" * 100_000})])
    m = ActivityModel(audit)
    tip = m.data(m.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert len(tip) < activity_model.TOOLTIP_CHARS + 200
    assert tip.endswith("(the details pane shows all of it)")


def test_hidden_characters_in_names_are_shown(qtbot: QtBot, audit: AuditLog) -> None:
    audit.append("claude", "fs\u202e", [call("read\u200bfile")])
    m = ActivityModel(audit)
    assert "⟦U+200B" in m.data(m.index(0, Column.TOOL))
    assert "⟦U+202E" in m.data(m.index(0, Column.SERVER))


def _filter_log(audit: AuditLog) -> None:
    audit.append("claude-desktop", "filesystem", [call("read_file", arguments={"path": "/home/u/notes.md"})])
    audit.append("cursor", "github", [call("create_issue", "tool-error", arguments={"title": "Rounding bug"})])
    audit.append("claude-desktop", "filesystem", [call("write_file", "blocked", detail="definition changed")])
    audit.append("cursor", "github", [call("search_issues", arguments={"q": "label:bug"})])
    audit.append("claude-desktop", "filesystem", [call("read_file", arguments={"path": "/etc/hosts"})])


@pytest.mark.parametrize(
    ("kwargs", "tools"),
    [
        ({}, ["read_file", "search_issues", "write_file", "create_issue", "read_file"]),
        ({"server": "github"}, ["search_issues", "create_issue"]),
        ({"server": "filesystem", "tool": "read_file"}, ["read_file", "read_file"]),
        ({"tool": "create_issue"}, ["create_issue"]),
        ({"outcome": "blocked"}, ["write_file"]),
        ({"text": "BUG"}, ["search_issues", "create_issue"]),  # arguments, either case
        ({"text": "changed"}, ["write_file"]),  # detail
        ({"text": "git"}, ["search_issues", "create_issue"]),  # server
        ({"server": "filesystem", "text": "hosts"}, ["read_file"]),
        ({"text": ""}, ["read_file", "search_issues", "write_file", "create_issue", "read_file"]),
        ({"server": "nope"}, []),
    ],
)
def test_filters(qtbot: QtBot, audit: AuditLog, model: ActivityModel, kwargs: dict[str, str], tools: list[str]) -> None:
    _filter_log(audit)
    model.refresh()
    model.set_filter(**kwargs)
    assert column(model, Column.TOOL) == tools


def test_filter_reset_only_when_it_changes(qtbot: QtBot, audit: AuditLog, model: ActivityModel) -> None:
    _filter_log(audit)
    with qtbot.wait_signal(model.modelReset):
        model.set_filter(server="github")
    with qtbot.assert_not_emitted(model.modelReset):
        model.set_filter(server="github", text="")
    assert model.filter.server == "github" and model.filter.text is None


def test_pages_load_as_the_view_asks(qtbot: QtBot, audit: AuditLog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(activity_model, "PAGE_SIZE", 3)
    audit.append("c", "s", [call(f"t{i}") for i in range(10)])
    m = ActivityModel(audit)
    assert m.rowCount() == 3 and m.canFetchMore(QModelIndex())
    seen = [m.rowCount()]
    while m.canFetchMore(QModelIndex()):
        with qtbot.wait_signal(m.rowsInserted):
            m.fetchMore(QModelIndex())
        seen.append(m.rowCount())
    assert seen == [3, 6, 9, 10]
    with qtbot.assert_not_emitted(m.rowsInserted):
        m.fetchMore(QModelIndex())
    assert ids(m) == list(range(10, 0, -1))
    assert m.row_of(4) == 6 and m.row_of(99) is None


@pytest.fixture(scope="session")
def big_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A profile database with 100,000 calls, built once (one ``append`` transaction) and copied per test."""
    home = tmp_path_factory.mktemp("big-log")
    store = Store.open(AppPaths.under(home))
    servers = [
        ("filesystem", "read_file"),
        ("filesystem", "write_file"),
        ("github", "create_issue"),
        ("fetch", "fetch"),
    ]
    records = [
        call(
            servers[i % 4][1],
            "blocked" if i % 50 == 0 else "ok",
            arguments={"path": f"/home/alex/projects/app/src/module_{i}.py", "n": i},
            at=1_800_000_000.0 + i,
        )
        for i in range(100_000)
    ]
    AuditLog(store).append("claude-desktop", "filesystem", records)
    store.close()
    return AppPaths.under(home).database


def test_a_log_of_100k_rows_opens_with_one_page(qtbot: QtBot, app_paths: AppPaths, big_database: Path) -> None:
    app_paths.database.write_bytes(big_database.read_bytes())
    store = Store.open(app_paths)
    try:
        m = ActivityModel(AuditLog(store))
        assert m.rowCount() == PAGE_SIZE
        assert m.canFetchMore(QModelIndex())
        assert ids(m)[:2] == [100_000, 99_999]
        m.fetchMore(QModelIndex())
        assert m.rowCount() == 2 * PAGE_SIZE
        assert ids(m) == list(range(100_000, 100_000 - 2 * PAGE_SIZE, -1))
        m.set_filter(outcome="blocked")
        assert m.rowCount() == PAGE_SIZE and m.canFetchMore(QModelIndex())
        assert all(i % 50 == 1 for i in ids(m))  # the row with i % 50 == 0 has id i + 1
        m.set_filter(text="module_77777.py")
        assert ids(m) == [77_778] and not m.canFetchMore(QModelIndex())
        m.deleteLater()
    finally:
        store.close()


def test_refresh_inserts_new_rows_at_the_top_and_keeps_the_selection(
    qtbot: QtBot, audit: AuditLog, model: ActivityModel
) -> None:
    audit.append("c", "fs", [call("first"), call("second")])
    assert model.refresh() == 2
    selection = QItemSelectionModel(model)
    selected = model.index(1, 0)  # "first"
    selection.setCurrentIndex(selected, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    audit.append("c", "fs", [call("third"), call("fourth")])
    with qtbot.wait_signal(model.rowsInserted) as inserted:
        assert model.refresh() == 2
    assert inserted.args is not None and inserted.args[1:] == [0, 1]
    assert column(model, Column.TOOL) == ["fourth", "third", "second", "first"]
    assert selection.currentIndex().row() == 3
    assert model.data(selection.currentIndex(), CALL_ROLE).tool == "first"


def test_refresh_costs_one_read_when_nothing_changed(
    qtbot: QtBot, store: Store, audit: AuditLog, model: ActivityModel
) -> None:
    audit.append("c", "fs", [call("t")])
    model.refresh()
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    try:
        with qtbot.assert_not_emitted(model.rowsInserted), qtbot.assert_not_emitted(model.modelReset):
            assert model.refresh() == 0
    finally:
        store._conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert selects == ["SELECT max(id) FROM calls"], statements


def test_refresh_applies_the_filter(qtbot: QtBot, audit: AuditLog, model: ActivityModel) -> None:
    model.set_filter(server="fs")
    audit.append("c", "gh", [call("create_issue")])
    assert model.refresh() == 0 and model.rowCount() == 0
    audit.append("c", "fs", [call("read_file")])
    audit.append("c", "gh", [call("create_issue")])
    assert model.refresh() == 1
    assert column(model, Column.TOOL) == ["read_file"]


def test_rows_from_another_process_appear_after_refresh(qtbot: QtBot, audit: AuditLog, model: ActivityModel) -> None:
    audit.append("claude-desktop", "filesystem", [call("read_file")])
    model.refresh()
    child = append_elsewhere("time", "get_current_time", count=3)
    try:
        qtbot.wait_until(lambda: model.refresh() >= 0 and model.rowCount() == 4, timeout=3000)
    finally:
        assert child.wait(timeout=30) == 0
    assert column(model, Column.TOOL) == ["get_current_time"] * 3 + ["read_file"]
    assert column(model, Column.SERVER)[0] == "time"


def test_a_burst_larger_than_max_insert_reloads(
    qtbot: QtBot, audit: AuditLog, model: ActivityModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(activity_model, "MAX_INSERT", 3)
    audit.append("c", "fs", [call(f"t{i}") for i in range(5)])
    with qtbot.wait_signal(model.modelReset), qtbot.assert_not_emitted(model.rowsInserted):
        assert model.refresh() == 0
    assert model.rowCount() == 5


def test_a_log_that_lost_its_end_reloads(qtbot: QtBot, app_paths: AppPaths, audit: AuditLog) -> None:
    audit.append("c", "fs", [call(f"t{i}") for i in range(3)])
    m = ActivityModel(audit)
    conn = sqlite3.connect(app_paths.database)
    conn.execute("DELETE FROM calls WHERE id = 3")
    conn.commit()
    conn.close()
    with qtbot.wait_signal(m.modelReset):
        m.refresh()
    assert column(m, Column.TOOL) == ["t1", "t0"]


def _export_log(audit: AuditLog) -> None:
    audit.append(
        "claude-desktop",
        "filesystem",
        [
            call("read_file", arguments={"path": "/tmp/ä.txt"}, at=1.0),
            call("read_file", "blocked", duration_ms=None, detail='=HYPERLINK("http://evil")', at=2.0),
        ],
    )
    audit.append("cursor", "github", [call("create_issue", findings=[FINDING], at=3.0)])
    audit.append("claude-desktop", "filesystem", [call("write_file", at=4.0), call("read_file", at=5.0)])


def test_export_jsonl_writes_every_filtered_row(
    qtbot: QtBot, audit: AuditLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(activity_model, "PAGE_SIZE", 1)
    _export_log(audit)
    m = ActivityModel(audit)
    m.set_filter(server="filesystem")
    assert m.rowCount() == 1  # only one row is loaded; the export has them all
    out = tmp_path / "calls.jsonl"
    assert m.export_jsonl(out) == 4
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    expected = [r.to_json() for r in audit.rows() if r.server == "filesystem"]
    assert lines == expected
    assert list(lines[0]) == list(EXPORT_FIELDS)
    assert lines[0]["arguments"] == '{"path": "/tmp/ä.txt"}'
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert not (tmp_path / "calls.jsonl.part").exists()


def test_export_csv_writes_every_filtered_row(qtbot: QtBot, audit: AuditLog, tmp_path: Path) -> None:
    _export_log(audit)
    m = ActivityModel(audit)
    out = tmp_path / "calls.csv"
    assert m.export_csv(out) == 5
    with out.open(newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    assert list(records[0]) == list(EXPORT_FIELDS)
    rows = audit.rows()
    assert [int(r["id"]) for r in records] == [r.id for r in rows]
    assert records[0]["arguments"] == '{"path": "/tmp/ä.txt"}'
    assert records[0]["duration_ms"] == "3.25" and records[1]["duration_ms"] == ""
    assert json.loads(records[2]["findings"]) == [FINDING]
    assert records[3]["findings"] == "[]"
    assert records[2]["hash"] == rows[2].hash
    # A server's text never becomes a spreadsheet formula.
    assert records[1]["detail"] == '\'=HYPERLINK("http://evil")'


def test_export_of_an_empty_selection(qtbot: QtBot, audit: AuditLog, model: ActivityModel, tmp_path: Path) -> None:
    _export_log(audit)
    model.set_filter(outcome="protocol-error")
    assert model.export_jsonl(tmp_path / "none.jsonl") == 0
    assert (tmp_path / "none.jsonl").read_text() == ""
    assert model.export_csv(tmp_path / "none.csv") == 0
    assert (tmp_path / "none.csv").read_text().strip() == ",".join(EXPORT_FIELDS)


def test_export_failure_leaves_nothing_behind(
    qtbot: QtBot, audit: AuditLog, model: ActivityModel, tmp_path: Path
) -> None:
    _export_log(audit)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError):
        model.export_jsonl(out / "missing-dir" / "calls.jsonl")
    (out / "dir.csv").mkdir()
    with pytest.raises(OSError):
        model.export_csv(out / "dir.csv")
    assert [p.name for p in out.iterdir()] == ["dir.csv"]
