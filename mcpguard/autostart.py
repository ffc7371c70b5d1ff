"""Start the tray at login: an XDG autostart entry on Linux, a LaunchAgent on macOS.

The tray is what asks the user about new tools, so it should be running whenever a client starts
servers. Nothing here imports Qt: the settings dialog calls it, and so may an installer or the CLI.

Every function takes ``home`` (the user's home directory, for tests and installers) and ``platform``
(``sys.platform`` by default) so both layouts can be exercised on any machine. When ``home`` is given
it wins over ``$XDG_CONFIG_HOME``: a test that passes a temporary home must never touch the real one.
"""

from __future__ import annotations

import os
import plistlib
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mcpguard.errors import McpGuardError

__all__ = [
    "DESKTOP_FILE_NAME",
    "LAUNCH_AGENT_LABEL",
    "desktop_entry",
    "disable",
    "enable",
    "entry_path",
    "is_enabled",
    "is_supported",
    "launch_agent",
    "tray_command",
]

DESKTOP_FILE_NAME = "mcpguard.desktop"
LAUNCH_AGENT_LABEL = "io.github.mcpguard.tray"
"""The launchd job label; also the plist's file name (launchd expects them to match)."""

# Characters that force an Exec argument into double quotes (Desktop Entry Specification, "The Exec key").
_EXEC_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
# Inside double quotes these four must be escaped with a backslash.
_EXEC_QUOTED_ESCAPES = frozenset('"`$\\')


def tray_command() -> list[str]:
    """What the login entry runs: this interpreter with ``-m mcpguard tray``.

    The interpreter's own path is used, not ``mcpguard`` on ``PATH``: a login session's ``PATH`` often
    lacks the venv or ``~/.local/bin`` the user installed mcpguard into.
    """
    return [sys.executable, "-m", "mcpguard", "tray"]


def is_supported(platform: str | None = None) -> bool:
    """True where mcpguard knows how to start at login (Linux and other XDG desktops, macOS)."""
    return not (platform or sys.platform).startswith(("win32", "cygwin"))


def entry_path(home: Path | None = None, platform: str | None = None) -> Path:
    """Where the login entry lives on this platform.

    Raises:
        McpGuardError: The platform is Windows, which mcpguard cannot configure yet.
    """
    platform = platform or sys.platform
    if not is_supported(platform):
        raise McpGuardError(
            "starting mcpguard at login is not supported on Windows yet; add a shortcut to "
            "`mcpguard tray` in your Startup folder (Win+R, shell:startup) instead"
        )
    if platform == "darwin":
        base = home if home is not None else Path.home()
        return base / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
    return _xdg_config_home(home) / "autostart" / DESKTOP_FILE_NAME


def is_enabled(home: Path | None = None, platform: str | None = None) -> bool:
    """True when mcpguard's login entry exists and the desktop has not been told to skip it.

    GNOME's "Startup Applications" and other tools switch an entry off without deleting it
    (``Hidden=true`` or ``X-GNOME-Autostart-enabled=false``); such an entry counts as disabled.
    On Windows it is always False: mcpguard never installs anything there.
    """
    platform = platform or sys.platform
    if not is_supported(platform):
        return False
    path = entry_path(home, platform)
    if not path.is_file():
        return False
    if platform == "darwin":
        return True
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    values = _desktop_values(text)
    return values.get("Hidden", "false") != "true" and values.get("X-GNOME-Autostart-enabled", "true") != "false"


def enable(command: Sequence[str], home: Path | None = None, platform: str | None = None) -> Path:
    """Install (or replace) the login entry that runs ``command``; returns its path.

    Args:
        command: The program and its arguments, usually :func:`tray_command`.
        home: The user's home directory; by default ``$XDG_CONFIG_HOME`` / ``$HOME`` decide.
        platform: ``sys.platform`` by default.

    Raises:
        McpGuardError: Windows, an empty command, or the entry cannot be written.
    """
    platform = platform or sys.platform
    path = entry_path(home, platform)
    if not command:
        raise McpGuardError("the command to start at login is empty")
    data = launch_agent(command) if platform == "darwin" else desktop_entry(command).encode("utf-8")
    try:
        _write_atomically(path, data)
    except OSError as exc:
        raise McpGuardError(f"could not write the login entry {path}: {exc.strerror or exc}") from exc
    return path


def disable(home: Path | None = None, platform: str | None = None) -> None:
    """Remove the login entry; nothing happens when there is none.

    Raises:
        McpGuardError: Windows, or the entry exists and cannot be removed.
    """
    path = entry_path(home, platform)
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise McpGuardError(f"could not remove the login entry {path}: {exc.strerror or exc}") from exc


def desktop_entry(command: Sequence[str]) -> str:
    """The text of the XDG autostart entry that runs ``command``.

    Raises:
        McpGuardError: An argument contains a line break or another control character, which a
            desktop entry cannot carry.
    """
    exec_line = " ".join(_exec_argument(arg) for arg in command)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=mcpguard\n"
        "GenericName=MCP server guard\n"
        "Comment=Asks you before an AI client's MCP servers show new or changed tools\n"
        f"Exec={exec_line}\n"
        "Icon=mcpguard\n"
        "Terminal=false\n"
        "Categories=Utility;Security;\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def launch_agent(command: Sequence[str]) -> bytes:
    """The LaunchAgent property list that runs ``command`` when the user logs in (macOS).

    ``KeepAlive`` stays off: quitting the tray from its menu must not make launchd start it again.
    """
    agent = {
        "Label": LAUNCH_AGENT_LABEL,
        "ProgramArguments": [str(arg) for arg in command],
        "RunAtLoad": True,
        "KeepAlive": False,
        "ProcessType": "Interactive",
    }
    return plistlib.dumps(agent, fmt=plistlib.FMT_XML, sort_keys=True)


def _xdg_config_home(home: Path | None) -> Path:
    if home is not None:
        return home / ".config"
    configured = os.environ.get("XDG_CONFIG_HOME", "")
    # The XDG Base Directory spec says a relative path is invalid and must be ignored.
    if configured and os.path.isabs(configured):
        return Path(configured)
    return Path.home() / ".config"


def _exec_argument(arg: str) -> str:
    """One argument of an ``Exec`` line, quoted and escaped as the Desktop Entry Specification requires.

    Quoting rules apply first, then the general escape rule of string values doubles every backslash
    (so a literal backslash inside quotes is written as four). ``%`` is doubled, as field codes use it.
    """
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in arg):
        raise McpGuardError(f"the login command argument {arg!r} contains a line break or control character")
    if arg and not any(ch in _EXEC_RESERVED for ch in arg):
        quoted = arg
    else:
        quoted = '"' + "".join("\\" + ch if ch in _EXEC_QUOTED_ESCAPES else ch for ch in arg) + '"'
    return quoted.replace("\\", "\\\\").replace("%", "%%")


def _desktop_values(text: str) -> dict[str, str]:
    """Keys of the ``[Desktop Entry]`` group (other groups, comments and localised keys ignored)."""
    values: dict[str, str] = {}
    group = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
            continue
        if group == "Desktop Entry" and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same directory and ``os.replace``: never a half-written entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
