"""The tool-call log: append-only, hash-chained, so an edited, reordered or deleted row shows.

Each row's hash covers its content and the previous row's hash. ``verify()`` walks the chain; a
row changed in place, a row removed from the middle or rows swapped all break it. (Cutting rows off
the end cannot be seen from the rows alone; the keyed chain of a later issue adds a signed head.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcpguard.pinning.store import Store

GENESIS = "0" * 64
MAX_ARGUMENTS_CHARS = 64 * 1024
"""Arguments longer than this are cut in the log (the call itself is never changed)."""

OUTCOMES = ("ok", "tool-error", "protocol-error", "blocked")


@dataclass
class CallRecord:
    """One tool call as the proxy saw it, before it is written."""

    at: float
    tool: str
    arguments: Any
    duration_ms: float | None
    outcome: str
    result_size: int = 0
    findings: list[dict[str, str]] = field(default_factory=list)
    detail: str = ""


@dataclass(frozen=True)
class CallRow:
    """A stored row of the log; :meth:`to_json` is the documented ``mcpguard log --json`` shape."""

    id: int
    at: float
    client: str
    server: str
    tool: str
    arguments: str
    duration_ms: float | None
    outcome: str
    result_size: int
    findings: list[dict[str, str]]
    detail: str
    prev_hash: str
    hash: str

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


@dataclass(frozen=True)
class Verification:
    """What :meth:`AuditLog.verify` found."""

    rows: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class CallFilter:
    """Which calls a reader wants: every field that is not None must match; all None means every call.

    The filter becomes a SQL ``WHERE`` clause, so the activity window and its exports narrow a log of
    any length without reading it all into memory.
    """

    server: str | None = None
    """Calls to this server only (exact name)."""
    tool: str | None = None
    """Calls of this tool only (exact name)."""
    outcome: str | None = None
    """One of :data:`OUTCOMES`."""
    text: str | None = None
    """A substring (case-insensitive for ASCII) of the tool, server, arguments or detail; ``""`` is no filter."""

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


def bounded_json(value: Any, limit: int = MAX_ARGUMENTS_CHARS) -> str:
    """JSON text of ``value``, cut after ``limit`` characters without ever building the whole text.

    Serialising a 64 MiB argument just to keep its first 64 KiB would cost twice its size in memory.
    """
    parts: list[str] = []
    size = 0
    for chunk in _PREVIEW_ENCODER.iterencode(value):
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            return "".join(parts)[:limit] + " … [cut]"
    return "".join(parts)


def _arguments_text(arguments: Any) -> str:
    return str(arguments) if isinstance(arguments, ArgumentsText) else bounded_json(arguments)


def _row_hash(prev_hash: str, fields: Sequence[Any]) -> str:
    """SHA-256 over the previous hash and the row's fields as compact JSON.

    The fields are strings, numbers and nulls, for which Python's JSON output is deterministic, so
    the row needs no general canonicaliser (``rfc8785`` cost 20 µs a row in the shim).
    """
    text = json.dumps(list(fields), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(prev_hash.encode("ascii") + text.encode("utf-8")).hexdigest()


class AuditLog:
    """Reads and appends the ``calls`` table of the state database."""

    _COLUMNS = (
        "id, at, client, server, tool, arguments, duration_ms, outcome, result_size, findings, detail, prev_hash, hash"
    )

    def __init__(self, store: Store) -> None:
        self.store = store

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
                json.dumps(rec.findings, sort_keys=True),
                rec.detail,
            ]
            for rec in records
        ]
        with self.store.transaction() as conn:
            row = conn.execute("SELECT hash FROM calls ORDER BY id DESC LIMIT 1").fetchone()
            prev = row[0] if row else GENESIS
            rows = []
            for fields in prepared:
                digest = _row_hash(prev, fields)
                rows.append((*fields, prev, digest))
                prev = digest
            conn.executemany(
                "INSERT INTO calls (at, client, server, tool, arguments, duration_ms, outcome, "
                "result_size, findings, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
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

    def verify(self) -> Verification:
        """Walk the chain from the first row; report every row whose hash or link does not hold."""
        problems: list[str] = []
        prev = GENESIS
        count = 0
        for row in self.iter_all():
            count += 1
            fields = [
                row.at,
                row.client,
                row.server,
                row.tool,
                row.arguments,
                row.duration_ms,
                row.outcome,
                row.result_size,
                json.dumps(row.findings, sort_keys=True),
                row.detail,
            ]
            if row.prev_hash != prev:
                problems.append(f"row {row.id}: does not follow the row before it (a row was removed or moved)")
            if _row_hash(row.prev_hash, fields) != row.hash:
                problems.append(f"row {row.id}: its content was changed after it was written")
            prev = row.hash
        return Verification(count, problems)
