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


def validate(key: str, value: str) -> str:
    """The value to store, or a McpGuardError that says what is allowed."""
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
