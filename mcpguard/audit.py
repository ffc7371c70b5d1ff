"""The tool-call log: append-only, hash-chained, so an edited, reordered or deleted row shows.

Each row's hash covers its content and the previous row's hash. ``verify()`` walks the chain; a
row changed in place, a row removed from the middle or rows swapped all break it.

Two schemes, told apart by the ``hash`` column itself so that old rows still verify:

- ``<64 hex>``: SHA-256 over the previous hash and the row. Anyone who can write ``state.db`` can
  recompute it, so it shows accidents and careless edits, not a deliberate forgery.
- ``h1:<64 hex>``: HMAC-SHA-256 with the profile's integrity key (kept in the OS keyring,
  :mod:`mcpguard.secrets.integrity`) over the same bytes. It cannot be recomputed without the key.
  Each keyed append also writes a signed head (``meta.calls_head``: the last row's id and hash and
  their HMAC), so rows cut off the end show too.

A writer uses the keyed scheme when it has the key (a shim fetches it in the background and waits
for it before its first write). Once keyed rows exist, a plain row after them is reported: it was
written without the key, by a shim that could not reach the keyring or by someone editing the file.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring as _json_string  # the C function json itself writes strings with

from mcpguard.values import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from typing import Any, Final

    from mcpguard.pinning.store import Store

GENESIS = "0" * 64
KEYED_PREFIX = "h1:"
"""The ``hash`` of a row chained with the integrity key (HMAC-SHA-256)."""
HEAD_KEY = "calls_head"
"""The ``meta`` row holding the signed head of the keyed chain: ``ID:HASH:HMAC``."""
MAX_ARGUMENTS_CHARS = 64 * 1024
"""Arguments longer than this are cut in the log (the call itself is never changed)."""

OUTCOMES = ("ok", "tool-error", "protocol-error", "blocked")


class CallRecord:
    """One tool call as the proxy saw it, before it is written."""

    __slots__ = ("at", "tool", "arguments", "duration_ms", "outcome", "result_size", "findings", "detail")

    def __init__(
        self,
        at: float,
        tool: str,
        arguments: Any,
        duration_ms: float | None,
        outcome: str,
        result_size: int = 0,
        findings: list[dict[str, str]] | None = None,
        detail: str = "",
    ) -> None:
        self.at = at
        self.tool = tool
        self.arguments = arguments
        self.duration_ms = duration_ms
        self.outcome = outcome
        self.result_size = result_size
        self.findings: list[dict[str, str]] = findings if findings is not None else []
        self.detail = detail

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"CallRecord({fields})"


class CallRow(Value):
    """A stored row of the log; :meth:`to_json` is the documented ``mcpguard log --json`` shape."""

    __slots__ = (
        "id",
        "at",
        "client",
        "server",
        "tool",
        "arguments",
        "duration_ms",
        "outcome",
        "result_size",
        "findings",
        "detail",
        "prev_hash",
        "hash",
    )

    id: Final[int]
    at: Final[float]
    client: Final[str]
    server: Final[str]
    tool: Final[str]
    arguments: Final[str]
    duration_ms: Final[float | None]
    outcome: Final[str]
    result_size: Final[int]
    findings: Final[list[dict[str, str]]]
    detail: Final[str]
    prev_hash: Final[str]
    hash: Final[str]

    def __init__(
        self,
        id: int,
        at: float,
        client: str,
        server: str,
        tool: str,
        arguments: str,
        duration_ms: float | None,
        outcome: str,
        result_size: int,
        findings: list[dict[str, str]],
        detail: str,
        prev_hash: str,
        hash: str,
    ) -> None:
        self.id = id
        self.at = at
        self.client = client
        self.server = server
        self.tool = tool
        self.arguments = arguments
        self.duration_ms = duration_ms
        self.outcome = outcome
        self.result_size = result_size
        self.findings = findings
        self.detail = detail
        self.prev_hash = prev_hash
        self.hash = hash

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.at,
            "client": self.client,
            "server": self.server,
            "tool": self.tool,
            "arguments": self.arguments,
            "duration_ms": self.duration_ms,
            "outcome": self.outcome,
            "result_size": self.result_size,
            "findings": self.findings,
            "detail": self.detail,
            "hash": self.hash,
        }


class Verification(Value):
    """What :meth:`AuditLog.verify` found."""

    __slots__ = ("rows", "problems", "keyed_rows", "unchecked_rows")

    rows: Final[int]
    problems: Final[list[str]]
    keyed_rows: Final[int]
    """Rows chained with the integrity key (and checked with it, unless counted as unchecked)."""
    unchecked_rows: Final[int]
    """Keyed rows whose HMAC could not be checked: verify ran without the key."""

    def __init__(self, rows: int, problems: list[str], keyed_rows: int = 0, unchecked_rows: int = 0) -> None:
        self.rows = rows
        self.problems = problems
        self.keyed_rows = keyed_rows
        self.unchecked_rows = unchecked_rows

    @property
    def ok(self) -> bool:
        return not self.problems


class CallFilter(Value):
    """Which calls a reader wants: every field that is not None must match; all None means every call.

    The filter becomes a SQL ``WHERE`` clause, so the activity window and its exports narrow a log of
    any length without reading it all into memory.
    """

    __slots__ = ("server", "tool", "outcome", "text")

    server: Final[str | None]
    """Calls to this server only (exact name)."""
    tool: Final[str | None]
    """Calls of this tool only (exact name)."""
    outcome: Final[str | None]
    """One of :data:`OUTCOMES`."""
    text: Final[str | None]
    """A substring (case-insensitive for ASCII) of the tool, server, arguments or detail; ``""`` is no filter."""

    def __init__(
        self, server: str | None = None, tool: str | None = None, outcome: str | None = None, text: str | None = None
    ) -> None:
        self.server = server
        self.tool = tool
        self.outcome = outcome
        self.text = text

    def where(self) -> tuple[str, list[Any]]:
        """The filter as a SQL condition on ``calls`` and its parameters (``"1"`` when it filters nothing)."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.server is not None:
            # With a tool as well, calls_by_server (server, tool, id) yields the rows in id order, one
            # page at a time. For a server alone, that index would make SQLite sort all of the server's
            # rows before returning the first page; walking the primary key instead (the unary plus keeps
            # the index out) stops as soon as a page is full.
            clauses.append("server = ?" if self.tool is not None else "+server = ?")
            params.append(self.server)
        if self.tool is not None:
            clauses.append("tool = ?")
            params.append(self.tool)
        if self.outcome is not None:
            clauses.append("outcome = ?")
            params.append(self.outcome)
        if self.text:
            pattern = "%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append(
                "(tool LIKE ? ESCAPE '\\' OR arguments LIKE ? ESCAPE '\\' OR detail LIKE ? ESCAPE '\\' "
                "OR server LIKE ? ESCAPE '\\')"
            )
            params.extend([pattern] * 4)
        return " AND ".join(clauses) or "1", params


class ArgumentsText(str):
    """A call's arguments already rendered by :func:`bounded_json`; logged as they are."""


_PREVIEW_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
_CUT = " … [cut]"
_SHORTEN_DEPTH = 32
"""How deep :func:`bounded_json` looks for long strings to shorten before encoding."""


def bounded_json(value: Any, limit: int = MAX_ARGUMENTS_CHARS, *, source_bytes: int | None = None) -> str:
    """JSON text of ``value``, cut after ``limit`` characters without ever building the whole text.

    Serialising a 64 MiB argument just to keep its first 64 KiB would cost twice its size in memory.
    ``source_bytes`` is the size of the message ``value`` was parsed from, when the caller knows it:
    a message of at most ``limit`` bytes re-encodes to a few times that at most, so it is encoded in
    one call of the C encoder and then cut, which gives the same text several times faster.
    """
    if source_bytes is not None and source_bytes <= limit:
        text = _PREVIEW_ENCODER.encode(value)
        return text if len(text) <= limit else text[:limit] + _CUT
    parts: list[str] = []
    size = 0
    for chunk in _PREVIEW_ENCODER.iterencode(_shortened(value, limit, 0)):
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            return "".join(parts)[:limit] + _CUT
    return "".join(parts)


def _shortened(value: Any, limit: int, depth: int) -> Any:
    """``value`` with every string longer than ``limit`` cut to ``limit`` characters.

    The encoder writes a string as one chunk, so a 64 MiB string would be escaped whole. Its first
    ``limit`` characters escape to at least ``limit`` characters, so wherever the string starts, the
    first ``limit`` characters of the text are the same as with the whole string. Keys are left alone:
    cutting them could merge two of them or change their order.
    """
    if isinstance(value, str):
        return value[:limit] if len(value) > limit else value
    if depth >= _SHORTEN_DEPTH:
        return value
    if isinstance(value, dict):
        return {key: _shortened(item, limit, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_shortened(item, limit, depth + 1) for item in value]
    return value


def _arguments_text(arguments: Any) -> str:
    return str(arguments) if isinstance(arguments, ArgumentsText) else bounded_json(arguments)


_ROW_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_FINDINGS_ENCODER = json.JSONEncoder(sort_keys=True)


def _findings_text(findings: list[dict[str, str]]) -> str:
    """The findings column: ``json.dumps(findings, sort_keys=True)``; most calls have none."""
    return "[]" if not findings else _FINDINGS_ENCODER.encode(findings)


def _row_text(fields: Sequence[Any]) -> str:
    """``json.dumps(list(fields), ensure_ascii=False, separators=(",", ":"))``, scalar by scalar.

    The fields are strings, numbers and nulls, written exactly as ``json`` writes them (strings by its
    own C function, floats by ``float.__repr__`` with its NaN and Infinity spellings); this skips the
    per-call set-up of ``JSONEncoder``, which cost more than the encoding. Anything else goes to the
    general encoder. ``tests/test_audit.py`` checks the two agree.
    """
    parts: list[str] = []
    for value in fields:
        kind = type(value)
        if kind is str:
            parts.append(_json_string(value))
        elif value is None:
            parts.append("null")
        elif kind is int:
            parts.append(int.__repr__(value))
        elif kind is float:
            if value != value:
                parts.append("NaN")
            elif value in (_INFINITY, -_INFINITY):
                parts.append("Infinity" if value > 0 else "-Infinity")
            else:
                parts.append(float.__repr__(value))
        else:
            return _ROW_ENCODER.encode(list(fields))
    return "[" + ",".join(parts) + "]"


_INFINITY = float("inf")


def _row_hash(prev_hash: str, fields: Sequence[Any]) -> str:
    """SHA-256 over the previous hash and the row's fields as compact JSON.

    The fields are strings, numbers and nulls, for which Python's JSON output is deterministic, so
    the row needs no general canonicaliser (``rfc8785`` cost 20 µs a row in the shim).
    """
    import hashlib  # here: the log is written off the start-up path, and OpenSSL's hash is the fastest

    text = _row_text(fields)
    return hashlib.sha256(prev_hash.encode("ascii") + text.encode("utf-8")).hexdigest()


def _keyed_hash(key: bytes, prev_hash: str, fields: Sequence[Any]) -> str:
    """``h1:`` + HMAC-SHA-256(key, previous hash || row as compact JSON): the same bytes as :func:`_row_hash`."""
    import hmac

    text = _row_text(fields)
    return KEYED_PREFIX + hmac.new(key, prev_hash.encode("ascii") + text.encode("utf-8"), "sha256").hexdigest()


def _head_mac(key: bytes, row_id: int, digest: str) -> str:
    import hmac

    return hmac.new(key, f"calls-head:{row_id}:{digest}".encode("ascii"), "sha256").hexdigest()


class AuditLog:
    """Reads and appends the ``calls`` table of the state database."""

    _COLUMNS = (
        "id, at, client, server, tool, arguments, duration_ms, outcome, result_size, findings, detail, prev_hash, hash"
    )

    def __init__(self, store: Store, key: bytes | None = None) -> None:
        self.store = store
        self.key = key
        """The integrity key: rows appended while it is set are keyed (``h1:``) and the head is signed."""

    def append(self, client: str, server: str, records: Iterable[CallRecord]) -> None:
        """Write records in one short transaction, chained onto the current last row."""
        records = list(records)
        if not records:
            return
        prepared = [
            [
                float(rec.at),
                client,
                server,
                rec.tool,
                _arguments_text(rec.arguments),
                None if rec.duration_ms is None else float(rec.duration_ms),
                rec.outcome,
                int(rec.result_size),
                _findings_text(rec.findings),
                rec.detail,
            ]
            for rec in records
        ]
        key = self.key
        with self.store.transaction() as conn:
            row = conn.execute("SELECT hash FROM calls ORDER BY id DESC LIMIT 1").fetchone()
            prev = row[0] if row else GENESIS
            rows = []
            for fields in prepared:
                digest = _row_hash(prev, fields) if key is None else _keyed_hash(key, prev, fields)
                rows.append((*fields, prev, digest))
                prev = digest
            conn.executemany(
                "INSERT INTO calls (at, client, server, tool, arguments, duration_ms, outcome, "
                "result_size, findings, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            if key is not None:
                (last_id,) = conn.execute("SELECT max(id) FROM calls").fetchone()
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (HEAD_KEY, f"{last_id}:{prev}:{_head_mac(key, last_id, prev)}"),
                )

    def rows(
        self,
        *,
        after_id: int = 0,
        limit: int | None = None,
        server: str | None = None,
        newest_first: bool = False,
    ) -> list[CallRow]:
        """Rows with ``id > after_id`` (``--follow`` passes the last id it printed)."""
        sql = f"SELECT {self._COLUMNS} FROM calls WHERE id > ? AND (? IS NULL OR server = ?) ORDER BY id"
        if newest_first:
            sql += " DESC"
        params: list[Any] = [after_id, server, server]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self.store.snapshot() as conn:
            raw = conn.execute(sql, params).fetchall()
        return [self._row(r) for r in raw]

    @staticmethod
    def _row(r: Sequence[Any]) -> CallRow:
        return CallRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]), r[10], r[11], r[12])

    def last_id(self) -> int:
        """The newest row's id (0 for an empty log): a cheap check for new calls."""
        with self.store.snapshot() as conn:
            row = conn.execute("SELECT max(id) FROM calls").fetchone()
        return int(row[0] or 0)

    def row(self, call_id: int) -> CallRow | None:
        """One row by id, or None when there is no such row."""
        with self.store.snapshot() as conn:
            r = conn.execute(f"SELECT {self._COLUMNS} FROM calls WHERE id = ?", (call_id,)).fetchone()
        return self._row(r) if r is not None else None

    def matching(
        self,
        where: CallFilter | None = None,
        *,
        after_id: int = 0,
        before_id: int | None = None,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[CallRow]:
        """Rows that match ``where`` with ``after_id < id < before_id``, newest first unless told otherwise.

        Readers page through a long log by id ("keyset" paging): each page starts where the last one
        ended, so page N costs what page 1 costs, unlike ``OFFSET``, which re-reads every skipped row.
        """
        condition, params = (where or CallFilter()).where()
        sql = f"SELECT {self._COLUMNS} FROM calls WHERE id > ?"
        bounds: list[Any] = [after_id]
        if before_id is not None:
            sql += " AND id < ?"
            bounds.append(before_id)
        sql += f" AND {condition} ORDER BY id {'DESC' if newest_first else 'ASC'}"
        if limit is not None:
            sql += " LIMIT ?"
            params = [*params, limit]
        with self.store.snapshot() as conn:
            raw = conn.execute(sql, [*bounds, *params]).fetchall()
        return [self._row(r) for r in raw]

    def iter_matching(
        self, where: CallFilter | None = None, *, upto_id: int | None = None, batch: int = 1000
    ) -> Iterator[CallRow]:
        """Every row that matches ``where`` (up to ``upto_id`` when given), oldest first, read in batches.

        Each batch is its own short read, so an export of a million rows never holds the database and
        never holds more than one batch in memory. Rows appended meanwhile are left out when ``upto_id``
        fixes the end, which makes an export the set of rows that matched when it started.
        """
        last = 0
        end = None if upto_id is None else upto_id + 1
        while True:
            chunk = self.matching(where, after_id=last, before_id=end, limit=batch, newest_first=False)
            yield from chunk
            if len(chunk) < batch:
                return
            last = chunk[-1].id

    def servers_and_tools(self, *, after_id: int = 0) -> list[tuple[str, str]]:
        """The distinct ``(server, tool)`` pairs of rows with ``id > after_id``, sorted.

        For the whole log this hops through the ``calls_by_server`` index one pair at a time (a
        "skip scan"), which costs a few lookups per pair however many rows there are. With ``after_id``
        (a poller asking only about rows it has not seen) it reads just those rows.
        """
        with self.store.snapshot() as conn:
            if after_id > 0:
                rows = conn.execute(
                    "SELECT DISTINCT server, tool FROM calls NOT INDEXED WHERE id > ?", (after_id,)
                ).fetchall()
                return sorted((r[0], r[1]) for r in rows)
            # Two seeks per step: SQLite turns a row-value ``(server, tool) > (?, ?)`` into a seek on
            # the server alone, which would walk every row of the current pair.
            pairs: list[tuple[str, str]] = []
            found = conn.execute("SELECT server, tool FROM calls ORDER BY server, tool LIMIT 1").fetchone()
            while found is not None:
                server, tool = found
                pairs.append((server, tool))
                found = (
                    conn.execute(
                        "SELECT server, tool FROM calls WHERE server = ? AND tool > ? ORDER BY tool LIMIT 1",
                        (server, tool),
                    ).fetchone()
                    or conn.execute(
                        "SELECT server, tool FROM calls WHERE server > ? ORDER BY server, tool LIMIT 1", (server,)
                    ).fetchone()
                )
        return pairs

    def iter_all(self, batch: int = 5000) -> Iterator[CallRow]:
        last = 0
        while True:
            chunk = self.rows(after_id=last, limit=batch)
            if not chunk:
                return
            yield from chunk
            last = chunk[-1].id

    def verify(self, key: bytes | None = None) -> Verification:
        """Walk the chain from the first row; report every row whose hash or link does not hold.

        With ``key``, keyed rows are checked with it and the signed head shows rows cut off the end;
        without it they can only be checked for their links (:attr:`Verification.unchecked_rows`).
        """
        import hmac

        problems: list[str] = []
        prev = GENESIS
        count = keyed = unchecked = 0
        last_keyed: tuple[int, str] | None = None
        last_id = 0
        for row in self.iter_all():
            count += 1
            last_id = row.id
            fields = [
                row.at,
                row.client,
                row.server,
                row.tool,
                row.arguments,
                row.duration_ms,
                row.outcome,
                row.result_size,
                _findings_text(row.findings),
                row.detail,
            ]
            if row.prev_hash != prev:
                problems.append(f"row {row.id}: does not follow the row before it (a row was removed or moved)")
            if row.hash.startswith(KEYED_PREFIX):
                keyed += 1
                last_keyed = (row.id, row.hash)
                if key is None:
                    unchecked += 1
                elif not hmac.compare_digest(_keyed_hash(key, row.prev_hash, fields), row.hash):
                    problems.append(f"row {row.id}: its content was changed after it was written (its HMAC fails)")
            else:
                if _row_hash(row.prev_hash, fields) != row.hash:
                    problems.append(f"row {row.id}: its content was changed after it was written")
                if last_keyed is not None:
                    problems.append(
                        f"row {row.id}: written without the integrity key after keyed rows (by a shim that could "
                        "not reach the keyring, or forged)"
                    )
            prev = row.hash
        if key is not None and last_keyed is not None:
            problems += self._head_problems(key, last_keyed, last_id)
        return Verification(count, problems, keyed, unchecked)

    def _head_problems(self, key: bytes, last_keyed: tuple[int, str], last_id: int) -> list[str]:
        """What the signed head says about the end of the log: rows cut off, or the head itself forged."""
        import hmac

        with self.store.snapshot() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (HEAD_KEY,)).fetchone()
        if row is None:
            return ["the signed head of the log is missing (it was deleted, and rows at the end may be too)"]
        head_id_text, _, rest = str(row[0]).partition(":")
        digest, _, mac = rest.rpartition(":")
        try:
            head_id = int(head_id_text)
        except ValueError:
            head_id = -1
        if head_id < 0 or not hmac.compare_digest(_head_mac(key, head_id, digest), mac):
            return ["the signed head of the log does not verify (it was edited)"]
        if head_id > last_id:
            return [f"rows {last_id + 1} to {head_id} were cut off the end of the log"]
        if (head_id, digest) != last_keyed:
            return [f"the signed head names row {head_id}, not the last keyed row {last_keyed[0]} (rows were removed)"]
        return []
