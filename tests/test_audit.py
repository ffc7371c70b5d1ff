"""The tool-call log: append, read back, and catch every kind of tampering."""

from __future__ import annotations

import sqlite3

import pytest

from mcpguard.audit import MAX_ARGUMENTS_CHARS, AuditLog, CallRecord
from mcpguard.paths import AppPaths
from mcpguard.pinning.store import Store


def _fill(store: Store, n: int = 5) -> AuditLog:
    log = AuditLog(store)
    log.append(
        "claude",
        "fs",
        [CallRecord(at=1000.0 + i, tool=f"t{i}", arguments={"i": i}, duration_ms=1.5, outcome="ok") for i in range(n)],
    )
    return log


def test_rows_read_back_in_order(store: Store) -> None:
    log = _fill(store)
    rows = log.rows()
    assert [r.tool for r in rows] == ["t0", "t1", "t2", "t3", "t4"]
    assert rows[0].to_json()["arguments"] == '{"i": 0}'
    assert [r.tool for r in log.rows(after_id=rows[2].id)] == ["t3", "t4"]
    assert [r.tool for r in log.rows(limit=2, newest_first=True)] == ["t4", "t3"]
    assert log.verify().ok and log.verify().rows == 5


def test_long_arguments_are_cut_in_the_log(store: Store) -> None:
    log = AuditLog(store)
    log.append("c", "s", [CallRecord(at=1.0, tool="t", arguments="x" * 100_000, duration_ms=None, outcome="ok")])
    (row,) = log.rows()
    assert len(row.arguments) < MAX_ARGUMENTS_CHARS + 100
    assert row.arguments.endswith("more characters]")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("UPDATE calls SET arguments = '{\"i\": 99}' WHERE id = 3", "row 3: its content was changed"),
        ("UPDATE calls SET outcome = 'blocked' WHERE id = 2", "row 2: its content was changed"),
        ("DELETE FROM calls WHERE id = 3", "row 4: does not follow"),
        ("UPDATE calls SET id = 99 WHERE id = 2", "does not follow"),
    ],
)
def test_tampering_is_reported(app_paths: AppPaths, sql: str, expected: str) -> None:
    store = Store.open(app_paths)
    _fill(store)
    conn = sqlite3.connect(app_paths.database)
    conn.execute(sql)
    conn.commit()
    conn.close()
    report = AuditLog(store).verify()
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems
