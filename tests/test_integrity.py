"""The integrity key at work: a keyed log chain with a signed head, and signed approvals that fail closed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from mcpguard import cli
from mcpguard.audit import HEAD_KEY, AuditLog, CallRecord
from mcpguard.paths import AppPaths
from mcpguard.pinning.store import Store
from mcpguard.secrets import keyring_store
from mcpguard.secrets.integrity import INTEGRITY_KEY_NAME, BackgroundKey, key_exists
from mcpguard.secrets.memory import MemoryStore
from tests.factories import make_tool

KEY = bytes(range(32))
OTHER_KEY = bytes(32)


def _records(n: int, start: int = 0) -> list[CallRecord]:
    return [CallRecord(float(i), f"t{i}", {"i": i}, 1.0, "ok") for i in range(start, start + n)]


def _sql(app_paths: AppPaths, statement: str) -> None:
    conn = sqlite3.connect(app_paths.database)
    conn.execute(statement)
    conn.commit()
    conn.close()


def test_keyed_rows_follow_plain_ones_and_all_verify(store: Store) -> None:
    log = AuditLog(store)
    log.append("c", "s", _records(2))
    log.key = KEY
    log.append("c", "s", _records(3, 2))
    rows = log.rows()
    assert [r.hash.startswith("h1:") for r in rows] == [False, False, True, True, True]
    report = log.verify(KEY)
    assert report.ok and report.rows == 5 and report.keyed_rows == 3, report.problems
    without = log.verify()
    assert without.ok and without.unchecked_rows == 3
    assert not log.verify(OTHER_KEY).ok


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("UPDATE calls SET tool = 'evil' WHERE id = 2", "row 2: its content was changed after it was written"),
        ("DELETE FROM calls WHERE id = 2", "row 3: does not follow the row before it"),
        ("DELETE FROM calls WHERE id = 4", "rows 4 to 4 were cut off the end of the log"),
        ("DELETE FROM meta WHERE key = 'calls_head'", "the signed head of the log is missing"),
        ("UPDATE meta SET value = '2:x:y' WHERE key = 'calls_head'", "the signed head of the log does not verify"),
    ],
)
def test_keyed_tampering_is_reported(app_paths: AppPaths, sql: str, expected: str) -> None:
    store = Store.open(app_paths)
    log = AuditLog(store, KEY)
    log.append("c", "s", _records(4))
    _sql(app_paths, sql)
    problems = log.verify(KEY).problems
    assert any(expected in p for p in problems), problems
    store.close()


def test_a_recomputed_plain_chain_after_keyed_rows_is_reported(app_paths: AppPaths) -> None:
    store = Store.open(app_paths)
    AuditLog(store, KEY).append("c", "s", _records(2))
    AuditLog(store).append("c", "s", _records(1, 2))  # what an editor without the key can write
    problems = AuditLog(store).verify(KEY).problems
    assert any("row 3: written without the integrity key" in p for p in problems), problems
    store.close()


def test_the_head_names_the_last_row(store: Store) -> None:
    AuditLog(store, KEY).append("c", "s", _records(2))
    with store.snapshot() as conn:
        (value,) = conn.execute("SELECT value FROM meta WHERE key = ?", (HEAD_KEY,)).fetchone()
    assert value.startswith("2:h1:")


@pytest.fixture
def signed(app_paths: AppPaths) -> Iterator[Store]:
    store = Store.open(app_paths)
    store.set_integrity_key(KEY)
    server = store.server("c", "s")
    store.observe(server.id, "tool", {"t": make_tool("t"), "u": make_tool("u")})
    store.decide(server.id, "tool", "t", "approve", actor="test")
    yield store
    store.close()


def test_a_signed_approval_holds(signed: Store) -> None:
    (server,) = signed.servers()
    view = signed.item(server.id, "tool", "t")
    assert view.approved is not None and not view.forged and view.status.value == "approved"


def test_an_approval_written_outside_mcpguard_is_not_one(app_paths: AppPaths, signed: Store) -> None:
    (server,) = signed.servers()
    _sql(app_paths, "UPDATE items SET approved_version_id = live_version_id WHERE name = 'u'")
    view = signed.item(server.id, "tool", "u")
    assert view.approved is None and view.forged and view.status.value == "pending"
    unkeyed = Store.open(app_paths)  # without the key: today's behaviour
    assert unkeyed.item(server.id, "tool", "u").approved is not None
    unkeyed.close()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE decisions SET actor = 'someone else'",
        "UPDATE decisions SET mac = NULL",
        "INSERT INTO decisions (version_id, decision, actor, at) SELECT live_version_id, 'approve', 'x', 1 "
        "FROM items WHERE name = 't'",
    ],
)
def test_an_edited_decision_fails_closed(app_paths: AppPaths, signed: Store, sql: str) -> None:
    (server,) = signed.servers()
    _sql(app_paths, sql)
    assert signed.item(server.id, "tool", "t").forged


def test_protect_signs_the_decisions_made_before_the_key(app_paths: AppPaths) -> None:
    store = Store.open(app_paths)
    server = store.server("c", "s")
    store.observe(server.id, "tool", {"t": make_tool("t")})
    store.decide(server.id, "tool", "t", "approve", actor="test")
    assert store.sign_unsigned_decisions(KEY) == 1
    store.set_integrity_key(KEY)
    assert store.item(server.id, "tool", "t").approved is not None
    store.close()


@pytest.fixture
def cli_keyring(monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    """``mcpguard`` commands and shims of this test use a MemoryStore as the OS keyring."""
    memory = MemoryStore()
    monkeypatch.setattr(keyring_store, "open_store", lambda paths: memory)
    return memory


def test_protect_then_pins_list_and_log_verify(
    app_paths: AppPaths, cli_keyring: MemoryStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(app_paths)
    server = store.server("claude", "fs")
    store.observe(server.id, "tool", {"t": make_tool("t"), "u": make_tool("u")})
    store.decide(server.id, "tool", "t", "approve", actor="test")
    AuditLog(store).append("claude", "fs", _records(2))
    assert cli.main(["log", "verify"]) == 0
    assert "Note: no integrity key (`mcpguard secrets protect` creates one)" in capsys.readouterr().out

    from mcpguard.secrets import index

    assert cli.main(["secrets", "protect"]) == 0
    index.update(str(app_paths.home), add=[INTEGRITY_KEY_NAME])  # what KeyringStore does; MemoryStore has no index
    assert key_exists(str(app_paths.home))
    key = bytes.fromhex(cli_keyring.get(INTEGRITY_KEY_NAME) or "")
    AuditLog(store, key).append("claude", "fs", _records(2, 2))
    capsys.readouterr()
    assert cli.main(["log", "verify"]) == 0
    assert "4 rows, hash chain verified, 2 keyed rows and the signed head verified" in capsys.readouterr().out

    _sql(app_paths, "UPDATE items SET approved_version_id = live_version_id WHERE name = 'u'")
    assert cli.main(["pins", "list"]) == 0
    out = capsys.readouterr().out
    assert "approval edited outside mcpguard: not approved" in out
    _sql(app_paths, "DELETE FROM calls WHERE id = 4")
    assert cli.main(["log", "verify"]) == 1
    assert "rows 4 to 4 were cut off the end of the log" in capsys.readouterr().out
    store.close()


def test_the_background_key_skips_the_keyring_without_a_key(app_paths: AppPaths) -> None:
    def must_not_open() -> MemoryStore:
        raise AssertionError("the keyring was opened")

    lookup = BackgroundKey(str(app_paths.home), must_not_open)
    assert lookup.wait() is None


def test_the_background_key_reads_an_existing_key(app_paths: AppPaths) -> None:
    from mcpguard.secrets import index

    memory = MemoryStore({INTEGRITY_KEY_NAME: KEY.hex()})
    index.update(str(app_paths.home), add=[INTEGRITY_KEY_NAME])
    lookup = BackgroundKey(str(app_paths.home), lambda: memory)
    lookup.start()
    assert lookup.wait() == KEY
