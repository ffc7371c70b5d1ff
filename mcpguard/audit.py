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

from mcpguard.pinning.canonical import canonical_bytes
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


def _arguments_text(arguments: Any) -> str:
    text = json.dumps(arguments, ensure_ascii=False, sort_keys=True)
    if len(text) > MAX_ARGUMENTS_CHARS:
        return text[:MAX_ARGUMENTS_CHARS] + f"… [{len(text) - MAX_ARGUMENTS_CHARS} more characters]"
    return text


def _row_hash(prev_hash: str, fields: Sequence[Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_bytes(list(fields))).hexdigest()


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
        with self.store.transaction() as conn:
            row = conn.execute("SELECT hash FROM calls ORDER BY id DESC LIMIT 1").fetchone()
            prev = row[0] if row else GENESIS
            for rec in records:
                fields = [
                    rec.at,
                    client,
                    server,
                    rec.tool,
                    _arguments_text(rec.arguments),
                    rec.duration_ms,
                    rec.outcome,
                    rec.result_size,
                    json.dumps(rec.findings, sort_keys=True),
                    rec.detail,
                ]
                digest = _row_hash(prev, fields)
                conn.execute(
                    "INSERT INTO calls (at, client, server, tool, arguments, duration_ms, outcome, "
                    "result_size, findings, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (*fields, prev, digest),
                )
                prev = digest

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
