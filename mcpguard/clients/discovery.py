"""Find the AI clients' MCP configs on this machine and read every server entry in them.

Discovery only reads. Each config file found becomes a :class:`ConfigFile` with its
:class:`ServerEntry` list; a file that does not parse is reported with its error (line and
column) instead of its servers, so ``mcpguard clients`` can say what to fix.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mcpguard.clients import entries
from mcpguard.clients.errors import ClientConfigError
from mcpguard.clients.formats import KeyPath, load
from mcpguard.clients.rewrite import decode
from mcpguard.clients.risk import Flag
from mcpguard.clients.table import CLIENTS, ClientSpec, Location, current_platform, expand
from mcpguard.clients.token_audience import TokenUse, audience_flags, reuse_flags, token_uses


@dataclass(frozen=True)
class ServerEntry:
    """One server as a client's config declares it."""

    client: str
    config: Path
    container: tuple[str, ...]
    """Key path of the object (or list) that holds the entry, e.g. ``("projects", "/src/app", "mcpServers")``."""
    name: str
    at: KeyPath
    """Key path of the entry itself (a list index for Continue)."""
    transport: entries.Transport
    detail: str
    command: str | None
    """The command as the file has it now (mcpguard's, when wrapped)."""
    args: tuple[str, ...]
    has_args: bool
    guarded: bool
    original: tuple[str, ...] | None
    """The server's own command line: after ``--`` when wrapped, else command + args."""
    disabled: bool = False
    env: tuple[str, ...] = ()
    """Names of the environment variables the entry sets (values are never read out)."""
    project: str | None = None
    """The project this entry belongs to (Claude Code's per-project servers, project files)."""
    scope: str = "user"
    tokens: tuple[TokenUse, ...] = field(default=(), compare=False, repr=False)
    """The literal tokens the entry sends and where (never their values): what :attr:`token_flags` come from."""
    token_flags: tuple[Flag, ...] = ()
    """Tokens sent to a server they were not issued for, expired, or also sent to another origin by another
    entry (:mod:`mcpguard.clients.token_audience`); the last kind only when :func:`discover` read every config."""

    @property
    def key(self) -> tuple[str, str, tuple[str, ...], str]:
        """Identity of the entry across two readings of the configs."""
        return self.client, str(self.config), self.container, self.name


@dataclass(frozen=True)
class ConfigFile:
    """A client config file found on disk."""

    spec: ClientSpec
    location: Location
    path: Path
    project: Path | None
    servers: tuple[ServerEntry, ...] = field(default=())
    error: str | None = None


def _containers(data: Any, pattern: tuple[str, ...]) -> Iterable[tuple[tuple[str, ...], str | None, Any]]:
    """Each concrete key path matching ``pattern`` (``*`` = any key), the ``*`` match, and its value."""

    def walk(node: Any, rest: tuple[str, ...], done: tuple[str, ...], star: str | None) -> Iterable[Any]:
        if not rest:
            yield done, star, node
            return
        if not isinstance(node, dict):
            return
        head = rest[0]
        if head == "*":
            for key, value in node.items():
                yield from walk(value, rest[1:], (*done, key), key)
        elif head in node:
            yield from walk(node[head], rest[1:], (*done, head), star)

    yield from walk(data, pattern, (), None)


def entries_of(data: Any, spec: ClientSpec, location: Location, path: Path, project: Path | None) -> list[ServerEntry]:
    """Every server entry in a parsed config."""
    out: list[ServerEntry] = []
    shape = spec.shape
    for pattern in location.servers:
        for container, star, node in _containers(data, pattern):
            items: list[tuple[str, KeyPath, Any]] = []
            if isinstance(node, dict):
                items = [(str(k), (*container, k), v) for k, v in node.items()]
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    if isinstance(v, dict) and isinstance(v.get(shape.name_key), str):
                        items.append((v[shape.name_key], (*container, i), v))
            for name, at, value in items:
                c = entries.classify(value, shape)
                wrapped = entries.parse_wrapped(c.command, c.args) if c.command else None
                original: tuple[str, ...] | None = None
                if wrapped is not None:
                    original = (wrapped.command, *wrapped.args)
                elif c.command:
                    original = (c.command, *c.args)
                tokens = token_uses(value, shape)
                out.append(
                    ServerEntry(
                        client=spec.id,
                        config=path,
                        container=container,
                        name=name,
                        at=at,
                        transport=c.transport,
                        detail=c.detail,
                        command=c.command,
                        args=c.args,
                        has_args=c.has_args,
                        guarded=wrapped is not None,
                        original=original,
                        disabled=entries.is_disabled(value),
                        env=entries.env_names(value),
                        project=star if star is not None else (str(project) if project else None),
                        scope="project" if project is not None else ("local" if star is not None else "user"),
                        tokens=tokens,
                        token_flags=tuple(audience_flags(tokens)),
                    )
                )
    return out


def read_config(spec: ClientSpec, location: Location, path: Path, project: Path | None = None) -> ConfigFile:
    """Read one config file; parse problems are recorded in ``error`` rather than raised."""
    try:
        text = decode(path.read_bytes(), str(path))
        doc = load(text, location.format, str(path))
    except ClientConfigError as exc:
        return ConfigFile(spec, location, path, project, error=str(exc))
    except OSError as exc:
        return ConfigFile(spec, location, path, project, error=f"{path} cannot be read: {exc.strerror}")
    servers = entries_of(doc.data, spec, location, path, project)
    return ConfigFile(spec, location, path, project, tuple(servers))


def candidate_paths(
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    projects: Sequence[Path] = (),
    clients: Sequence[ClientSpec] = CLIENTS,
) -> list[tuple[ClientSpec, Location, str, Path | None]]:
    """Every path (or glob) where a known client may keep a config, for this platform."""
    env = os.environ if env is None else env
    plat = current_platform(platform)
    out: list[tuple[ClientSpec, Location, str, Path | None]] = []
    for spec in clients:
        for location in spec.locations:
            if plat not in location.platforms:
                continue
            if location.scope == "project":
                out += [(spec, location, expand(location, env, p), p) for p in projects]
            else:
                out.append((spec, location, expand(location, env), None))
    return out


def discover(
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    projects: Sequence[Path] = (),
    clients: Sequence[ClientSpec] = CLIENTS,
) -> list[ConfigFile]:
    """Every config file of a known client that exists, read.

    Args:
        env: Where ``HOME``, ``APPDATA``, ``XDG_CONFIG_HOME`` come from (default ``os.environ``).
        platform: ``linux``, ``darwin`` or ``win32`` (default: this machine's).
        projects: Project directories whose project-level configs to read too (``.mcp.json``,
            ``.cursor/mcp.json``, ``.vscode/mcp.json``...). Only those asked for: a project file is
            usually shared through version control, and wrapping it is the user's explicit choice.
    """
    found: list[ConfigFile] = []
    seen: set[tuple[str, str]] = set()
    for spec, location, pattern, project in candidate_paths(env, platform, projects, clients):
        matches = sorted(glob.glob(glob.escape(pattern) if "*" not in pattern else _glob_pattern(pattern)))
        for match in matches:
            path = Path(match)
            if not path.is_file() or (spec.id, match) in seen:
                continue
            seen.add((spec.id, match))
            found.append(read_config(spec, location, path, project))
    return with_reuse_flags(found)


def with_reuse_flags(configs: Sequence[ConfigFile]) -> list[ConfigFile]:
    """The configs with a flag on every entry whose token another entry (any file, any client) sends elsewhere.

    Reuse can only be seen across all the configs at once, so it is added here rather than per file.
    """
    everything = [(c, s) for c in configs for s in c.servers]
    if not any(s.tokens for _, s in everything):
        return list(configs)
    extra = iter(reuse_flags([(f"{s.name!r} of {c.spec.name}", s.tokens) for c, s in everything]))
    out: list[ConfigFile] = []
    for c in configs:
        servers = []
        for s in c.servers:
            flags = next(extra)
            servers.append(replace(s, token_flags=(*s.token_flags, *flags)) if flags else s)
        out.append(replace(c, servers=tuple(servers)))
    return out


def _glob_pattern(pattern: str) -> str:
    """Escape everything but the ``*`` of the last path component."""
    head, tail = os.path.split(pattern)
    return os.path.join(glob.escape(head), "*".join(glob.escape(part) for part in tail.split("*")))


def servers(configs: Iterable[ConfigFile]) -> list[ServerEntry]:
    """All entries of all configs, flattened: a snapshot for :func:`mcpguard.clients.watch.compare`."""
    return [s for c in configs for s in c.servers]
