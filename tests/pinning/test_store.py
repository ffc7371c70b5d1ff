"""The state database: versions, decisions, migrations, permissions and concurrent writers."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from mcpguard.errors import SchemaTooNew, StoreError, UnknownItem
from mcpguard.paths import AppPaths
from mcpguard.pinning.store import SCHEMA_VERSION, Store
from mcpguard.policy import Status
from tests.factories import make_tool


def test_new_item_is_pending_and_every_version_is_kept(store: Store) -> None:
    server = store.server("claude", "fs")
    assert server.is_new
    views = store.observe(server.id, "tool", {"read_file": make_tool()})
    assert views["read_file"].status is Status.PENDING
    store.decide(server.id, "tool", "read_file", "approve", actor="test")
    changed = store.observe(server.id, "tool", {"read_file": make_tool(description="Read it all.")})["read_file"]
    assert changed.status is Status.CHANGED
    assert changed.approved is not None and changed.approved.definition == make_tool()
    assert len(store.versions(changed.id)) == 2
    back = store.observe(server.id, "tool", {"read_file": make_tool()})["read_file"]
    assert back.status is Status.APPROVED
    assert len(store.versions(back.id)) == 2


def test_server_identity_is_client_and_name(store: Store) -> None:
    a = store.server("claude", "search")
    b = store.server("cursor", "search")
    assert a.id != b.id
    assert store.server("claude", "search").id == a.id
    assert not store.server("claude", "search").is_new
    assert [s.client for s in store.find_servers("search")] == ["claude", "cursor"]


def test_deny_revoke_and_history(store: Store) -> None:
    server = store.server("c", "s")
    store.observe(server.id, "tool", {"t": make_tool("t")})
    assert store.decide(server.id, "tool", "t", "approve", actor="alice").status is Status.APPROVED
    assert store.decide(server.id, "tool", "t", "revoke", actor="bob").status is Status.PENDING
    assert store.decide(server.id, "tool", "t", "deny", actor="carol", note="no").status is Status.DENIED
    history = store.history(store.item(server.id, "tool", "t").id)
    assert [(d.decision, d.actor) for d in history] == [("approve", "alice"), ("revoke", "bob"), ("deny", "carol")]
    assert history[-1].note == "no"


def test_re_approve_an_earlier_version(store: Store) -> None:
    server = store.server("c", "s")
    v1 = store.observe(server.id, "tool", {"t": make_tool("t", "one")})["t"]
    store.observe(server.id, "tool", {"t": make_tool("t", "two")})
    assert v1.live is not None
    view = store.decide(server.id, "tool", "t", "approve", actor="x", fingerprint=v1.live.fingerprint)
    assert view.approved is not None and view.approved.definition["description"] == "one"
    assert view.status is Status.CHANGED
    with pytest.raises(UnknownItem):
        store.decide(server.id, "tool", "t", "approve", actor="x", fingerprint="v1:sha256:nope")


def test_decisions_bump_the_revision_shims_poll(store: Store) -> None:
    server = store.server("c", "s")
    store.observe(server.id, "tool", {"t": make_tool("t")})
    before = store.decisions_rev()
    store.decide(server.id, "tool", "t", "approve", actor="x")
    assert store.decisions_rev() == before + 1


def test_auto_approve_only_for_items_never_seen(store: Store) -> None:
    server = store.server("c", "s")
    views = store.observe(server.id, "tool", {"t": make_tool("t")}, auto_approve_actor="trust-on-first-use")
    assert views["t"].status is Status.APPROVED
    changed = store.observe(server.id, "tool", {"t": make_tool("t", "x")}, auto_approve_actor="trust-on-first-use")
    assert changed["t"].status is Status.CHANGED


def test_findings_are_computed_once_per_version(store: Store) -> None:
    server = store.server("c", "s")
    calls: list[str] = []

    def findings(kind: str, name: str, definition: object) -> list[dict[str, str]]:
        calls.append(name)
        return [{"kind": "k", "severity": "warning", "where": "description", "explanation": "e", "excerpt": ""}]

    store.observe(server.id, "tool", {"t": make_tool("t")}, findings=findings)
    view = store.observe(server.id, "tool", {"t": make_tool("t")}, findings=findings)["t"]
    assert calls == ["t"]
    assert view.live is not None and view.live.findings[0]["kind"] == "k"


def test_forget_drops_pins(store: Store) -> None:
    server = store.server("c", "s")
    store.observe(server.id, "tool", {"t": make_tool("t")})
    store.forget(server.id)
    assert store.servers() == []
    assert store.server("c", "s").is_new


def test_files_are_private(app_paths: AppPaths) -> None:
    Store.open(app_paths).close()
    assert stat.S_IMODE(os.stat(app_paths.home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(app_paths.database).st_mode) == 0o600


def test_schema_newer_than_known_is_refused(app_paths: AppPaths) -> None:
    Store.open(app_paths).close()
    conn = sqlite3.connect(app_paths.database)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="upgrade mcpguard"):
        Store.open(app_paths)


def test_garbage_file_is_a_clear_error(app_paths: AppPaths) -> None:
    app_paths.database.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot be used"):
        Store.open(app_paths)


def test_settings_round_trip(store: Store) -> None:
    assert store.setting("trust_on_first_use", "off") == "off"
    store.set_setting("trust_on_first_use", "on")
    store.set_setting("trust_on_first_use", "off")
    assert store.settings() == {"trust_on_first_use": "off"}


def test_many_processes_write_at_once_without_losing_rows(app_paths: AppPaths) -> None:
    """Eight shims' worth of writers hammer one database: no 'database is locked', no lost row."""
    script = textwrap.dedent(
        """
        import sys
        from mcpguard.paths import AppPaths
        from mcpguard.pinning.store import Store
        from mcpguard.audit import AuditLog, CallRecord
        worker = sys.argv[2]
        store = Store.open(AppPaths.under(sys.argv[1]))
        server = store.server("client", "srv-" + worker)
        log = AuditLog(store)
        for i in range(40):
            store.observe(server.id, "tool", {f"t{i}": {"name": f"t{i}", "description": worker}})
            store.decide(server.id, "tool", f"t{i}", "approve", actor=worker)
            record = CallRecord(at=i, tool=f"t{i}", arguments={}, duration_ms=1.0, outcome="ok")
            log.append("client", "srv-" + worker, [record])
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(app_paths.home), str(n)], stderr=subprocess.PIPE)
        for n in range(8)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    store = Store.open(app_paths)
    assert len(store.servers()) == 8
    assert sum(len(store.items(s.id)) for s in store.servers()) == 8 * 40
    from mcpguard.audit import AuditLog

    report = AuditLog(store).verify()
    assert report.rows == 8 * 40 and report.ok, report.problems


def test_migration_from_schema_1_keeps_data(app_paths: AppPaths) -> None:
    """A database written by the first schema opens, migrates and keeps its pins."""
    from mcpguard.pinning import store as store_module

    conn = sqlite3.connect(app_paths.database)
    for statement in store_module._split_sql(store_module._MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("INSERT INTO servers (client, name, first_seen, last_seen) VALUES ('c', 'old', 1, 1)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = Store.open(app_paths)
    assert [s.name for s in store.servers()] == ["old"]
    assert store.observations_rev() == 0
    assert not store.tray_alive()
    (version,) = sqlite3.connect(app_paths.database).execute("PRAGMA user_version").fetchone()
    assert version == SCHEMA_VERSION == 4
    assert store.signins() == []


def test_sign_in_requests_expire_and_a_newer_one_replaces_the_older(store: Store) -> None:
    first = store.post_signin("c", "s", "auth.example", "https://auth.example/authorize?state=a", time.time() + 60)
    other = store.post_signin("c", "t", "auth.example", "https://auth.example/authorize?state=b", time.time() + 1)
    [a, b] = store.signins()
    assert (a.id, a.server, a.host) == (first, "s", "auth.example") and b.id == other
    newer = store.post_signin("c", "s", "auth.example", "https://auth.example/authorize?state=c", time.time() + 60)
    assert [r.id for r in store.signins()] == [other, newer]
    assert [r.id for r in store.signins(now=time.time() + 5)] == [newer]  # expired ones are never offered
    store.beat(now=time.time() + 5)  # and the tray's heartbeat deletes them
    assert [r.id for r in store.signins()] == [newer]
    store.drop_signin(newer)
    assert store.signins() == []
    again = store.post_signin("c", "s", "auth.example", "https://auth.example/authorize?state=d", time.time() + 60)
    assert again > newer, "ids are never reused: the tray tells a new request from one it announced"


def test_new_versions_bump_the_observation_counter_and_show_as_waiting(store: Store) -> None:
    server = store.server("c", "s")
    store.observe(server.id, "tool", {"t": make_tool("t")})
    assert store.observations_rev() == 1
    store.observe(server.id, "tool", {"t": make_tool("t")})
    assert store.observations_rev() == 1
    assert [(s.name, v.name) for s, v in store.waiting()] == [("s", "t")]
    store.decide(server.id, "tool", "t", "approve", actor="x")
    assert store.waiting() == []


def test_tray_heartbeat(store: Store) -> None:
    store.beat()
    assert store.tray_alive()
    store.beat(now=1.0)
    assert not store.tray_alive()
