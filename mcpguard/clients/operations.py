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
from typing import TYPE_CHECKING, Any, Literal

from mcpguard.clients import entries, formats, jsonc
from mcpguard.clients.discovery import ConfigFile, ServerEntry
from mcpguard.clients.display import entry_secrets, shown_text
from mcpguard.clients.errors import ClientConfigError, VerifyFailed
from mcpguard.clients.records import WrapRecord, WrapRecords
from mcpguard.clients.rewrite import decode, update_file
from mcpguard.clients.risk import Flag, assess
from mcpguard.clients.table import EntryShape, Format
from mcpguard.paths import AppPaths
from mcpguard.secrets.base import SecretsError

if TYPE_CHECKING:
    from mcpguard.secrets.base import SecretStore

Kind = Literal["wrap", "unwrap"]


@dataclass(frozen=True)
class RemoteWrap:
    """What wrapping a remote entry does, for the consent screen: header names, never their values."""

    url: str
    keyring_headers: tuple[str, ...]
    """Headers whose values look like secrets: they move to the keyring, the entry names the item."""
    plain_headers: tuple[str, ...]
    """Headers passed on the command line as they are (visible in the process list)."""


@dataclass(frozen=True)
class Action:
    """One entry to change, with the command line to show the user in full."""

    server: ServerEntry
    argv: tuple[str, ...]
    """The server's own command; for a remote wrap, the ``mcpguard remote`` command the client will run."""
    flags: tuple[Flag, ...]
    remote: RemoteWrap | None = None
    """Set when a remote entry is wrapped."""


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
    secret_values: set[str] = field(default_factory=set, repr=False)
    """Header values a remote wrap moves to the keyring (or an unwrap brings back): never shown."""
    literal_secrets: set[str] = field(default_factory=set, repr=False)
    """Credentials the file's entries hold and keep (variables, headers, arguments): never shown either."""

    def diff(self) -> str:
        """A unified diff of the file now and after the change, secret values masked.

        The values are in the file already, but a diff is shown on screen, printed to terminals and
        pasted into bug reports: the user needs to see where a secret goes, not the secret. Values
        that move to the keyring say so; credentials that stay in the file (an ``env`` value, a
        token argument in the context lines) become ``[hidden: token]``, as on every other screen.
        """
        name = str(self.config.path)
        text = "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=name,
                tofile=name,
            )
        )
        for value in sorted(self.secret_values, key=len, reverse=True):
            text = text.replace(value, SECRET_MASK)
        return shown_text(text, self.literal_secrets)


SECRET_MASK = "<secret, kept in the keyring>"
"""What a diff shows in place of a header value that moves to (or comes back from) the keyring."""


@dataclass
class Plan:
    """What ``wrap`` or ``unwrap`` would do."""

    kind: Kind
    launcher: list[str]
    files: list[FilePlan] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    secrets: SecretStore | None = None
    """Where secret headers of remote entries go (opened on first need when not given)."""

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
    secrets: SecretStore | None = None,
    remote: bool = False,
) -> Plan:
    """Decide what to change and compute each file's new text (nothing is written).

    ``remote`` also wraps remote entries (as ``mcpguard remote URL``, secret headers to ``secrets``);
    without it they are left alone. Unwrap always handles remote entries mcpguard wrapped.
    """
    plan = Plan(kind, list(launcher) if launcher is not None else entries.shim_launcher(), secrets=secrets)
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
            reason = _skip_reason(kind, s, remote)
            flags: list[Flag] = []
            preview: tuple[tuple[str, ...], RemoteWrap] | None = None
            if reason is None and kind == "wrap" and s.transport == "remote":
                reason, flags, preview = _remote_check(plan, config, s)
            if reason is None and kind == "unwrap" and _is_remote_wrap(s):
                known = records.find(_file_key(config.path), s.container, s.name) if records is not None else None
                reason = _remote_unwrap_check(plan, config, s, known)
                if reason is None and not _recorded(known):
                    flags.append(Flag("warning", _rebuilt_note(config.spec.id, s)))
            if reason is not None:
                plan.skipped.append(Skipped(s, reason))
                continue
            argv = s.original or ()
            if s.transport != "remote" and not _is_remote_wrap(s):
                flags = assess(argv)
            flags = [*flags, *s.token_flags]
            if preview is not None:
                actions.append(Action(s, preview[0], tuple(flags), preview[1]))
            else:
                actions.append(Action(s, argv, tuple(flags)))
        if not actions:
            continue
        file_plan = FilePlan(config, actions)
        try:
            file_plan.before = decode(config.path.read_bytes(), str(config.path))
            file_plan.after, _, _ = _edit_text(kind, file_plan, file_plan.before, plan, records)
            file_plan.literal_secrets = _literal_secrets(config, file_plan.before)
        except (ClientConfigError, OSError) as exc:
            plan.errors.append(str(exc))
            continue
        plan.files.append(file_plan)
    return plan


def _literal_secrets(config: ConfigFile, text: str) -> set[str]:
    """The credentials every entry of a file holds: a diff's context lines may show any of them."""
    data = formats.load(text, config.location.format, str(config.path)).data
    found: set[str] = set()
    for s in config.servers:
        try:
            entry = formats.get_at(data, s.at)
        except (KeyError, IndexError):
            continue
        found |= entry_secrets(entry, config.spec.shape)
    return found


def _recorded(known: WrapRecord | None) -> bool:
    """True when a record can put a wrapped remote entry back exactly (else it is rebuilt from its command)."""
    return known is not None and known.snapshot.args_style == "remote"


REBUILT = "rebuilt from the wrapped command (no record of the original in this profile): url and headers only"
"""How the plan marks an entry unwrap rebuilds rather than restores: its other original keys, layout and
comments were never recorded anywhere but in the lost record, so the user should look at the result."""


def _rebuilt_note(client: str, s: ServerEntry) -> str:
    """The plan's sentence for a rebuilt entry, naming the form it is written in."""
    form = entries.REMOTE_FORMS.get(client)
    wrapped = entries.parse_remote_wrapped(s.command or "", s.args)
    if form is None or isinstance(wrapped, str):
        return REBUILT
    if form.url_key is None:
        return f"{REBUILT}, written as 'npx -y mcp-remote URL' (this client's config has no remote form)"
    key, kind = form.spelled(wrapped.url)
    keys = (
        ([f"type {kind}"] if kind else []) + [repr(key)] + ([repr(".".join(form.headers))] if wrapped.headers else [])
    )
    return f"{REBUILT}, written as {', '.join(keys)}"


def _remote_unwrap_check(plan: Plan, config: ConfigFile, s: ServerEntry, known: WrapRecord | None) -> str | None:
    """Why a wrapped remote entry cannot be put back (None when it can).

    With a record, its original is put back exactly, so an entry edited where mcpguard wrote is left
    for the user to restore from the backup rather than half-restored. Without one (a lost profile, a
    config from another machine) the entry is rebuilt from its wrapped command, which is tried here in
    full, keyring reads and verification included, so an entry that cannot be rebuilt is left alone
    with its reason while the file's other entries are still unwrapped.
    """
    edited = "a remote entry edited since mcpguard wrapped it: restore it from the backup or edit it by hand"
    if known is None or not _recorded(known):
        try:
            doc = formats.load(
                decode(config.path.read_bytes(), str(config.path)), config.location.format, str(config.path)
            )
            at = _resolve(doc.data, s)
            shape, fmt = config.spec.shape, config.location.format
            _rebuild_remote(plan, doc, at, s.name, config.spec.id, shape, fmt, str(config.path), set())
        except (ClientConfigError, OSError) as exc:
            return str(exc)
        return None
    if (known.wrapped_command, known.wrapped_args) != (s.command, s.args):
        return edited
    wrote = known.snapshot.wrapped_raw
    if wrote is not None:
        try:
            text = decode(config.path.read_bytes(), str(config.path))
        except (ClientConfigError, OSError) as exc:
            return str(exc)
        if text.count(wrote) != 1:
            return edited
    return None


def _rebuild_remote(
    plan: Plan,
    doc: formats.Document,
    at: formats.KeyPath,
    server: str,
    client: str,
    shape: EntryShape,
    fmt: Format,
    source: str,
    secret_values: set[str],
) -> tuple[str, formats.Document]:
    """Rebuild a wrapped remote entry that has no record, in the client's own remote form, and verify it.

    Only the URL and the headers are in the wrapped command, so only they come back; keyring headers
    come back from the keyring (``secret_values`` receives them, for the diff to mask). A command in any
    form but the one mcpguard writes, or a header whose secret the keyring does not hold, is refused:
    an entry rebuilt without a header it needs would fail at the server, far from the cause.

    Raises:
        ClientConfigError: The entry cannot be rebuilt; the sentence says why.
    """
    from mcpguard.secrets.base import SecretsUnavailable

    where = f"the remote server {server!r} in {source}"
    entry = formats.get_at(doc.data, at)
    command, args = entry.get(shape.command), entry.get(shape.args)
    if not isinstance(command, str) or not isinstance(args, list):
        raise ClientConfigError(f"{where} is no longer a wrapped remote entry; run the command again")
    wrapped = entries.parse_remote_wrapped(command, args)
    if isinstance(wrapped, str):
        raise ClientConfigError(
            f"{where} was edited since mcpguard wrapped it ({wrapped}) and has no record of its original in this "
            "profile: restore it from the backup or edit it by hand"
        )
    if (wrapped.server, wrapped.client) != (server, client):
        raise ClientConfigError(
            f"{where} says --name {wrapped.server!r} --client {wrapped.client!r}, not what mcpguard writes for "
            f"it (--name {server!r} --client {client!r}); it has no record of its original in this profile: "
            "restore it from the backup or edit it by hand"
        )
    form = entries.REMOTE_FORMS.get(client)
    if form is None:
        raise ClientConfigError(
            f"{where} has no record of its original, and mcpguard knows no remote form for {client}"
        )
    headers: list[tuple[str, str]] = []
    found: set[str] = set()
    for name, value in wrapped.headers:
        if value.startswith(entries.KEYRING_REF):
            item = value[len(entries.KEYRING_REF) :]
            if item != entries.header_secret_name(server, name):
                raise ClientConfigError(
                    f"{where} was edited since mcpguard wrapped it (its header {name!r} names the keyring item "
                    f"{item!r}, not the one mcpguard writes) and has no record of its original in this profile: "
                    "restore it from the backup or edit it by hand"
                )
            try:
                secret = _store(plan).get(item)
            except SecretsUnavailable as exc:
                raise ClientConfigError(
                    f"{where}: its header {name!r} comes from the keyring, which is not usable ({exc}); "
                    "it was not unwrapped"
                ) from None
            if secret is None:
                raise ClientConfigError(
                    f"{where}: its header {name!r} comes from the keyring item {item!r}, which the keyring does "
                    "not hold; mcpguard does not write the entry without it: restore it from the backup, or put "
                    f"the value back (mcpguard secrets set {' '.join(item.rsplit('/', 1))}) and unwrap again"
                )
            found.add(secret)
            value = secret
        headers.append((name, value))
    expected = {k: v for k, v in entry.items() if k not in (shape.command, shape.args)}
    try:
        if form.url_key is None:
            bridge = ["-y", "mcp-remote", wrapped.url]
            for name, value in headers:
                bridge += ["--header", f"{name}:{value}"]
            new_text = doc.wrap_remote(at, shape, None, "npx", bridge, ())
            expected.update({shape.command: "npx", shape.args: bridge})
            if isinstance(expected.get("type"), str):
                expected["type"] = "stdio"
        else:
            key, kind = form.spelled(wrapped.url)
            assert key is not None
            new_text = doc.rebuild_remote(at, shape, key, wrapped.url, kind, form.headers, headers)
            expected.pop("type", None)
            if kind is not None:
                expected["type"] = kind
            expected[key] = wrapped.url
            if headers:
                held: dict[str, Any] = dict(headers)
                for part in reversed(form.headers[1:]):
                    held = {part: held}
                expected[form.headers[0]] = held
    except ClientConfigError as exc:
        raise ClientConfigError(f"{where} has no record of its original and cannot be rebuilt: {exc}") from None
    after = _verify_unwrapped(doc, new_text, at, shape, fmt, source, (command, tuple(args)), server, expected=expected)
    secret_values |= found
    return new_text, after


def _is_remote_wrap(s: ServerEntry) -> bool:
    return s.command is not None and (w := entries.parse_wrapped(s.command, s.args)) is not None and w.remote


def _skip_reason(kind: Kind, s: ServerEntry, remote: bool) -> str | None:
    if kind == "wrap":
        if s.transport == "remote" and not remote:
            return (
                f"remote ({s.detail}): wrapped only on request (mcpguard wrap --remote; in the tray, "
                "'Also guard remote servers')"
            )
        if s.transport == "other":
            return f"not a command: {s.detail}"
        if s.guarded:
            return "already guarded"
        return None
    if not s.guarded:
        return "not guarded"
    return None


_MARK = "{{mcpguard-keyring:%s}}"
"""Stands for a secret header value in a recorded entry (wraps.json never holds the value)."""


def _store(plan: Plan) -> SecretStore:
    if plan.secrets is None:
        from mcpguard.secrets.keyring_store import open_store

        plan.secrets = open_store(AppPaths.from_env())
    return plan.secrets


def _remote_headers(
    plan: Plan, server: str, source: entries.RemoteSource, raw: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """The ``--header`` options of a remote entry and the secrets (keyring name -> value) they refer to.

    Raises:
        ClientConfigError: A header cannot be moved safely (a secret with no usable keyring, an
            environment reference, a value written with escapes).
    """
    from mcpguard.secrets.base import SecretsUnavailable
    from mcpguard.secrets.detect import classify

    options: list[str] = []
    secrets: dict[str, str] = {}
    for header, value in source.headers:
        where = f"the server {server!r}: header {header!r}"
        if "${" in value:
            raise ClientConfigError(f"{where} refers to a variable (${{...}}), which mcpguard remote does not expand")
        if classify(header, value) is None:
            options.append(f"{header}={value}")
            continue
        name = entries.header_secret_name(server, header)
        try:
            _store(plan).get(name)
        except SecretsUnavailable as exc:
            raise ClientConfigError(
                f"{where} holds a secret and no keyring is usable ({exc}); mcpguard never writes a secret on a "
                "command line, so this entry was not wrapped"
            ) from None
        if raw is not None and value not in raw:
            raise ClientConfigError(f"{where} is written with escapes mcpguard cannot restore exactly; not wrapped")
        secrets[name] = value
        options.append(f"{header}={entries.KEYRING_REF}{name}")
    return options, secrets


def _remote_check(
    plan: Plan, config: ConfigFile, s: ServerEntry
) -> tuple[str | None, list[Flag], tuple[tuple[str, ...], RemoteWrap] | None]:
    """Why a remote entry cannot be wrapped (None when it can), the flags it deserves, and what the
    wrap will write: the command line and the headers' fate (shown before consent)."""
    try:
        data = formats.load(
            decode(config.path.read_bytes(), str(config.path)), config.location.format, str(config.path)
        )
        at = _resolve(data.data, s)
        entry = formats.get_at(data.data, at)
    except (ClientConfigError, OSError, KeyError, IndexError) as exc:
        return str(exc), [], None
    source = entries.remote_source(entry, config.spec.shape)
    if isinstance(source, str):
        return f"remote ({s.detail}): {source}", [], None
    if "${" in source.url:
        return (
            f"remote ({s.detail}): its URL refers to a variable (${{...}}), which mcpguard remote does not expand",
            [],
            None,
        )
    try:
        options, moved = _remote_headers(plan, s.name, source)
    except ClientConfigError as exc:
        return str(exc), [], None
    command, args = entries.remote_wrapped_argv(plan.launcher, config.spec.id, s.name, source.url, options)
    try:
        # the entry's own layout may be one mcpguard does not edit (a YAML flow mapping, dotted TOML keys)
        data.wrap_remote(at, config.spec.shape, source.url_key, command, args, source.drop)
    except ClientConfigError as exc:
        return f"remote ({s.detail}): {exc}", [], None
    secret = {name for name, _ in source.headers if entries.header_secret_name(s.name, name) in moved}
    preview = RemoteWrap(
        source.url,
        tuple(name for name, _ in source.headers if name in secret),
        tuple(name for name, _ in source.headers if name not in secret),
    )
    flags: list[Flag] = []
    from mcpguard.remote.endpoint import is_loopback

    lowered = source.url.lower()
    if lowered.startswith("http://"):
        host = lowered[7:].split("/", 1)[0].rsplit("@", 1)[-1]
        host = host[1:].split("]", 1)[0] if host.startswith("[") else host.split(":", 1)[0]
        if not is_loopback(host):
            flags.append(Flag("danger", "plain http to another machine: mcpguard remote refuses it (use https://)"))
    return None, flags, ((command, *args), preview)


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
    kind: Kind,
    file_plan: FilePlan,
    text: str,
    plan: Plan,
    records: WrapRecords | None,
    secrets_out: dict[str, str] | None = None,
) -> tuple[str, list[WrapRecord], list[tuple[str, tuple[str, ...], str]]]:
    """Apply every action of a file to ``text``, verifying each step; returns text and record changes.

    ``secrets_out`` receives the secret header values a remote wrap moves to the keyring.
    """
    launcher = plan.launcher
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
        if kind == "wrap" and s.transport == "remote":
            if now.transport != "remote" or now.detail != s.detail:
                raise changed
            remote = entries.remote_source(entry, shape)
            if isinstance(remote, str):
                raise ClientConfigError(f"the server {s.name!r} in {source}: {remote}")
            raw = doc.entry_text(at) if isinstance(doc, formats.JsonDocument) else None
            options, moved = _remote_headers(plan, s.name, remote, raw)
            command, args = entries.remote_wrapped_argv(launcher, config.spec.id, s.name, remote.url, options)
            wrapped_text = doc.wrap_remote(at, shape, remote.url_key, command, args, remote.drop)
            expected = dict(entry)
            if remote.url_key is not None:
                expected.pop(remote.url_key)
            for key in remote.drop:
                expected.pop(key, None)
            if isinstance(expected.get("type"), str):
                expected["type"] = "stdio"
            expected[shape.command] = command
            expected[shape.args] = args
            after = formats.verify(doc, wrapped_text, fmt, source, at, expected)
            wrote: str | None = None
            if raw is None:
                # YAML and TOML: the lines the wrap changed, found again by their text at unwrap
                raw, wrote = formats.changed_lines(text, wrapped_text)
                if wrapped_text.count(wrote) != 1:
                    raise ClientConfigError(
                        f"the server {s.name!r} in {source}: the wrapped entry would not be found again to unwrap"
                    )
                for value in moved.values():
                    if value not in raw:
                        raise ClientConfigError(
                            f"the server {s.name!r}: a header is written with escapes mcpguard cannot restore "
                            "exactly; not wrapped"
                        )
            for name, value in moved.items():
                raw = raw.replace(value, _MARK % name)
            snap = formats.Snapshot("", None, "remote", raw, wrote)
            put.append(
                WrapRecord(file_key, s.container, s.name, config.spec.id, snap, command, tuple(args), time.time())
            )
            if secrets_out is not None:
                secrets_out.update(moved)
            file_plan.secret_values.update(moved.values())
            text, doc = wrapped_text, after
            continue
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
            if wrapped.remote:
                text, doc = _unwrap_remote(plan, doc, record, now, at, s.name, source, fmt, shape, file_plan)
                drop.append((file_key, s.container, s.name))
                continue
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


def _unwrap_remote(
    plan: Plan,
    doc: formats.Document,
    record: WrapRecord | None,
    now: entries.Classified,
    at: formats.KeyPath,
    server: str,
    source: str,
    fmt: Format,
    shape: EntryShape,
    file_plan: FilePlan,
) -> tuple[str, formats.Document]:
    """Put a remote entry back from its record, secret header values from the keyring; without a record,
    rebuild it from its wrapped command (URL and headers only, see :func:`_rebuild_remote`)."""
    import re

    from mcpguard.secrets.base import SecretsUnavailable

    if record is None or not _recorded(record):
        client = file_plan.config.spec.id
        return _rebuild_remote(plan, doc, at, server, client, shape, fmt, source, file_plan.secret_values)
    snap = record.snapshot
    if (
        snap.entry_raw is None
        or (record.wrapped_command, record.wrapped_args) != (now.command, now.args)
        or (snap.wrapped_raw is None) != isinstance(doc, formats.JsonDocument)
    ):
        raise ClientConfigError(
            f"the remote server {server!r} in {source} was edited since mcpguard wrapped it; "
            "restore it from the backup or edit it by hand"
        )
    raw = snap.entry_raw

    def value(match: re.Match[str]) -> str:
        try:
            found = _store(plan).get(match.group(1))
        except SecretsUnavailable as exc:
            raise ClientConfigError(f"the server {server!r}: the keyring is not usable ({exc})") from None
        if found is None:
            raise ClientConfigError(f"the server {server!r}: the keyring has no {match.group(1)!r} any more")
        file_plan.secret_values.add(found)
        return found

    raw = re.sub(re.escape(_MARK).replace("%s", "(.+?)"), value, raw)
    if isinstance(doc, formats.JsonDocument):
        new_text = doc.replace_entry(at, raw)
        expected = jsonc.parse(raw, comments=True, source=source).value
        return new_text, formats.verify(doc, new_text, fmt, source, at, expected)
    assert snap.wrapped_raw is not None
    if doc.text.count(snap.wrapped_raw) != 1:
        raise ClientConfigError(
            f"the remote server {server!r} in {source} was edited since mcpguard wrapped it; "
            "restore it from the backup or edit it by hand"
        )
    new_text = doc.text.replace(snap.wrapped_raw, raw, 1)
    wrapped = (record.wrapped_command, record.wrapped_args)
    return new_text, _verify_unwrapped(doc, new_text, at, shape, fmt, source, wrapped, record.name, rewrap=True)


def _verify_unwrapped(
    doc: formats.Document,
    new_text: str,
    at: formats.KeyPath,
    shape: EntryShape,
    fmt: Format,
    source: str,
    wrapped_argv: tuple[str, Sequence[str]],
    server: str,
    *,
    rewrap: bool = False,
    expected: dict[str, Any] | None = None,
) -> formats.Document:
    """Check an unwrapped remote entry before it is written: it must reach what the wrapped one reached.

    In every case the new text parses, the entry is remote, the rest of the file is as it was, and the
    entry's URL and headers are those ``wrapped_argv`` passed to the bridge. A YAML or TOML entry
    restored from its record (``rewrap``) must also wrap again to the very text the file held: the
    record holds no copy of the entry's data (it may hold secrets), so the check is the wrap itself.
    An entry rebuilt without a record must be exactly ``expected``, the entry meant.

    Raises:
        VerifyFailed: Any of that does not hold; nothing is written.
    """
    failed = VerifyFailed(
        f"the restored entry in {source} would not read back as intended; the file was left as it was"
    )
    try:
        after = formats.load(new_text, fmt, source)
        entry = formats.get_at(after.data, at)
    except (ClientConfigError, KeyError, IndexError) as exc:
        raise failed from exc
    remote = entries.remote_source(entry, shape)
    if isinstance(remote, str) or not formats.same_except(after.data, doc.data, at):
        raise failed
    if expected is not None and entry != expected:
        raise failed
    # the entry must reach the URL, with the headers, that the wrapped one passed to the bridge
    command, args = wrapped_argv
    wrapped = entries.parse_wrapped(command, args)
    options = [b for a, b in zip(args, args[1:], strict=False) if a == "--header"]
    if wrapped is None or wrapped.command != remote.url or len(options) != len(remote.headers):
        raise failed
    for option, (name, value) in zip(options, remote.headers, strict=True):
        keyring = f"{name}={entries.KEYRING_REF}{entries.header_secret_name(server, name)}"
        if option not in (f"{name}={value}", keyring):
            raise failed
    if rewrap:
        try:
            again = after.wrap_remote(at, shape, remote.url_key, command, args, remote.drop)
        except ClientConfigError as exc:
            raise failed from exc
        if again != doc.text:
            raise failed
    return after


def apply(plan: Plan, paths: AppPaths) -> list[Applied]:
    """Write every file of the plan (backup, atomic replace, verify); one file's failure spares the others."""
    records = WrapRecords(paths)
    results: list[Applied] = []
    for file_plan in plan.files:
        changes: dict[str, Any] = {}

        def edit(text: str, file_plan: FilePlan = file_plan, changes: dict[str, Any] = changes) -> str:
            moved: dict[str, str] = {}
            new_text, put, drop = _edit_text(plan.kind, file_plan, text, plan, records, moved)
            for name, value in moved.items():
                try:
                    _store(plan).set(name, value)
                except SecretsError as exc:
                    raise ClientConfigError(f"{file_plan.config.path}: could not store {name!r} ({exc})") from None
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
