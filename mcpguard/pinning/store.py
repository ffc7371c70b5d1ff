"""The state database: pins, every version of every definition, decisions, settings.

One SQLite file in WAL mode is the meeting point of every shim and the tray. Writes are short
``BEGIN IMMEDIATE`` transactions with a generous busy timeout, so many shims can write at once
without ``database is locked`` errors; readers never block writers.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time

from mcpguard.errors import SchemaTooNew, StoreError, UnknownItem, UnknownServer
from mcpguard.pinning.canonical import canonical_bytes
from mcpguard.pinning.fingerprint import fingerprint_canonical
from mcpguard.policy import Pin, Status, status
from mcpguard.values import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from types import TracebackType
    from typing import Any, Final, TypeAlias

    from mcpguard.paths import AppPaths

KINDS = ("command", "server_info", "instructions", "tool", "prompt", "resource_template")
"""What is pinned per server. The first three make up the server's identity."""

IDENTITY_KINDS = ("command", "server_info", "instructions")

DECISIONS = ("approve", "deny", "revoke")

BUSY_TIMEOUT_MS = 30_000

_MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE servers (
        id INTEGER PRIMARY KEY,
        client TEXT NOT NULL,
        name TEXT NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        UNIQUE (client, name)
    );
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        server_id INTEGER NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        live_version_id INTEGER REFERENCES versions (id),
        approved_version_id INTEGER REFERENCES versions (id),
        live_seen REAL,
        UNIQUE (server_id, kind, name)
    );
    CREATE TABLE versions (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,
        definition TEXT NOT NULL,
        findings TEXT NOT NULL DEFAULT '[]',
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        UNIQUE (item_id, fingerprint)
    );
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
        decision TEXT NOT NULL CHECK (decision IN ('approve', 'deny', 'revoke')),
        actor TEXT NOT NULL,
        at REAL NOT NULL,
        note TEXT
    );
    CREATE INDEX decisions_by_version ON decisions (version_id, id);
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        client TEXT NOT NULL,
        server TEXT NOT NULL,
        tool TEXT NOT NULL,
        arguments TEXT NOT NULL,
        duration_ms REAL,
        outcome TEXT NOT NULL,
        result_size INTEGER NOT NULL DEFAULT 0,
        findings TEXT NOT NULL DEFAULT '[]',
        detail TEXT NOT NULL DEFAULT '',
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX calls_by_server ON calls (server, tool);
    INSERT INTO meta (key, value) VALUES ('decisions_rev', '0');
    """,
    # 2: the tray learns of new definitions (not only of decisions) by one cheap read, and shims
    # know whether a tray is there to ask the user.
    """
    INSERT INTO meta (key, value) VALUES ('observations_rev', '0');
    INSERT INTO meta (key, value) VALUES ('tray_heartbeat', '0');
    """,
    # 3: each decision carries an HMAC with the integrity key (NULL: written without the key).
    """
    ALTER TABLE decisions ADD COLUMN mac TEXT;
    """,
    # 4: a remote bridge that needs the user to sign in asks the tray to offer it. The row holds
    # the authorization URL (its state and PKCE challenge, never a code, verifier or token) and
    # lives no longer than the bridge's loopback listener waits for the redirect. AUTOINCREMENT:
    # an id is never reused, so the tray tells a new request from one it already announced.
    """
    CREATE TABLE signins (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        client TEXT NOT NULL,
        server TEXT NOT NULL,
        host TEXT NOT NULL,
        url TEXT NOT NULL,
        created REAL NOT NULL,
        expires REAL NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)

if TYPE_CHECKING:
    FindingsFn: TypeAlias = Callable[[str, str, Mapping[str, Any]], list[dict[str, str]]]
    """``(kind, name, definition) -> findings as JSON``; run once per new version."""


class ServerRecord(Value):
    """A guarded server, identified by the client that launches it and the name it gives it."""

    __slots__ = ("id", "client", "name", "first_seen", "last_seen", "is_new")

    id: Final[int]
    client: Final[str]
    name: Final[str]
    first_seen: Final[float]
    last_seen: Final[float]
    is_new: Final[bool]
    """True when this call created the row: the server has never been seen before."""

    def __init__(
        self, id: int, client: str, name: str, first_seen: float, last_seen: float, is_new: bool = False
    ) -> None:
        self.id = id
        self.client = client
        self.name = name
        self.first_seen = first_seen
        self.last_seen = last_seen
        self.is_new = is_new


class Version(Value):
    """One definition an item has had."""

    __slots__ = ("id", "fingerprint", "definition", "findings", "first_seen", "last_seen")

    id: Final[int]
    fingerprint: Final[str]
    definition: Final[Any]
    findings: Final[list[dict[str, str]]]
    first_seen: Final[float]
    last_seen: Final[float]

    def __init__(
        self,
        id: int,
        fingerprint: str,
        definition: Any,
        findings: list[dict[str, str]],
        first_seen: float,
        last_seen: float,
    ) -> None:
        self.id = id
        self.fingerprint = fingerprint
        self.definition = definition
        self.findings = findings
        self.first_seen = first_seen
        self.last_seen = last_seen


class ItemView(Value):
    """An item with its live and approved versions, as the proxy and the CLI need it."""

    __slots__ = ("id", "server_id", "kind", "name", "live", "approved", "live_denied", "live_seen", "pin", "forged")

    id: Final[int]
    server_id: Final[int]
    kind: Final[str]
    name: Final[str]
    live: Final[Version | None]
    approved: Final[Version | None]
    live_denied: Final[bool]
    live_seen: Final[float | None]
    pin: Final[Pin]
    """What the policy decides from; built once, as the proxy asks for it on every call."""
    forged: Final[bool]
    """The item's approval fails its integrity check (edited outside mcpguard): ``approved`` is None."""

    def __init__(
        self,
        id: int,
        server_id: int,
        kind: str,
        name: str,
        live: Version | None,
        approved: Version | None,
        live_denied: bool,
        live_seen: float | None,
        forged: bool = False,
    ) -> None:
        self.id = id
        self.server_id = server_id
        self.kind = kind
        self.name = name
        self.live = live
        self.approved = approved
        self.live_denied = live_denied
        self.live_seen = live_seen
        self.forged = forged
        self.pin = Pin(
            live.fingerprint if live is not None else None,
            approved.fingerprint if approved is not None else None,
            live_denied,
        )

    @property
    def status(self) -> Status:
        return status(self.pin)


class Decision(Value):
    """One entry of an item's history: who decided what about which version, and when."""

    __slots__ = ("version_id", "fingerprint", "decision", "actor", "at", "note")

    version_id: Final[int]
    fingerprint: Final[str]
    decision: Final[str]
    actor: Final[str]
    at: Final[float]
    note: Final[str | None]

    def __init__(
        self, version_id: int, fingerprint: str, decision: str, actor: str, at: float, note: str | None
    ) -> None:
        self.version_id = version_id
        self.fingerprint = fingerprint
        self.decision = decision
        self.actor = actor
        self.at = at
        self.note = note


class SignInRequest(Value):
    """A remote bridge waits for the user to sign in: the tray offers "Sign in to NAME"."""

    __slots__ = ("id", "client", "server", "host", "url", "created", "expires")

    id: Final[int]
    client: Final[str]
    server: Final[str]
    host: Final[str]
    """The authorization server's host: where the user is about to type credentials."""
    url: Final[str]
    """The authorization URL to open in the browser (state and PKCE challenge only, no secret)."""
    created: Final[float]
    expires: Final[float]

    def __init__(self, id: int, client: str, server: str, host: str, url: str, created: float, expires: float) -> None:
        self.id = id
        self.client = client
        self.server = server
        self.host = host
        self.url = url
        self.created = created
        self.expires = expires


class Store:
    """Access to the state database; safe to share between the threads of one process."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path
        self._key_source: Callable[[], bytes | None] | None = None
        self._key: bytes | None = None
        self._key_known = True  # no source: no key, approvals read as before

    # -- integrity -------------------------------------------------------------------------------

    def set_integrity_key(self, source: bytes | Callable[[], bytes | None] | None) -> None:
        """Sign decisions with the integrity key and trust only approvals whose signature holds.

        ``source`` is the key, or a function that returns it (None: no keyring), called once, when
        the first pin is read or decision written: a shim starts the lookup in the background after
        spawning the server and hands over a function that waits for it. Without a key, approvals are
        read as before (mcpguard without a keyring keeps working, unprotected).
        """
        with self._lock:
            if source is None or isinstance(source, bytes):
                self._key, self._key_known, self._key_source = source, True, None
            else:
                self._key, self._key_known, self._key_source = None, False, source

    def integrity_key(self) -> bytes | None:
        """The key set with :meth:`set_integrity_key`, resolved on first use."""
        if self._key_known:
            return self._key
        with self._lock:
            if not self._key_known:
                assert self._key_source is not None
                self._key = self._key_source()
                self._key_known = True
        return self._key

    def sign_unsigned_decisions(self, key: bytes) -> int:
        """Sign every decision written without the key; returns how many.

        For the moment the key is created: decisions made before mcpguard had a key are adopted as
        they are then. Never called later, or a forged unsigned row would be adopted too.
        """
        with self._write() as conn:
            rows = conn.execute("SELECT id FROM decisions WHERE mac IS NULL").fetchall()
            for (decision_id,) in rows:
                conn.execute(
                    "UPDATE decisions SET mac = ? WHERE id = ?",
                    (self._decision_mac(conn, key, decision_id), decision_id),
                )
        return len(rows)

    @staticmethod
    def _decision_mac(conn: sqlite3.Connection, key: bytes, decision_id: int) -> str:
        """HMAC over what a decision means: which server's which item, which definition, what, who, when."""
        import hmac

        row = conn.execute(
            "SELECT s.client, s.name, i.kind, i.name, v.fingerprint, d.decision, d.actor, d.at, d.note "
            "FROM decisions d JOIN versions v ON v.id = d.version_id JOIN items i ON i.id = v.item_id "
            "JOIN servers s ON s.id = i.server_id WHERE d.id = ?",
            (decision_id,),
        ).fetchone()
        message = json.dumps(["decision-v1", *row], separators=(",", ":")).encode("utf-8")
        return hmac.new(key, message, "sha256").hexdigest()

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, paths: AppPaths) -> Store:
        """Open (creating and migrating as needed) the profile's database.

        Raises:
            StoreError: The file cannot be opened or is not an mcpguard database.
            SchemaTooNew: A newer mcpguard wrote it; this one must not touch it.
        """
        try:
            paths.ensure()
        except OSError as exc:
            raise StoreError(f"cannot use the mcpguard profile directory {paths.root}: {exc.strerror}") from exc
        return cls.open_file(paths.database_file)

    @classmethod
    def open_file(cls, path: str) -> Store:
        """Open a database file directly (``:memory:`` works for tests of pure logic)."""
        if path != ":memory:" and not os.path.exists(path):
            try:
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as exc:
                raise StoreError(f"cannot create the mcpguard database at {path}: {exc.strerror}") from exc
        try:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            store = cls(conn, path)
            store._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"the mcpguard database at {path} cannot be used ({exc}); move it aside to start afresh"
            ) from exc
        return store

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _migrate(self) -> None:
        (current,) = self._conn.execute("PRAGMA user_version").fetchone()
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"the database at {self.path} has schema {current}, newer than this mcpguard knows "
                f"({SCHEMA_VERSION}); upgrade mcpguard"
            )
        if current == SCHEMA_VERSION:
            return
        with self._write():
            (current,) = self._conn.execute("PRAGMA user_version").fetchone()
            for version in range(current, SCHEMA_VERSION):
                for statement in _split_sql(_MIGRATIONS[version]):
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {version + 1}")

    def _write(self) -> Transaction:
        """One short write transaction, taking the write lock up front to avoid upgrade deadlocks."""
        return Transaction(self, "BEGIN IMMEDIATE", rollback_on_error=True)

    def _read(self) -> Transaction:
        """A consistent snapshot for multi-statement reads."""
        return Transaction(self, "BEGIN", rollback_on_error=False)

    def snapshot(self) -> Transaction:
        """A read-only view for other core modules' queries (audit): never takes the write lock."""
        return self._read()

    def transaction(self) -> Transaction:
        """A write transaction for other core modules that keep tables in this database (audit)."""
        return self._write()

    # -- servers -------------------------------------------------------------------------------

    def server(self, client: str, name: str, *, create: bool = True) -> ServerRecord:
        """The server record for ``client``/``name``; created on first sight when ``create``.

        Raises:
            UnknownServer: ``create`` is False and no such server is known.
        """
        now = time.time()
        with self._write() as conn:
            row = conn.execute(
                "SELECT id, first_seen FROM servers WHERE client = ? AND name = ?", (client, name)
            ).fetchone()
            if row is not None:
                conn.execute("UPDATE servers SET last_seen = ? WHERE id = ?", (now, row[0]))
                return ServerRecord(row[0], client, name, row[1], now)
            if not create:
                raise UnknownServer(f"no server named {name!r} (client {client!r}) is known to mcpguard")
            cur = conn.execute(
                "INSERT INTO servers (client, name, first_seen, last_seen) VALUES (?, ?, ?, ?)",
                (client, name, now, now),
            )
            assert cur.lastrowid is not None
            return ServerRecord(cur.lastrowid, client, name, now, now, is_new=True)

    def servers(self) -> list[ServerRecord]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, client, name, first_seen, last_seen FROM servers ORDER BY name, client"
            ).fetchall()
        return [ServerRecord(*row) for row in rows]

    def find_servers(self, name: str, client: str | None = None) -> list[ServerRecord]:
        """Servers called ``name``, optionally of one client; the CLI resolves a bare name with it."""
        return [s for s in self.servers() if s.name == name and (client is None or s.client == client)]

    def forget(self, server_id: int) -> None:
        """Drop a server with all its pins and history (the tool-call log keeps its rows)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE items SET live_version_id = NULL, approved_version_id = NULL WHERE server_id = ?",
                (server_id,),
            )
            conn.execute("DELETE FROM servers WHERE id = ?", (server_id,))
            self._bump_rev(conn)

    # -- observing what a server shows ------------------------------------------------------------

    def observe(
        self,
        server_id: int,
        kind: str,
        definitions: Mapping[str, Any],
        *,
        findings: FindingsFn | None = None,
        auto_approve_actor: str | None = None,
    ) -> dict[str, ItemView]:
        """Record the definitions a server shows now, and return each item's pin.

        Every version is kept. A version seen for the first time is scanned once (``findings``).
        ``auto_approve_actor`` approves versions of items that have no version at all yet: the
        trust-on-first-use setting, only ever passed for a never-seen server.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        now = time.time()
        prepared = []
        for name, definition in definitions.items():
            canonical = canonical_bytes(definition)
            prepared.append((name, fingerprint_canonical(canonical), canonical.decode("utf-8"), definition))
        changed_decisions = False
        new_versions = False
        with self._write() as conn:
            for name, fp, text, definition in prepared:
                item_id, is_new_item = self._item_id(conn, server_id, kind, name)
                row = conn.execute(
                    "SELECT id FROM versions WHERE item_id = ? AND fingerprint = ?", (item_id, fp)
                ).fetchone()
                if row is None:
                    found = findings(kind, name, definition) if findings is not None else []
                    cur = conn.execute(
                        "INSERT INTO versions (item_id, fingerprint, definition, findings, first_seen, "
                        "last_seen) VALUES (?, ?, ?, ?, ?, ?)",
                        (item_id, fp, text, json.dumps(found), now, now),
                    )
                    version_id = cur.lastrowid
                    new_versions = True
                    if is_new_item and auto_approve_actor is not None:
                        self._record_decision(conn, item_id, version_id, "approve", auto_approve_actor, None)
                        changed_decisions = True
                else:
                    version_id = row[0]
                    conn.execute("UPDATE versions SET last_seen = ? WHERE id = ?", (now, version_id))
                conn.execute(
                    "UPDATE items SET live_version_id = ?, live_seen = ? WHERE id = ?",
                    (version_id, now, item_id),
                )
            if changed_decisions:
                self._bump_rev(conn)
            if new_versions:
                self._bump_rev(conn, "observations_rev")
            views = {name: self._item_view(conn, server_id, kind, name) for name, *_ in prepared}
        return {name: view for name, view in views.items() if view is not None}

    def _item_id(self, conn: sqlite3.Connection, server_id: int, kind: str, name: str) -> tuple[int, bool]:
        row = conn.execute(
            "SELECT id FROM items WHERE server_id = ? AND kind = ? AND name = ?", (server_id, kind, name)
        ).fetchone()
        if row is not None:
            return row[0], False
        cur = conn.execute("INSERT INTO items (server_id, kind, name) VALUES (?, ?, ?)", (server_id, kind, name))
        assert cur.lastrowid is not None
        return cur.lastrowid, True

    # -- reading pins --------------------------------------------------------------------------

    def items(self, server_id: int, kind: str | None = None) -> list[ItemView]:
        """Every item of a server (of one kind when given), identity first, then by name."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT kind, name FROM items WHERE server_id = ? AND (? IS NULL OR kind = ?)",
                (server_id, kind, kind),
            ).fetchall()
            views = [self._item_view(conn, server_id, k, n) for k, n in rows]
        found = [v for v in views if v is not None]
        return sorted(found, key=lambda v: (KINDS.index(v.kind), v.name))

    def item(self, server_id: int, kind: str, name: str) -> ItemView:
        """One item.

        Raises:
            UnknownItem: The server has shown no such item.
        """
        with self._read() as conn:
            view = self._item_view(conn, server_id, kind, name)
        if view is None:
            raise UnknownItem(f"no {kind.replace('_', ' ')} named {name!r} has been seen for this server")
        return view

    def _item_view(self, conn: sqlite3.Connection, server_id: int, kind: str, name: str) -> ItemView | None:
        row = conn.execute(
            "SELECT id, live_version_id, approved_version_id, live_seen FROM items "
            "WHERE server_id = ? AND kind = ? AND name = ?",
            (server_id, kind, name),
        ).fetchone()
        if row is None:
            return None
        item_id, live_id, approved_id, live_seen = row
        live = self._version(conn, live_id)
        forged = False
        if approved_id is not None:
            key = self.integrity_key()
            if key is not None and not self._approval_holds(conn, key, approved_id):
                approved_id, forged = None, True  # fail closed: an approval nobody can vouch for is none
        approved = self._version(conn, approved_id)
        denied = False
        if live_id is not None:
            last = conn.execute(
                "SELECT decision FROM decisions WHERE version_id = ? ORDER BY id DESC LIMIT 1", (live_id,)
            ).fetchone()
            denied = last is not None and last[0] == "deny"
        return ItemView(item_id, server_id, kind, name, live, approved, denied, live_seen, forged)

    def _approval_holds(self, conn: sqlite3.Connection, key: bytes, version_id: int) -> bool:
        """The version's last decision is an approval whose HMAC verifies."""
        import hmac

        last = conn.execute(
            "SELECT id, decision, mac FROM decisions WHERE version_id = ? ORDER BY id DESC LIMIT 1", (version_id,)
        ).fetchone()
        if last is None or last[1] != "approve" or not last[2]:
            return False
        return hmac.compare_digest(self._decision_mac(conn, key, last[0]), str(last[2]))

    @staticmethod
    def _version(conn: sqlite3.Connection, version_id: int | None) -> Version | None:
        if version_id is None:
            return None
        row = conn.execute(
            "SELECT id, fingerprint, definition, findings, first_seen, last_seen FROM versions WHERE id = ?",
            (version_id,),
        ).fetchone()
        if row is None:
            return None
        return Version(row[0], row[1], json.loads(row[2]), json.loads(row[3]), row[4], row[5])

    def versions(self, item_id: int) -> list[Version]:
        """Every definition the item has had, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, fingerprint, definition, findings, first_seen, last_seen FROM versions "
                "WHERE item_id = ? ORDER BY first_seen, id",
                (item_id,),
            ).fetchall()
        return [Version(r[0], r[1], json.loads(r[2]), json.loads(r[3]), r[4], r[5]) for r in rows]

    def history(self, item_id: int) -> list[Decision]:
        """Every decision about any version of the item, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT d.version_id, v.fingerprint, d.decision, d.actor, d.at, d.note FROM decisions d "
                "JOIN versions v ON v.id = d.version_id WHERE v.item_id = ? ORDER BY d.id",
                (item_id,),
            ).fetchall()
        return [Decision(*row) for row in rows]

    def approved_names(self, kind: str = "tool", *, exclude_server: int | None = None) -> set[str]:
        """Names of approved items across all servers: the scanner's reference for look-alikes."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT name FROM items WHERE kind = ? AND approved_version_id IS NOT NULL "
                "AND (? IS NULL OR server_id != ?)",
                (kind, exclude_server, exclude_server),
            ).fetchall()
        return {r[0] for r in rows}

    # -- decisions -------------------------------------------------------------------------------

    def decide(
        self,
        server_id: int,
        kind: str,
        name: str,
        decision: str,
        *,
        actor: str,
        fingerprint: str | None = None,
        note: str | None = None,
    ) -> ItemView:
        """Record a decision about one version of an item (the live one unless ``fingerprint``).

        ``approve`` makes that version the approved one; ``deny`` refuses it (and withdraws it if it
        was approved); ``revoke`` sends an approved item back to pending. Every running shim sees
        the change through :meth:`decisions_rev`.

        Raises:
            UnknownItem: No such item, or no version with that fingerprint.
        """
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}")
        with self._write() as conn:
            row = conn.execute(
                "SELECT id, live_version_id, approved_version_id FROM items "
                "WHERE server_id = ? AND kind = ? AND name = ?",
                (server_id, kind, name),
            ).fetchone()
            if row is None:
                raise UnknownItem(f"no {kind.replace('_', ' ')} named {name!r} has been seen for this server")
            item_id, live_id, approved_id = row
            if fingerprint is not None:
                found = conn.execute(
                    "SELECT id FROM versions WHERE item_id = ? AND fingerprint = ?", (item_id, fingerprint)
                ).fetchone()
                if found is None:
                    raise UnknownItem(f"{name!r} never had a version with fingerprint {fingerprint}")
                version_id = found[0]
            elif decision == "revoke":
                version_id = approved_id if approved_id is not None else live_id
            else:
                version_id = live_id
            if version_id is None:
                raise UnknownItem(f"{name!r} has no version to {decision}")
            self._record_decision(conn, item_id, version_id, decision, actor, note)
            self._bump_rev(conn)
            view = self._item_view(conn, server_id, kind, name)
        assert view is not None
        return view

    def _record_decision(
        self,
        conn: sqlite3.Connection,
        item_id: int,
        version_id: int | None,
        decision: str,
        actor: str,
        note: str | None,
    ) -> None:
        cur = conn.execute(
            "INSERT INTO decisions (version_id, decision, actor, at, note) VALUES (?, ?, ?, ?, ?)",
            (version_id, decision, actor, time.time(), note),
        )
        key = self.integrity_key()
        if key is not None and cur.lastrowid is not None:
            conn.execute(
                "UPDATE decisions SET mac = ? WHERE id = ?",
                (self._decision_mac(conn, key, cur.lastrowid), cur.lastrowid),
            )
        if decision == "approve":
            conn.execute("UPDATE items SET approved_version_id = ? WHERE id = ?", (version_id, item_id))
        else:
            conn.execute(
                "UPDATE items SET approved_version_id = NULL WHERE id = ? AND approved_version_id = ?",
                (item_id, version_id),
            )

    @staticmethod
    def _bump_rev(conn: sqlite3.Connection, key: str = "decisions_rev") -> None:
        conn.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = ?", (key,))

    def _meta_number(self, key: str) -> float:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return float(row[0]) if row else 0.0

    def decisions_rev(self) -> int:
        """A counter that grows with every decision anywhere; shims poll it (a cheap read)."""
        return int(self._meta_number("decisions_rev"))

    def observations_rev(self) -> int:
        """A counter that grows whenever any server shows a definition never seen before."""
        return int(self._meta_number("observations_rev"))

    def beat(self, now: float | None = None) -> None:
        """The tray says it is running (every few seconds), so shims know a user can be asked.

        Expired sign-in requests go in the same transaction: a bridge that was killed before it could
        remove its own leaves nothing the tray would offer for longer than its listener waited.
        """
        when = time.time() if now is None else now
        with self._write() as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'tray_heartbeat'", (str(when),))
            conn.execute("DELETE FROM signins WHERE expires <= ?", (when,))

    def tray_alive(self, within: float = 10.0) -> bool:
        """True when a tray has beaten within ``within`` seconds."""
        return time.time() - self._meta_number("tray_heartbeat") < within

    # -- sign-in requests ---------------------------------------------------------------------------

    def post_signin(self, client: str, server: str, host: str, url: str, expires: float) -> int:
        """Ask the tray to offer a sign-in; returns the request's id. It replaces any older one for the server.

        A newer request supersedes the old one: only the newest bridge's listener is sure to be waiting.
        """
        with self._write() as conn:
            conn.execute("DELETE FROM signins WHERE client = ? AND server = ?", (client, server))
            cur = conn.execute(
                "INSERT INTO signins (client, server, host, url, created, expires) VALUES (?, ?, ?, ?, ?, ?)",
                (client, server, host, url, time.time(), expires),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def drop_signin(self, request_id: int) -> None:
        """The sign-in finished, failed or was given up: the tray stops offering it."""
        with self._write() as conn:
            conn.execute("DELETE FROM signins WHERE id = ?", (request_id,))

    def signins(self, now: float | None = None) -> list[SignInRequest]:
        """Sign-in requests not yet expired, oldest first (one small read; the tray polls it)."""
        when = time.time() if now is None else now
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, client, server, host, url, created, expires FROM signins WHERE expires > ? ORDER BY id",
                (when,),
            ).fetchall()
        return [SignInRequest(*row) for row in rows]

    def waiting(self) -> list[tuple[ServerRecord, ItemView]]:
        """Every item whose live definition waits for a decision (pending or changed), server by server."""
        out: list[tuple[ServerRecord, ItemView]] = []
        for server in self.servers():
            for view in self.items(server.id):
                if view.live is not None and view.status in (Status.PENDING, Status.CHANGED):
                    out.append((server, view))
        return out

    def server_by_id(self, server_id: int) -> ServerRecord:
        """Raises UnknownServer when it was forgotten meanwhile."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id, client, name, first_seen, last_seen FROM servers WHERE id = ?", (server_id,)
            ).fetchone()
        if row is None:
            raise UnknownServer(f"server #{server_id} is no longer known to mcpguard")
        return ServerRecord(*row)

    # -- settings --------------------------------------------------------------------------------

    def setting(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def settings(self) -> dict[str, str]:
        with self._lock:
            return dict(self._conn.execute("SELECT key, value FROM settings").fetchall())


class Transaction:
    """``with``: the store's lock, ``begin``, then COMMIT (ROLLBACK after an error in a write).

    A class rather than ``contextlib.contextmanager``, which the shim would import only for this.
    """

    __slots__ = ("_store", "_begin", "_rollback_on_error")

    def __init__(self, store: Store, begin: str, *, rollback_on_error: bool) -> None:
        self._store = store
        self._begin = begin
        self._rollback_on_error = rollback_on_error

    def __enter__(self) -> sqlite3.Connection:
        store = self._store
        store._lock.acquire()
        try:
            store._conn.execute(self._begin)
        except BaseException:
            store._lock.release()
            raise
        return store._conn

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        store = self._store
        try:
            store._conn.execute("ROLLBACK" if exc_type is not None and self._rollback_on_error else "COMMIT")
        finally:
            store._lock.release()


def _split_sql(script: str) -> Sequence[str]:
    """Statements of a migration script; executescript() would commit our transaction."""
    return [s.strip() for s in script.split(";") if s.strip()]


def pins_to_json(views: Iterable[ItemView]) -> list[dict[str, Any]]:
    """The documented ``--json`` shape of items (see docs/cli.md)."""
    return [
        {
            "kind": v.kind,
            "name": v.name,
            "status": v.status.value,
            "live_fingerprint": v.live.fingerprint if v.live else None,
            "approved_fingerprint": v.approved.fingerprint if v.approved else None,
            "findings": v.live.findings if v.live else [],
            "live_seen": v.live_seen,
            "approval_forged": v.forged,
        }
        for v in views
    ]
