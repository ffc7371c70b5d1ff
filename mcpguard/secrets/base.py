"""The secret store's contract, how secrets are named, and what goes wrong.

A secret belongs to a server and becomes one environment variable of it, so its name is
``SERVER/VAR``: the server's name as the client config spells it, a slash, the variable. A variable
name never contains ``/`` (nor ``=``), so the *last* slash splits a name even when a server's name
has one. mcpguard's own secrets use a variable part that is not a valid variable name
(``mcpguard/integrity-key``), so they can never be injected into a server or collide with a user's.

The errors extend the project's tree (``mcpguard.errors``)::

    McpGuardError
     └── SecretsError             a secret cannot be stored, found or used
          ├── SecretsUnavailable  no usable OS keyring: none installed, locked, or a plaintext one refused
          └── SecretNotFound      no secret of that name is stored (or the keyring lost one the index names)

There is deliberately no fallback: without a keyring mcpguard says what to install or unlock and
stops, rather than writing secrets to a file (Vorta's ``keyring/db.py`` is the counter-example).
"""

from __future__ import annotations

import sys
from typing import Protocol

from mcpguard.errors import McpGuardError
from mcpguard.secrets.names import (
    INTERNAL_SERVER,
    SEPARATOR,
    check_name,
    check_value,
    is_internal,
    is_variable_name,
    secret_name,
    split_name,
)

__all__ = [
    "INTERNAL_SERVER",
    "SEPARATOR",
    "SecretNotFound",
    "SecretStore",
    "SecretsError",
    "SecretsUnavailable",
    "check_name",
    "check_value",
    "install_hint",
    "is_internal",
    "is_variable_name",
    "secret_name",
    "split_name",
]


class SecretsError(McpGuardError):
    """A secret cannot be stored, found or used; the message says what to do."""


class SecretsUnavailable(SecretsError):
    """There is no usable OS keyring; ``str(err)`` names what to install or unlock."""


class SecretNotFound(SecretsError):
    """No secret of that name is stored."""


class SecretStore(Protocol):
    """Where secrets live: the OS keyring in production, a dict in tests.

    Values are text (what an environment variable holds). Implementations never write a value to a
    file of their own: an index of *names* is all a store may keep beside the keyring.
    """

    @property
    def is_system(self) -> bool:
        """True for the operating system's keyring; False for a stand-in (tests)."""
        ...

    @property
    def description(self) -> str:
        """What holds the secrets, for messages (``Secret Service``, ``macOS Keychain``, ``memory``)."""
        ...

    def get(self, name: str) -> str | None:
        """The value stored as ``name``, or None.

        Raises:
            SecretsUnavailable: The keyring cannot be used (missing, locked, refused).
        """
        ...

    def set(self, name: str, value: str) -> None:
        """Store ``value`` as ``name``, replacing any earlier value.

        Raises:
            SecretsUnavailable: The keyring cannot be used.
            ValueError: The name or the value is not acceptable (see :func:`check_name`, :func:`check_value`).
        """
        ...

    def delete(self, name: str) -> bool:
        """Remove ``name``; False when there was nothing to remove.

        Raises:
            SecretsUnavailable: The keyring cannot be used.
        """
        ...

    def names(self) -> list[str]:
        """Every stored name, sorted; never a value. Does not need an unlocked keyring."""
        ...

    def setdefault(self, name: str, value: str) -> str:
        """The value stored as ``name``; when there is none, store ``value`` and return it.

        Atomic across processes: two shims creating the same key at once agree on one value.

        Raises:
            SecretsUnavailable: The keyring cannot be used.
        """
        ...


def install_hint(platform: str | None = None) -> str:
    """What the user should install or unlock on this platform, as the end of a sentence."""
    platform = platform or sys.platform
    if platform == "darwin":
        return "unlock the login Keychain (Keychain Access, or `security unlock-keychain`)"
    if platform.startswith("win"):
        return "make sure the Windows Credential Manager is available to your account"
    return (
        "install and unlock a Secret Service such as gnome-keyring or KeePassXC "
        "(Debian/Ubuntu: `apt install gnome-keyring`; on a machine without a desktop, run mcpguard inside "
        "`dbus-run-session` after `gnome-keyring-daemon --unlock --components=secrets`)"
    )
