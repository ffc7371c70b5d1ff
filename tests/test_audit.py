"""The tool-call log: append, read back, and catch every kind of tampering."""

from __future__ import annotations

import sqlite3

import pytest

from mcpguard.audit import MAX_ARGUMENTS_CHARS, AuditLog, CallFilter, CallRecord
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
    assert row.arguments.endswith(" … [cut]")


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


# -- filtered, paged reads (the activity window and its exports) --------------------------------------


def _mixed(store: Store) -> AuditLog:
    """Nine calls across two servers, oldest first: ids 1..9."""
    log = AuditLog(store)
    specs = [
        ("fs", "read_file", {"path": "/tmp/a.txt"}, "ok", ""),
        ("fs", "write_file", {"path": "/tmp/b.txt"}, "ok", ""),
        ("gh", "create_issue", {"title": "100% broken"}, "tool-error", ""),
        ("fs", "read_file", {"path": "/home/u/.env"}, "blocked", "its definition changed since you approved it"),
        ("gh", "search", {"q": "a_b"}, "ok", ""),
        ("fs", "read_file", {"path": "/tmp/c.txt"}, "ok", ""),
        ("gh", "create_issue", {"title": "Add VAT"}, "protocol-error", "Bad credentials"),
        ("fs", "read_file", {"path": "/tmp/D.TXT"}, "ok", ""),
        ("gh", "search", {"q": "axb"}, "ok", ""),
    ]
    for i, (server, tool, arguments, outcome, detail) in enumerate(specs):
        record = CallRecord(at=2000.0 + i, tool=tool, arguments=arguments, duration_ms=1.0, outcome=outcome)
        record.detail = detail
        log.append("claude", server, [record])
    return log


def test_last_id_and_row(store: Store) -> None:
    log = AuditLog(store)
    assert log.last_id() == 0
    assert log.row(1) is None
    log = _mixed(store)
    assert log.last_id() == 9
    row = log.row(4)
    assert row is not None and row.outcome == "blocked" and row.server == "fs"


@pytest.mark.parametrize(
    ("where", "ids"),
    [
        (CallFilter(), [9, 8, 7, 6, 5, 4, 3, 2, 1]),
        (CallFilter(server="fs"), [8, 6, 4, 2, 1]),
        (CallFilter(server="fs", tool="read_file"), [8, 6, 4, 1]),
        (CallFilter(tool="create_issue"), [7, 3]),
        (CallFilter(outcome="blocked"), [4]),
        (CallFilter(server="gh", outcome="ok"), [9, 5]),
        (CallFilter(text="tmp/"), [8, 6, 2, 1]),
        (CallFilter(text="d.txt"), [8]),  # ASCII matches either case
        (CallFilter(text="issue"), [7, 3]),  # the tool name
        (CallFilter(text="changed since"), [4]),  # the detail
        (CallFilter(text="gh"), [9, 7, 5, 3]),  # the server
        (CallFilter(text="100%"), [3]),  # % is a character, not a wildcard
        (CallFilter(text="a_b"), [5]),  # and so is _
        (CallFilter(text=""), [9, 8, 7, 6, 5, 4, 3, 2, 1]),
        (CallFilter(server="nope"), []),
    ],
)
def test_matching_filters_in_sql(store: Store, where: CallFilter, ids: list[int]) -> None:
    log = _mixed(store)
    assert [r.id for r in log.matching(where)] == ids
    assert [r.id for r in log.matching(where, newest_first=False)] == ids[::-1]


def test_matching_pages_by_id(store: Store) -> None:
    log = _mixed(store)
    assert [r.id for r in log.matching(limit=3)] == [9, 8, 7]
    assert [r.id for r in log.matching(before_id=7, limit=3)] == [6, 5, 4]
    assert [r.id for r in log.matching(after_id=6)] == [9, 8, 7]
    assert [r.id for r in log.matching(CallFilter(server="fs"), after_id=1, before_id=8)] == [6, 4, 2]


def test_iter_matching_streams_every_batch_oldest_first(store: Store) -> None:
    log = _mixed(store)
    assert [r.id for r in log.iter_matching(batch=2)] == list(range(1, 10))
    assert [r.id for r in log.iter_matching(CallFilter(server="fs"), batch=2)] == [1, 2, 4, 6, 8]
    assert [r.id for r in log.iter_matching(CallFilter(server="fs"), upto_id=6, batch=3)] == [1, 2, 4, 6]
    assert list(AuditLog(store).iter_matching(CallFilter(server="nope"))) == []


def test_servers_and_tools(store: Store) -> None:
    log = AuditLog(store)
    assert log.servers_and_tools() == []
    log = _mixed(store)
    expected = [("fs", "read_file"), ("fs", "write_file"), ("gh", "create_issue"), ("gh", "search")]
    assert log.servers_and_tools() == expected
    assert log.servers_and_tools(after_id=6) == [("fs", "read_file"), ("gh", "create_issue"), ("gh", "search")]
    assert log.servers_and_tools(after_id=9) == []


# -- the row hash and the argument preview, computed faster but written exactly as before --------------


@pytest.mark.parametrize(
    "fields",
    [
        [1000.5, "claude", "fs", "read_file", '{"path": "a"}', 1.5, "ok", 12, "[]", ""],
        [1e16, "c\u00e9", "s\U0001f600", 't\x00\x1f"\\', "a\u2028b", None, "blocked", 0, '[{"k": "v"}]', "d"],
        [0.1 + 0.2, "", "", "", "", 1e-7, "", -5, "", "\ud800"],
        [float("nan"), "x", "y", "z", "", float("inf"), "ok", 2**70, "[]", ""],
        [-float("inf"), "x", "y", "z", "", -0.0, "ok", True, "[]", ""],  # a bool: the general encoder
    ],
)
def test_row_text_is_json_dumps(fields: list[object]) -> None:
    import json

    from mcpguard.audit import _row_text

    assert _row_text(fields) == json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def _nested(depth: int, inner: object) -> object:
    for _ in range(depth):
        inner = [inner]
    return inner


def _reference_bounded_json(value: object, limit: int) -> str:
    """What bounded_json returned before it learnt to shorten strings and to use the C encoder."""
    import json

    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + " … [cut]"


@pytest.mark.parametrize(
    "value",
    [
        {"path": "a"},
        {"text": "x" * 100},
        {"b": ["é" * 30, {"z": "\x00" * 20, "a": 1.5}], "a": None},
        ["y" * 10, "z" * 500],
        {"k" * 200: "v"},
        "\\" * 80,
        [1e300] * 10,
        {"deep": _nested(40, "s" * 200)},
    ],
)
@pytest.mark.parametrize("limit", [10, 64, 1000])
def test_bounded_json_is_the_cut_json_text(value: object, limit: int) -> None:
    from mcpguard.audit import bounded_json

    expected = _reference_bounded_json(value, limit)
    assert bounded_json(value, limit) == expected
    import json

    size = len(json.dumps(value).encode())
    assert bounded_json(value, limit, source_bytes=size) == expected


def test_bounded_json_never_escapes_a_huge_string_whole() -> None:
    import tracemalloc

    from mcpguard.audit import bounded_json

    value = {"text": "x" * 20_000_000}
    tracemalloc.start()
    text = bounded_json(value)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert text == '{"text": "' + "x" * (MAX_ARGUMENTS_CHARS - 10) + " … [cut]"
    assert peak < 2_000_000
