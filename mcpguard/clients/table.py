"""The AI clients mcpguard knows, as data: one row a client, so adding a client is adding a row.

Each row says where the client keeps its MCP config on each platform, in which format, under
which keys the servers live, and how an entry names its command. Paths are templates over
``{HOME}``, ``{APPDATA}``, ``{XDG_CONFIG_HOME}`` and any variable a location gives a default for
(``{CODEX_HOME}``); they are expanded from the environment at discovery time, so a test or a user
can point everything at another profile by setting ``HOME``. Project locations are relative to a
project directory. Sources: each client's own documentation (see docs/clients.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Format = Literal["json", "jsonc", "yaml", "toml"]
Scope = Literal["user", "project"]
PLATFORMS = ("linux", "darwin", "win32")
"""``linux`` stands for every Unix that is not macOS (XDG paths)."""


@dataclass(frozen=True)
class EntryShape:
    """How one server entry is spelled in a client's config."""

    command: str = "command"
    args: str = "args"
    remote_keys: tuple[str, ...] = ("url", "serverUrl", "httpUrl")
    """A key holding an address means the server is remote: there is no process to guard."""
    remote_types: tuple[str, ...] = ("sse", "http", "streamable-http", "streamableHttp", "streamable_http")
    name_key: str = "name"
    """When the servers are a list (Continue), the key that names each entry."""
    header_keys: tuple[tuple[str, ...], ...] = (("headers",),)
    """Key paths to a remote entry's static headers; wrapping it passes them to ``mcpguard remote``."""
    remote_refused: tuple[str, ...] = ()
    """Keys of a remote entry that ask for something the bridge does not do (headers read from the
    environment): an entry with one is left alone rather than wrapped into something weaker."""


@dataclass(frozen=True)
class Location:
    """One config file (or a glob of them) of a client."""

    path: str
    format: Format
    servers: tuple[tuple[str, ...], ...] = (("mcpServers",),)
    """Key paths to the servers; ``*`` matches every key (Claude Code's ``projects.<dir>.mcpServers``)."""
    scope: Scope = "user"
    platforms: tuple[str, ...] = PLATFORMS
    defaults: tuple[tuple[str, str], ...] = ()
    """Defaults for template variables that the environment may override, e.g. ``CODEX_HOME``."""


@dataclass(frozen=True)
class ClientSpec:
    """A row of the table: one AI client."""

    id: str
    """Stable id, passed to ``mcpguard run --client`` and used in the store's server identity."""
    name: str
    locations: tuple[Location, ...]
    shape: EntryShape = field(default_factory=EntryShape)


def _vscode_family(
    sub: str, fmt: Format, servers: tuple[tuple[str, ...], ...], apps: tuple[str, ...]
) -> tuple[Location, ...]:
    """The user-data directory of VS Code and its forks, on each platform."""
    out: list[Location] = []
    for app in apps:
        out += [
            Location(f"{{XDG_CONFIG_HOME}}/{app}/User/{sub}", fmt, servers, platforms=("linux",)),
            Location(f"{{HOME}}/Library/Application Support/{app}/User/{sub}", fmt, servers, platforms=("darwin",)),
            Location(f"{{APPDATA}}/{app}/User/{sub}", fmt, servers, platforms=("win32",)),
        ]
    return tuple(out)


_MCP = (("mcpServers",),)
_CLINE = "globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json"

CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec(
        "claude-desktop",
        "Claude Desktop",
        (
            Location(
                "{HOME}/Library/Application Support/Claude/claude_desktop_config.json", "json", platforms=("darwin",)
            ),
            Location("{APPDATA}/Claude/claude_desktop_config.json", "json", platforms=("win32",)),
            Location("{XDG_CONFIG_HOME}/Claude/claude_desktop_config.json", "json", platforms=("linux",)),
        ),
    ),
    ClientSpec(
        "claude-code",
        "Claude Code",
        (
            Location(
                "{CLAUDE_CONFIG_DIR}/.claude.json",
                "json",
                (("mcpServers",), ("projects", "*", "mcpServers")),
                defaults=(("CLAUDE_CONFIG_DIR", "{HOME}"),),
            ),
            Location(".mcp.json", "json", scope="project"),
        ),
    ),
    ClientSpec(
        "cursor",
        "Cursor",
        (Location("{HOME}/.cursor/mcp.json", "json"), Location(".cursor/mcp.json", "json", scope="project")),
    ),
    ClientSpec(
        "vscode",
        "VS Code",
        _vscode_family("mcp.json", "jsonc", (("servers",),), ("Code", "Code - Insiders"))
        + _vscode_family("settings.json", "jsonc", (("mcp", "servers"),), ("Code", "Code - Insiders"))
        + (Location(".vscode/mcp.json", "jsonc", (("servers",),), scope="project"),),
    ),
    ClientSpec("windsurf", "Windsurf", (Location("{HOME}/.codeium/windsurf/mcp_config.json", "json"),)),
    ClientSpec(
        "zed",
        "Zed",
        (
            Location("{XDG_CONFIG_HOME}/zed/settings.json", "jsonc", (("context_servers",),), platforms=("linux",)),
            Location("{HOME}/.config/zed/settings.json", "jsonc", (("context_servers",),), platforms=("darwin",)),
            Location("{APPDATA}/Zed/settings.json", "jsonc", (("context_servers",),), platforms=("win32",)),
            Location(".zed/settings.json", "jsonc", (("context_servers",),), scope="project"),
        ),
    ),
    ClientSpec("cline", "Cline", _vscode_family(_CLINE, "json", _MCP, ("Code", "Code - Insiders", "Cursor"))),
    ClientSpec(
        "gemini-cli",
        "Gemini CLI",
        (
            Location("{HOME}/.gemini/settings.json", "jsonc"),
            Location(".gemini/settings.json", "jsonc", scope="project"),
        ),
    ),
    ClientSpec("lm-studio", "LM Studio", (Location("{HOME}/.lmstudio/mcp.json", "json"),)),
    ClientSpec(
        "continue",
        "Continue",
        (
            Location("{HOME}/.continue/config.yaml", "yaml"),
            Location("{HOME}/.continue/mcpServers/*.yaml", "yaml"),
            Location(".continue/mcpServers/*.yaml", "yaml", scope="project"),
            Location(".continue/mcpServers/*.json", "json", scope="project"),
        ),
        EntryShape(
            remote_types=("sse", "streamable-http", "websocket"),
            header_keys=(("headers",), ("requestOptions", "headers")),
        ),
    ),
    ClientSpec(
        "goose",
        "Goose",
        (
            Location("{XDG_CONFIG_HOME}/goose/config.yaml", "yaml", (("extensions",),), platforms=("linux",)),
            Location("{HOME}/.config/goose/config.yaml", "yaml", (("extensions",),), platforms=("darwin",)),
            Location("{APPDATA}/Block/goose/config/config.yaml", "yaml", (("extensions",),), platforms=("win32",)),
        ),
        EntryShape(command="cmd", remote_keys=("uri", "url"), remote_types=("sse", "streamable_http")),
    ),
    ClientSpec(
        "codex",
        "Codex CLI",
        (
            Location(
                "{CODEX_HOME}/config.toml", "toml", (("mcp_servers",),), defaults=(("CODEX_HOME", "{HOME}/.codex"),)
            ),
            Location(".codex/config.toml", "toml", (("mcp_servers",),), scope="project"),
        ),
        EntryShape(
            header_keys=(("http_headers",),),
            remote_refused=("bearer_token_env_var", "env_http_headers", "bearer_token"),
        ),
    ),
)


def client(client_id: str) -> ClientSpec:
    """The row for ``client_id``.

    Raises:
        KeyError: No such client; the message lists the known ids.
    """
    for spec in CLIENTS:
        if spec.id == client_id:
            return spec
    raise KeyError(f"unknown client {client_id!r} (known: {', '.join(c.id for c in CLIENTS)})")


def current_platform(name: str | None = None) -> str:
    """``linux``, ``darwin`` or ``win32`` for ``sys.platform`` (or ``name``)."""
    import sys

    name = name or sys.platform
    if name.startswith("win"):
        return "win32"
    if name == "darwin":
        return "darwin"
    return "linux"


def template_vars(env: Mapping[str, str], location: Location) -> dict[str, str]:
    """The values of the template variables, from ``env`` with the platform's fallbacks.

    ``HOME`` falls back to ``USERPROFILE`` (Windows) and then to the account's home directory;
    ``APPDATA`` to ``HOME/AppData/Roaming``; ``XDG_CONFIG_HOME`` (only when absolute, as the XDG
    spec says) to ``HOME/.config``.
    """
    home = env.get("HOME") or env.get("USERPROFILE") or str(Path.home())
    values = {
        "HOME": home,
        "APPDATA": env.get("APPDATA") or os.path.join(home, "AppData", "Roaming"),
        "XDG_CONFIG_HOME": env.get("XDG_CONFIG_HOME", "")
        if os.path.isabs(env.get("XDG_CONFIG_HOME", ""))
        else os.path.join(home, ".config"),
    }
    for var, default in location.defaults:
        values[var] = env.get(var) or default.format(**values)
    return values


def expand(location: Location, env: Mapping[str, str], project: Path | None = None) -> str:
    """The location's path (possibly a glob) for this environment, or within ``project``."""
    if location.scope == "project":
        if project is None:
            raise ValueError("a project location needs a project directory")
        return str(project / location.path)
    return location.path.format(**template_vars(env, location))
