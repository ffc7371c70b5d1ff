"""What each wrap replaced, so unwrap can put back the very bytes: ``<profile>/wraps.json``.

A wrapped entry carries its original command after ``--``, which is enough to unwrap it. But the
original *text* (quote style, escapes, how the args list was laid out, whether there was an args
key at all) is not in the entry; the record keeps it. Without a record (another machine, a lost
profile) unwrap rebuilds the entry from its own args, which gives the same data if not the same
bytes; a wrapped remote entry is rebuilt in its client's remote form from its ``mcpguard remote``
command, which holds the URL and headers only. A JSON file rather than a table in the state
database keeps this module out of the store's schema and migrations; it is small, private (0600) and written atomically.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from mcpguard.clients.formats import Snapshot
from mcpguard.clients.rewrite import write_atomic
from mcpguard.paths import AppPaths

log = logging.getLogger(__name__)

VERSION = 1


@dataclass(frozen=True)
class WrapRecord:
    """One wrapped entry: where it is, what it was, what mcpguard wrote."""

    file: str
    container: tuple[str, ...]
    name: str
    client: str
    snapshot: Snapshot
    wrapped_command: str
    wrapped_args: tuple[str, ...]
    at: float

    @property
    def key(self) -> tuple[str, tuple[str, ...], str]:
        return self.file, self.container, self.name

    def to_json(self) -> dict[str, Any]:
        """The form stored in wraps.json."""
        return {
            "file": self.file,
            "container": list(self.container),
            "name": self.name,
            "client": self.client,
            "snapshot": self.snapshot.to_json(),
            "wrapped_command": self.wrapped_command,
            "wrapped_args": list(self.wrapped_args),
            "at": self.at,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> WrapRecord:
        return cls(
            doc["file"],
            tuple(doc["container"]),
            doc["name"],
            doc["client"],
            Snapshot.from_json(doc["snapshot"]),
            doc["wrapped_command"],
            tuple(doc["wrapped_args"]),
            float(doc.get("at", 0.0)),
        )


class WrapRecords:
    """The records file of one profile."""

    def __init__(self, paths: AppPaths) -> None:
        self.paths = paths
        self.path = paths.home / "wraps.json"

    def load(self) -> dict[tuple[str, tuple[str, ...], str], WrapRecord]:
        """Every record; an unreadable file counts as none (unwrap then rebuilds from the entries)."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            records = [WrapRecord.from_json(r) for r in doc.get("wraps", [])]
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.info("ignoring unreadable %s (%s); unwrap will rebuild entries from their args", self.path, exc)
            return {}
        return {r.key: r for r in records}

    def find(self, file: str, container: tuple[str, ...], name: str) -> WrapRecord | None:
        """The record of one entry, if mcpguard wrapped it from this profile."""
        return self.load().get((file, tuple(container), name))

    def update(self, put: list[WrapRecord], drop: list[tuple[str, tuple[str, ...], str]]) -> None:
        """Add or replace ``put`` and remove ``drop``, in one atomic write."""
        records = self.load()
        for key in drop:
            records.pop(key, None)
        for record in put:
            records[record.key] = record
        self.paths.ensure()
        doc = {"version": VERSION, "updated": time.time(), "wraps": [r.to_json() for r in records.values()]}
        data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        write_atomic(self.path, data, mode=0o600)
        if os.name == "posix":
            os.chmod(self.path, 0o600)
