"""Wrap and unwrap servers: a plan the user can read (and diff) first, then the safe write.

A :class:`Plan` is computed from what discovery read and carries, for every file, the exact text
it would write, so ``--dry-run`` shows the real diff. :func:`apply` then redoes each file's edit
on the file's *current* content inside :func:`mcpguard.clients.rewrite.update_file`, so a client
that rewrote the file in the meantime loses nothing; an entry that changed since the plan was
shown is refused rather than wrapped unseen (the user consented to the command they were shown).
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mcpguard.clients import entries, formats
from mcpguard.clients.discovery import ConfigFile, ServerEntry
from mcpguard.clients.errors import ClientConfigError, VerifyFailed
from mcpguard.clients.records import WrapRecord, WrapRecords
from mcpguard.clients.rewrite import decode, update_file
from mcpguard.clients.risk import Flag, assess
from mcpguard.paths import AppPaths

Kind = Literal["wrap", "unwrap"]


@dataclass(frozen=True)
class Action:
    """One entry to change, with the command line to show the user in full."""

    server: ServerEntry
    argv: tuple[str, ...]
    flags: tuple[Flag, ...]


@dataclass(frozen=True)
class Skipped:
    """An entry the selection matched but that is left alone, and why."""

    server: ServerEntry
    reason: str


@dataclass
class FilePlan:
    """The changes to one config file and the text they produce."""

    config: ConfigFile
    actions: list[Action]
    before: str = ""
    after: str = ""

    def diff(self) -> str:
        """A unified diff of the file now and after the change."""
        name = str(self.config.path)
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=name,
                tofile=name,
            )
        )


@dataclass
class Plan:
    """What ``wrap`` or ``unwrap`` would do."""

    kind: Kind
    launcher: list[str]
    files: list[FilePlan] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def actions(self) -> list[Action]:
        return [a for f in self.files for a in f.actions]


@dataclass(frozen=True)
class Applied:
    """The outcome for one file."""

    file: FilePlan
    backup: Path | None
    error: str | None = None


def _file_key(path: Path) -> str:
    return str(path.absolute())


def make_plan(
    kind: Kind,
    configs: Sequence[ConfigFile],
    *,
    client: str | None = None,
    server: str | None = None,
    launcher: Sequence[str] | None = None,
    records: WrapRecords | None = None,
) -> Plan:
    """Decide what to change and compute each file's new text (nothing is written)."""
    plan = Plan(kind, list(launcher) if launcher is not None else entries.shim_launcher())
    for config in configs:
        if client is not None and config.spec.id != client:
            continue
        if config.error is not None:
            plan.errors.append(config.error)
            continue
        actions: list[Action] = []
        for s in config.servers:
            if server is not None and s.name != server:
                continue
            reason = _skip_reason(kind, s)
            if reason is not None:
                plan.skipped.append(Skipped(s, reason))
                continue
            argv = s.original or ()
            actions.append(Action(s, argv, tuple(assess(argv))))
        if not actions:
            continue
        file_plan = FilePlan(config, actions)
        try:
            file_plan.before = decode(config.path.read_bytes(), str(config.path))
            file_plan.after, _, _ = _edit_text(kind, file_plan, file_plan.before, plan.launcher, records)
        except (ClientConfigError, OSError) as exc:
            plan.errors.append(str(exc))
            continue
        plan.files.append(file_plan)
    return plan


def _skip_reason(kind: Kind, s: ServerEntry) -> str | None:
    if kind == "wrap":
        if s.transport == "remote":
            return f"remote ({s.detail}): nothing runs on this machine to guard"
        if s.transport == "other":
            return f"not a command: {s.detail}"
        if s.guarded:
            return "already guarded"
        return None
    if not s.guarded:
        return "not guarded"
    return None


def _resolve(data: Any, s: ServerEntry) -> formats.KeyPath:
    try:
        container = formats.get_at(data, s.container)
    except (KeyError, IndexError):
        container = None
    if isinstance(container, dict) and s.name in container:
        return (*s.container, s.name)
    if isinstance(container, list):
        hits = [i for i, v in enumerate(container) if isinstance(v, dict) and v.get("name") == s.name]
        if len(hits) == 1:
            return (*s.container, hits[0])
    raise ClientConfigError(f"the server {s.name!r} is no longer in {s.config}; run the command again")


def _edit_text(
    kind: Kind, file_plan: FilePlan, text: str, launcher: Sequence[str], records: WrapRecords | None
) -> tuple[str, list[WrapRecord], list[tuple[str, tuple[str, ...], str]]]:
    """Apply every action of a file to ``text``, verifying each step; returns text and record changes."""
    config = file_plan.config
    shape = config.spec.shape
    fmt = config.location.format
    source = str(config.path)
    file_key = _file_key(config.path)
    known = records.load() if records is not None else {}
    put: list[WrapRecord] = []
    drop: list[tuple[str, tuple[str, ...], str]] = []
    doc = formats.load(text, fmt, source)
    for action in file_plan.actions:
        s = action.server
        at = _resolve(doc.data, s)
        entry = formats.get_at(doc.data, at)
        now = entries.classify(entry, shape)
        changed = ClientConfigError(
            f"the server {s.name!r} in {source} changed since it was read; run the command again"
        )
        if now.command is None:
            raise changed
        wrapped = entries.parse_wrapped(now.command, now.args)
        new_text: str | None
        if kind == "wrap":
            if now.transport != "stdio" or wrapped is not None or (now.command, now.args) != (s.command, s.args):
                raise changed
            command, args = entries.wrapped_argv(
                launcher, config.spec.id, s.name, now.command, now.args, entries.env_names(entry)
            )
            prefix = args[: len(args) - len(now.args)]
            snap = doc.snapshot(at, shape)
            new_text = doc.wrap(at, shape, command, prefix)
            expected = dict(entry)
            expected[shape.command] = command
            expected[shape.args] = args
            after = formats.verify(doc, new_text, fmt, source, at, expected)
            put.append(
                WrapRecord(file_key, s.container, s.name, config.spec.id, snap, command, tuple(args), time.time())
            )
        else:
            if wrapped is None:
                raise changed
            record = known.get((file_key, s.container, s.name))
            new_text = None
            if record is not None and (record.wrapped_command, record.wrapped_args) == (now.command, now.args):
                candidate = doc.restore(at, shape, record.snapshot)
                if candidate is not None:
                    expected = dict(entry)
                    expected[shape.command] = wrapped.command
                    if record.snapshot.args_raw is None:
                        expected.pop(shape.args, None)
                    else:
                        expected[shape.args] = list(wrapped.args)
                    try:
                        after = formats.verify(doc, candidate, fmt, source, at, expected)
                        new_text = candidate
                    except VerifyFailed:
                        new_text = None
            if new_text is None:
                new_text = doc.unprefix(at, shape, wrapped.command, wrapped.prefix_len)
                expected = dict(entry)
                expected[shape.command] = wrapped.command
                expected[shape.args] = list(wrapped.args)
                after = formats.verify(doc, new_text, fmt, source, at, expected)
            drop.append((file_key, s.container, s.name))
        assert new_text is not None
        text, doc = new_text, after
    return text, put, drop


def apply(plan: Plan, paths: AppPaths) -> list[Applied]:
    """Write every file of the plan (backup, atomic replace, verify); one file's failure spares the others."""
    records = WrapRecords(paths)
    results: list[Applied] = []
    for file_plan in plan.files:
        changes: dict[str, Any] = {}

        def edit(text: str, file_plan: FilePlan = file_plan, changes: dict[str, Any] = changes) -> str:
            new_text, put, drop = _edit_text(plan.kind, file_plan, text, plan.launcher, records)
            changes["put"], changes["drop"] = put, drop
            return new_text

        try:
            updated = update_file(file_plan.config.path, edit, paths=paths, label=file_plan.config.spec.id)
        except (ClientConfigError, OSError) as exc:
            message = str(exc) if isinstance(exc, ClientConfigError) else f"{file_plan.config.path}: {exc}"
            results.append(Applied(file_plan, None, message))
            continue
        file_plan.after = updated.after
        try:
            records.update(changes.get("put", []), changes.get("drop", []))
        except OSError as exc:
            # The config is changed and verified; only the exact-bytes record is missing, and
            # unwrap can still rebuild every entry from its own args.
            message = f"{file_plan.config.path} was changed, but {records.path} could not be saved ({exc.strerror})"
            results.append(Applied(file_plan, updated.backup, message))
            continue
        results.append(Applied(file_plan, updated.backup))
    return results
