"""wraps.json: private, atomic, and harmless when damaged."""

from __future__ import annotations

import os
import stat

import pytest

from mcpguard.clients.formats import Snapshot
from mcpguard.clients.records import WrapRecord, WrapRecords
from mcpguard.paths import AppPaths


def _record(name: str) -> WrapRecord:
    return WrapRecord(
        "/c.json", ("mcpServers",), name, "cursor", Snapshot('"npx"', None, "absent"), "/m", ("run",), 1.0
    )


def test_records_round_trip_and_are_private(app_paths: AppPaths) -> None:
    records = WrapRecords(app_paths)
    records.update([_record("a"), _record("b")], [])
    records.update([], [("/c.json", ("mcpServers",), "a")])
    assert list(records.load()) == [("/c.json", ("mcpServers",), "b")]
    assert records.find("/c.json", ("mcpServers",), "b") == _record("b")
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(records.path).st_mode) == 0o600


@pytest.mark.parametrize("content", ["not json", '{"wraps": [{"file": 1}]}', "[]"])
def test_a_damaged_file_counts_as_no_records(app_paths: AppPaths, content: str) -> None:
    (app_paths.home / "wraps.json").write_text(content)
    assert WrapRecords(app_paths).load() == {}
