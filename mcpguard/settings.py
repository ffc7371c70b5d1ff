"""The user's settings: names, defaults and checks, shared by the CLI, the tray and the shims."""

from __future__ import annotations

from mcpguard.errors import McpGuardError

ON_OFF = ("on", "off")

SETTINGS: dict[str, tuple[str, str]] = {
    "trust_on_first_use": ("off", "on: approve everything a never-seen server shows on its first start"),
    "first_list_hold": (
        "25",
        "seconds a never-seen server's first tool list waits for you while the tray runs (0: off)",
    ),
    "verify_timeout": ("30", "seconds a call may wait while mcpguard lists the server's tools itself"),
    "notify_new": ("on", "on: a notification when a new or changed definition waits for approval"),
    "notify_findings": ("on", "on: a notification when the scanner flags a definition or a tool's answer"),
    "auto_wrap": (
        "off",
        "on: the tray wraps a local server added to an AI client's config as soon as it sees it, instead of "
        "only telling you (its tools still wait for your approval)",
    ),
}
"""key -> (default, what it means)."""

DEFAULTS = {key: default for key, (default, _) in SETTINGS.items()}

_SECONDS = {"first_list_hold": 0.0, "verify_timeout": 1.0}
"""Settings that are seconds, with their smallest allowed value."""


PER_SERVER: dict[str, tuple[str, str]] = {
    "env_passthrough": (
        "off",
        "on: the server gets the client's whole environment (dangerous variables still stripped)",
    ),
    "env_allow": ("", "comma-separated names or PREFIX* patterns the server gets, dangerous ones included"),
}
"""Settings of one server, stored as ``KEY:SERVER`` (``env_passthrough:github``); key -> (default, meaning)."""


def default(key: str) -> str:
    """The default of a setting or of a per-server ``KEY:SERVER`` setting (a McpGuardError for others)."""
    base, colon, server = key.partition(":")
    if colon and server and base in PER_SERVER:
        return PER_SERVER[base][0]
    if key in SETTINGS:
        return SETTINGS[key][0]
    raise McpGuardError(f"there is no setting {key!r}; settings are: {', '.join(SETTINGS)}, {_per_server_names()}")


def _per_server_names() -> str:
    return ", ".join(f"{key}:SERVER" for key in PER_SERVER)


SERVER_ENV_MARKER = "server-env-settings"
"""A file in the profile that exists once any per-server setting was stored (its content does not matter)."""


def server_settings_marker(database_file: str) -> str:
    """The marker file beside ``state.db``: the shim reads per-server settings only when it exists."""
    import os

    return os.path.join(os.path.dirname(database_file), SERVER_ENV_MARKER)


def server_environment_settings(database_file: str, server: str) -> tuple[bool, list[str]]:
    """``(env_passthrough, env_allow)`` of ``server``, read before the store is opened.

    The shim decides the server's environment before it starts the server, and the store (with its
    migrations) is opened only afterwards, while the server boots. Importing ``sqlite3`` costs
    milliseconds the server would wait for, so the database is read only when the marker file says
    a per-server setting was ever stored (``mcpguard settings`` creates it). No marker, no database,
    or one that cannot be read: the defaults (the minimal environment), never more than the user allowed.
    """
    import os

    if not os.path.exists(server_settings_marker(database_file)) or not os.path.exists(database_file):
        return False, []
    import sqlite3

    try:
        conn = sqlite3.connect(database_file, timeout=2.0)
        try:
            rows = dict(
                conn.execute(
                    "SELECT key, value FROM settings WHERE key IN (?, ?)",
                    (f"env_passthrough:{server}", f"env_allow:{server}"),
                ).fetchall()
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return False, []
    passthrough = rows.get(f"env_passthrough:{server}") == "on"
    allow = [part.strip() for part in str(rows.get(f"env_allow:{server}", "")).split(",") if part.strip()]
    return passthrough, allow


def validate(key: str, value: str) -> str:
    """The value to store, or a McpGuardError that says what is allowed."""
    base, colon, server = key.partition(":")
    if colon and server and base in PER_SERVER:
        if base == "env_passthrough" and value not in ON_OFF:
            raise McpGuardError(f"{base} is on or off")
        return value
    if key not in SETTINGS:
        raise McpGuardError(f"there is no setting {key!r}; settings are: {', '.join(SETTINGS)}")
    if key in _SECONDS:
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not number >= _SECONDS[key] or number > 3600:
            raise McpGuardError(f"{key} is a number of seconds from {_SECONDS[key]:g} to 3600")
        return value
    if value not in ON_OFF:
        raise McpGuardError(f"{key} is on or off")
    return value
