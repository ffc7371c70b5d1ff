"""``mcpguard secrets migrate``: plaintext secrets in client configs move to the keyring, and leave no copy.

For every server entry discovery finds, :func:`make_plan` reads the entry's values (discovery
itself keeps only names) and asks :mod:`.detect` which are secrets. A secret in a guarded entry's
``env`` block is *moved*: its value goes to the keyring as ``SERVER/VAR`` (``SERVER`` being the
``--name`` the wrapped entry gives ``mcpguard run``, so the shim finds it), and the variable is
removed from the file. Everything else found is *left*, with the reason and what to do:

- an entry not guarded by mcpguard: nothing would give the server its variable back, so the user is
  told to wrap it first;
- headers of remote servers: the client sends them itself, mcpguard is not in that path;
- secrets in command-line arguments: they have no variable name to inject them under;
- a name already holding a *different* value in the keyring (two clients, one server name).

:func:`apply` stores the secrets first (nothing is written when the keyring cannot be used), then
edits each file through :func:`mcpguard.clients.rewrite.update_file`: backup, atomic replace, read
back, and a redo on the new content when a client rewrote the file meanwhile. ``update_file``
backs up the *original* bytes, secret included, to ``<profile>/backups/``; so do earlier ``wrap``
runs, and ``wraps.json`` keeps the original text of TOML inline tables. :func:`scrub_profile`
therefore rewrites every backup and ``wraps.json`` with each known secret value (in every form it
can take there: raw, JSON-escaped, YAML-quoted) replaced by :data:`SCRUBBED`, right after the
edit. It scrubs with *every* value the keyring holds, not just this run's, so a run interrupted
between the write and the scrub is cleaned up by the next one. A backup keeps its use: the config
as it was, with a visible marker where each secret was.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mcpguard.clients import entries, formats
from mcpguard.clients.discovery import ConfigFile, ServerEntry
from mcpguard.clients.errors import ClientConfigError
from mcpguard.clients.records import WrapRecord, WrapRecords
from mcpguard.clients.rewrite import decode, update_file
from mcpguard.paths import AppPaths
from mcpguard.secrets.base import SecretStore
from mcpguard.secrets.config_edit import remove_from_inline_table, remove_variables
from mcpguard.secrets.detect import ENV_KEYS, MIN_LENGTH, Detection, scan_entry
from mcpguard.secrets.names import is_internal, is_variable_name, secret_name
from mcpguard.secrets.redact import Redactor

log = logging.getLogger(__name__)

SCRUBBED = "mcpguard-moved-to-keyring"
"""What replaces a secret in backups: letters and hyphens only, valid inside any JSON, YAML or TOML string."""

LABEL = "secrets"
"""The backup label of files changed by a migration."""


@dataclass(frozen=True)
class Move:
    """A secret that migration moves to the keyring."""

    server: ServerEntry
    block: str
    """``env`` or ``envs`` (Goose)."""
    found: Detection
    name: str
    """The keyring name, ``SERVER/VAR``."""

    @property
    def variable(self) -> str:
        return self.found.key


@dataclass(frozen=True)
class Left:
    """A secret found but left where it is, and why."""

    server: ServerEntry
    found: Detection
    reason: str


@dataclass
class FileMigration:
    """The moves in one config file, and its text before and after."""

    config: ConfigFile
    moves: list[Move]
    before: str = ""
    after: str = ""

    def diff(self, redactor: Redactor) -> str:
        """A unified diff of the change, with every secret value redacted."""
        name = str(self.config.path)
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True), self.after.splitlines(keepends=True), fromfile=name, tofile=name
        )
        return redactor.text("".join(lines))


@dataclass
class Plan:
    """What a migration would do."""

    files: list[FileMigration] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def moves(self) -> list[Move]:
        return [m for f in self.files for m in f.moves]

    def redactor(self) -> Redactor:
        """Redacts every value this plan moves (for diffs and messages)."""
        return Redactor({m.name: m.found.value for m in self.moves})


@dataclass(frozen=True)
class Result:
    """The outcome for one file."""

    file: FileMigration
    backup: Path | None
    error: str | None = None


@dataclass(frozen=True)
class Scrubbed:
    """What :func:`scrub_profile` did."""

    changed: list[Path]
    """Files rewritten without the secrets."""
    remaining: list[Path]
    """Files that still hold a secret value after scrubbing (should be empty; reported as an error)."""


def server_key(entry: ServerEntry) -> str:
    """The server name the shim will run under: the wrapped entry's ``--name``, else the entry's name."""
    if entry.command is not None:
        wrapped = entries.parse_wrapped(entry.command, entry.args)
        if wrapped is not None and wrapped.server:
            return wrapped.server
    return entry.name


def _entry_data(config: ConfigFile) -> tuple[str, Any]:
    text = decode(config.path.read_bytes(), str(config.path))
    return text, formats.load(text, config.location.format, str(config.path)).data


def make_plan(
    configs: Sequence[ConfigFile],
    *,
    client: str | None = None,
    server: str | None = None,
    store: SecretStore | None = None,
) -> Plan:
    """Find every plaintext secret and decide what happens to it (nothing is written).

    Args:
        configs: What :func:`mcpguard.clients.discovery.discover` found.
        client: Only this client's files.
        server: Only entries of this name.
        store: Consulted for names that already hold a value; None skips that check (a dry run
            without a keyring).
    """
    plan = Plan()
    planned: dict[str, str] = {}
    for config in configs:
        if client is not None and config.spec.id != client:
            continue
        if config.error is not None:
            plan.errors.append(config.error)
            continue
        selected = [s for s in config.servers if server is None or s.name == server]
        if not selected:
            continue
        try:
            text, data = _entry_data(config)
        except (ClientConfigError, OSError) as exc:
            plan.errors.append(str(exc) if isinstance(exc, ClientConfigError) else f"{config.path}: {exc}")
            continue
        moves: list[Move] = []
        for entry in selected:
            try:
                raw = formats.get_at(data, entry.at)
            except (KeyError, IndexError):
                plan.errors.append(f"the server {entry.name!r} is no longer in {config.path}; run the command again")
                continue
            if not isinstance(raw, dict):
                continue
            for found in scan_entry(raw, config.spec.shape.args):
                move = _decide(plan, config, entry, raw, found, store, planned)
                if move is not None:
                    moves.append(move)
                    planned[move.name] = found.value
        if moves:
            file_plan = FileMigration(config, moves, before=text)
            try:
                file_plan.after = _edit(file_plan, text)
            except ClientConfigError as exc:
                plan.errors.append(str(exc))
                continue
            plan.files.append(file_plan)
    return plan


def _decide(
    plan: Plan,
    config: ConfigFile,
    entry: ServerEntry,
    raw: Mapping[str, Any],
    found: Detection,
    store: SecretStore | None,
    planned: Mapping[str, str],
) -> Move | None:
    def leave(reason: str) -> None:
        plan.left.append(Left(entry, found, reason))

    if found.where == "headers":
        leave(
            "a header the client sends to a remote server itself, where mcpguard cannot add it; "
            "use the client's own secret input instead (e.g. VS Code `inputs`)"
        )
        return None
    if found.where == "args":
        leave(
            f"in the command line (argument {found.key}); move it into the entry's env block, then run "
            "`mcpguard secrets migrate` again"
        )
        return None
    if not entry.guarded:
        leave(
            f"the server is not guarded by mcpguard, so nothing would give it the variable back; run "
            f"`mcpguard wrap --client {config.spec.id} --server {_shell_word(entry.name)}` first"
        )
        return None
    if not is_variable_name(found.key):
        leave(f"{found.key!r} is not a portable variable name")
        return None
    if len(found.value) < MIN_LENGTH:
        leave("too short to be told apart from ordinary text")
        return None
    block = next((b for b in ENV_KEYS if isinstance(raw.get(b), dict) and found.key in raw[b]), ENV_KEYS[0])
    try:
        name = secret_name(server_key(entry), found.key)
    except ValueError as exc:
        leave(str(exc))
        return None
    if name in planned and planned[name] != found.value:
        leave(f"another entry moves a different value to {name}; give this server its own name")
        return None
    if store is not None and name not in planned:
        existing = store.get(name)
        if existing is not None and existing != found.value:
            leave(
                f"the keyring already holds a different value as {name}; remove it from the config by hand, "
                f"or `mcpguard secrets delete` it first"
            )
            return None
    return Move(entry, block, found, name)


def _shell_word(word: str) -> str:
    if word and all(ch.isalnum() or ch in "-_.@+" for ch in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def _resolve(data: Any, entry: ServerEntry, name_key: str) -> formats.KeyPath:
    try:
        container = formats.get_at(data, entry.container)
    except (KeyError, IndexError):
        container = None
    if isinstance(container, dict) and entry.name in container:
        return (*entry.container, entry.name)
    if isinstance(container, list):
        hits = [i for i, v in enumerate(container) if isinstance(v, dict) and v.get(name_key) == entry.name]
        if len(hits) == 1:
            return (*entry.container, hits[0])
    raise ClientConfigError(f"the server {entry.name!r} is no longer in {entry.config}; run the command again")


def _edit(file_plan: FileMigration, text: str) -> str:
    """Remove the planned variables from ``text`` (the file's current content), entry by entry.

    A variable whose value changed since the plan was shown is refused (the user consented to
    moving the value they were shown); one that is already gone is skipped.
    """
    config = file_plan.config
    fmt = config.location.format
    source = str(config.path)
    by_entry: dict[tuple[tuple[str, ...], str, str], list[Move]] = {}
    for move in file_plan.moves:
        by_entry.setdefault((move.server.container, move.server.name, move.block), []).append(move)
    for (_, _, block), moves in by_entry.items():
        data = formats.load(text, fmt, source).data
        at = _resolve(data, moves[0].server, config.spec.shape.name_key)
        current = formats.get_at(data, at).get(block)
        names = []
        for move in moves:
            if not isinstance(current, dict) or move.variable not in current:
                continue
            if current[move.variable] != move.found.value:
                raise ClientConfigError(
                    f"{move.variable} of the server {move.server.name!r} in {source} changed since it was read; "
                    "run the command again"
                )
            names.append(move.variable)
        if names:
            text = remove_variables(text, fmt, source, at, block, names)
    return text


def apply(plan: Plan, store: SecretStore, paths: AppPaths) -> tuple[list[Result], Scrubbed]:
    """Store the secrets, rewrite the configs, then scrub every backup mcpguard keeps.

    Raises:
        SecretsUnavailable: The keyring cannot be used; no config file was written.
    """
    for move in plan.moves:
        if store.get(move.name) != move.found.value:
            store.set(move.name, move.found.value)
    results: list[Result] = []
    for file_plan in plan.files:

        def edit(text: str, file_plan: FileMigration = file_plan) -> str:
            return _edit(file_plan, text)

        try:
            updated = update_file(file_plan.config.path, edit, paths=paths, label=LABEL)
        except (ClientConfigError, OSError) as exc:
            message = str(exc) if isinstance(exc, ClientConfigError) else f"{file_plan.config.path}: {exc}"
            results.append(Result(file_plan, None, plan.redactor().text(message)))
            continue
        file_plan.after = updated.after
        results.append(Result(file_plan, updated.backup))
    _strip_records(paths, [r.file for r in results if r.error is None])
    scrubbed = scrub_profile(paths, known_values(store))
    return results, scrubbed


def _strip_records(paths: AppPaths, files: list[FileMigration]) -> None:
    """Take the moved variables out of the TOML inline tables ``wraps.json`` keeps for unwrap.

    Unwrap puts such a table back whole; with the variables removed it gives back exactly the
    migrated entry (a blind scrub would leave a marker that unwrap then refuses to restore).
    """
    records = WrapRecords(paths)
    known = records.load()
    put: dict[tuple[str, tuple[str, ...], str], WrapRecord] = {}
    for file_plan in files:
        for move in file_plan.moves:
            key = (str(file_plan.config.path.absolute()), move.server.container, move.server.name)
            record = put.get(key) or known.get(key)
            raw = record.snapshot.entry_raw if record is not None else None
            if record is None or raw is None or not any(f in raw for f in encodings(move.found.value)):
                continue
            try:
                stripped = remove_from_inline_table(raw, move.block, [move.variable])
            except Exception as exc:  # tomlkit's errors: the generic scrub below still removes the value
                log.info("could not rewrite the wrap record of %s: %s", move.server.name, exc)
                continue
            put[key] = replace(record, snapshot=replace(record.snapshot, entry_raw=stripped))
    if put:
        records.update(list(put.values()), [])


def known_values(store: SecretStore) -> dict[str, str]:
    """``{name: value}`` of every server secret in ``store`` long enough to scrub safely."""
    out = {}
    for name in store.names():
        if is_internal(name):
            continue
        value = store.get(name)
        if value is not None and len(value) >= MIN_LENGTH:
            out[name] = value
    return out


def encodings(value: str) -> list[str]:
    """Every spelling of ``value`` a config or ``wraps.json`` may hold, longest first.

    Raw (also TOML literal strings and plain YAML), JSON-escaped with and without ``\\u`` escapes
    (JSON, TOML basic strings, YAML double quotes mostly agree), YAML single-quoted (``''``), and
    each of those JSON-escaped once more, as inside ``wraps.json``.
    """
    first = [value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], value.replace("'", "''")]
    second = [json.dumps(f)[1:-1] for f in first] + [json.dumps(f, ensure_ascii=False)[1:-1] for f in first]
    return sorted(set(first + second), key=lambda f: (-len(f), f))


def _scrub_text(text: str, values: Iterable[str]) -> str:
    forms = sorted({f for v in values for f in encodings(v)}, key=lambda f: (-len(f), f))
    for form in forms:
        if form in text:
            text = text.replace(form, SCRUBBED)
    return text


def profile_files(paths: AppPaths) -> list[Path]:
    """The files in the profile that keep copies of config text: every backup, and ``wraps.json``."""
    folder = paths.home / "backups"
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.name != "index.tsv") if folder.is_dir() else []
    wraps = paths.home / "wraps.json"
    if wraps.is_file():
        found.append(wraps)
    return found


def scrub_profile(paths: AppPaths, values: Mapping[str, str]) -> Scrubbed:
    """Replace every secret value in the profile's backups and ``wraps.json`` with :data:`SCRUBBED`.

    Each changed file is rewritten atomically with its mode kept (0600); then every file is read
    again and any that still holds a value is reported in :attr:`Scrubbed.remaining`.
    """
    from mcpguard.clients.rewrite import write_atomic

    secrets = [v for v in values.values() if len(v) >= MIN_LENGTH]
    changed: list[Path] = []
    remaining: list[Path] = []
    if not secrets:
        return Scrubbed(changed, remaining)
    for path in profile_files(paths):
        try:
            data = path.read_bytes()
        except OSError as exc:
            log.info("cannot read %s to scrub it: %s", path, exc)
            remaining.append(path)
            continue
        text = data.decode("utf-8", "surrogateescape")
        clean = _scrub_text(text, secrets)
        if clean != text:
            write_atomic(path, clean.encode("utf-8", "surrogateescape"), mode=0o600)
            changed.append(path)
        if any(v in clean for v in secrets):
            remaining.append(path)
    return Scrubbed(changed, remaining)


def foreign_copies(plan: Plan) -> list[tuple[Path, str]]:
    """Files beside each migrated config that still hold a moved value: the clients' own backups.

    ``~/.claude.json.backup`` and editors' ``~`` files are not mcpguard's to change; the user is told.
    Returns ``(path, secret name)`` pairs.
    """
    out: list[tuple[Path, str]] = []
    for file_plan in plan.files:
        path = file_plan.config.path
        try:
            siblings = [p for p in path.parent.iterdir() if p.name.startswith(path.name) and p.name != path.name]
        except OSError:
            continue
        for sibling in sorted(siblings):
            try:
                if not sibling.is_file() or sibling.stat().st_size > 50_000_000:
                    continue
                text = sibling.read_bytes().decode("utf-8", "surrogateescape")
            except OSError:
                continue
            for move in file_plan.moves:
                if any(form in text for form in encodings(move.found.value)):
                    out.append((sibling, move.name))
                    break
    return out
