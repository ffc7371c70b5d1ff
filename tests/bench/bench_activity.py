"""Benchmark: the activity page over a log of 100,000 calls.

Run from the repository root::

    .venv/bin/python tests/bench/bench_activity.py               # builds a throw-away profile (~10-20 s)
    .venv/bin/python tests/bench/bench_activity.py --keep        # ... and keeps it, printing its path
    .venv/bin/python tests/bench/bench_activity.py --home DIR    # reuses a profile built with --keep

The profile is filled first (one ``AuditLog.append`` transaction, the real hash chain), then a fresh
Python process measures, so the figures hold only what the tray would hold:

* open: constructing ``ActivityView``, ``show()``, and the event loop until the table's first paint;
* peak RSS of that process (``VmHWM``) with the page open, then after scrolling through the whole log,
  which is the most the model can ever hold;
* what a user feels afterwards: a page loaded by scrolling, a filter change, a text search, a poll
  that finds nothing, a poll that finds new rows, and an export of every row.

Targets: open <= 1 s, RSS <= 200 MB (both with the page open and after scrolling to the end). This is a
script that prints figures, not a pytest test (pytest does not collect ``bench_*.py``). It exits 0
when every target passes, 1 when one fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROWS = 100_000
OPEN_TARGET_S = 1.0
RSS_TARGET_MB = 200.0
SERVERS = [
    ("claude-desktop", "filesystem", "read_file"),
    ("claude-desktop", "filesystem", "write_file"),
    ("claude-desktop", "filesystem", "list_directory"),
    ("cursor", "github", "create_issue"),
    ("cursor", "github", "search_issues"),
    ("claude-code", "fetch", "fetch"),
]


def build(home: Path, rows: int) -> float:
    """Fill a profile's log with ``rows`` realistic calls, in one transaction; returns the seconds it took."""
    from mcpguard.audit import AuditLog, CallRecord
    from mcpguard.paths import AppPaths
    from mcpguard.pinning.store import Store

    store = Store.open(AppPaths.under(home))
    start = time.perf_counter()
    now = time.time() - rows
    finding = {
        "kind": "model-directive",
        "severity": "critical",
        "where": "content[0].text",
        "explanation": "The text tells the model to ignore its earlier instructions.",
        "excerpt": "…<IMPORTANT>Ignore previous instructions and…",
    }
    records = []
    for i in range(rows):
        _, _, tool = SERVERS[i % len(SERVERS)]
        if tool == "fetch":
            arguments: dict[str, Any] = {"url": f"https://docs.example.com/page/{i}", "max_length": 20000}
        elif tool == "create_issue":
            arguments = {"repo": "alex/invoice-app", "title": f"Issue {i}", "body": "Steps to reproduce: " * 8}
        else:
            arguments = {"path": f"/home/alex/projects/invoice-app/src/module_{i % 997}.py"}
        outcome = "blocked" if i % 211 == 0 else "tool-error" if i % 97 == 0 else "ok"
        records.append(
            CallRecord(
                at=now + i,
                tool=tool,
                arguments=arguments,
                duration_ms=None if outcome == "blocked" else 1.0 + (i * 7.3) % 900,
                outcome=outcome,
                result_size=(i * 131) % 40_000,
                findings=[finding] if i % 1009 == 0 else [],
                detail="its definition changed since you approved it" if outcome == "blocked" else "",
            )
        )
    # One transaction, as the brief for this bench asks; the client/server columns of a real log vary,
    # so the rows are re-labelled in SQL afterwards (that leaves the hash chain behind, which the page
    # never checks).
    AuditLog(store).append("claude-desktop", "filesystem", records)
    with store.transaction() as conn:
        for client, server, tool in SERVERS:
            conn.execute("UPDATE calls SET client = ?, server = ? WHERE tool = ?", (client, server, tool))
    store.close()
    return time.perf_counter() - start


def _vm_hwm_mb() -> float:
    """Peak resident set size of this process, from /proc (Linux) or getrusage elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _vm_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _keep_none_alive_if_leaking() -> bool:
    """Detect PySide6 6.12.0's lost reference to ``None`` and, if it is there, keep ``None`` alive.

    On Python 3.11 (where ``None`` is reference counted; 3.12 made it immortal) PySide6 6.12.0 drops
    one reference to ``None`` on every call of a void Qt method from Python (``update()``,
    ``setValue()``, ``processEvents()``...): after a few thousand such calls Python aborts with
    "none_dealloc: deallocating None". 6.11.3 does not. The bench calls ``processEvents()`` in loops
    and would abort long before it measured anything, so it lends ``None`` a large reference count,
    which is what Python 3.12 does for every program.
    """
    # WORKAROUND for PySide6 6.12.0 on Python < 3.12 (no upstream report found): see the docstring.
    from PySide6.QtWidgets import QWidget  # noqa: TID251

    if sys.version_info >= (3, 12):
        return False
    widget = QWidget()
    before = sys.getrefcount(None)
    for _ in range(100):
        widget.update()
    if sys.getrefcount(None) >= before - 50:
        return False
    import ctypes

    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40
    return True


def measure(home: Path) -> dict[str, Any]:
    """Runs in a fresh process: open the page over ``home``'s log and time what a user does."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["MCPGUARD_HOME"] = str(home)
    figures: dict[str, Any] = {"rss_before_qt_mb": _vm_rss_mb()}
    start = time.perf_counter()
    from PySide6.QtCore import QEvent, QModelIndex, QObject  # noqa: TID251 (this bench measures the Qt page)
    from PySide6.QtWidgets import QApplication  # noqa: TID251

    from mcpguard.audit import AuditLog
    from mcpguard.gui.activity_view import ActivityView
    from mcpguard.paths import AppPaths
    from mcpguard.pinning.store import Store

    app = QApplication([sys.argv[0]])
    figures["import_and_qapplication_s"] = time.perf_counter() - start
    figures["none_leak_worked_around"] = _keep_none_alive_if_leaking()
    figures["platform"] = app.platformName()
    store = Store.open(AppPaths.under(home))
    audit = AuditLog(store)
    figures["rows_in_log"] = audit.last_id()

    class _Painted(QObject):
        seen = False

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Type.Paint:
                self.seen = True
            return False

    painted = _Painted()
    start = time.perf_counter()
    view = ActivityView(audit)
    view.table.viewport().installEventFilter(painted)
    view.resize(1100, 720)
    view.show()
    deadline = time.perf_counter() + 10
    while not painted.seen and time.perf_counter() < deadline:
        app.processEvents()
    figures["open_s"] = time.perf_counter() - start
    figures["first_paint_seen"] = painted.seen
    figures["rows_loaded_at_open"] = view.model.rowCount()
    figures["rss_open_mb"] = _vm_rss_mb()
    figures["peak_rss_open_mb"] = _vm_hwm_mb()

    before = view.model.rowCount()
    start = time.perf_counter()
    view.table.scrollToBottom()
    while view.model.rowCount() == before and time.perf_counter() < deadline + 10:
        app.processEvents()
    app.processEvents()  # and paint the new rows
    figures["scroll_one_page_ms"] = (time.perf_counter() - start) * 1000

    timings = []
    for _ in range(200):
        start = time.perf_counter()
        view.model.refresh()
        timings.append(time.perf_counter() - start)
    figures["poll_nothing_new_us"] = sorted(timings)[len(timings) // 2] * 1e6

    from mcpguard.audit import CallRecord

    audit.append("claude-code", "time", [CallRecord(time.time(), "get_current_time", {}, 1.0, "ok")])
    start = time.perf_counter()
    view.refresh()
    app.processEvents()
    figures["poll_one_new_row_ms"] = (time.perf_counter() - start) * 1000

    for name, kwargs in [
        ("filter_server_ms", {"server": "github"}),
        ("filter_server_tool_ms", {"server": "filesystem", "tool": "read_file"}),
        ("filter_outcome_blocked_ms", {"outcome": "blocked"}),
        ("search_rare_text_ms", {"text": "module_996.py"}),
        ("search_absent_text_ms", {"text": "no such text anywhere"}),
        ("filter_cleared_ms", {}),
    ]:
        start = time.perf_counter()
        view.set_filter(**kwargs)
        app.processEvents()
        figures[name] = (time.perf_counter() - start) * 1000

    out = Path(tempfile.mkdtemp(prefix="mcpguard-export-")) / "calls.jsonl"
    try:
        start = time.perf_counter()
        figures["export_rows"] = view.model.export_jsonl(out)
        figures["export_all_jsonl_s"] = time.perf_counter() - start
        start = time.perf_counter()
        view.model.export_csv(out.with_suffix(".csv"))
        figures["export_all_csv_s"] = time.perf_counter() - start
    finally:
        shutil.rmtree(out.parent)

    start = time.perf_counter()
    while view.model.canFetchMore(QModelIndex()):
        view.table.scrollToBottom()
        app.processEvents()
    figures["scroll_through_everything_s"] = time.perf_counter() - start
    figures["rows_loaded_at_end"] = view.model.rowCount()
    figures["rss_everything_loaded_mb"] = _vm_rss_mb()
    figures["peak_rss_mb"] = _vm_hwm_mb()
    view.close()
    store.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="reuse this profile (built by an earlier --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the profile and print its path")
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
        return 0

    home = args.home or Path(tempfile.mkdtemp(prefix="mcpguard-bench-activity-"))
    try:
        if args.home is None:
            print(f"Filling a profile with {args.rows:,} calls (one append transaction)...", flush=True)
            print(f"  built in {build(home, args.rows):.1f} s")
        child = subprocess.run(
            [sys.executable, __file__, "--measure", str(home)], capture_output=True, text=True, check=False
        )
        if child.returncode != 0:
            print(child.stdout + child.stderr, file=sys.stderr)
            return 2
        figures = json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        if args.home is None and not args.keep:
            shutil.rmtree(home, ignore_errors=True)
        elif args.keep:
            print(f"profile kept at {home}")

    if figures["none_leak_worked_around"]:
        print(
            "\nNOTE: this PySide6 drops a reference to None on every void Qt call (PySide6 6.12.0 on "
            "Python 3.11);\n      the bench kept None alive so it could measure the page. The app itself "
            "would abort\n      ('none_dealloc: deallocating None') after a few thousand such calls."
        )
    print(
        f"\nPython {platform.python_version()} on {platform.system()} {platform.machine()}, Qt platform "
        f"{figures['platform']}; {figures['rows_in_log']:,} calls in the log\n"
    )
    rows = [
        ("import PySide6 + mcpguard.gui, create QApplication", f"{figures['import_and_qapplication_s']:.3f} s"),
        ("open: construct + show + first paint", f"{figures['open_s'] * 1000:.0f} ms"),
        ("rows loaded at open", f"{figures['rows_loaded_at_open']:,}"),
        ("RSS with the page open", f"{figures['rss_open_mb']:.0f} MB (peak {figures['peak_rss_open_mb']:.0f} MB)"),
        ("scroll to the end: next page in", f"{figures['scroll_one_page_ms']:.1f} ms"),
        ("poll, nothing new (median)", f"{figures['poll_nothing_new_us']:.0f} µs"),
        ("poll, one new row (incl. processEvents)", f"{figures['poll_one_new_row_ms']:.1f} ms"),
        ("filter: one server", f"{figures['filter_server_ms']:.1f} ms"),
        ("filter: server + tool", f"{figures['filter_server_tool_ms']:.1f} ms"),
        ("filter: outcome blocked", f"{figures['filter_outcome_blocked_ms']:.1f} ms"),
        ("search: rare text", f"{figures['search_rare_text_ms']:.1f} ms"),
        ("search: text found nowhere (full scan)", f"{figures['search_absent_text_ms']:.1f} ms"),
        ("filter cleared", f"{figures['filter_cleared_ms']:.1f} ms"),
        (f"export all {figures['export_rows']:,} rows, JSON Lines", f"{figures['export_all_jsonl_s']:.2f} s"),
        ("export all rows, CSV", f"{figures['export_all_csv_s']:.2f} s"),
        ("scroll through the whole log (every page)", f"{figures['scroll_through_everything_s']:.2f} s"),
        ("rows loaded at the end", f"{figures['rows_loaded_at_end']:,}"),
        ("RSS with every row loaded", f"{figures['rss_everything_loaded_mb']:.0f} MB"),
        ("peak RSS of the process (VmHWM)", f"{figures['peak_rss_mb']:.0f} MB"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")

    checks = [
        ("open <= 1 s", figures["open_s"] <= OPEN_TARGET_S and figures["first_paint_seen"]),
        ("RSS <= 200 MB with the page open", figures["peak_rss_open_mb"] <= RSS_TARGET_MB),
        ("RSS <= 200 MB after scrolling through every row", figures["peak_rss_mb"] <= RSS_TARGET_MB),
    ]
    print()
    for name, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
